#include "processors/attraction/attr_map.h"

namespace otlpd::attraction {

void AttrMap::DecodeSlow(std::string_view kv, Attr* a, Scratch* scratch) {
  // The last key wins, values merge (their encodings concatenate), other fields are ignored.
  a->key = {};
  a->value = {};
  bool has_value = false;
  WireReader r(kv);
  WireField f;
  while (r.Next(&f)) {
    if (f.IsLen(1)) {
      a->key = f.payload;
    } else if (f.IsLen(2)) {
      if (has_value) {
        char* merged = scratch->Alloc(a->value.size() + f.payload.size());
        CopyBytes(CopyBytes(merged, a->value), f.payload);
        a->value = std::string_view(merged, a->value.size() + f.payload.size());
      } else {
        a->value = f.payload;
      }
      has_value = true;
    }
  }
}

void AttrMap::Grow() {
  const size_t capacity = capacity_ == 0 ? 32 : 2 * capacity_;
  std::unique_ptr<Attr[]> grown(new Attr[capacity]);
  for (size_t i = 0; i < size_; ++i) grown[i] = attrs_[i];
  attrs_ = std::move(grown);
  capacity_ = capacity;
}

namespace {

// One changed attribute as an element of `repeated KeyValue` (tag `tag`), at p; returns its end.
char* WriteKeyValue(char* p, uint32_t tag, const Attr& a) {
  const size_t kv_size = LenFieldSize(1, a.key.size()) + LenFieldSize(2, a.value.size());
  char* w = WriteVarint(p, tag);
  w = WriteVarint(w, kv_size);
  *w++ = static_cast<char>(Tag(1, kWireLen));
  w = WriteVarint(w, a.key.size());
  w = CopyBytes(w, a.key);
  *w++ = static_cast<char>(Tag(2, kWireLen));
  w = WriteVarint(w, a.value.size());
  return CopyBytes(w, a.value);
}

size_t KeyValueFieldSize(uint32_t tag, const Attr& a) {
  const size_t kv_size = LenFieldSize(1, a.key.size()) + LenFieldSize(2, a.value.size());
  return VarintSize(tag) + VarintSize(kv_size) + kv_size;
}

}  // namespace

size_t AttrMap::EncodedSize(uint32_t field_number) const {
  const uint32_t tag = Tag(field_number, kWireLen);
  size_t total = 0;
  for (size_t i = 0; i < size_; ++i) {
    const Attr& a = attrs_[i];
    total += a.raw != nullptr ? a.raw_size : KeyValueFieldSize(tag, a);
  }
  return total;
}

size_t AttrMap::Emit(uint32_t field_number, WireEditor* editor, Scratch* scratch,
                     size_t from) const {
  const uint32_t tag = Tag(field_number, kWireLen);
  size_t total = 0;
  for (size_t i = from; i < size_; ++i) {
    const Attr& a = attrs_[i];
    if (a.raw != nullptr) {
      editor->Append(std::string_view(a.raw, a.raw_size));
      total += a.raw_size;
      continue;
    }
    const size_t size = KeyValueFieldSize(tag, a);
    char* p = scratch->Alloc(size);
    WriteKeyValue(p, tag, a);
    editor->Append(std::string_view(p, size));
    total += size;
  }
  return total;
}

std::string_view AttrMap::Encode(uint32_t field_number, Scratch* scratch) const {
  const size_t size = EncodedSize(field_number);
  if (size == 0) return {};
  const uint32_t tag = Tag(field_number, kWireLen);
  char* const begin = scratch->Alloc(size);
  char* w = begin;
  for (size_t i = 0; i < size_; ++i) {
    const Attr& a = attrs_[i];
    w = a.raw != nullptr ? CopyBytes(w, std::string_view(a.raw, a.raw_size))
                         : WriteKeyValue(w, tag, a);
  }
  return std::string_view(begin, size);
}

}  // namespace otlpd::attraction
