#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/component.h"
#include "core/config_node.h"
#include "core/exporter_helper.h"
#include "core/sending_queue.h"
#include "core/status.h"
#include "extensions/file_storage/config.h"
#include "extensions/file_storage/factory.h"
#include "extensions/file_storage/file_storage_extension.h"
#include "testing/otlp_data.h"
#include "testing/temp_dir.h"
#include "testing/test_host.h"

namespace otlpd {
namespace {

namespace fs = std::filesystem;
using otlpd::testing::TempDir;
using otlpd::testing::TestHost;

std::unique_ptr<ComponentConfig> Parse(const std::string& yaml, Diagnostics* diag) {
  ConfigNode node(YAML::Load(yaml), "extensions::file_storage", diag);
  auto config = NewFileStorageExtensionFactory()->ParseConfig(node);
  node.ReportUnknownKeys();
  return config;
}

TEST(FileStorageTest, OtelcolKeysAndDefaults) {
  Diagnostics diag;
  auto config = Parse(R"(
directory: /var/lib/otelcol/file_storage
create_directory: true
fsync: false
timeout: 2s
compaction:
  on_start: true
  on_rebound: true
  directory: /tmp
  max_transaction_size: 65536
)",
                      &diag);
  ASSERT_TRUE(diag.ok()) << diag.Format();
  const auto& c = static_cast<const FileStorageConfig&>(*config);
  EXPECT_EQ(c.directory, "/var/lib/otelcol/file_storage");
  EXPECT_TRUE(c.create_directory);
  EXPECT_FALSE(c.fsync);

  Diagnostics defaults_diag;
  auto defaults = Parse("{}", &defaults_diag);
  ASSERT_TRUE(defaults_diag.ok()) << defaults_diag.Format();
  const auto& d = static_cast<const FileStorageConfig&>(*defaults);
  EXPECT_TRUE(d.fsync);  // our contract: acknowledged means on disk
  EXPECT_FALSE(d.create_directory);
}

TEST(FileStorageTest, BadConfigsAreClearErrors) {
  for (const auto& [yaml, key] :
       std::vector<std::pair<std::string, std::string>>{{"directory: \"\"", "directory"},
                                                        {"fsync: maybe", "fsync"},
                                                        {"timeout: soon", "timeout"},
                                                        {"directroy: /tmp", "directroy"}}) {
    Diagnostics diag;
    Parse(yaml, &diag);
    ASSERT_EQ(diag.errors().size(), 1u) << yaml << "\n" << diag.Format();
    EXPECT_NE(diag.errors()[0].path.find(key), std::string::npos) << diag.Format();
  }
}

struct Built {
  TestHost host;
  std::unique_ptr<Extension> ext;
  FileStorageExtension* storage() { return static_cast<FileStorageExtension*>(ext.get()); }
};

std::unique_ptr<Built> Make(const std::string& yaml) {
  auto b = std::make_unique<Built>();
  Diagnostics diag;
  auto config = Parse(yaml, &diag);
  EXPECT_TRUE(diag.ok()) << diag.Format();
  auto created = NewFileStorageExtensionFactory()->Create(
      CreateSettings{{"file_storage", ""}, &b->host}, *config);
  EXPECT_TRUE(created.ok()) << created.status();
  b->ext = std::move(*created);
  return b;
}

TEST(FileStorageTest, MissingDirectoryFailsStartUnlessCreated) {
  TempDir dir;
  const std::string missing = dir.File("a/b");
  auto strict = Make(absl::StrCat("directory: ", missing));
  absl::Status s = strict->ext->Start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("does not exist"), std::string::npos) << s;
  auto creating = Make(absl::StrCat("directory: ", missing, "\ncreate_directory: true"));
  EXPECT_TRUE(creating->ext->Start().ok());
  EXPECT_TRUE(fs::is_directory(missing));
}

TEST(FileStorageTest, EachExporterGetsItsOwnDurableQueueThatOutlivesIt) {
  TempDir dir;
  auto b = Make(absl::StrCat("directory: ", dir.path()));
  ASSERT_TRUE(b->ext->Start().ok());
  QueueSettings settings;
  settings.queue_size = 10;
  const ComponentId owner{"otlp", "backend"};
  {
    auto q = b->storage()->CreateQueue(owner, settings);
    ASSERT_TRUE(q.ok()) << q.status();
    EXPECT_TRUE((*q)->durable());
    EXPECT_EQ((*q)->capacity(), 10);
    ASSERT_TRUE((*q)->Start().ok());
    absl::Notification done;
    (*q)->Offer(Telemetry::FromWire(
                    Signal::kTraces,
                    absl::Cord(otlpd::testing::MakeCallTrace(1, 1000).SerializeAsString()), 3),
                [&](absl::Status s) {
                  EXPECT_TRUE(s.ok()) << s;
                  done.Notify();
                });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
    // A second queue for the same exporter would share its files: refused.
    EXPECT_FALSE(b->storage()->CreateQueue(owner, settings).ok());
  }
  EXPECT_TRUE(fs::is_directory(b->storage()->QueueDirectory(owner)));
  EXPECT_NE(b->storage()->QueueDirectory(owner).find("exporter_otlp_backend"), std::string::npos);
  // A new run of the extension finds the request.
  auto again = Make(absl::StrCat("directory: ", dir.path()));
  ASSERT_TRUE(again->ext->Start().ok());
  auto q = again->storage()->CreateQueue(owner, settings);
  ASSERT_TRUE(q.ok());
  ASSERT_TRUE((*q)->Start().ok());
  EXPECT_EQ((*q)->sizes().requests, 1);
  EXPECT_EQ((*q)->sizes().items, 3);
  std::optional<QueuedRequest> r = (*q)->Read(absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->data->traces().SerializeAsString(),
            otlpd::testing::MakeCallTrace(1, 1000).SerializeAsString());
  const std::string metrics = again->host.metrics().RenderPrometheus();
  EXPECT_NE(metrics.find("otlpd_file_storage_recovered_requests{extension=\"file_storage\","
                         "exporter=\"otlp/backend\"} 1"),
            std::string::npos)
      << metrics;
}

