// Kernel implementations shared by every instruction set. Included by simd_avx512.cc,
// simd_avx2.cc and simd_scalar.cc inside their own namespace (bp::avx512, ...) after a
// `#pragma GCC target`, with BP_VBYTES set to the vector width in bytes and BP_ISA_NAME to the
// level's name. GCC vector extensions lower to the instruction set of the including unit.
// The kernels live in the parts included below, in dependency order; this file fills the table.
//
// ODR rule for this file and its parts: no #include (but of the parts), nothing from std::.
// Anything inline or templated that the standard headers define would be emitted once per ISA
// and the linker could keep the AVX-512 copy for the scalar path. Everything here lives in the
// per-ISA namespace instead; libm is reached only through __builtin_* calls (plain C symbols).

#ifndef BP_VBYTES
#error "define BP_VBYTES before including simd_impl.h"
#endif

// Vector helpers must inline: a 128-byte double vector returned from a real call goes through
// memory and costs more than the math.
#define BP_INLINE inline __attribute__((always_inline))

// The parts refuse to compile unless included from here.
#define BP_SIMD_IMPL_PARTS
// Dependency order (each part uses the ones above it), which include sorting would break.
// clang-format off
#include "simd_vec.h"      // vector types, load/store, splat, widen/narrow
#include "simd_math.h"     // exp, log, expm1, log1p, tanh, sigmoid, softplus, silu, erfc, gelu
#include "simd_map.h"      // elementwise drivers, Taylor degree per dtype
#include "simd_unary.h"    // unaryK, unaryBackwardK
#include "simd_binary.h"   // binaryVVK, binaryVSK
#include "simd_reduce.h"   // sumContig, maxContig, reduceK
#include "simd_softmax.h"  // softmaxK, softmaxBackwardK, softmaxCrossEntropyK, expShiftSumK
#include "simd_optim.h"    // sgdStepK, adamStepK
#include "simd_gemm.h"     // gemmMicroK, gemmSmallK, packTK
#include "simd_sparse.h"   // sparseGatherK, sparseScatterK, sparseDotsK
// clang-format on
#undef BP_SIMD_IMPL_PARTS

const KernelTable table = {
    BP_ISA_NAME,
    BP_ISA_LEVEL,
    {&unaryK<float>, &unaryBackwardK<float>, &binaryVVK<float>, &binaryVSK<float>, &reduceK<float>,
     &softmaxK<float>, &softmaxBackwardK<float>, &softmaxCrossEntropyK<float>, &sgdStepK<float>,
     &adamStepK<float>, &gemmMicroK<float, BP_GEMM_MR_F32, BP_GEMM_NV_F32>, BP_GEMM_MR_F32,
     BP_GEMM_NV_F32* Vec<float>::L, &gemmSmallK<float>, &packTK<float>, &expShiftSumK<float>,
     &sparseGatherK<float>, &sparseScatterK<float>, &sparseDotsK<float>},
    {&unaryK<double>, &unaryBackwardK<double>, &binaryVVK<double>, &binaryVSK<double>,
     &reduceK<double>, &softmaxK<double>, &softmaxBackwardK<double>, &softmaxCrossEntropyK<double>,
     &sgdStepK<double>, &adamStepK<double>, &gemmMicroK<double, BP_GEMM_MR_F64, BP_GEMM_NV_F64>,
     BP_GEMM_MR_F64, BP_GEMM_NV_F64* Vec<double>::L, &gemmSmallK<double>, &packTK<double>,
     &expShiftSumK<double>, &sparseGatherK<double>, &sparseScatterK<double>, &sparseDotsK<double>},
};
