#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "processors/attraction/editor.h"
#include "processors/attraction/scratch.h"
#include "processors/attraction/value.h"
#include "processors/attraction/wire.h"

namespace otlpd::attraction {

// One attribute: views of its key and of its AnyValue's bytes.
struct Attr {
  std::string_view key;
  std::string_view value;
  // The original `repeated KeyValue` field (tag to end) while the attribute is unchanged:
  // it is then copied as it is.
  const char* raw = nullptr;
  uint32_t raw_size = 0;
};

// The attributes of one span, log record, data point or resource, loaded from their
// `repeated KeyValue` fields, with the operations of otelcol's pcommon.Map and the same
// results, down to the order: Put appends a new key at the end, Remove moves the last
// attribute into the removed one's place (a pattern's matches are removed one by one, as
// otelcol does). Get finds the first of duplicate keys, as pcommon does.
//
// Reused from item to item (Clear keeps the capacity), so loading one costs no allocation.
class AttrMap {
 public:
  void Clear() {
    size_ = 0;
    changed_ = false;
    stable_ = 0;
  }

  // Adds the KeyValue in `field` (one element of a `repeated KeyValue`). Loading only: call
  // before any change.
  void AddField(const WireField& field, Scratch* scratch) {
    Attr& a = Push();
    a.raw = field.begin;
    a.raw_size = static_cast<uint32_t>(field.end - field.begin);
    ++stable_;
    // Fast path: key then value, each once (what every SDK writes).
    const char* p = field.payload.data();
    const char* end = p + field.payload.size();
    p = ReadLen(p, end, Tag(1, kWireLen), &a.key);
    if (p != nullptr) p = ReadLen(p, end, Tag(2, kWireLen), &a.value);
    if (p != end) DecodeSlow(field.payload, &a, scratch);
  }

  size_t size() const { return size_; }
  const Attr& operator[](size_t i) const { return attrs_[i]; }
  // Whether any operation changed the list.
  bool changed() const { return changed_; }
  // How many leading attributes are still the loaded ones, unchanged and in their places:
  // only what follows them needs writing (after an insert, just the new attribute).
  size_t stable() const { return stable_; }
  // Where the bytes of the stable prefix end, given where the attribute fields begin (for
  // attribute fields with nothing else between them).
  const char* StableEnd(const char* fields_begin) const {
    if (stable_ == 0) return fields_begin;
    return attrs_[stable_ - 1].raw + attrs_[stable_ - 1].raw_size;
  }

  // Index of the first attribute with `key`, or -1.
  int Find(std::string_view key) const {
    for (size_t i = 0; i < size_; ++i) {
      const std::string_view k = attrs_[i].key;
      // Length and first byte rule out most keys before a memcmp.
      if (k.size() == key.size() &&
          (key.empty() || (k[0] == key[0] && std::memcmp(k.data(), key.data(), key.size()) == 0))) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }
  Value Get(size_t i, Scratch* scratch) const { return DecodeValue(attrs_[i].value, scratch); }

  // Replaces the value of attribute `i` with the AnyValue bytes `value` (which must stay
  // valid until the request is written). Setting the same bytes is no change.
  void Set(size_t i, std::string_view value) {
    Attr& a = attrs_[i];
    if (a.value == value) return;
    a.value = value;
    a.raw = nullptr;
    changed_ = true;
    Unstable(i);
  }
  // pcommon.Map.PutEmpty + CopyTo: updates the first `key`, else appends it.
  void Put(std::string_view key, std::string_view value) {
    const int i = Find(key);
    if (i >= 0) {
      Set(static_cast<size_t>(i), value);
    } else {
      Append(key, value);
    }
  }
  // Appends `key` (which the caller found absent).
  void Append(std::string_view key, std::string_view value) {
    // Field by field: an Attr temporary copied whole stalls on store forwarding.
    Attr& a = Push();
    a.key = key;
    a.value = value;
    a.raw = nullptr;
    a.raw_size = 0;
    changed_ = true;
  }
  // pcommon.Map.Remove: the first `key`; the last attribute takes its place.
  bool Remove(std::string_view key) {
    const int i = Find(key);
    if (i < 0) return false;
    attrs_[static_cast<size_t>(i)] = attrs_[size_ - 1];
    --size_;
    changed_ = true;
    Unstable(static_cast<size_t>(i));
    return true;
  }
  // Writes attributes [from, size()) as `repeated KeyValue` field `field_number` into the
  // editor's current edit: unchanged ones as their original bytes, others encoded in
  // `scratch`. Returns the number of bytes written.
  size_t Emit(uint32_t field_number, WireEditor* editor, Scratch* scratch, size_t from = 0) const;
  // The number of bytes Emit writes (from 0).
  size_t EncodedSize(uint32_t field_number) const;
  // The bytes Emit writes (from 0), as one block of `scratch`.
  std::string_view Encode(uint32_t field_number, Scratch* scratch) const;

 private:
  // A 1-byte-tag length-delimited field at p; null if it is not one.
  static const char* ReadLen(const char* p, const char* end, uint32_t tag, std::string_view* out) {
    if (p >= end || static_cast<uint8_t>(*p) != tag) return nullptr;
    uint64_t length;
    p = ReadVarint(p + 1, end, &length);
    if (p == nullptr || length > static_cast<uint64_t>(end - p)) return nullptr;
    *out = std::string_view(p, length);
    return p + length;
  }
  // Any other KeyValue encoding, with protobuf's rules.
  static void DecodeSlow(std::string_view kv, Attr* a, Scratch* scratch);

  void Unstable(size_t i) {
    if (i < stable_) stable_ = i;
  }

  // An uninitialized slot at the end (the storage only grows, and is reused item to item).
  Attr& Push() {
    if (size_ == capacity_) Grow();
    return attrs_[size_++];
  }
  void Grow();

  std::unique_ptr<Attr[]> attrs_;
  size_t size_ = 0;
  size_t capacity_ = 0;
  bool changed_ = false;
  size_t stable_ = 0;
};

// Where an item's `repeated KeyValue` fields are: noted while walking the item, so that a
// rewrite knows what to replace.
struct AttrFields {
  const char* begin = nullptr;  // the first one's first byte
  const char* end = nullptr;    // one past the last one
  bool contiguous = true;       // nothing else between them (the usual layout)

  void Add(const WireField& f) {
    if (begin == nullptr) {
      begin = f.begin;
    } else if (f.begin != end) {
      contiguous = false;
    }
    end = f.end;
  }
};

}  // namespace otlpd::attraction