// An upstream that is down: every attempt fails retryably, and is counted.
class DownSender : public RequestSender {
 public:
  explicit DownSender(std::atomic<int>* attempts) : attempts_(attempts) {}
  SendResult Send(const Telemetry&, SendContext*, absl::Time) override {
    ++*attempts_;
    return {absl::UnavailableError("upstream down"), 0, ""};
  }
  void CancelAll() override {}

 private:
  std::atomic<int>* attempts_;
};

TelemetryPtr OneTrace() {
  return Telemetry::FromWire(
      Signal::kTraces, absl::Cord(otlpd::testing::MakeCallTrace(7, 1000).SerializeAsString()), 3);
}

// The exporter helper over a file_storage queue, with an upstream that is down.
struct DurableExporter {
  TempDir dir;
  std::unique_ptr<Built> storage;
  std::atomic<int> attempts{0};
  std::unique_ptr<ExporterHelper> helper;

  explicit DurableExporter(RetrySettings retry) {
    storage = Make(absl::StrCat("directory: ", dir.path()));
    EXPECT_TRUE(storage->ext->Start().ok());
    storage->host.extensions[{"file_storage", ""}] =
        std::shared_ptr<Extension>(storage->ext.get(), [](Extension*) {});
    ExporterHelperSettings settings;
    settings.retry = retry;
    settings.queue.num_consumers = 1;
    settings.queue.storage = ComponentId{"file_storage", ""};
    helper = std::make_unique<ExporterHelper>(CreateSettings{{"otlp", "up"}, &storage->host},
                                              settings, std::make_unique<DownSender>(&attempts));
    EXPECT_TRUE(helper->Start().ok());
    absl::Notification queued;
    helper->Consume(OneTrace(), [&](absl::Status s) {
      EXPECT_TRUE(s.ok()) << s;
      queued.Notify();
    });
    EXPECT_TRUE(queued.WaitForNotificationWithTimeout(absl::Seconds(30)));
  }
  uint64_t failed() {
    return storage->host.Counter("otelcol_exporter_send_failed_spans", "otlp/up");
  }
};

RetrySettings FastRetry() {
  RetrySettings r;
  r.initial_interval = absl::Milliseconds(5);
  r.max_interval = absl::Milliseconds(10);
  r.randomization_factor = 0;
  r.max_elapsed_time = absl::Milliseconds(30);
  return r;
}

TEST(FileStorageTest, ADurableQueueRetriesPastTheDefaultMaxElapsedTime) {
  DurableExporter e(FastRetry());  // max_elapsed_time not set in the config
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (e.attempts < 30 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_GE(e.attempts, 30);  // well past 30 ms of retries
  EXPECT_EQ(e.failed(), 0u);
  e.helper->Shutdown(absl::Now() + absl::Seconds(5));
}

TEST(FileStorageTest, ADurableQueueHonoursAMaxElapsedTimeTheConfigSets) {
  RetrySettings retry = FastRetry();
  retry.max_elapsed_time_set = true;
  DurableExporter e(retry);
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (e.failed() == 0 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(e.failed(), 3u);
  e.helper->Shutdown(absl::Now() + absl::Seconds(5));
}

TEST(FileStorageTest, ShutdownWithADurableQueueDoesNotWaitForADownUpstreamAndKeepsTheData) {
  RetrySettings retry = FastRetry();
  retry.initial_interval = absl::Seconds(1);
  retry.max_interval = absl::Seconds(1);
  DurableExporter e(retry);
  const absl::Time start = absl::Now();
  e.helper->Shutdown(absl::Now() + absl::Seconds(10));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_EQ(e.failed(), 0u);
  e.helper.reset();
  // The next run of the queue still holds the request.
  auto again = Make(absl::StrCat("directory: ", e.dir.path()));
  ASSERT_TRUE(again->ext->Start().ok());
  QueueSettings settings;
  auto q = again->storage()->CreateQueue({"otlp", "up"}, settings);
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_TRUE((*q)->Start().ok());
  EXPECT_EQ((*q)->sizes().items, 3);
}

}  // namespace
}  // namespace otlpd
