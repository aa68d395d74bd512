// AVX2 + FMA kernels. Selected at run time only when CPUID reports them.
#if defined(__x86_64__) || defined(_M_X64)
#pragma GCC target("avx2,fma,bmi,bmi2,f16c")
#pragma GCC diagnostic ignored "-Wpsabi"  // vector arguments never cross this unit
#include "kernels.h"

namespace bp {
namespace avx2 {
#define BP_VBYTES 32
#define BP_ISA_NAME "avx2"
#define BP_ISA_LEVEL IsaLevel::kAvx2
#define BP_GEMM_MR_F32 6
#define BP_GEMM_NV_F32 2
#define BP_GEMM_MR_F64 6
#define BP_GEMM_NV_F64 2
#include "simd_impl.h"
}  // namespace avx2
}  // namespace bp
#endif
