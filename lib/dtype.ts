// The dtypes a Tensor can have, one row each: how its elements are stored, how many bytes one
// takes, what kind of number it holds, and its safetensors tag. Code that depends on the dtype
// asks this table rather than testing typed-array constructors, so that a new dtype (int32,
// int64) is one more row plus the conversions that reach it.
//
// The backend kernels compute in float32 and float64 only (`KernelDType`); the 16-bit floats
// (raw bits in a Uint16Array, as PyTorch stores them) and bool (a Uint8Array of 0/1) are storage
// dtypes that ops convert from and to.

import type { FloatArray } from './backend/types.js';
import {
  decodeBfloat16,
  decodeFloat16,
  encodeBfloat16,
  encodeFloat16,
  fromBfloat16Bits,
  fromFloat16Bits,
  toBfloat16Bits,
  toFloat16Bits,
} from './backend/js-half.js';

export type DType = 'float32' | 'float64' | 'bfloat16' | 'float16' | 'bool';
/** The dtypes the backend kernels compute in. */
export type KernelDType = 'float32' | 'float64';
/** The 16-bit floats, stored as raw bits. */
export type HalfDType = 'bfloat16' | 'float16';
/** Any tensor's storage. */
export type TensorData = FloatArray | Uint16Array | Uint8Array;

export type DTypeKind = 'float' | 'int' | 'bool';

export interface DTypeInfo {
  readonly name: DType;
  readonly kind: DTypeKind;
  /** Bytes per element. */
  readonly itemsize: number;
  /** The typed array that holds the elements. */
  readonly storage: Float32ArrayConstructor | Float64ArrayConstructor | Uint16ArrayConstructor | Uint8ArrayConstructor;
  /** The tag of the safetensors format. */
  readonly safetensors: 'F32' | 'F64' | 'BF16' | 'F16' | 'BOOL';
  /** Whether the backend kernels take it directly (the others are converted first). */
  readonly kernel: boolean;
  /** The value of the stored element `raw` (identity unless stored as bits). */
  readonly decode: (raw: number) => number;
  /** The stored element for the number v (rounded as PyTorch rounds). */
  readonly encode: (v: number) => number;
}

const identity = (v: number): number => v;

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = Object.freeze({
  float32: {
    name: 'float32',
    kind: 'float',
    itemsize: 4,
    storage: Float32Array,
    safetensors: 'F32',
    kernel: true,
    decode: identity,
    encode: Math.fround,
  },
  float64: {
    name: 'float64',
    kind: 'float',
    itemsize: 8,
    storage: Float64Array,
    safetensors: 'F64',
    kernel: true,
    decode: identity,
    encode: identity,
  },
  bfloat16: {
    name: 'bfloat16',
    kind: 'float',
    itemsize: 2,
    storage: Uint16Array,
    safetensors: 'BF16',
    kernel: false,
    decode: fromBfloat16Bits,
    encode: toBfloat16Bits,
  },
  float16: {
    name: 'float16',
    kind: 'float',
    itemsize: 2,
    storage: Uint16Array,
    safetensors: 'F16',
    kernel: false,
    decode: fromFloat16Bits,
    encode: toFloat16Bits,
  },
  bool: {
    name: 'bool',
    kind: 'bool',
    itemsize: 1,
    storage: Uint8Array,
    safetensors: 'BOOL',
    kernel: false,
    decode: identity,
    // NaN is truthy, as in PyTorch (NaN != 0).
    encode: (v: number): number => (v === 0 ? 0 : 1),
  },
});

export const DTYPE_NAMES = Object.freeze(Object.keys(DTYPES) as DType[]);

export function isDType(v: unknown): v is DType {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, v);
}

export function isKernelDType(d: DType): d is KernelDType {
  return d === 'float32' || d === 'float64';
}

export function isHalfDType(d: DType): d is HalfDType {
  return d === 'bfloat16' || d === 'float16';
}

/** Whether the dtype holds floating-point values (the dtypes autograd can differentiate). */
export function isFloatingPoint(d: DType): boolean {
  return DTYPES[d].kind === 'float';
}

/** A zeroed array for n elements of dtype. */
export function allocStorage(dtype: DType, n: number): TensorData {
  return new DTYPES[dtype].storage(n);
}

/**
 * The dtype a storage array implies; Uint16Array is ambiguous (bfloat16 or float16) and gives
 * undefined.
 */
export function dtypeOfStorage(data: TensorData): DType | undefined {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Uint8Array) return 'bool';
  return undefined;
}

/** The dtype names joined for an error message: 'float32', 'float64', ... */
export function dtypeList(names: readonly DType[] = DTYPE_NAMES): string {
  return names.map((n) => `'${n}'`).join(', ');
}

/**
 * Converts src (elements of dtype `from`) into dst (elements of dtype `to`), rounding as PyTorch
 * does: to a 16-bit float through float32, to bool by "not zero".
 */
export function convertStorage(src: TensorData, from: DType, dst: TensorData, to: DType): void {
  if (from === to) {
    dst.set(src);
    return;
  }
  if (isKernelDType(to)) {
    const out = dst as FloatArray;
    if (from === 'bfloat16') decodeBfloat16(src as Uint16Array, out);
    else if (from === 'float16') decodeFloat16(src as Uint16Array, out);
    else out.set(src); // float32 <-> float64 and bool -> 0/1 (float64 -> float32 rounds to nearest even)
    return;
  }
  if (isKernelDType(from)) {
    if (to === 'bfloat16') encodeBfloat16(src, dst as Uint16Array);
    else if (to === 'float16') encodeFloat16(src, dst as Uint16Array);
    else for (let i = 0; i < dst.length; i++) dst[i] = src[i] === 0 ? 0 : 1;
    return;
  }
  // Between storage dtypes: through the exact float32 value of each element.
  const decode = DTYPES[from].decode;
  const encode = DTYPES[to].encode;
  for (let i = 0; i < dst.length; i++) dst[i] = encode(decode(src[i]));
}
