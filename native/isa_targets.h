// Function attributes for code that keeps per-ISA variants outside the kernel tables (conv's
// direct paths, pooling, rnn's float gates): each variant is compiled for its instruction set
// with a target attribute and called only when the running table's level (IsaLevel) allows it.
#pragma once

// Helpers that must inline into each variant, so that they are compiled for its target.
#define BP_ALWAYS_INLINE __attribute__((always_inline)) inline

#if defined(__x86_64__) || defined(_M_X64)
#define BP_HAS_X86_VARIANTS 1
// The same feature sets as simd_avx512.cc and simd_avx2.cc (and isa.cc's CPU tests).
#define BP_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
#define BP_TARGET_AVX2 __attribute__((target("avx2,fma")))
#endif
