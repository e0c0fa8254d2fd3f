#pragma once

#include <vector>

#include "core/consumer.h"

namespace otlpd {

// Hands the same data to several consumers (pipelines sharing a receiver, or a pipeline's
// exporters). Completes when all have, with the first error if any failed: a client only
// sees OK when every destination has the data. Each destination applies its own
// back-pressure (its queue), so a slow one holds back the others no further than that.
class FanOutConsumer : public Consumer {
 public:
  explicit FanOutConsumer(std::vector<ConsumerPtr> consumers);
  void Consume(TelemetryPtr data, Completion done) override;

  // One consumer as is, several behind a FanOutConsumer.
  static ConsumerPtr Of(std::vector<ConsumerPtr> consumers);

 private:
  std::vector<ConsumerPtr> consumers_;
};

}  // namespace otlpd
