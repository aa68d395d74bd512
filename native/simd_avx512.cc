// AVX-512 kernels (F, DQ, BW, VL with FMA). Selected at run time only when CPUID reports them.
#if defined(__x86_64__) || defined(_M_X64)
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,bmi,bmi2,f16c")
#pragma GCC diagnostic ignored "-Wpsabi"  // vector arguments never cross this unit
#include "kernels.h"

namespace bp {
namespace avx512 {
#define BP_VBYTES 64
#define BP_ISA_NAME "avx512"
#define BP_ISA_LEVEL IsaLevel::kAvx512
#define BP_GEMM_MR_F32 12
#define BP_GEMM_NV_F32 2
#define BP_GEMM_MR_F64 12
#define BP_GEMM_NV_F64 2
#include "simd_impl.h"
}  // namespace avx512
}  // namespace bp
#endif
