#include "isa.h"

namespace bp {
namespace {

bool anyCpu() { return true; }

#if defined(__x86_64__) || defined(_M_X64)
// __builtin_cpu_init is idempotent; it makes the answers valid however early this runs.
bool cpuHasAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

bool cpuHasAvx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && cpuHasAvx2();
}
#endif

}  // namespace

const IsaChoice kIsaChoices[] = {
#if defined(__x86_64__) || defined(_M_X64)
    {&avx512::table, cpuHasAvx512},
    {&avx2::table, cpuHasAvx2},
#endif
    {&scalar::table, anyCpu},
};
const size_t kIsaChoiceCount = sizeof(kIsaChoices) / sizeof(kIsaChoices[0]);

const KernelTable* bestSupportedTable() {
  for (size_t i = 0; i < kIsaChoiceCount; ++i)
    if (kIsaChoices[i].supported()) return kIsaChoices[i].table;
  return &scalar::table;
}

const KernelTable* supportedTableNamed(const std::string& name) {
  for (size_t i = 0; i < kIsaChoiceCount; ++i)
    if (name == kIsaChoices[i].table->name && kIsaChoices[i].supported())
      return kIsaChoices[i].table;
  return nullptr;
}

std::string supportedTableNames() {
  std::string s;
  for (size_t i = 0; i < kIsaChoiceCount; ++i)
    if (kIsaChoices[i].supported())
      s += (s.empty() ? "" : ", ") + std::string(kIsaChoices[i].table->name);
  return s;
}

}  // namespace bp
