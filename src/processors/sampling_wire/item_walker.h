// Sampling on a request's OTLP protobuf bytes, without decoding it: the spans or log records
// are walked, a sampler decides on each from a view of the fields it needs, and only what
// changes is re-encoded: dropped items (and scopes and resources left empty) are cut out, a
// kept span's trace_state replaced, a kept log record's sampling attributes set. Shared by
// probabilistic_sampler, rule_sampler and adaptive_sampler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "core/telemetry.h"
#include "processors/attraction/scratch.h"
#include "processors/attraction/value.h"
#include "processors/consistent_sampling/tracestate.h"

namespace otlpd::sampling_wire {

// Attribute keys a sampler reads on every item, so that the walk finds them as it passes the
// item's attributes instead of each lookup walking them again. At most kMax keys; lookups of
// other keys still work (they walk the attributes).
class AttributeKeys {
 public:
  static constexpr size_t kMax = 8;

  AttributeKeys() = default;
  // Keys past kMax, empty ones and repeats are ignored.
  explicit AttributeKeys(std::initializer_list<std::string_view> keys);
  void Add(std::string_view key);

  size_t size() const { return count_; }
  std::string_view key(size_t i) const { return keys_[i]; }
  // The index of `key`, or -1.
  int Find(std::string_view key) const {
    if (key.size() >= 64 || (length_mask_ & (uint64_t{1} << key.size())) == 0) return -1;
    for (size_t i = 0; i < count_; ++i) {
      if (keys_[i] == key) return static_cast<int>(i);
    }
    return -1;
  }

 private:
  std::string keys_[kMax];
  size_t count_ = 0;
  uint64_t length_mask_ = 0;  // bit n: some key is n bytes long
};

// One span or log record, as the sampler sees it. Views point into the request.
struct ItemView {
  std::string_view trace_id;     // as found (empty when absent)
  std::string_view trace_state;  // spans only
  std::string_view name;         // span name
  bool has_parent = false;       // a span with a parent_span_id (not a trace's root)
  int32_t kind = 0;              // span kind
  int32_t status_code = 0;       // span status code
  uint64_t start_unix_nano = 0;  // span start, or log record time
  uint64_t end_unix_nano = 0;
  // The resource's service.name as a string ("" when absent), and the resource's encoding.
  std::string_view service_name;
  std::string_view resource;
  uint32_t attributes_field = 0;  // 9 for spans, 6 for log records
  // Where the item's attribute fields are: the item's encoding, or a range of it from the
  // first attribute field to the last (from the receiver's span index).
  std::string_view attribute_fields;
  // From the span index: which keys may be among the attributes (core/span_index.h,
  // SpanSummary::attribute_keys); all bits when unknown.
  uint64_t attribute_keys = ~uint64_t{0};
  // The walk's AttributeKeys (may be null), and the AnyValue bytes of those found on the item
  // (bit i of `found`: key i was found; the last one wins, as pdata keeps).
  const AttributeKeys* keys = nullptr;
  uint32_t found = 0;
  std::string_view found_values[AttributeKeys::kMax];

  // The value of the item's attribute `key` (the last one, as pdata keeps), if present.
  std::optional<attraction::Value> Attribute(std::string_view key,
                                             attraction::Scratch* scratch) const;
};

// What to do with one item.
struct ItemVerdict {
  bool keep = true;
  // Spans: the new trace_state (must stay valid until Run returns: the walker's scratch).
  bool replace_trace_state = false;
  std::string_view trace_state;
  // Log records: string attributes to set (replacing ones with the same key).
  std::string_view set_keys[2];
  std::string_view set_values[2];
  int set_count = 0;
};

struct WalkResult {
  // The request to pass on: the input itself when nothing changed; null when nothing is kept.
  TelemetryPtr data;
  size_t items_in = 0;
  size_t items_kept = 0;
  // The bytes did not parse (not expected after the receiver's scan): passed on unchanged.
  bool malformed = false;
};

using DecideFn = absl::FunctionRef<ItemVerdict(const ItemView&, attraction::Scratch*)>;

// A span's verdict by `stage` (consistent_sampling::Decide on its trace id and trace_state):
// kept spans carry the outgoing `th`. On an error (see DecisionError) a fail-closed sampler
// drops the span; a fail-open one passes it on unchanged, except that an inconsistent
// arriving `th` is erased and the span decided without it. `*decision` (optional) gets the
// details.
ItemVerdict DecideSpan(const consistent_sampling::Stage& stage, const ItemView& span,
                       bool fail_closed, attraction::Scratch* scratch,
                       consistent_sampling::Decision* decision = nullptr);

// Walks the traces or logs request `data` (other signals are passed on unchanged), calling
// `decide` on each item in order. The items' views hold the attributes named in `keys` (if
// any) without a lookup walk. A traces request carrying the receiver's span index
// (core/span_index.h) is not walked span by span: the views come from the index.
WalkResult Walk(TelemetryPtr data, DecideFn decide, const AttributeKeys* keys = nullptr);

}  // namespace otlpd::sampling_wire
