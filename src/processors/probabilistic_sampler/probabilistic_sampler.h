#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/component.h"
#include "core/log_throttle.h"
#include "processors/consistent_sampling/threshold.h"
#include "processors/probabilistic_sampler/config.h"
#include "processors/sampling_wire/item_walker.h"

namespace otlpd {

// otelcol-contrib's probabilistic sampler for one pipeline (traces or logs), deciding each
// item on its own on the request's wire bytes (sampling_wire::Walk):
//  - proportional / equalizing: the OpenTelemetry consistent sampling of the specification
//    (consistent_sampling::Stage), randomness from `rv` or the trace id, `th` written;
//  - hash_seed: otelcol's FNV-1a hash of the seed and the trace id (or a log attribute),
//    whose 14 bits are written as explicit randomness (`rv`) next to the threshold.
// The `sampling.priority` span attribute (0: drop, > 0: keep) and, for logs, the
// `sampling_priority` attribute (a minimum percentage) override the probability.
class ProbabilisticSampler : public Processor {
 public:
  enum class Mode { kHashSeed, kProportional, kEqualizing };

  ProbabilisticSampler(const CreateSettings& settings, const ProbabilisticSamplerConfig& config,
                       Signal signal, ConsumerPtr next);

  void Consume(TelemetryPtr data, Completion done) override;

  // The sampled request (see sampling_wire::WalkResult), counted in the self-metrics.
  sampling_wire::WalkResult Process(TelemetryPtr data) const;

  Mode mode() const { return mode_; }

  // otelcol's hash_seed randomness: the 14-bit FNV-1a bucket of seed and bytes, placed so
  // that the threshold test R >= T gives the legacy decision bucket < rate.
  static uint64_t HashRandomness(std::string_view bytes, uint32_t seed);

 private:
  sampling_wire::ItemVerdict DecideSpan(const sampling_wire::ItemView& span,
                                        attraction::Scratch* scratch) const;
  sampling_wire::ItemVerdict DecideLog(const sampling_wire::ItemView& record,
                                       attraction::Scratch* scratch) const;

  const std::string id_;
  const Signal signal_;
  const ConsumerPtr next_;
  Mode mode_ = Mode::kProportional;
  const bool fail_closed_;
  const int precision_;
  const uint32_t hash_seed_;
  const bool logs_trace_id_;  // attribute_source == traceID
  const std::string from_attribute_;
  const std::string sampling_priority_;
  double ratio_ = 0;
  consistent_sampling::Stage stage_;
  uint64_t hash_threshold_ = consistent_sampling::kNeverSampleThreshold;
  // The attributes read on every item, found during the walk.
  sampling_wire::AttributeKeys keys_;

  std::unique_ptr<MetricsRegistry> own_metrics_;
  Counter* sampled_true_ = nullptr;
  Counter* sampled_false_ = nullptr;
  mutable LogThrottle error_log_;
};

}  // namespace otlpd
