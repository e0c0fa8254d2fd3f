#pragma once

// The pieces every columnar block format in src/storage is made of (trace blocks, log
// blocks): varint columns, string dictionaries, a container of checksummed (optionally
// zstd'd) sections with a directory in the footer, and per-key attribute columns.
//
//   [header magic 4][version 1][section]...[directory][dir offset u64][dir size u32]
//   [dir xxhash64 u64][footer magic 4]
//
// A directory entry: type, sub, offset, stored size, raw size (varints), codec (0 stored,
// 1 zstd), xxhash64 of the stored bytes. Sections tile the block, so every byte is under a
// checksum.

#include <zstd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "opentelemetry/proto/common/v1/common.pb.h"

namespace otlpd::storage::columns {

// --- varints and fixed-width ------------------------------------------------------------

inline void PutVarint(std::string* s, uint64_t v) {
  while (v >= 0x80) {
    s->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  s->push_back(static_cast<char>(v));
}
inline void PutBytes(std::string* s, std::string_view b) {
  PutVarint(s, b.size());
  s->append(b);
}
inline void PutFixed64(std::string* s, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  s->append(b, 8);
}
inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}
// Wrapping difference, so that any pair of uint64 times round-trips.
inline uint64_t Delta(uint64_t a, uint64_t b) { return ZigZag(static_cast<int64_t>(a - b)); }
inline uint64_t Undelta(uint64_t base, uint64_t d) {
  return base + static_cast<uint64_t>(UnZigZag(d));
}

// Nanosecond times and durations carry ~16 bits of noise at the bottom: those go to two byte
// planes of their own, so that the varints of the high bits stay short and compressible.
void SplitNumbers(const std::vector<uint64_t>& values, std::string* hi, std::string* lo);

// Reads a byte range; the first error sticks and later reads return zeros.
class In {
 public:
  In() = default;
  explicit In(std::string_view d) : begin_(d.data()), p_(d.data()), end_(d.data() + d.size()) {}
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return Fail();
      const uint8_t b = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    return Fail();
  }
  uint32_t Varint32() {
    const uint64_t v = Varint();
    if (v > 0xffffffffULL) return static_cast<uint32_t>(Fail());
    return static_cast<uint32_t>(v);
  }
  std::string_view Raw(uint64_t n) {
    if (static_cast<uint64_t>(end_ - p_) < n) {
      Fail();
      return {};
    }
    std::string_view out(p_, n);
    p_ += n;
    return out;
  }
  std::string_view Bytes() { return Raw(Varint()); }
  uint64_t Fixed64() {
    std::string_view b = Raw(8);
    uint64_t v = 0;
    for (size_t i = 0; i < b.size(); ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(b[i])) << (8 * i);
    return v;
  }
  uint64_t Fail() {
    ok_ = false;
    p_ = end_;
    return 0;
  }
  bool ok() const { return ok_; }
  bool done() const { return p_ == end_; }
  size_t pos() const { return static_cast<size_t>(p_ - begin_); }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

 private:
  const char* begin_ = nullptr;
  const char* p_ = nullptr;
  const char* end_ = nullptr;
  bool ok_ = true;
};

// Reads what SplitNumbers wrote.
class SplitIn {
 public:
  SplitIn() = default;
  SplitIn(std::string_view hi, std::string_view lo) : hi_(hi), lo_(lo), n_(lo.size() / 2) {
    if (lo.size() % 2 != 0) hi_.Fail();
  }
  uint64_t Next() {
    if (i_ >= n_) return hi_.Fail();
    const uint64_t low = static_cast<uint8_t>(lo_[i_]) |
                         static_cast<uint64_t>(static_cast<uint8_t>(lo_[n_ + i_])) << 8;
    ++i_;
    return hi_.Varint() << 16 | low;
  }
  const In& in() const { return hi_; }
  bool ok() const { return hi_.ok(); }

 private:
  In hi_;
  std::string_view lo_;
  size_t n_ = 0, i_ = 0;
};

// --- dictionaries ------------------------------------------------------------------------

