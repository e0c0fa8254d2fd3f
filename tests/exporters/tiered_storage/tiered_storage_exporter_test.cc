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
  EXPECT_EQ(d.hot.max_age, absl::Minutes(1));

  Diagnostics after_diag;
  auto after = Parse("directory: d\nwarm: {after: 90s}\n", &after_diag);
  ASSERT_TRUE(after_diag.ok());
  EXPECT_EQ(ConfigAs<TieredStorageExporterConfig>(*after).store.hot.max_age, absl::Seconds(90));
}

TEST(TieredStorageConfigTest, ColdTierKeys) {
  Diagnostics diag;
  auto config = Parse(R"(
directory: d
cold:
  after: 48h
  compression_level: 15
  retention: 720h
  s3: {endpoint: "http://127.0.0.1:9000", bucket: b, region: eu-west-1, prefix: p,
       access_key: ak, secret_key: sk}
)",
                      &diag);
  ASSERT_TRUE(diag.ok()) << diag.Format();
  const auto& c = ConfigAs<TieredStorageExporterConfig>(*config).store.cold;
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.after, absl::Hours(48));
  EXPECT_EQ(c.compression_level, 15);
  EXPECT_EQ(c.retention, absl::Hours(720));
  ASSERT_TRUE(c.s3.has_value());
  EXPECT_EQ(c.s3->endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(c.s3->bucket, "b");
  EXPECT_EQ(c.s3->region, "eu-west-1");
  EXPECT_EQ(c.s3->prefix, "p");

  Diagnostics local_diag;
  auto local = Parse("directory: d\ncold: {path: /archive}\n", &local_diag);
  ASSERT_TRUE(local_diag.ok()) << local_diag.Format();
  const auto& l = ConfigAs<TieredStorageExporterConfig>(*local).store.cold;
  EXPECT_TRUE(l.enabled);
  EXPECT_EQ(l.path, "/archive");
  EXPECT_FALSE(l.s3.has_value());
  EXPECT_EQ(l.compression_level, 19);

  Diagnostics none_diag;
  auto none = Parse("directory: d\n", &none_diag);
  EXPECT_FALSE(ConfigAs<TieredStorageExporterConfig>(*none).store.cold.enabled);
}

TEST(TieredStorageConfigTest, LifecycleAndPerSignalRetention) {
  Diagnostics diag;
  auto config = Parse(R"(
directory: d
warm: {retention: 72h}
cold: {path: /a, retention: 720h}
lifecycle: {check_interval: 5s, max_io_rate: 32MiB}
logs: {warm: {retention: 24h}, cold: {retention: 168h}}
metrics: {warm: {retention: 12h}}
)",
                      &diag);
  ASSERT_TRUE(diag.ok()) << diag.Format();
  const auto& o = ConfigAs<TieredStorageExporterConfig>(*config).store;
  EXPECT_EQ(o.lifecycle_interval, absl::Seconds(5));
  EXPECT_EQ(o.lifecycle_io_rate, uint64_t{32} << 20);
  EXPECT_FALSE(o.warm.signal_retention[0].has_value());
  EXPECT_EQ(o.warm.signal_retention[1], absl::Hours(12));
  EXPECT_EQ(o.warm.signal_retention[2], absl::Hours(24));
  EXPECT_EQ(o.cold.signal_retention[2], absl::Hours(168));
  Diagnostics bad;
  Parse("directory: d\ntraces: {cold: {retention: 1h}}\n", &bad);
  EXPECT_NE(bad.Format().find("no cold tier"), std::string::npos) << bad.Format();
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
      {"directory: d\ncold: {path: /a, s3: {endpoint: \"http://h\", bucket: b, access_key: a, "
       "secret_key: s}}\n",
       "either path or s3"},
      {"directory: d\ncold: {s3: {endpoint: \"http://h\", access_key: a, secret_key: s}}\n",
       "cold::s3::bucket"},
      {"directory: d\ncold: {s3: {endpoint: h:9000, bucket: b, access_key: a, secret_key: s}}\n",
       "http:// or https://"},
      {"directory: d\ncold: {compression_level: 0}\n", "cold::compression_level"},
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
