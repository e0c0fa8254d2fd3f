#include "processors/attraction/wire.h"

namespace otlpd::attraction::wire_internal {

namespace {
// protobuf's default recursion limit, which the receiver's scan enforced.
constexpr int kMaxGroupDepth = 100;
}  // namespace

const char* ReadVarintSlow(const char* p, const char* end, uint64_t* out) {
  uint64_t value = 0;
  for (int i = 0; i < 10 && p + i < end; ++i) {
    const uint64_t byte = static_cast<uint8_t>(p[i]);
    value |= (byte & 0x7f) << (7 * i);
    if (byte < 0x80) {
      *out = value;
      return p + i + 1;
    }
  }
  return nullptr;
}

// Skips the fields of a group up to and including its end-group tag.
const char* SkipGroup(const char* p, const char* end, uint32_t number, int depth) {
  if (depth > kMaxGroupDepth) return nullptr;
  while (p < end) {
    uint64_t tag;
    p = ReadVarint(p, end, &tag);
    if (p == nullptr || tag > 0xffffffffu) return nullptr;
    const uint32_t field = static_cast<uint32_t>(tag >> 3);
    uint64_t v;
    switch (tag & 7) {
      case kWireVarint:
        p = ReadVarint(p, end, &v);
        break;
      case kWireFixed64:
        p = end - p < 8 ? nullptr : p + 8;
        break;
      case kWireFixed32:
        p = end - p < 4 ? nullptr : p + 4;
        break;
      case kWireLen:
        p = ReadVarint(p, end, &v);
        if (p != nullptr) p = v > static_cast<uint64_t>(end - p) ? nullptr : p + v;
        break;
      case kWireStartGroup:
        p = SkipGroup(p, end, field, depth + 1);
        break;
      case kWireEndGroup:
        return field == number ? p : nullptr;
      default:
        return nullptr;
    }
    if (p == nullptr) return nullptr;
  }
  return nullptr;  // no end-group
}

}  // namespace otlpd::attraction::wire_internal
