// Argument checks shared by the js backend's kernel files (js.ts, js-conv.ts, js-rnn.ts). The
// native side checks the same things and throws the same error classes: TypeError for a wrong
// kind of value, RangeError for a wrong size, length or index.

import type { FloatArray } from './types.js';

/** How a wrong argument is named in an error message. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'object' || typeof v === 'function') return (v as object).constructor?.name ?? typeof v;
  return `${typeof v} ${String(v)}`;
}

function isFloatArray(v: unknown): v is FloatArray {
  return v instanceof Float32Array || v instanceof Float64Array;
}

export function checkFloatArray(op: string, name: string, v: unknown): asserts v is FloatArray {
  if (!isFloatArray(v)) {
    throw new TypeError(`${op}: ${name} must be a Float32Array or Float64Array, got ${describe(v)}`);
  }
}

export function checkInt32Array(op: string, name: string, v: unknown): asserts v is Int32Array {
  if (!(v instanceof Int32Array)) {
    throw new TypeError(`${op}: ${name} must be an Int32Array, got ${describe(v)}`);
  }
}

/** Arrays sized by explicit sizes may be longer than needed (as on the native side); only the prefix is used. */
export function checkAtLeast(op: string, name: string, arr: ArrayLike<number>, needed: number): void {
  if (arr.length < needed) {
    throw new RangeError(`${op}: ${name} has length ${arr.length}, needs at least ${needed}`);
  }
}
