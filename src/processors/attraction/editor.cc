#include "processors/attraction/editor.h"

#include <cassert>
#include <cstring>
#include <memory>

namespace otlpd::attraction {

namespace {

// Copies `n` bytes, K <= n <= 2K, as the first K and the last K (which overlap): both are
// loaded before either is stored.
template <size_t K>
inline void CopyEnds(char* w, const char* s, size_t n) {
  char head[K], tail[K];
  std::memcpy(head, s, K);
  std::memcpy(tail, s + n - K, K);
  std::memcpy(w, head, K);
  std::memcpy(w + n - K, tail, K);
}

// Copies `n` bytes to `w` (not overlapping) and returns the end. A dense rewrite is mostly
// short runs (tags, lengths, an added attribute, a span's tail) between long ones: up to 64
// bytes are moved inline by overlapping loads and stores, not by a call to memcpy each (which
// costs more than the copy at these sizes).
inline char* CopyRun(char* w, const char* s, size_t n) {
  if (n <= 16) {
    if (n >= 8) {
      CopyEnds<8>(w, s, n);
    } else if (n >= 4) {
      CopyEnds<4>(w, s, n);
    } else if (n > 0) {
      const char first = s[0], middle = s[n / 2], last = s[n - 1];
      w[0] = first;
      w[n / 2] = middle;
      w[n - 1] = last;
    }
  } else if (n <= 32) {
    CopyEnds<16>(w, s, n);
  } else if (n <= 64) {
    CopyEnds<32>(w, s, n);
  } else {
    std::memcpy(w, s, n);
  }
  return w + n;
}

}  // namespace

void WireEditor::Reset(std::string_view original) {
  original_ = original;
  edits_.clear();
  pieces_.clear();
}

void WireEditor::Replace(const char* begin, const char* end) {
  const auto b = static_cast<uint32_t>(begin - original_.data());
  const auto e = static_cast<uint32_t>(end - original_.data());
  assert(b <= e && e <= original_.size());
  assert(edits_.empty() || edits_.back().end <= b);
  edits_.push_back(Edit{b, e, static_cast<uint32_t>(pieces_.size()), 0});
}

WireEditor::Open WireEditor::OpenField(const WireField& f) {
  const size_t slot = edits_.size();
  // Reserved now so that it sorts before the field's inner edits; filled in by CloseField.
  Replace(f.value, f.payload.data());
  return Open{slot, f.value, f.payload.data(), f.payload.size()};
}

int64_t WireEditor::CloseField(const Open& open, int64_t delta, Scratch* scratch) {
  if (delta == 0) {
    if (open.slot + 1 == edits_.size()) {
      edits_.pop_back();  // nothing changed inside
    } else {
      // Inner edits kept the size: the length stays as it is.
      Edit& e = edits_[open.slot];
      e.end = e.begin;
    }
    return 0;
  }
  const size_t n =
      AddLengthPiece(static_cast<uint64_t>(static_cast<int64_t>(open.old_length) + delta), scratch);
  Edit& e = edits_[open.slot];
  e.first_piece = static_cast<uint32_t>(pieces_.size() - 1);
  e.pieces = 1;
  return delta + static_cast<int64_t>(n) - (open.length_end - open.length_begin);
}

size_t WireEditor::AddLengthPiece(uint64_t length, Scratch* scratch) {
  char* p = scratch->Alloc(VarintSize(length));
  const size_t n = WriteVarint(p, length) - p;
  pieces_.push_back(Piece{p, n});
  return n;
}

int64_t WireEditor::InsertInField(const WireField& f, const char* at, std::string_view bytes,
                                  Scratch* scratch) {
  if (bytes.empty()) return 0;
  const auto base = original_.data();
  const auto b = static_cast<uint32_t>(f.value - base);
  const auto e = static_cast<uint32_t>(f.payload.data() - base);
  const auto i = static_cast<uint32_t>(at - base);
  assert(edits_.empty() || edits_.back().end <= b);
  assert(e <= i && i <= static_cast<size_t>(f.end - base));
  const auto first = static_cast<uint32_t>(pieces_.size());
  const size_t n = AddLengthPiece(f.payload.size() + bytes.size(), scratch);
  pieces_.push_back(Piece{bytes.data(), bytes.size()});
  edits_.push_back(Edit{b, e, first, 1});
  edits_.push_back(Edit{i, i, first + 1, 1});
  return static_cast<int64_t>(bytes.size() + n) - (f.payload.data() - f.value);
}

size_t WireEditor::Size() const {
  size_t size = original_.size();
  for (const Edit& e : edits_) {
    size -= e.end - e.begin;
    for (uint32_t i = 0; i < e.pieces; ++i) size += pieces_[e.first_piece + i].size;
  }
  return size;
}

absl::Cord WireEditor::Build(const absl::Cord* source) const {
  if (source != nullptr && source->size() == original_.size() &&
      edits_.size() * kMinSharedRun <= original_.size()) {
    absl::Cord out;
    size_t pos = 0;
    for (const Edit& e : edits_) {
      if (e.begin > pos) out.Append(source->Subcord(pos, e.begin - pos));
      for (uint32_t i = 0; i < e.pieces; ++i) {
        const Piece& piece = pieces_[e.first_piece + i];
        out.Append(absl::string_view(piece.data, piece.size));
      }
      pos = e.end;
    }
    if (pos < original_.size()) out.Append(source->Subcord(pos, original_.size() - pos));
    return out;
  }
  const size_t size = Size();
  // Uninitialized: every byte is written below.
  char* out = new char[size > 0 ? size : 1];
  char* w = out;
  size_t pos = 0;
  for (const Edit& e : edits_) {
    w = CopyRun(w, original_.data() + pos, e.begin - pos);
    for (uint32_t i = 0; i < e.pieces; ++i) {
      const Piece& piece = pieces_[e.first_piece + i];
      w = CopyRun(w, piece.data, piece.size);
    }
    pos = e.end;
  }
  w = CopyRun(w, original_.data() + pos, original_.size() - pos);
  assert(static_cast<size_t>(w - out) == size);
  return absl::MakeCordFromExternal(absl::string_view(out, size),
                                    [out](absl::string_view) { delete[] out; });
}

}  // namespace otlpd::attraction
