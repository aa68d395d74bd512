// 16-bit float conversions, the reference the native conversion kernels are tested against.
// Rounding is PyTorch's: round to nearest, ties to even, overflow to ±Inf, subnormals kept.
//  - bfloat16 (c10/util/BFloat16.h, round_to_nearest_even): the top 16 bits of the float32 after
//    adding 0x7FFF plus the lowest kept bit. Any NaN becomes 0xFFFF: that is what a tensor
//    conversion (`.to(torch.bfloat16)`, the vectorised cvtfp32_bf16) gives in PyTorch 1.13, for
//    one element as for many; c10's scalar conversion would give 0x7FC0. Both are NaN.
//  - float16 (c10/util/Half.h, fp16_ieee_from_fp32_value, and F16C's vcvtps2ph): IEEE binary16,
//    NaN keeps its sign and becomes the quiet NaN 0x7E00.
// Sources of float64 values are rounded to float32 first, as PyTorch converts double to its
// 16-bit types through float (so a double can round twice: that is PyTorch's result too).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The bfloat16 bits nearest to v (v rounded to float32 first). */
export function toBfloat16Bits(v: number): number {
  f32[0] = v;
  const u = u32[0];
  if ((u & 0x7fffffff) > 0x7f800000) return 0xffff;
  return ((u + (((u >>> 16) & 1) + 0x7fff)) >>> 16) & 0xffff;
}

/** The value of bfloat16 bits (exact in float32). */
export function fromBfloat16Bits(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

/** The float16 bits nearest to v (v rounded to float32 first). */
export function toFloat16Bits(v: number): number {
  f32[0] = v;
  const u = u32[0];
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00; // NaN
  // 65520 = 65504 + half an ulp: from there up everything rounds to Inf (ties go to the even Inf).
  if (a >= 0x477ff000) return sign | 0x7c00;
  if (a < 0x38800000) {
    // Below the smallest normal half (2^-14): a multiple of 2^-24. |x| * 2^24 is exact in float64
    // (< 1024), so rounding it to an integer, ties to even, gives the subnormal's bits; 1024
    // carries into the smallest normal.
    const s = f32[0] < 0 ? -f32[0] * 16777216 : f32[0] * 16777216;
    let r = Math.floor(s);
    const d = s - r;
    if (d > 0.5 || (d === 0.5 && (r & 1) === 1)) r++;
    return sign | r;
  }
  // Normal: rebias the exponent (127 -> 15), keep 10 mantissa bits, round on the 13 dropped ones.
  let h = (((a >>> 23) - 112) << 10) | ((a >>> 13) & 0x3ff);
  const rest = a & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++; // a carry moves into the exponent
  return sign | h;
}

/** The value of float16 bits (exact in float32). */
export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 5.960464477539063e-8; // m * 2^-24
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/** dst[i] = bfloat16 bits of src[i]. */
export function encodeBfloat16(src: ArrayLike<number>, dst: Uint16Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] = toBfloat16Bits(src[i]);
}

/** dst[i] = float16 bits of src[i]. */
export function encodeFloat16(src: ArrayLike<number>, dst: Uint16Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] = toFloat16Bits(src[i]);
}

/** dst[i] = the value of bfloat16 bits src[i]. */
export function decodeBfloat16(src: Uint16Array, dst: Float32Array | Float64Array): void {
  if (dst instanceof Float32Array) {
    // Shifting the bits into place is the whole conversion: do it on the integer view.
    const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
    for (let i = 0; i < out.length; i++) out[i] = src[i] << 16;
    return;
  }
  for (let i = 0; i < dst.length; i++) dst[i] = fromBfloat16Bits(src[i]);
}

/** dst[i] = the value of float16 bits src[i]. */
export function decodeFloat16(src: Uint16Array, dst: Float32Array | Float64Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] = fromFloat16Bits(src[i]);
}
