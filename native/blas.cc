#include "blas.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <vector>

namespace bp {
namespace {

std::string versionFrom(const Blas& b, const std::string& name) {
  if (b.getConfig) {
    // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..." -> "openblas 0.3.21"
    const std::string config = b.getConfig();
    const size_t space = config.find(' ');
    if (config.compare(0, 8, "OpenBLAS") == 0 && space != std::string::npos) {
      const size_t end = config.find(' ', space + 1);
      return "openblas " + config.substr(space + 1, end == std::string::npos ? std::string::npos
                                                                             : end - space - 1);
    }
    return "openblas " + config;
  }
  return "cblas " + name;
}

bool tryOpen(Blas& b, const std::string& name) {
  void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* err = dlerror();
    b.error += (b.error.empty() ? "" : "; ") + std::string(err ? err : name);
    return false;
  }
  auto sgemm = reinterpret_cast<SgemmFn>(dlsym(handle, "cblas_sgemm"));
  auto dgemm = reinterpret_cast<DgemmFn>(dlsym(handle, "cblas_dgemm"));
  if (!sgemm || !dgemm) {
    b.error += (b.error.empty() ? "" : "; ") + name + ": no cblas_sgemm/cblas_dgemm";
    dlclose(handle);
    return false;
  }
  b.sgemm = sgemm;
  b.dgemm = dgemm;
  b.getConfig = reinterpret_cast<char* (*)()>(dlsym(handle, "openblas_get_config"));
  b.setNumThreads = reinterpret_cast<void (*)(int)>(dlsym(handle, "openblas_set_num_threads"));
  b.getNumThreads = reinterpret_cast<int (*)()>(dlsym(handle, "openblas_get_num_threads"));
  b.version = versionFrom(b, name);
  b.error.clear();
  return true;  // the handle stays open for the life of the process
}

Blas load() {
  Blas b;
  const char* env = std::getenv("BACKPROP_BLAS");
  if (env && *env) {
    const std::string name = env;
    if (name == "builtin") {
      b.error = "BACKPROP_BLAS=builtin";
      return b;
    }
    tryOpen(b, name);
    return b;
  }
  const std::vector<std::string> candidates = {
      "libopenblas.so.0",  "libopenblas.so",    "libopenblasp.so.0",  "libopenblasp.so",
      "libopenblaso.so.0", "libopenblas.dylib", "libopenblas.0.dylib"};
  for (const auto& name : candidates) {
    if (tryOpen(b, name)) return b;
  }
  return b;
}

}  // namespace

const Blas& blas() {
  static std::once_flag once;
  static Blas instance;
  std::call_once(once, [] { instance = load(); });
  return instance;
}

}  // namespace bp
