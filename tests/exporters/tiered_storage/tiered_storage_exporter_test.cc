#include "exporters/tiered_storage/tiered_storage_exporter.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "core/config_node.h"
#include "exporters/tiered_storage/config.h"
#include "exporters/tiered_storage/factory.h"
#include "testing/otlp_data.h"
#include "testing/temp_dir.h"
#include "testing/test_host.h"

namespace otlpd {
namespace {

using testing::TempDir;
using testing::TestHost;

std::unique_ptr<ComponentConfig> Parse(const std::string& yaml, Diagnostics* diag) {
  ConfigNode node(YAML::Load(yaml), "exporters::tiered_storage", diag);
  auto config = NewTieredStorageExporterFactory()->ParseConfig(node);
  node.ReportUnknownKeys();
  return config;
}

TEST(TieredStorageConfigTest, KeysAndDefaults) {
  Diagnostics diag;
  auto config = Parse(R"(
directory: /tmp/x
hot: {max_age: 2m, max_size: 64MiB, durability: batch, group_commit_interval: 5ms}
warm: {block_window: 30m, compression_level: 6, max_size: 2GB, retention: 72h}
)",
                      &diag);
  ASSERT_TRUE(diag.ok()) << diag.Format();
  const auto& o = ConfigAs<TieredStorageExporterConfig>(*config).store;
  EXPECT_EQ(o.directory, "/tmp/x");
  EXPECT_EQ(o.hot.max_age, absl::Minutes(2));
  EXPECT_EQ(o.hot.max_size, uint64_t{64} << 20);
  EXPECT_EQ(o.hot.durability, storage::Durability::kBatch);
  EXPECT_EQ(o.hot.group_commit_interval, absl::Milliseconds(5));
  EXPECT_EQ(o.warm.block_window, absl::Minutes(30));
  EXPECT_EQ(o.warm.compression_level, 6);
  EXPECT_EQ(o.warm.max_size, uint64_t{2'000'000'000});
  EXPECT_EQ(o.warm.retention, absl::Hours(72));

  Diagnostics defaults_diag;
  auto defaults = Parse("directory: d\n", &defaults_diag);
  ASSERT_TRUE(defaults_diag.ok());
  const auto& d = ConfigAs<TieredStorageExporterConfig>(*defaults).store;
  EXPECT_EQ(d.hot.durability, storage::Durability::kFsync);
  EXPECT_EQ(d.hot.max_age, absl::Minutes(5));

  Diagnostics after_diag;
  auto after = Parse("directory: d\nwarm: {after: 90s}\n", &after_diag);
  ASSERT_TRUE(after_diag.ok());
  EXPECT_EQ(ConfigAs<TieredStorageExporterConfig>(*after).store.hot.max_age, absl::Seconds(90));
}

TEST(TieredStorageConfigTest, BadValuesNameTheKeyAndLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"hot: {max_age: 1m}\n", "directory"},
      {"directory: d\nhot: {durability: sometimes}\n", "hot::durability"},
      {"directory: d\nhot: {max_size: 12 apples}\n", "hot::max_size"},
      {"directory: d\nhot: {max_size: 1KiB}\n", "at least 1MiB"},
      {"directory: d\nwarm: {compression_level: 40}\n", "warm::compression_level"},
      {"directory: d\nwarm: {block_window: 10ms}\n", "warm::block_window"},
      {"directory: d\nhot: {max_age: 1m}\nwarm: {after: 2m}\n", "warm::after"},
      {"directory: d\nwarm: {colour: blue}\n", "warm::colour: unknown key"},
  };
  for (const auto& [yaml, want] : cases) {
    Diagnostics diag;
    Parse(yaml, &diag);
    EXPECT_FALSE(diag.ok()) << yaml;
    EXPECT_NE(diag.Format().find(want), std::string::npos) << yaml << " -> " << diag.Format();
  }
}

absl::Status Export(Exporter& exporter, TelemetryPtr data) {
  absl::Notification done;
  absl::Status result;
  exporter.Consume(std::move(data), [&](absl::Status s) {
    result = s;
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(absl::Seconds(30))) {
    return absl::DeadlineExceededError("no answer");
  }
  return result;
}

TelemetryPtr Wire(const google::protobuf::Message& m, Signal signal, size_t items) {
  return Telemetry::FromWire(signal, absl::Cord(m.SerializeAsString()), items);
}

TEST(TieredStorageExporterTest, StoresReadableThroughTheProviderAndRefusesWhenStopped) {
  TempDir dir;
  TestHost host;
  Diagnostics diag;
  auto config = Parse("directory: " + dir.path() + "\n", &diag);
  auto created = NewTieredStorageExporterFactory()->Create(
      CreateSettings{{"tiered_storage", ""}, &host}, *config);
  ASSERT_TRUE(created.ok());
  auto* exporter = dynamic_cast<TieredStorageExporter*>(created->get());
  ASSERT_NE(exporter, nullptr);
  EXPECT_EQ(exporter->store_reader(), nullptr);  // not started
  EXPECT_EQ(Export(*exporter, Wire(testing::MakeCallTrace(1, 1000), Signal::kTraces, 3)).code(),
            absl::StatusCode::kUnavailable);
  ASSERT_TRUE(exporter->Start().ok());
  ASSERT_TRUE(Export(*exporter, Wire(testing::MakeCallTrace(2, 1000), Signal::kTraces, 3)).ok());
  storage::TraceId id;
  std::string bytes = testing::CallTraceId(2);
  std::memcpy(id.data(), bytes.data(), 16);
  storage::StoreReader* reader = exporter->store_reader();
  ASSERT_NE(reader, nullptr);
  auto trace = reader->GetTrace(id);
  ASSERT_TRUE(trace.ok() && trace->has_value());
  EXPECT_EQ(host.Counter("otelcol_exporter_sent_spans", "tiered_storage"), 3u);
  EXPECT_EQ(host.Counter("otelcol_exporter_send_failed_spans", "tiered_storage"), 3u);
  exporter->Shutdown(absl::Now() + absl::Seconds(5));
  absl::Status after = Export(*exporter, Wire(testing::MakeCallTrace(3, 1000), Signal::kTraces, 3));
  EXPECT_EQ(after.code(), absl::StatusCode::kUnavailable) << after;
  // Still readable while the service finishes shutting down.
  EXPECT_TRUE(exporter->store_reader()->GetTrace(id)->has_value());
}

TEST(TieredStorageExporterTest, StartFailsClearlyOnAnUnusableDirectory) {
  TempDir dir;
  const std::string file = dir.Write("not-a-dir", "x");
  Diagnostics diag;
  auto config = Parse("directory: " + file + "/sub\n", &diag);
  auto created = NewTieredStorageExporterFactory()->Create(
      CreateSettings{{"tiered_storage", ""}, nullptr}, *config);
  ASSERT_TRUE(created.ok());
  absl::Status s = (*created)->Start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("tiered_storage"), std::string::npos) << s;
}

}  // namespace
}  // namespace otlpd
