#include "processors/attraction/scratch.h"

#include <algorithm>

namespace otlpd::attraction {

void Scratch::NextBlock(size_t n) {
  // Reuse the kept blocks in order while they are big enough.
  while (current_ < blocks_.size()) {
    Block& b = blocks_[current_++];
    if (b.size >= n) {
      base_ = b.data.get();
      cap_ = b.size;
      used_ = 0;
      return;
    }
  }
  const size_t size = std::max(n, kBlockSize);
  blocks_.push_back(Block{std::unique_ptr<char[]>(new char[size]), size});
  current_ = blocks_.size();
  base_ = blocks_.back().data.get();
  cap_ = size;
  used_ = 0;
}

void Scratch::Reset() {
  size_t kept = 0;
  size_t i = 0;
  for (; i < blocks_.size(); ++i) {
    if (kept + blocks_[i].size > kKeepBytes) break;
    kept += blocks_[i].size;
  }
  blocks_.resize(i);
  current_ = 0;
  base_ = nullptr;
  used_ = 0;
  cap_ = 0;
}

}  // namespace otlpd::attraction
