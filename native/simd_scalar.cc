// Portable kernels, compiled for the baseline of the target: on x86-64 the vectors are two
// floats / one double wide (effectively scalar code), on arm64 they are 16 bytes (NEON).
#pragma GCC diagnostic ignored "-Wpsabi"  // vector arguments never cross this unit
#include "kernels.h"

namespace bp {
namespace scalar {
#if defined(__aarch64__) || defined(__ARM_NEON)
#define BP_VBYTES 16
#define BP_ISA_NAME "neon"
#define BP_ISA_LEVEL IsaLevel::kBaseline
#define BP_GEMM_MR_F32 8
#define BP_GEMM_NV_F32 3
#define BP_GEMM_MR_F64 8
#define BP_GEMM_NV_F64 3
#else
#define BP_VBYTES 8
#define BP_ISA_NAME "scalar"
#define BP_ISA_LEVEL IsaLevel::kBaseline
#define BP_GEMM_MR_F32 4
#define BP_GEMM_NV_F32 2
#define BP_GEMM_MR_F64 4
#define BP_GEMM_NV_F64 4
#endif
#include "simd_impl.h"
}  // namespace scalar
}  // namespace bp
