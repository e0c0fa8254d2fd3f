// The batch processor's adaptive mode: AdaptiveBatchSize alone against latency models, and
// the processor under a slow and under a fast simulated downstream (a simulated clock: each
// batch "takes" latency(items)), where send_batch_size must settle where one batch's
// latency meets the target (slow) or at max_send_batch_size (fast), with every caller
// still answered.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "core/config_node.h"
#include "processors/batch/adaptive_batch_size.h"
#include "processors/batch/batch_processor.h"
#include "processors/batch/config.h"
#include "processors/batch/factory.h"
#include "testing/otlp_data.h"
#include "testing/test_host.h"

namespace otlpd {
namespace {

using testing::SampleOptions;
using testing::TestHost;

// An exporter whose cost is `fixed` per export plus `per_item` per item.
struct LatencyModel {
  absl::Duration fixed;
  absl::Duration per_item;
  absl::Duration operator()(size_t items) const {
    return fixed + per_item * static_cast<int64_t>(items);
  }
  // The batch size whose latency is `target`.
  double SizeFor(absl::Duration target) const {
    return absl::FDivDuration(target - fixed, per_item);
  }
};

TEST(AdaptiveBatchSizeTest, SettlesWhereTheLatencyMeetsTheTarget) {
  const LatencyModel slow{absl::Milliseconds(2), absl::Microseconds(100)};
  const absl::Duration target = absl::Milliseconds(20);  // 180 items
  for (size_t initial : {10000, 8192, 50, 1}) {
    AdaptiveBatchSize size(initial, 1, 10000, target);
    for (int i = 0; i < 40; ++i) size.OnExport(size.size(), slow(size.size()));
    EXPECT_NEAR(static_cast<double>(size.size()), slow.SizeFor(target), 2) << initial;
  }
}

TEST(AdaptiveBatchSizeTest, FastExportersGetTheMaximumAndSlowOnesTheMinimum) {
  const LatencyModel fast{absl::Microseconds(50), absl::Nanoseconds(100)};
  AdaptiveBatchSize up(512, 128, 16384, absl::Milliseconds(20));
  for (int i = 0; i < 20; ++i) up.OnExport(up.size(), fast(up.size()));
  EXPECT_EQ(up.size(), 16384u);

  const LatencyModel very_slow{absl::Milliseconds(50), absl::Milliseconds(1)};
  AdaptiveBatchSize down(512, 128, 16384, absl::Milliseconds(20));
  for (int i = 0; i < 20; ++i) down.OnExport(down.size(), very_slow(down.size()));
  EXPECT_EQ(down.size(), 128u);
  // An export too fast for the clock counts as suggesting twice the size: half way there.
  AdaptiveBatchSize instant(100, 1, 1000, absl::Milliseconds(20));
  EXPECT_EQ(instant.OnExport(100, absl::ZeroDuration()), 150u);
}

TEST(AdaptiveBatchSizeTest, SmallBatchesNeverGrowTheSizeButMayShrinkIt) {
  AdaptiveBatchSize size(1000, 1, 10000, absl::Milliseconds(20));
  EXPECT_EQ(size.OnExport(10, absl::Microseconds(10)), 1000u);  // fast, but says nothing
  EXPECT_EQ(size.OnExport(0, absl::Seconds(5)), 1000u);         // nothing was sent
  // 10 items took 40 ms: 5 items would hold the target; half way from 1000.
  EXPECT_EQ(size.OnExport(10, absl::Milliseconds(40)), 503u);
}

// A downstream that holds every batch until the test completes it, as an exporter taking
// model(items) would: completing sets the simulated clock to the batch's start + latency.
class SimulatedExporter : public Consumer {
 public:
  explicit SimulatedExporter(LatencyModel model) : model_(model) {}

