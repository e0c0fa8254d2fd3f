// What the receiver's validating scan (core/otlp_wire.h) learns about each span on its way,
// kept with the request so that processors deciding per span (the samplers) need not walk
// every span's fields again. Offsets are into the request's encoding (Telemetry::wire()).
#pragma once

#include <cstdint>
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
  int32_t kind = 0;
  int32_t status_code = 0;
  uint64_t start_unix_nano = 0;
  uint64_t end_unix_nano = 0;
  bool has_parent = false;  // a non-empty parent_span_id
};

// The spans of one traces request, in the order of its bytes.
using SpanIndex = std::vector<SpanSummary>;

// Whether receivers should build span indexes: set by a component that reads them, when it
// is created (a pipeline without one costs its receivers nothing).
void RequestSpanIndex();
bool SpanIndexRequested();

}  // namespace otlpd
