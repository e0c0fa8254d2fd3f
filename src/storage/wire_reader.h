#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace otlpd::storage {

// A minimal reader of protobuf wire format, for walking OTLP requests that were already
// validated (ScanOtlpRequest) without decoding them into messages: the hot index reads the
// few fields it keeps straight from the bytes. Malformed input ends the walk (Next returns
// false), never reads out of bounds.
class WireReader {
 public:
  enum WireType { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

  explicit WireReader(std::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}

  // Advances to the next field; false at the end (or on malformed bytes).
  bool Next() {
    if (p_ >= end_) return false;
    uint64_t tag;
    if (!Varint(&tag)) return false;
    field_ = static_cast<uint32_t>(tag >> 3);
    type_ = static_cast<int>(tag & 7);
    switch (type_) {
      case kVarint:
        return Varint(&varint_);
      case kFixed64:
        if (end_ - p_ < 8) return Fail();
        std::memcpy(&varint_, p_, 8);
        p_ += 8;
        return true;
      case kFixed32: {
        if (end_ - p_ < 4) return Fail();
        uint32_t v;
        std::memcpy(&v, p_, 4);
        varint_ = v;
        p_ += 4;
        return true;
      }
      case kLen: {
        uint64_t len;
        if (!Varint(&len) || len > static_cast<uint64_t>(end_ - p_)) return Fail();
        bytes_ = std::string_view(reinterpret_cast<const char*>(p_), len);
        p_ += len;
        return true;
      }
      default:
        return Fail();  // groups do not occur in OTLP
    }
  }

  uint32_t field() const { return field_; }
  int type() const { return type_; }
  // The value of a varint, fixed64 or fixed32 field.
  uint64_t number() const { return varint_; }
  // The bytes of a length-delimited field (a string or a nested message).
  std::string_view bytes() const { return bytes_; }

 private:
  bool Varint(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && p_ < end_; shift += 7) {
      uint8_t b = *p_++;
      v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) {
        *out = v;
        return true;
      }
    }
    return Fail();
  }
  bool Fail() {
    p_ = end_;
    return false;
  }

  const uint8_t* p_;
  const uint8_t* end_;
  uint32_t field_ = 0;
  int type_ = 0;
  uint64_t varint_ = 0;
  std::string_view bytes_;
};

}  // namespace otlpd::storage
