// The W3C `tracestate` header and OpenTelemetry's `ot` entry in it (`ot=th:c;rv:...`):
// parsing with the W3C and OpenTelemetry syntax and size rules, and re-serializing with the
// `ot` entry first (W3C: an updated entry moves to the left), every other vendor's entry and
// every other `ot` sub-key kept.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "processors/consistent_sampling/threshold.h"

namespace otlpd::consistent_sampling {

// W3C limits: list members, and the length a vendor must propagate.
inline constexpr size_t kMaxTraceStateMembers = 32;
inline constexpr size_t kMaxTraceStateLength = 512;
// OpenTelemetry's limit on the `ot` entry's value.
inline constexpr size_t kMaxOtelValueLength = 256;

// The `ot` entry's value. Views point into the parsed text.
struct OtelTraceState {
  std::optional<uint64_t> threshold;   // th
  std::optional<uint64_t> randomness;  // rv
  // Every other sub-key, in order, as (key, value).
  std::vector<std::pair<std::string_view, std::string_view>> extra;

  bool empty() const { return !threshold && !randomness && extra.empty(); }
};

// A parsed `tracestate`. Views point into the parsed text, which must outlive it.
struct TraceState {
  bool has_ot = false;
  OtelTraceState ot;
  // The other list members, verbatim ("key=value", surrounding spaces trimmed), in order.
  std::vector<std::string_view> others;
};

// InvalidArgument for text that breaks the W3C list syntax (keys, values, duplicates, more
// than 32 members) or whose `ot` value breaks OpenTelemetry's (sub-key syntax, duplicate
// sub-keys, over 256 characters, a `th` or `rv` that is not 1-14 / exactly 14 hex digits).
absl::StatusOr<TraceState> ParseTraceState(std::string_view text);
absl::Status ParseOtelValue(std::string_view value, OtelTraceState* out);

// Appends `ts` as tracestate text: the `ot` entry first (`th`, then `rv`, then the other
// sub-keys; left out when it has none), then the other members in order, dropping members
// from the right (those over 128 characters first) to stay within 32 members and 512
// characters. FailedPrecondition, with nothing appended, when the `ot` value would exceed
// 256 characters.
absl::Status AppendTraceState(const TraceState& ts, std::string* out);

// `text` with the `ot` entry's `th` set to `threshold` (< kNeverSampleThreshold), or erased
// when `threshold` is nullopt. For samplers that decided by other means (e.g. a whole trace).
absl::StatusOr<std::string> WithThreshold(std::string_view text, std::optional<uint64_t> threshold);

// What a downstream sampler concluded about one item.
enum class DecisionError {
  kNone,
  // The tracestate does not parse: no decision could use it (keep is false).
  kInvalidTraceState,
  // Neither `rv` nor a valid trace id: no randomness (keep is false).
  kMissingRandomness,
  // The arriving `th` rejects the item's own randomness: it was erased, and the decision made
  // as if it had not been there (fail-closed samplers drop the item).
  kInconsistentThreshold,
  // The updated `ot` entry would exceed 256 characters (keep is false).
  kTraceStateTooLong,
};

struct Decision {
  bool keep = false;
  // The item's randomness and the threshold it leaves with (when kept).
  uint64_t randomness = 0;
  uint64_t threshold = kNeverSampleThreshold;
  // The arriving `th`, when it had a valid one.
  std::optional<uint64_t> arriving_threshold;
  DecisionError error = DecisionError::kNone;
  // True when the kept item's tracestate must change (then *out_tracestate holds it).
  bool tracestate_changed = false;
};

// One item's decision by `stage`: parses `tracestate`, takes the randomness from `rv` or the
// trace id, checks an arriving `th` against it, computes the outgoing threshold and keeps the
// item when R >= T. When kept with a changed tracestate, *out_tracestate (cleared first)
// holds the new text.
Decision Decide(const Stage& stage, std::string_view trace_id, std::string_view tracestate,
                std::string* out_tracestate);

// The same, with the randomness already known (e.g. from a hash of a log attribute) and the
// tracestate parsed.
Decision DecideParsed(const Stage& stage, uint64_t randomness, TraceState* ts,
                      std::string* out_tracestate);

}  // namespace otlpd::consistent_sampling
