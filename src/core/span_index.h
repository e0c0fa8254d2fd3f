// What the receiver's validating scan (core/otlp_wire.h) learns about each span on its way,
// kept with the request so that processors deciding per span (the samplers) need not walk
// every span's fields again. Offsets are into the request's encoding (Telemetry::wire()).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace otlpd {

// One span, as protobuf's parser would see it (the last occurrence of a singular field wins;
// repeated Status fields merge). An absent field reads as its zero value.
struct SpanSummary {
  uint32_t begin = 0;  // the span message's bytes: [begin, end)
  uint32_t end = 0;
  uint32_t trace_id = 0;  // trace_id's bytes, trace_id_size of them
  uint32_t trace_id_size = 0;
  uint32_t trace_state_field = 0;  // the trace_state field, tag to end; size 0 when absent
  uint32_t trace_state_field_size = 0;
  uint32_t trace_state = 0;  // its value's bytes
  uint32_t trace_state_size = 0;
  uint32_t name = 0;
  uint32_t name_size = 0;
  // From the first attribute field's tag to the end of the last one (0, 0 without any).
  uint32_t attributes_begin = 0;
  uint32_t attributes_end = 0;
  // A filter of the attribute keys: the bits AttributeKeyBits(k) of every key k present (as
  // protobuf reads it: a KeyValue's last key field), so a key with a clear bit is absent.
  uint64_t attribute_keys = 0;
  int32_t kind = 0;
  int32_t status_code = 0;
  uint64_t start_unix_nano = 0;
  uint64_t end_unix_nano = 0;
  bool has_parent = false;  // a non-empty parent_span_id
};

namespace span_index_internal {
constexpr std::array<uint64_t, 64> MakeBits() {
  std::array<uint64_t, 64> bits{};
  for (size_t i = 0; i < 64; ++i) bits[i] = uint64_t{1} << i;
  return bits;
}
// uint64_t{1} << i: a load costs less than a shift by a variable amount (three micro-ops).
inline constexpr std::array<uint64_t, 64> kBit = MakeBits();
}  // namespace span_index_internal

// The bits of `key` in SpanSummary::attribute_keys: two, from a hash of its length and three
// of its bytes (keys often share a prefix such as "http."). Two bits per key rule out an
// absent key about twice as often as one would with ten keys on a span. The scan computes
// this for every attribute of every span.
inline uint64_t AttributeKeyBits(std::string_view key) {
  const auto n = static_cast<uint32_t>(key.size());
  uint32_t packed = n & 0xff;
  if (n != 0) {
    packed |= static_cast<uint32_t>(static_cast<uint8_t>(key[0])) << 8 |
              static_cast<uint32_t>(static_cast<uint8_t>(key[n / 2])) << 16 |
              static_cast<uint32_t>(static_cast<uint8_t>(key[n - 1])) << 24;
  }
  const uint64_t h = packed * uint64_t{0x9E3779B97F4A7C15};
  return span_index_internal::kBit[h >> 58] | span_index_internal::kBit[(h >> 52) & 63];
}

// Whether `s` summarizes the span message whose bytes are `span`, a view into `request` (the
// request the index was built from): processors follow an index only while this holds.
inline bool Summarizes(const SpanSummary& s, std::string_view request, std::string_view span) {
  return request.data() + s.begin == span.data() && s.end - s.begin == span.size();
}

// The spans of one traces request, in the order of its bytes.
using SpanIndex = std::vector<SpanSummary>;

// Follows a request's span index through a walk of its spans in order. Next(span) gives the
// summary of the span met while the index describes the spans met; at the first span it does
// not (a request rewritten since the scan, another request's index), the index is dropped and
// the walk reads the rest of the spans itself.
class SpanIndexCursor {
 public:
  // `index` may be null (no index: Next always gives null).
  SpanIndexCursor(const SpanIndex* index, std::string_view request)
      : index_(index), request_(request) {}

  const SpanSummary* Next(std::string_view span) {
    if (index_ == nullptr) return nullptr;
    if (next_ < index_->size() && Summarizes((*index_)[next_], request_, span)) {
      return &(*index_)[next_++];
    }
    index_ = nullptr;
    return nullptr;
  }

 private:
  const SpanIndex* index_;
  std::string_view request_;
  size_t next_ = 0;
};

// Whether receivers should build span indexes: set by a component that reads them, when it
// is created (a pipeline without one costs its receivers nothing).
void RequestSpanIndex();
bool SpanIndexRequested();

}  // namespace otlpd
