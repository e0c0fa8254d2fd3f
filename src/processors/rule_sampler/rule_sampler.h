#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/component.h"
#include "core/log_throttle.h"
#include "processors/consistent_sampling/threshold.h"
#include "processors/rule_sampler/config.h"
#include "processors/sampling_wire/item_walker.h"

namespace otlpd {

// Ordered sampling rules for one traces pipeline. Each span gets the first matching rule's
// percentage (or is dropped by a `drop` rule), the default percentage when none matches;
// the percentage is applied as an equalizing consistent sampler (a span that arrives
// sampled at a lower probability keeps its `th`), so decisions follow the trace id and a
// rule never conditions on the randomness.
class RuleSampler : public Processor {
 public:
  RuleSampler(const CreateSettings& settings, const RuleSamplerConfig& config, ConsumerPtr next);

  void Consume(TelemetryPtr data, Completion done) override;
  sampling_wire::WalkResult Process(TelemetryPtr data) const;

  // Index of the rule matching `span`, or rules().size() for the default.
  size_t Match(const sampling_wire::ItemView& span, attraction::Scratch* scratch) const;
  const std::vector<SamplingRule>& rules() const { return rules_; }

 private:
  // Rule i's attribute conditions (its other conditions are tested inline in Match).
  bool MatchesAttributes(size_t i, const sampling_wire::ItemView& span,
                         attraction::Scratch* scratch) const;

  const std::string id_;
  const ConsumerPtr next_;
  const std::vector<SamplingRule> rules_;
  const bool fail_closed_;
  // Per rule, the bits of the attributes it needs present (all its conditions but
  // "exists: false"), tested inline before MatchesAttributes is called.
  std::vector<std::vector<uint64_t>> required_key_bits_;
  // One stage per rule, then the default's.
  std::vector<consistent_sampling::Stage> stages_;
  // The attribute keys the rules read, found during the walk.
  sampling_wire::AttributeKeys keys_;

  std::unique_ptr<MetricsRegistry> own_metrics_;
  // Per rule (then the default): spans kept and dropped.
  std::vector<Counter*> kept_;
  std::vector<Counter*> dropped_;
  mutable LogThrottle malformed_log_;
};

}  // namespace otlpd
