// The argument checks of the js backend, used by every js*.ts kernel file. They check what the
// native bindings check (native/args.h) and throw the same error classes: TypeError for a wrong
// kind of value, RangeError for a wrong size, length, code or index. Messages name the kernel and
// the argument and follow the native wording ("gemm: a must have at least 15 elements, got 5"),
// without the native side's argument numbers.

import type { FloatArray } from './types.js';

/** Largest size or count (the native side's kMaxSize: BLAS and Int32Array indices are 32-bit). */
const MAX_SIZE = 2147483647;
/** Most dims of a shape (binary, permute). */
const MAX_DIMS = 8;

/** How a wrong argument is shown in a message, as the native side shows it. */
function describeArg(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  switch (typeof v) {
    case 'number':
      return String(v);
    case 'boolean':
      return 'a boolean';
    case 'string':
      return 'a string';
    case 'symbol':
      return 'a symbol';
    case 'bigint':
      return 'a bigint';
    case 'function':
      return 'a function';
  }
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return `a ${v.constructor.name}`;
  return Array.isArray(v) ? 'an array' : 'an object';
}

// ---------------------------------------------------------------------------------------------
// Arrays

export function checkFloatArray(op: string, name: string, v: unknown): asserts v is FloatArray {
  if (!(v instanceof Float32Array || v instanceof Float64Array)) {
    throw new TypeError(`${op}: ${name} must be a Float32Array or Float64Array, got ${describeArg(v)}`);
  }
}

/** A float array of the same dtype as `like`, an array of the same call. */
export function checkLike(op: string, name: string, v: unknown, like: FloatArray): asserts v is FloatArray {
  checkFloatArray(op, name, v);
  if (v.constructor !== like.constructor) {
    throw new TypeError(
      `${op}: ${name} must be a ${like.constructor.name} like the other arrays of this call, got ${describeArg(v)}`,
    );
  }
}

/** Every entry is a float array, all of one dtype (the first one's). */
export function checkFloatArrays(op: string, arrays: Record<string, unknown>): void {
  let first: FloatArray | undefined;
  for (const name in arrays) {
    const v = arrays[name];
    if (first === undefined) {
      checkFloatArray(op, name, v);
      first = v;
    } else {
      checkLike(op, name, v, first);
    }
  }
}

/**
 * An array the call may omit (null or undefined): checked against `like` and `need` when given.
 * Returns it, or null when omitted.
 */
export function checkOptional(op: string, name: string, v: unknown, like: FloatArray, need: number): FloatArray | null {
  if (v === null || v === undefined) return null;
  checkLike(op, name, v, like);
  checkAtLeast(op, name, v, need);
  return v;
}

/**
 * An array that is required when `required` (a TypeError names `why` when it is missing) and
 * may be omitted otherwise; checked when given. Returns it, or null when omitted.
 */
export function checkRequiredIf(
  op: string,
  name: string,
  v: unknown,
  required: boolean,
  why: string,
  like: FloatArray,
  need: number,
): FloatArray | null {
  if (required && (v === null || v === undefined)) {
    throw new TypeError(`${op}: ${name} is required ${why}, got ${describeArg(v)}`);
  }
  return checkOptional(op, name, v, like, need);
}

export function checkNull(op: string, name: string, v: unknown, why: string): void {
  if (v !== null && v !== undefined) throw new TypeError(`${op}: ${name} must be null ${why}, got ${describeArg(v)}`);
}

export function checkInt32Array(op: string, name: string, v: unknown): asserts v is Int32Array {
  if (!(v instanceof Int32Array)) {
    throw new TypeError(`${op}: ${name} must be an Int32Array, got ${describeArg(v)}`);
  }
}

/** Arrays sized by explicit sizes may be longer than needed (as on the native side); only the prefix is used. */
export function checkAtLeast(op: string, name: string, arr: ArrayLike<number>, need: number): void {
  if (!Number.isSafeInteger(need)) throw new RangeError(`${op}: ${name} would need too many elements (overflow)`);
  if (arr.length < need) {
    throw new RangeError(`${op}: ${name} must have at least ${need} elements, got ${arr.length}`);
  }
}