// Heterogeneous lookups in string-keyed absl maps take absl::string_view (a type of its own
// in Debian's Abseil).
inline absl::string_view Key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Strings in order of first appearance; ids are their positions.
class Dict {
 public:
  uint32_t Id(std::string_view s);
  size_t size() const { return ids_.size(); }
  std::string Encode() const;

 private:
  absl::flat_hash_map<std::string, uint32_t> ids_;
  std::string data_;
};

// Reads what Dict::Encode wrote; fails `err` when malformed.
std::vector<std::string_view> DecodeDict(std::string_view data, In* err);

// --- the section container ---------------------------------------------------------------

struct Format {
  std::string_view header_magic;  // 4 bytes
  uint8_t version;
  std::string_view footer_magic;  // 4 bytes
  const char* name;               // in error messages: "trace block"
  std::string (*section_name)(uint32_t type, uint32_t sub);
};

struct DirEntry {
  uint32_t type = 0;
  uint32_t sub = 0;
  uint64_t offset = 0;
  uint64_t size = 0;      // stored bytes
  uint64_t raw_size = 0;  // after decompression
  uint8_t codec = 0;      // 0 stored, 1 zstd
  uint64_t hash = 0;      // xxhash64 of the stored bytes
};

inline uint64_t SecKey(uint32_t type, uint32_t sub) {
  return (static_cast<uint64_t>(type) << 32) | sub;
}

class Writer {
 public:
  Writer(const Format& format, int level);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Incompressible sections (random ids) are stored as they are.
  absl::Status Add(uint32_t type, uint32_t sub, const std::string& raw, bool compress = true);
  std::string Finish();

 private:
  int level_;
  ZSTD_CCtx* cctx_;
  std::string out_;
  std::vector<DirEntry> dir_;
  const Format& format_;
};

// An opened block: the directory checked, sections decompressed on first use and kept.
class File {
 public:
  explicit File(const Format& format) : format_(format) {}
  // Checks the header, footer and directory.
  absl::Status Open(std::string bytes);

  // A section, checksum verified and decompressed (cached while the File lives).
  absl::StatusOr<std::string_view> Section(uint32_t type, uint32_t sub) const;
  // A small section stored uncompressed, verified, read straight from the block.
  absl::StatusOr<std::string_view> Stored(uint32_t type, uint32_t sub) const;
  bool Has(uint32_t type, uint32_t sub) const { return dir_.contains(SecKey(type, sub)); }
  // Decompresses every section (Verify).
  absl::Status CheckAll() const;

  absl::Status Malformed(uint32_t type, uint32_t sub, const In& in) const;

 private:
  const Format& format_;
  std::string bytes_;
  absl::flat_hash_map<uint64_t, DirEntry> dir_;
  mutable absl::Mutex mu_;
  // Node-stable: views handed out stay valid.
  mutable absl::flat_hash_map<uint64_t, std::unique_ptr<std::string>> cache_ ABSL_GUARDED_BY(mu_);
};

// --- attributes, one value column per key --------------------------------------------------

using KeyValues = google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>;

// Attribute value tags in value columns.
enum ValueTag : uint8_t {
  kNoValue = 0,  // KeyValue without a value message
  kEmptyValue,   // AnyValue with nothing set
  kString,       // then: 0 = next new dictionary string, else id + 1
  kFalse,
  kTrue,
  kInt,         // zigzag
  kDouble,      // fixed64 bits
  kBytesValue,  // length-prefixed
  kComplex,     // serialized AnyValue (arrays, kvlists, string_value_strindex)
};

// The section types a format gives one attribute set's columns; `sub` is the set, and for
// the per-key columns set << 24 | key.
struct AttrSections {
  uint32_t keys, shapes, shape_ids, values, strings, tags;
};

// Attributes of one kind of row (spans, events, links, log records).
class AttrWriter {
 public:
  // Writes the row's shape id.
  void Add(const KeyValues& attrs);
  // Writes 0 when the row's shape is the last one seen with `context` (log records of one
  // body template mostly share a shape), else shape id + 1. Read with AttrCursor::Read(out,
  // context).
  void Add(const KeyValues& attrs, uint64_t context);
  bool HasKey(std::string_view key) const;
  absl::Status Emit(const AttrSections& sections, uint32_t set, Writer* w) const;

