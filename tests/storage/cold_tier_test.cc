// The cold tier: warm blocks recompacted into larger blocks at a higher zstd level, on a
// local path and on an S3-compatible store (a real s3rver), queried like the other tiers;
// an interrupted recompaction finishes at the next open without duplicates.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "storage/tiered_store.h"
#include "testing/otlp_data.h"
#include "testing/realistic_logs.h"
#include "testing/s3rver.h"
#include "testing/temp_dir.h"

namespace otlpd::storage {
namespace {

namespace fs = std::filesystem;
using otlpd::testing::TempDir;

const int64_t kT0 = int64_t{1'700'000'000} * 1'000'000'000;

TraceId Tid(uint64_t n) {
  TraceId id;
  std::string bytes = otlpd::testing::CallTraceId(n);
  std::memcpy(id.data(), bytes.data(), 16);
  return id;
}

absl::Status AppendWait(TieredStore& store, Signal signal, const google::protobuf::Message& m) {
  absl::Notification done;
  absl::Status result;
  store.Append(signal, absl::Cord(m.SerializeAsString()), [&](absl::Status s) {
    result = s;
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(absl::Seconds(30))) {
    return absl::DeadlineExceededError("append did not complete");
  }
  return result;
}

int CountSpans(const opentelemetry::proto::trace::v1::TracesData& d) {
  int n = 0;
  for (const auto& rs : d.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
  }
  return n;
}

TieredStoreOptions ColdOptions(const std::string& dir) {
  TieredStoreOptions o;
  o.directory = dir;
  o.hot.max_age = absl::Milliseconds(1);
  o.hot.group_commit_interval = absl::Milliseconds(1);
  o.cold.enabled = true;
  o.cold.after = absl::Milliseconds(1);
  o.cold.compression_level = 19;
  o.lifecycle_interval = absl::Hours(1);  // passes run when the test says
  return o;
}

// Several migration steps (one warm block each), then one pass into cold.
void FillAndAge(TieredStore& store, uint64_t traces) {
  for (uint64_t n = 1; n <= traces; ++n) {
    ASSERT_TRUE(AppendWait(store, Signal::kTraces,
                           otlpd::testing::MakeCallTrace(n, kT0 + n * 1'000'000'000, n % 4 == 0))
                    .ok());
    if (n % 10 == 0) {
      absl::SleepFor(absl::Milliseconds(3));
      ASSERT_TRUE(store.RunLifecycle(/*flush=*/true).ok());
    }
  }
  LogsRequest logs = otlpd::testing::MakeLogs({});
  ASSERT_TRUE(AppendWait(store, Signal::kLogs, logs).ok());
  absl::SleepFor(absl::Milliseconds(3));
  ASSERT_TRUE(store.RunLifecycle(/*flush=*/true).ok());
}

void ExpectAllQueryable(TieredStore& store, uint64_t traces) {
  for (uint64_t n = 1; n <= traces; ++n) {
    auto t = store.GetTrace(Tid(n));
    ASSERT_TRUE(t.ok() && t->has_value()) << n;
    EXPECT_EQ(CountSpans(**t), 3) << n;
  }
  TraceQuery q;
  q.service = "backend";
  q.tags = {{"error", "true"}};
  q.limit = 100;
  EXPECT_EQ(store.FindTraces(q)->size(), traces / 4);
  EXPECT_EQ(*store.Services(), (std::vector<std::string>{"backend", "frontend"}));
  EXPECT_EQ(store.Dependencies({})->at(0).call_count, traces);
  LogQuery lq;
  lq.limit = 1000;
  EXPECT_EQ(static_cast<size_t>(store.FindLogs(lq)->resource_logs_size()),
            otlpd::CountItems(otlpd::testing::MakeLogs({})));
}

// Every log record as (resource, scope, record) bytes, sorted: what queries must return.
std::vector<std::string> Flatten(
    const google::protobuf::RepeatedPtrField<opentelemetry::proto::logs::v1::ResourceLogs>& in) {
  std::vector<std::string> out;
  for (const auto& rl : in) {
    for (const auto& sl : rl.scope_logs()) {
      for (const auto& lr : sl.log_records()) {
        out.push_back(absl::StrCat(rl.resource().SerializeAsString(), "|",
                                   sl.scope().SerializeAsString(), "|", lr.SerializeAsString()));
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ColdTierTest, RealisticLogsComeBackExactlyFromWarmLogBlocksAndCold) {
  TempDir dir;
  TieredStoreOptions o = ColdOptions(dir.path());
  o.cold.after = absl::Hours(1);
  std::mt19937_64 rng(21);
  google::protobuf::RepeatedPtrField<opentelemetry::proto::logs::v1::ResourceLogs> sent;
  LogQuery all;
  all.limit = 100'000;
  {
    auto store = TieredStore::Open(o);
    ASSERT_TRUE(store.ok()) << store.status();
    for (int i = 0; i < 4; ++i) {
      LogsRequest req =
          otlpd::bench::MakeRealisticLogs(rng, 300, absl::FromUnixNanos(kT0) + absl::Seconds(i));
      sent.MergeFrom(req.resource_logs());
      ASSERT_TRUE(AppendWait(**store, Signal::kLogs, req).ok());
    }
    absl::SleepFor(absl::Milliseconds(3));
    ASSERT_TRUE((*store)->RunLifecycle(/*flush=*/true).ok());
    EXPECT_EQ((*store)->hot_stats().log_records, 0u);
    EXPECT_EQ((*store)->warm_stats().log_records, 1200u);
    auto found = (*store)->FindLogs(all);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(Flatten(found->resource_logs()), Flatten(sent));
    // Word search goes through the block's bloom and the decoded bodies.
    LogQuery words;
    words.words = {"declined"};
    words.limit = 100'000;
    auto declined = (*store)->FindLogs(words);
    ASSERT_TRUE(declined.ok()) << declined.status();
    EXPECT_GT(declined->resource_logs_size(), 0);
    for (const auto& rl : declined->resource_logs()) {
      EXPECT_NE(rl.scope_logs(0).log_records(0).body().string_value().find("declined"),
                std::string::npos);
    }
  }
  o.cold.after = absl::Milliseconds(1);
  auto store = TieredStore::Open(o);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->RunLifecycle(/*flush=*/true).ok());
  EXPECT_EQ((*store)->warm_stats().blocks, 0u);
  EXPECT_EQ((*store)->cold_stats().log_records, 1200u);
  auto found = (*store)->FindLogs(all);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(Flatten(found->resource_logs()), Flatten(sent));
}

TEST(ColdTierTest, LocalPathRecompactsWarmBlocksIntoFewerLargerOnes) {
  TempDir dir;
  TieredStoreOptions o = ColdOptions(dir.path());
  o.cold.after = absl::Hours(1);  // first everything into warm
  {
    auto store = TieredStore::Open(o);
    ASSERT_TRUE(store.ok()) << store.status();
    FillAndAge(**store, 40);
    EXPECT_GE((*store)->warm_stats().blocks, 5u);
    EXPECT_EQ((*store)->cold_stats().blocks, 0u);
  }
  o.cold.after = absl::Milliseconds(1);
  auto store = TieredStore::Open(o);
  ASSERT_TRUE(store.ok());
  const uint64_t warm_bytes = (*store)->warm_stats().bytes;
  ASSERT_TRUE((*store)->RunLifecycle(/*flush=*/true).ok());
  TierStats cold = (*store)->cold_stats(), warm = (*store)->warm_stats();
  EXPECT_EQ(warm.blocks, 0u);
  EXPECT_EQ(cold.blocks, 2u);  // one per signal
  EXPECT_EQ(cold.spans, 120u);
  EXPECT_LT(cold.bytes, warm_bytes);
  ExpectAllQueryable(**store, 40);
  EXPECT_TRUE(fs::exists(dir.path() + "/cold"));
  // And after a restart.
  store->reset();
  store = TieredStore::Open(o);
  ASSERT_TRUE(store.ok());
  ExpectAllQueryable(**store, 40);
}

TEST(ColdTierTest, InterruptedRecompactionFinishesAtOpenWithoutDuplicates) {
  TempDir dir;
  TieredStoreOptions o = ColdOptions(dir.path());
  o.cold.after = absl::Hours(1);
  {
    auto store = TieredStore::Open(o);
    ASSERT_TRUE(store.ok());
    FillAndAge(**store, 20);
  }
  // Keep the warm blocks as they are now, recompact, then put them back: the state a crash
  // leaves between "cold block visible" and "warm sources deleted".
  const std::string saved = dir.File("saved-warm");
  fs::copy(dir.path() + "/warm", saved, fs::copy_options::recursive);
  o.cold.after = absl::Milliseconds(1);
  {
    auto store = TieredStore::Open(o);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->RunLifecycle(/*flush=*/true).ok());
    ASSERT_EQ((*store)->warm_stats().blocks, 0u);
  }
  for (const auto& e : fs::directory_iterator(saved)) {
    fs::copy(e.path(), dir.path() + "/warm/" + e.path().filename().string(),
             fs::copy_options::overwrite_existing);
  }
  o.cold.after = absl::Hours(1);
  auto store = TieredStore::Open(o);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->warm_stats().blocks, 0u);
  ExpectAllQueryable(**store, 20);  // 3 spans each: nothing twice
}

TEST(ColdTierTest, RetentionDeletesColdBlocks) {
  TempDir dir;
  TieredStoreOptions o = ColdOptions(dir.path());
  o.cold.retention = absl::Milliseconds(100);
  auto store = TieredStore::Open(o);
  ASSERT_TRUE(store.ok());
  FillAndAge(**store, 10);
  EXPECT_GT((*store)->cold_stats().spans, 0u);
  absl::SleepFor(absl::Milliseconds(150));
  ASSERT_TRUE((*store)->RunLifecycle(/*flush=*/true).ok());
  EXPECT_EQ((*store)->cold_stats().blocks, 0u);
  EXPECT_EQ((*store)->cold_stats().expired_items,
            30u + otlpd::CountItems(otlpd::testing::MakeLogs({})));
}

TEST(ColdTierTest, S3RoundTripThroughS3rver) {
  otlpd::testing::S3rver server;
  absl::Status started = server.Start();
  ASSERT_TRUE(started.ok()) << started;
  TempDir dir;
  TieredStoreOptions o = ColdOptions(dir.path());
  S3Config s3;
  s3.endpoint = server.endpoint();
  s3.bucket = "otlpd-cold";
  s3.prefix = "archive";
  s3.access_key = "S3RVER";
  s3.secret_key = "S3RVER";
  s3.timeout = absl::Seconds(20);
  o.cold.s3 = s3;
  {
    auto store = TieredStore::Open(o);
    ASSERT_TRUE(store.ok()) << store.status();
    FillAndAge(**store, 20);
    EXPECT_EQ((*store)->warm_stats().blocks, 0u);
    EXPECT_EQ((*store)->cold_stats().spans, 60u);
    ExpectAllQueryable(**store, 20);
  }
  EXPECT_FALSE(fs::exists(dir.path() + "/cold"));  // nothing local
  auto store = TieredStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status();
  ExpectAllQueryable(**store, 20);
  // A wrong secret is a clear error at open, not a silent empty tier.
  o.cold.s3->secret_key = "wrong";
  auto denied = TieredStore::Open(o);
  ASSERT_FALSE(denied.ok());
  EXPECT_NE(denied.status().message().find("cold tier"), std::string::npos) << denied.status();
}

}  // namespace
}  // namespace otlpd::storage
