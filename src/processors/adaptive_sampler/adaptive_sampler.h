#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/component.h"
#include "core/log_throttle.h"
#include "processors/adaptive_sampler/config.h"
#include "processors/adaptive_sampler/controller.h"
#include "processors/sampling_wire/item_walker.h"

namespace otlpd {

// Holds the spans (or traces) per second passed on near a goal, per key (a resource
// attribute, service.name by default) or globally. Each span is counted for its key, then
// kept by a proportional consistent sampler at the key's current probability (decided by
// trace id, written as `th`); the AdaptiveController re-derives the probabilities from the
// smoothed input rates every adjustment interval, on the first request after it is due.
// The current probability per key is the self-metric otlpd_processor_adaptive_sampler_ratio.
class AdaptiveSampler : public Processor {
 public:
  using Clock = std::function<int64_t()>;  // nanoseconds

  AdaptiveSampler(const CreateSettings& settings, const AdaptiveSamplerConfig& config,
                  ConsumerPtr next, Clock clock = nullptr);

  void Consume(TelemetryPtr data, Completion done) override;
  sampling_wire::WalkResult Process(TelemetryPtr data);

  AdaptiveController& controller() { return controller_; }

 private:
  std::shared_ptr<AdaptiveController::Key> KeyFor(const sampling_wire::ItemView& span,
                                                  attraction::Scratch* scratch);

  const std::string id_;
  const ConsumerPtr next_;
  const Clock clock_;
  const std::string key_attribute_;
  const bool count_traces_;
  const bool fail_closed_;
  AdaptiveController controller_;
  MetricsRegistry* metrics_ = nullptr;
  std::unique_ptr<MetricsRegistry> own_metrics_;
  Counter* kept_ = nullptr;
  Counter* dropped_ = nullptr;
  LogThrottle malformed_log_;
};

}  // namespace otlpd
