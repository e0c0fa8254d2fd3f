// Protobuf wire-format reading and writing for editing OTLP requests in place of decoding
// them: the attributes and resource processors walk a request's bytes, and only what they
// change is re-encoded (see editor.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace otlpd::attraction {

enum WireType : uint8_t {
  kWireVarint = 0,
  kWireFixed64 = 1,
  kWireLen = 2,
  kWireStartGroup = 3,
  kWireEndGroup = 4,
  kWireFixed32 = 5,
};

// One field of a message, as found in its bytes.
struct WireField {
  uint32_t number = 0;
  uint8_t type = 0;
  const char* begin = nullptr;  // first byte of the tag
  const char* value = nullptr;  // first byte after the tag (a length-delimited field's length)
  const char* end = nullptr;    // one past the field
  uint64_t scalar = 0;          // varint value, or fixed64/fixed32 bits
  std::string_view payload;     // length-delimited contents

  bool IsLen(uint32_t n) const { return number == n && type == kWireLen; }
  bool IsVarint(uint32_t n) const { return number == n && type == kWireVarint; }
};

namespace wire_internal {
const char* ReadVarintSlow(const char* p, const char* end, uint64_t* out);
const char* SkipGroup(const char* p, const char* end, uint32_t number, int depth);
}  // namespace wire_internal

// A value varint: at most 10 bytes (protobuf drops bits past 64). Null if truncated.
inline const char* ReadVarint(const char* p, const char* end, uint64_t* out) {
  if (p < end && static_cast<uint8_t>(*p) < 0x80) {
    *out = static_cast<uint8_t>(*p);
    return p + 1;
  }
  // Two bytes: lengths 128..16383, the next most common.
  if (end - p >= 2 && static_cast<uint8_t>(p[1]) < 0x80) {
    *out = (static_cast<uint64_t>(static_cast<uint8_t>(p[0])) & 0x7f) |
           (static_cast<uint64_t>(static_cast<uint8_t>(p[1])) << 7);
    return p + 2;
  }
  return wire_internal::ReadVarintSlow(p, end, out);
}

// Iterates the fields of one message's bytes. The requests it reads passed the receiver's
// validating scan (core/otlp_wire.h), so a malformed field is not expected; Next() then
// returns false and error() tells it from the end of the message.
class WireReader {
 public:
  explicit WireReader(std::string_view message)
      : p_(message.data()), end_(message.data() + message.size()) {}

  bool Next(WireField* f) {
    if (p_ >= end_) return false;
    f->begin = p_;
    uint64_t tag;
    const char* p = ReadVarint(p_, end_, &tag);
    if (p == nullptr || tag > 0xffffffffu || (tag >> 3) == 0) return Fail();
    f->number = static_cast<uint32_t>(tag >> 3);
    f->type = static_cast<uint8_t>(tag & 7);
    f->value = p;
    // In order of frequency in OTLP (messages, strings and bytes; then timestamps, enums and
    // counts), with branches rather than a jump table.
    if (f->type == kWireLen) [[likely]] {
      uint64_t length;
      p = ReadVarint(p, end_, &length);
      if (p == nullptr || length > static_cast<uint64_t>(end_ - p)) return Fail();
      f->payload = std::string_view(p, length);
      p += length;
    } else if (f->type == kWireFixed64) {
      if (end_ - p < 8) return Fail();
      std::memcpy(&f->scalar, p, 8);
      p += 8;
    } else if (f->type == kWireVarint) {
      p = ReadVarint(p, end_, &f->scalar);
      if (p == nullptr) return Fail();
    } else if (f->type == kWireFixed32) {
      if (end_ - p < 4) return Fail();
      uint32_t v;
      std::memcpy(&v, p, 4);
      f->scalar = v;
      p += 4;
    } else if (f->type == kWireStartGroup) {
      p = wire_internal::SkipGroup(p, end_, f->number, 1);
      if (p == nullptr) return Fail();
    } else {
      return Fail();  // a stray end-group, or wire types 6 and 7
    }
    f->end = p;
    p_ = p;
    return true;
  }

  bool error() const { return error_; }

 private:
  bool Fail() {
    error_ = true;
    p_ = end_;
    return false;
  }

  const char* p_;
  const char* end_;
  bool error_ = false;
};

// memcpy for views that may be empty (an empty view's data() may be null, which memcpy
// must not get). Returns the end of what was written.
inline char* CopyBytes(char* dst, std::string_view src) {
  if (!src.empty()) std::memcpy(dst, src.data(), src.size());
  return dst + src.size();
}

inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

inline char* WriteVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

inline void AppendVarint(std::string* out, uint64_t v) {
  char buf[10];
  out->append(buf, WriteVarint(buf, v) - buf);
}

constexpr uint32_t Tag(uint32_t number, WireType type) { return (number << 3) | type; }

// Appends a length-delimited field.
inline void AppendLenField(std::string* out, uint32_t number, std::string_view payload) {
  AppendVarint(out, Tag(number, kWireLen));
  AppendVarint(out, payload.size());
  out->append(payload);
}

// Size of a length-delimited field of `payload_size` bytes.
inline size_t LenFieldSize(uint32_t number, size_t payload_size) {
  return VarintSize(Tag(number, kWireLen)) + VarintSize(payload_size) + payload_size;
}

}  // namespace otlpd::attraction