  absl::Time Now() {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Consume(TelemetryPtr data, Completion done) override {
    absl::MutexLock lock(&mu_);
    held_.push_back(Held{data->ItemCount(), now_, std::move(done)});
  }
  // Completes the oldest held batch; false when none is held.
  bool CompleteOne() {
    Held held;
    {
      absl::MutexLock lock(&mu_);
      if (held_.empty()) return false;
      held = std::move(held_.front());
      held_.erase(held_.begin());
      now_ = held.start + model_(held.items);
      sizes_.push_back(held.items);
    }
    std::move(held.done)(absl::OkStatus());
    return true;
  }
  std::vector<size_t> sizes() {
    absl::MutexLock lock(&mu_);
    return sizes_;
  }

 private:
  struct Held {
    size_t items = 0;
    absl::Time start;
    Completion done;
  };
  const LatencyModel model_;
  absl::Mutex mu_;
  absl::Time now_ = absl::UnixEpoch();
  std::vector<Held> held_;
  std::vector<size_t> sizes_;  // of completed batches, in order
};

std::unique_ptr<ComponentConfig> Parse(const std::string& yaml, Diagnostics* diag) {
  ConfigNode node(YAML::Load(yaml), "processors::batch", diag);
  auto config = NewBatchProcessorFactory()->ParseConfig(node);
  node.ReportUnknownKeys();
  return config;
}

struct DriveResult {
  std::vector<size_t> sizes;  // every batch downstream got
  int64_t gauge = 0;          // otlpd_processor_batch_adaptive_send_batch_size at the end
  int answered = 0;
  int sent = 0;
};

// Streams requests of 20 spans through the processor: 60 of them arrive while each batch
// is being exported (so batches fill to send_batch_size), for `rounds` exports.
DriveResult Drive(const LatencyModel& model, const std::string& yaml, int rounds) {
  Diagnostics diag;
  auto config = Parse(yaml, &diag);
  EXPECT_TRUE(diag.ok()) << diag.Format();
  TestHost host;
  auto exporter = std::make_shared<SimulatedExporter>(model);
  BatchProcessor processor(CreateSettings{{"batch", ""}, &host},
                           ConfigAs<BatchProcessorConfig>(*config), Signal::kTraces, exporter,
                           [exporter] { return exporter->Now(); });
  EXPECT_TRUE(processor.Start().ok());
  DriveResult run;
  SampleOptions options;
  options.items_per_scope = 20;
  options.rich = false;
  const TracesRequest request = testing::MakeTraces(options);
  auto data = Telemetry::FromWire(Signal::kTraces, absl::Cord(request.SerializeAsString()), 20);
  for (int round = 0; round < rounds; ++round) {
    for (int i = 0; i < 60; ++i) {
      ++run.sent;
      processor.Consume(data, [&run](absl::Status s) {
        EXPECT_TRUE(s.ok()) << s;
        ++run.answered;
      });
    }
    exporter->CompleteOne();
  }
  processor.Shutdown(absl::Now());  // flushes what is pending
  while (exporter->CompleteOne()) {
  }
  run.sizes = exporter->sizes();
  run.gauge =
      host.registry
          .GetGauge("otlpd_processor_batch_adaptive_send_batch_size", {{"processor", "batch"}})
          ->value();
  return run;
}

TEST(AdaptiveBatchProcessorTest, ConvergesUnderASlowExporter) {
  // 1 ms + 50 us per span; 25 ms target: 480 spans per batch.
  const LatencyModel slow{absl::Milliseconds(1), absl::Microseconds(50)};
  const DriveResult run = Drive(slow,
                                "send_batch_size: 8192\ntimeout: 10s\nadaptive:\n  enabled: true\n"
                                "  target_latency: 25ms\n  min_send_batch_size: 40\n"
                                "  max_send_batch_size: 10000",
                                200);
  EXPECT_EQ(run.answered, run.sent);
  ASSERT_GE(run.sizes.size(), 100u);
  const double expected = slow.SizeFor(absl::Milliseconds(25));
  // The first batches are far off (8192 at the start); the last 50 hold the target.
  EXPECT_GT(static_cast<double>(run.sizes[1]), 2 * expected);
  for (size_t i = run.sizes.size() - 60; i < run.sizes.size() - 10; ++i) {
    EXPECT_NEAR(static_cast<double>(run.sizes[i]), expected, expected * 0.1) << "batch " << i;
  }
  EXPECT_NEAR(static_cast<double>(run.gauge), expected, expected * 0.1);
}

TEST(AdaptiveBatchProcessorTest, GrowsToTheMaximumUnderAFastExporter) {
  // 20 us + 0.1 us per span: even 4000 spans take 0.42 ms, far under the 25 ms target.
  const LatencyModel fast{absl::Microseconds(20), absl::Nanoseconds(100)};
  const DriveResult run = Drive(fast,
                                "send_batch_size: 100\ntimeout: 10s\nadaptive:\n  enabled: true\n"
                                "  target_latency: 25ms\n  min_send_batch_size: 100\n"
                                "  max_send_batch_size: 4000",
                                400);
  EXPECT_EQ(run.answered, run.sent);
  EXPECT_EQ(run.gauge, 4000);
  EXPECT_LE(run.sizes[0], 200u);
  size_t full = 0;
  for (size_t s : run.sizes) {
    EXPECT_LE(s, 4000u);  // batches are cut at the current size
    full += s == 4000;
  }
  EXPECT_GE(full, 5u);
}

TEST(AdaptiveBatchProcessorTest, Config) {
  Diagnostics diag;
  auto config = Parse("adaptive:\n  enabled: true", &diag);
  EXPECT_TRUE(diag.ok()) << diag.Format();
  const auto& a = ConfigAs<BatchProcessorConfig>(*config).adaptive;
  EXPECT_TRUE(a.enabled);
  EXPECT_EQ(a.target_latency, absl::Milliseconds(100));
  EXPECT_EQ(a.min_send_batch_size, 128);
  EXPECT_EQ(a.max_send_batch_size, 16384);
  // Without max_send_batch_size, send_batch_max_size bounds it.
  Diagnostics capped;
  config = Parse("send_batch_max_size: 9000\nadaptive:\n  enabled: true", &capped);
  EXPECT_TRUE(capped.ok()) << capped.Format();
  EXPECT_EQ(ConfigAs<BatchProcessorConfig>(*config).adaptive.max_send_batch_size, 9000);

  const std::pair<const char*, const char*> bad[] = {
      {"adaptive:\n  target_latency: 0s", "adaptive::target_latency: target_latency must be"},
      {"adaptive:\n  min_send_batch_size: 0", "min_send_batch_size must be at least 1"},
      {"adaptive:\n  min_send_batch_size: 100\n  max_send_batch_size: 50",
       "max_send_batch_size must be greater or equal to min_send_batch_size"},
      {"send_batch_max_size: 9000\nadaptive:\n  enabled: true\n  max_send_batch_size: 10000",
       "max_send_batch_size must not exceed send_batch_max_size"},
      {"send_batch_max_size: 100\nadaptive:\n  enabled: true",
       "min_send_batch_size must not exceed send_batch_max_size"},
      {"adaptive:\n  enable: true", "adaptive::enable: unknown key"},
  };
  for (const auto& [yaml, message] : bad) {
    Diagnostics d;
    Parse(yaml, &d);
    EXPECT_NE(d.Format().find(message), std::string::npos) << yaml << "\n" << d.Format();
  }
}

}  // namespace
}  // namespace otlpd
