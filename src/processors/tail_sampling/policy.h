#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/telemetry.h"
#include "processors/tail_sampling/config.h"

namespace otlpd::tail {

// What one trace looks like to the policies: its spans as the OTLP requests they came in
// (one per buffered record, each holding only this trace's spans).
struct TraceView {
  std::string trace_id;  // 16 bytes
  std::vector<const TracesRequest*> parts;
  int64_t spans = 0;
  int64_t bytes = 0;  // of the parts' OTLP encoding
  // The trace's 56 random bits (an explicit `rv`, else the low 7 bytes of the id), which
  // consistent probability sampling compares to thresholds.
  uint64_t randomness = 0;
};

// otelcol's policy decisions. Inverted ones come from invert_match at the top level.
enum class Decision : uint8_t {
  kNotSampled,
  kSampled,
  kDropped,
  kInvertSampled,
  kInvertNotSampled
};

struct Verdict {
  Decision decision = Decision::kNotSampled;
  // The probability with which a trace like this one is kept by this policy (1 for the
  // attribute, status, latency... policies; the sampling percentage; the share a rate limit
  // let through). Kept traces carry it as their OpenTelemetry `th`.
  double probability = 1.0;
};

// A policy decides a batch of traces at once (the traces due in one decision round): the
// rate-limiting policies keep a random subset of what the batch holds, so that the
// probability each kept trace carries is what the limit really let through.
class Policy {
 public:
  explicit Policy(std::string name) : name_(std::move(name)) {}
  virtual ~Policy() = default;
  const std::string& name() const { return name_; }
  // out->size() == batch.size() on return. `now` drives the rate limits' token buckets.
  virtual void Evaluate(std::span<const TraceView* const> batch, absl::Time now,
                        std::vector<Verdict>* out) = 0;

 private:
  std::string name_;
};

// A policy that decides each trace on its own.
class TracePolicy : public Policy {
 public:
  using Policy::Policy;
  virtual Verdict EvaluateOne(const TraceView& trace) const = 0;
  void Evaluate(std::span<const TraceView* const> batch, absl::Time now,
                std::vector<Verdict>* out) override;
};

// Builds the policy a config describes. `inside` tells whether it is a sub-policy (of and,
// drop, not or composite), where invert_match gives plain sampled / not sampled decisions.
absl::StatusOr<std::unique_ptr<Policy>> BuildPolicy(const TailPolicyConfig& config,
                                                    bool inside = false);

// otelcol's final decision over the top-level policies' verdicts: any drop (or, deprecated,
// inverted not-sampled) → not sampled; else any sampled (or inverted sampled) → sampled,
// with the highest probability among the policies that sampled it; else not sampled.
Verdict Combine(std::span<const Verdict> verdicts);

}  // namespace otlpd::tail