/** Arrays that pair element by element with another (unary, optimizer state) have its length exactly. */
export function checkLength(op: string, name: string, arr: ArrayLike<number>, need: number): void {
  if (arr.length !== need) {
    throw new RangeError(`${op}: ${name} must have ${need} elements, got ${arr.length}`);
  }
}

/**
 * The first `count` indices lie in [0, n), else a RangeError "holds 7 at <at>3, outside <range>[0, 5)"
 * (at: '' or 'row '; range: '' or 'the plane '), as the native side words it.
 */
export function checkIndicesBelow(
  op: string,
  name: string,
  indices: Int32Array,
  count: number,
  n: number,
  at = '',
  range = '',
): void {
  for (let j = 0; j < count; j++) {
    const v = indices[j];
    if (v < 0 || v >= n) throw new RangeError(`${op}: ${name} holds ${v} at ${at}${j}, outside ${range}[0, ${n})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Numbers

export function checkNumber(op: string, name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number') throw new TypeError(`${op}: ${name} must be a number, got ${describeArg(v)}`);
}

export function checkBoolean(op: string, name: string, v: unknown): asserts v is boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${op}: ${name} must be a boolean, got ${describeArg(v)}`);
}

/** A size or count: an integer in [min, MAX_SIZE]. */
export function checkSize(op: string, name: string, v: unknown, min = 0): asserts v is number {
  checkNumber(op, name, v);
  if (!Number.isInteger(v) || v < min || v > MAX_SIZE) {
    throw new RangeError(`${op}: ${name} must be an integer in [${min}, ${MAX_SIZE}], got ${v}`);
  }
}

/** An op code: an index into its family's name list (UNARY_OPS, BINARY_OPS, ...). */
export function checkCode(op: string, name: string, names: readonly string[], v: unknown): asserts v is number {
  checkNumber(op, name, v);
  if (!Number.isInteger(v) || v < 0 || v >= names.length) {
    throw new RangeError(`${op}: ${name} must be an integer in [0, ${names.length}), got ${v}`);
  }
}

/** Product of sizes, refusing one whose element count could not be addressed. */
export function checkedProduct(op: string, what: string, sizes: readonly number[]): number {
  let p = 1;
  for (const s of sizes) p *= s;
  if (!Number.isSafeInteger(p)) throw new RangeError(`${op}: ${what} is too large (overflow)`);
  return p;
}

/** A shape: an array of at most MAX_DIMS sizes. */
export function checkShape(op: string, name: string, shape: unknown): asserts shape is readonly number[] {
  if (!Array.isArray(shape)) throw new TypeError(`${op}: ${name} must be an array of sizes, got ${describeArg(shape)}`);
  if (shape.length > MAX_DIMS)
    throw new RangeError(`${op}: ${name} must have at most ${MAX_DIMS} dims, got ${shape.length}`);
  shape.forEach((s, i) => checkSize(op, `${name}[${i}]`, s));
}

// ---------------------------------------------------------------------------------------------
// Argument groups several kernels share

/** x viewed as outer×n×inner; the `sameDtype` arrays must share x's dtype (checked first, as natively). */
export function checkAxisArgs(
  op: string,
  x: unknown,
  outer: unknown,
  n: unknown,
  inner: unknown,
  sameDtype: Record<string, unknown> = {},
): asserts x is FloatArray {
  checkFloatArrays(op, { x, ...sameDtype });
  checkSize(op, 'outer', outer);
  checkSize(op, 'n', n);
  checkSize(op, 'inner', inner);
  checkAtLeast(op, 'x', x as FloatArray, checkedProduct(op, 'x', [outer, n, inner]));
}

export function checkRowsCols(op: string, rows: unknown, cols: unknown): asserts rows is number {
  checkSize(op, 'rows', rows);
  checkSize(op, 'cols', cols);
  checkedProduct(op, 'rows×cols', [rows, cols]);
}

/** A row-wise kernel whose arrays all hold rows×cols elements of one dtype. */
export function checkRowArrays(op: string, rows: number, cols: number, arrays: Record<string, FloatArray>): void {
  checkRowsCols(op, rows, cols);
  checkFloatArrays(op, arrays);
  for (const name in arrays) checkAtLeast(op, name, arrays[name], rows * cols);
}
