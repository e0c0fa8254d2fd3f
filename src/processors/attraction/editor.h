#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/strings/cord.h"
#include "processors/attraction/scratch.h"
#include "processors/attraction/wire.h"

namespace otlpd::attraction {

// Describes a new encoding of a request as edits of its original bytes: ranges replaced by
// pieces (views of the original or of scratch memory), in increasing order. Build() then
// writes the result in one pass, so a request costs one copy whatever the number of edits,
// and a request with no edits costs nothing: its bytes are passed on as they are.
//
// Length-delimited fields whose contents change (a span, its scope, its resource) must get a
// new length: Open() reserves that edit before the field's inner edits, Close() fills it in
// once the contents' size change is known.
class WireEditor {
 public:
  // An open length-delimited field (see Open).
  struct Open {
    size_t slot;
    const char* length_begin;
    const char* length_end;
    size_t old_length;
  };

  void Reset(std::string_view original);
  std::string_view original() const { return original_; }

  // True when nothing was edited.
  bool empty() const { return edits_.empty(); }

  // The edits so far, to go back to (the filter processor edits inside a scope, then finds
  // that nothing in it is left and drops it whole instead).
  struct Mark {
    size_t edits;
    size_t pieces;
  };
  Mark GetMark() const { return Mark{edits_.size(), pieces_.size()}; }
  void Rollback(const Mark& mark) {
    edits_.resize(mark.edits);
    pieces_.resize(mark.pieces);
  }

  // Starts an edit replacing [begin, end) of the original; Append adds its replacement.
  // Edits must come in order and not overlap.
  void Replace(const char* begin, const char* end);
  // Appends `bytes` to the current edit's replacement. They must stay valid until Build().
  void Append(std::string_view bytes) {
    if (bytes.empty()) return;
    Edit& e = edits_.back();
    if (e.pieces > 0) {
      Piece& last = pieces_.back();
      if (last.data + last.size == bytes.data()) {
        last.size += bytes.size();
        return;
      }
    }
    pieces_.push_back(Piece{bytes.data(), bytes.size()});
    ++e.pieces;
  }

  // Before editing inside the length-delimited field `f`.
  Open OpenField(const WireField& f);
  // After editing inside it: `delta` is how much its contents grew (negative: shrank).
  // Returns how much the whole field grew, for the enclosing field's delta.
  int64_t CloseField(const Open& open, int64_t delta, Scratch* scratch);

  // Inserts `bytes` (valid until Build) at `at`, inside the length-delimited field `f` and
  // with no other edit inside it: OpenField, Replace(at, at), Append and CloseField in one
  // step. Returns how much the whole field grew.
  int64_t InsertInField(const WireField& f, const char* at, std::string_view bytes,
                        Scratch* scratch);

  // Size of the edited request.
  size_t Size() const;
  // The edited request. With `source` (a Cord whose one chunk is the original), sparse edits
  // make a Cord that shares the unchanged stretches of the original instead of copying them;
  // dense ones (where many small chunks would cost more than one copy) a flat copy.
  absl::Cord Build(const absl::Cord* source = nullptr) const;

 private:
  struct Edit {
    uint32_t begin;
    uint32_t end;
    uint32_t first_piece;
    uint32_t pieces;
  };
  struct Piece {
    const char* data;
    size_t size;
  };

  // Appends the varint `length` (a field's new length, in scratch memory) as a piece; returns
  // its size.
  size_t AddLengthPiece(uint64_t length, Scratch* scratch);

  // Shared stretches below this average size are copied instead.
  static constexpr size_t kMinSharedRun = 2048;

  std::string_view original_;
  std::vector<Edit> edits_;
  std::vector<Piece> pieces_;
};

}  // namespace otlpd::attraction
