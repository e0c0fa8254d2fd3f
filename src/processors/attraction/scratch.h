#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace otlpd::attraction {

// Bump allocator for the bytes a request's edits create (new attribute encodings, hashes,
// converted values). Pointers stay valid until Reset(); the blocks are kept for the next
// request, so a thread that processes request after request stops allocating.
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  char* Alloc(size_t n) {
    if (n > cap_ - used_) NextBlock(n);
    char* p = base_ + used_;
    used_ += n;
    return p;
  }

  std::string_view Copy(std::string_view s) {
    if (s.empty()) return {};
    char* p = Alloc(s.size());
    std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
  }

  // Forgets everything allocated; keeps up to kKeepBytes of blocks.
  void Reset();

 private:
  static constexpr size_t kBlockSize = 64 << 10;
  static constexpr size_t kKeepBytes = 4 << 20;

  struct Block {
    std::unique_ptr<char[]> data;
    size_t size;
  };

  void NextBlock(size_t n);

  std::vector<Block> blocks_;
  size_t current_ = 0;  // index of the block in use + 1 (0: none yet)
  char* base_ = nullptr;
  size_t used_ = 0;
  size_t cap_ = 0;
};

}  // namespace otlpd::attraction
