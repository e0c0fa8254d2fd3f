#include "processors/adaptive_sampler/adaptive_sampler.h"

#include <spdlog/spdlog.h>

#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "processors/attraction/wire.h"

namespace otlpd {

using attraction::Scratch;
using sampling_wire::ItemVerdict;
using sampling_wire::ItemView;

namespace {

AdaptiveController::Options ControllerOptions(const AdaptiveSamplerConfig& c) {
  AdaptiveController::Options o;
  o.goal_per_second =
      c.goal_spans_per_second > 0 ? c.goal_spans_per_second : c.goal_traces_per_second;
  o.interval_ns = absl::ToInt64Nanoseconds(c.adjustment_interval);
  o.smoothing = c.smoothing;
  o.min_probability = c.min_sampling_percentage / 100;
  o.max_probability = c.max_sampling_percentage / 100;
  o.initial_probability = c.initial_sampling_percentage / 100;
  o.precision = c.sampling_precision;
  o.max_keys = c.max_keys;
  return o;
}

AdaptiveSampler::Clock OrWallClock(AdaptiveSampler::Clock clock) {
  if (clock) return clock;
  return [] { return absl::GetCurrentTimeNanos(); };
}

}  // namespace

AdaptiveSampler::AdaptiveSampler(const CreateSettings& settings,
                                 const AdaptiveSamplerConfig& config, ConsumerPtr next, Clock clock)
    : id_(settings.id.ToString()),
      next_(std::move(next)),
      clock_(OrWallClock(std::move(clock))),
      key_attribute_(config.key_attribute),
      count_traces_(config.goal_spans_per_second <= 0),
      fail_closed_(config.fail_closed),
      controller_(ControllerOptions(config), clock_()) {
  metrics_ = settings.host != nullptr ? &settings.host->metrics() : nullptr;
  if (metrics_ == nullptr) {
    own_metrics_ = std::make_unique<MetricsRegistry>();
    metrics_ = own_metrics_.get();
  }
  const std::string name = "otlpd_processor_adaptive_sampler_spans";
  RequestSpanIndex();  // decisions read the receiver's span index when it is there
  const std::string help = "Spans kept (sampled=true) and dropped by the adaptive sampler.";
  kept_ = metrics_->GetCounter(name, {{"processor", id_}, {"sampled", "true"}}, help);
  dropped_ = metrics_->GetCounter(name, {{"processor", id_}, {"sampled", "false"}}, help);
}

std::shared_ptr<AdaptiveController::Key> AdaptiveSampler::KeyFor(const ItemView& span,
                                                                 Scratch* scratch) {
  std::string_view name;
  if (key_attribute_ == "service.name") {
    name = span.service_name;
  } else if (!key_attribute_.empty()) {
    // Another resource attribute (ResourceSpans.resource = 1, Resource.attributes = 1), as text.
    attraction::WireReader r(span.resource);
    attraction::WireField f;
    while (r.Next(&f)) {
      if (!f.IsLen(1)) continue;
      ItemView resource;
      resource.attribute_fields = f.payload;
      resource.attributes_field = 1;
      if (std::optional<attraction::Value> v = resource.Attribute(key_attribute_, scratch)) {
        name = scratch->Copy(attraction::AsString(*v, scratch));
      }
    }
  }
  bool created = false;
  std::shared_ptr<AdaptiveController::Key> key = controller_.Find(name, &created);
  if (created) {
    // The ratio per key, read when the metrics are rendered; the callback owns the key.
    metrics_->AddCallbackGauge(
        "otlpd_processor_adaptive_sampler_ratio", {{"processor", id_}, {"key", key->name()}},
        [key] { return key->probability(); },
        "The sampling probability the adaptive sampler applies to the key now.");
  }
  return key;
}

sampling_wire::WalkResult AdaptiveSampler::Process(TelemetryPtr data) {
  controller_.MaybeAdjust(clock_());
  // Per request: the current key, its stage, and what it counted (added once per key run).
  struct Current {
    std::string_view resource;
    std::shared_ptr<AdaptiveController::Key> key;
    consistent_sampling::Stage stage;
    uint64_t counted = 0;
  } current;
  auto flush = [&current] {
    if (current.key && current.counted) current.key->Count(current.counted);
    current.counted = 0;
  };
  sampling_wire::WalkResult result =
      sampling_wire::Walk(std::move(data), [&](const ItemView& span, Scratch* scratch) {
        // The key follows the resource: looked up once per resource entry.
        if (!current.key || span.resource.data() != current.resource.data()) {
          flush();
          current.resource = span.resource;
          current.key = KeyFor(span, scratch);
          current.stage = current.key->stage();
        }
        if (!count_traces_ || !span.has_parent) ++current.counted;
        return sampling_wire::DecideSpan(current.stage, span, fail_closed_, scratch);
      });
  flush();
  if (result.malformed) {
    if (uint64_t n = malformed_log_.Add(1)) {
      spdlog::warn("{}: {} malformed request(s) passed on unsampled", id_, n);
    }
    return result;
  }
  kept_->Add(result.items_kept);
  dropped_->Add(result.items_in - result.items_kept);
  return result;
}

void AdaptiveSampler::Consume(TelemetryPtr data, Completion done) {
  sampling_wire::WalkResult result = Process(std::move(data));
  if (result.data == nullptr) {
    std::move(done)(absl::OkStatus());
    return;
  }
  next_->Consume(std::move(result.data), std::move(done));
}

}  // namespace otlpd
