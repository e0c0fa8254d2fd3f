#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "core/config_node.h"
#include "core/metrics.h"
#include "exporters/nop/factory.h"
#include "testing/otlp_data.h"
#include "testing/test_host.h"

namespace otlpd {
namespace {

using otlpd::testing::TestHost;

std::unique_ptr<Exporter> MakeExporter(const std::string& yaml, Diagnostics* diag,
                                       Host* host = nullptr) {
  ConfigNode node(YAML::Load(yaml), "exporters::nop", diag);
  auto factory = NewNopExporterFactory();
  auto config = factory->ParseConfig(node);
  node.ReportUnknownKeys();
  auto exporter = factory->Create(CreateSettings{{"nop", ""}, host}, *config);
  EXPECT_TRUE(exporter.ok()) << exporter.status();
  return std::move(*exporter);
}

TEST(NopExporterTest, AcceptsEverySignalAtOnceAndKeepsNothing) {
  auto factory = NewNopExporterFactory();
  EXPECT_EQ(factory->type(), "nop");
  for (Signal s : kAllSignals) EXPECT_TRUE(factory->signals().Has(s));

  Diagnostics diag;
  TestHost host;
  auto exporter = MakeExporter("{}", &diag, &host);
  EXPECT_TRUE(diag.ok()) << diag.Format();
  ASSERT_TRUE(exporter->Start().ok());
  size_t items[3] = {};
  for (Signal s : kAllSignals) {
    auto data = std::make_shared<Telemetry>(s);
    switch (s) {
      case Signal::kTraces:
        data->mutable_traces()->CopyFrom(testing::MakeTraces());
        break;
      case Signal::kMetrics:
        data->mutable_metrics()->CopyFrom(testing::MakeMetrics());
        break;
      case Signal::kLogs:
        data->mutable_logs()->CopyFrom(testing::MakeLogs());
        break;
    }
    items[static_cast<int>(s)] = data->ItemCount();
    ASSERT_GT(items[static_cast<int>(s)], 0u);
    std::weak_ptr<const Telemetry> weak = data;
    int calls = 0;
    absl::Status status = absl::UnknownError("not called");
    exporter->Consume(std::move(data), [&](absl::Status st) {
      ++calls;
      status = st;
    });
    // Completed synchronously, and the data is already released.
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(status.ok()) << status;
    EXPECT_TRUE(weak.expired());
  }
  // Discarded counts as sent, as in otelcol.
  EXPECT_EQ(host.Counter("otelcol_exporter_sent_spans", "nop"), items[0]);
  EXPECT_EQ(host.Counter("otelcol_exporter_sent_metric_points", "nop"), items[1]);
  EXPECT_EQ(host.Counter("otelcol_exporter_sent_log_records", "nop"), items[2]);
  EXPECT_EQ(host.Counter("otelcol_exporter_send_failed_spans", "nop"), 0u);
  exporter->Shutdown(absl::Now());
}

TEST(NopExporterTest, ConcurrentUse) {
  Diagnostics diag;
  TestHost host;
  auto exporter = MakeExporter("{}", &diag, &host);
  auto data = std::make_shared<Telemetry>(Signal::kTraces);
  data->mutable_traces()->CopyFrom(testing::MakeTraces());
  TelemetryPtr shared = std::move(data);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        exporter->Consume(shared, [&](absl::Status st) {
          if (st.ok()) ok++;
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 4000);
  EXPECT_EQ(shared.use_count(), 1);
  EXPECT_EQ(host.Counter("otelcol_exporter_sent_spans", "nop"), 4000 * shared->ItemCount());
}

TEST(NopExporterTest, RejectsAnyKey) {
  Diagnostics diag;
  MakeExporter("verbosity: basic", &diag);
  EXPECT_FALSE(diag.ok());
}

}  // namespace
}  // namespace otlpd
