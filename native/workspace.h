// Scratch buffers of one addon instance, kept between calls: a kernel asks for slot s with at
// least n elements and gets the buffer the slot already holds, grown only when too small, so a
// training loop allocates nothing after its first step. The kernels of one instance run one at a
// time (its JS thread's) and none calls another, so they share the slots; a kernel that runs on
// the pool takes one slot per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bp {

class Workspace {
 public:
  // A 64-byte aligned buffer of at least `bytes` bytes in slot `slot`. May throw std::bad_alloc
  // or std::length_error; the buffers of other slots stay valid.
  void* bytes(size_t slot, size_t bytes) {
    if (slots_.size() <= slot) slots_.resize(slot + 1);
    auto& buf = slots_[slot];
    // 64 bytes of slack so that the buffer can start on a cache line.
    const size_t words = (bytes + sizeof(double) - 1) / sizeof(double) + 8;
    if (buf.size() < words) buf.resize(words);
    const auto addr = reinterpret_cast<uintptr_t>(buf.data());
    return reinterpret_cast<unsigned char*>(buf.data()) + ((64 - (addr & 63)) & 63);
  }

  // Frees every slot larger than `bytes`, so one huge call does not stay resident for the life of
  // the addon (a training loop's buffers are far smaller and are kept).
  void trimAbove(size_t bytes) {
    for (auto& buf : slots_)
      if (buf.size() * sizeof(double) > bytes) std::vector<double>().swap(buf);
  }

  // A buffer of at least `count` elements of T in slot `slot`.
  template <typename T>
  T* get(size_t slot, size_t count) {
    return static_cast<T*>(bytes(slot, count * sizeof(T)));
  }

 private:
  std::vector<std::vector<double>> slots_;
};

}  // namespace bp
