{
  "targets": [
    {
      "target_name": "backprop",
      "sources": [
        "native/addon.cc",
        "native/bind_batchnorm.cc",
        "native/bind_conv.cc",
        "native/bind_elementwise.cc",
        "native/bind_gemm.cc",
        "native/bind_movement.cc",
        "native/bind_optim.cc",
        "native/bind_pool.cc",
        "native/bind_reduce.cc",
        "native/bind_rnn.cc",
        "native/args.cc",
        "native/isa.cc",
        "native/blas.cc",
        "native/thread_pool.cc",
        "native/gemm.cc",
        "native/gemm_dispatch.cc",
        "native/kernels_common.cc",
        "native/simd_scalar.cc",
        "native/simd_avx2.cc",
        "native/simd_avx512.cc",
        "native/conv.cc",
        "native/conv_im2col.cc",
        "native/conv_direct.cc",
        "native/pool.cc",
        "native/batchnorm.cc",
        "native/rnn.cc",
        "native/malloc_tuning.cc",
        "native/bind_attention.cc",
        "native/attention.cc",
        "native/sparse.cc",
        "native/bind_sparse.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2", "-O0"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++1y", "-std=gnu++17", "-O2", "-O0"],
      "cflags": ["-O3", "-fno-math-errno", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-psabi"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fexceptions", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-psabi"],
      "libraries": ["-ldl"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fvisibility=hidden"]
      }
    }
  ]
}