 private:
  struct Column {
    std::string tags;  // one ValueTag per value: a column of one type compresses to nothing
    std::string values;
    absl::flat_hash_map<std::string, uint32_t> strings;
    std::string string_data;
  };

  uint32_t ShapeId(const KeyValues& attrs);
  uint32_t KeyId(const opentelemetry::proto::common::v1::KeyValue& kv);
  static void AppendValue(Column* c, const opentelemetry::proto::common::v1::KeyValue& kv);

  std::vector<std::pair<std::string, int32_t>> keys_;
  absl::flat_hash_map<std::pair<std::string, int32_t>, uint32_t> key_ids_;
  absl::flat_hash_map<std::string, uint32_t> plain_key_ids_;
  std::string scratch_;
  std::vector<Column> cols_;
  absl::flat_hash_map<std::string, uint32_t> shape_ids_;
  std::string shapes_;
  std::string shape_col_;
  absl::flat_hash_map<uint64_t, uint32_t> last_shape_;  // by context
};

// One attribute value as stored, without copying strings.
struct ValueView {
  uint8_t tag = kNoValue;
  std::string_view str;  // kString, kBytesValue, kComplex (serialized AnyValue)
  int64_t i = 0;
  double d = 0;
};

// Attribute columns of one set, read row by row.
class AttrCursor {
 public:
  absl::Status Init(const File& file, const AttrSections& sections, uint32_t set);
  // Makes key k's columns readable (only the keys a caller touches are decompressed).
  absl::Status LoadKey(uint32_t k);
  absl::Status LoadAll();

  size_t shape_count() const { return d_->shapes.size(); }
  const std::vector<uint32_t>& shape(size_t id) const { return d_->shapes[id]; }
  bool shapes_done() const { return shape_ids_.done(); }
  // The next row's shape id; out of range when malformed.
  uint64_t NextShapeId() {
    const uint64_t id = shape_ids_.Varint();
    return shape_ids_.ok() ? id : UINT64_MAX;
  }
  // The next row's shape (keys in order); nullptr when malformed.
  const std::vector<uint32_t>* NextShape() {
    const uint64_t id = shape_ids_.Varint();
    if (!shape_ids_.ok() || id >= d_->shapes.size()) return nullptr;
    return &d_->shapes[id];
  }
  bool ReadValue(uint32_t k, ValueView* v);
  // Reads one row; appends its attributes to `out` unless null.
  absl::Status Read(KeyValues* out);
  // Reads one row written by AttrWriter::Add(attrs, context).
  absl::Status Read(KeyValues* out, uint64_t context);

  const std::vector<std::pair<std::string_view, int32_t>>& keys() const { return d_->keys; }
  // False when no value of loaded key k can equal `text`: every value is a string and none
  // of the key's dictionary strings is `text`.
  bool MayHold(uint32_t k, std::string_view text) const;
  absl::Status MalformedValue(uint32_t k) const {
    return file_->Malformed(sections_.values, (set_ << 24) | k, values_[k]);
  }

 private:
  static bool SetValue(const ValueView& v, opentelemetry::proto::common::v1::KeyValue* kv);
  absl::Status ReadShape(const std::vector<uint32_t>& shape, KeyValues* out);

  const File* file_ = nullptr;
  AttrSections sections_{};
  uint32_t set_ = 0;
  // Dictionaries are shared by copies of a cursor (GetTrace's checkpoints).
  struct Dicts {
    std::vector<std::pair<std::string_view, int32_t>> keys;
    std::vector<std::vector<uint32_t>> shapes;
    std::vector<std::vector<std::string_view>> strings;
  };
  std::shared_ptr<Dicts> d_;
  In shape_ids_;
  std::vector<In> tags_;
  std::vector<In> values_;
  std::vector<uint32_t> next_new_;
  std::vector<bool> loaded_;
  absl::flat_hash_map<uint64_t, uint32_t> last_shape_;  // by context
};

}  // namespace otlpd::storage::columns
