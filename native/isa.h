// Which kernel tables this build holds and which of them the CPU can run: one best-first list of
// {table, CPU-feature test}. The addon starts on the first supported entry; BACKPROP_SIMD and
// _setSimd pick another by its name.
#pragma once

#include <cstddef>
#include <string>

#include "kernels.h"

namespace bp {

struct IsaChoice {
  const KernelTable* table;
  bool (*supported)();  // whether this CPU has the instructions the table was compiled for
};

// The tables compiled into this build, best first; the last one (the baseline) runs anywhere.
extern const IsaChoice kIsaChoices[];
extern const size_t kIsaChoiceCount;

// The best table this CPU supports.
const KernelTable* bestSupportedTable();

// The supported table whose name is `name` (as given by BACKPROP_SIMD or _setSimd), or null.
const KernelTable* supportedTableNamed(const std::string& name);

// The names of the supported tables, best first, joined by ", " (for error messages).
std::string supportedTableNames();

}  // namespace bp
