#include "test_support.h"

#include <cmath>

#include "isa.h"

namespace bpt {

namespace {

// The addon's own list (native/isa.cc): every table of this build, with its CPU test.
std::vector<Level> findLevels() {
  std::vector<Level> usable;
  for (size_t i = 0; i < bp::kIsaChoiceCount; ++i) {
    const bp::IsaChoice& choice = bp::kIsaChoices[i];
    if (choice.supported())
      usable.push_back({choice.table->name, choice.table});
    else
      note(str(choice.table->name, " kernels skipped: this CPU lacks the instructions"));
  }
  return usable;
}

}  // namespace

const std::vector<Level>& levels() {
  static const std::vector<Level> found = findLevels();
  return found;
}

const std::vector<size_t> kSizes = {0,  1,  2,  3,  4,  5,  7,  8,  9,   15,
                                    16, 17, 31, 32, 33, 63, 64, 65, 1000};

std::string shapeText(const std::vector<size_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s;
}

uint64_t Rng::next() {
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  return state_ * 0x2545F4914F6CDD1DULL;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

double Rng::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

double Rng::normal() {
  // Box-Muller; 1 - u is in (0, 1], so the log is finite.
  const double u = 1.0 - uniform(), v = uniform();
  return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
}

size_t Rng::below(size_t n) { return n ? static_cast<size_t>(next() % n) : 0; }

}  // namespace bpt
