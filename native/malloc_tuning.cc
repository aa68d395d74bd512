#include "malloc_tuning.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace bp {

void tuneMallocOnce() {
#if defined(__GLIBC__)
  static std::once_flag once;
  std::call_once(once, [] {
    const char* opt = std::getenv("BACKPROP_MALLOC");
    if (opt && std::strcmp(opt, "system") == 0) return;
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    if (tunables && std::strstr(tunables, "glibc.malloc.")) return;
    // Blocks up to 32 MiB come from the heap (and are reused after a free); up to 512 MiB of free
    // top of heap is kept. Both are glibc's own upper bounds for the dynamic thresholds' range
    // (mmap: DEFAULT_MMAP_THRESHOLD_MAX on 64-bit) or far below typical training RSS (trim).
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
  });
#endif
}

}  // namespace bp
