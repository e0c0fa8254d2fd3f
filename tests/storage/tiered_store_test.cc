#include "storage/tiered_store.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "testing/otlp_data.h"
#include "testing/temp_dir.h"

namespace otlpd::storage {
namespace {

namespace fs = std::filesystem;
using opentelemetry::proto::trace::v1::Span;
using otlpd::testing::TempDir;

TraceId Tid(uint64_t n) {
  TraceId id;
  std::string bytes = otlpd::testing::CallTraceId(n);
  std::memcpy(id.data(), bytes.data(), 16);
  return id;
}
std::string TidBytes(uint64_t n) { return otlpd::testing::CallTraceId(n); }

void SetString(opentelemetry::proto::common::v1::KeyValue* kv, const std::string& k,
               const std::string& v) {
  kv->set_key(k);
  kv->mutable_value()->set_string_value(v);
}

TracesRequest MakeTrace(uint64_t n, int64_t start_ns, bool error = false) {
  return otlpd::testing::MakeCallTrace(n, start_ns, error);
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

TieredStoreOptions Options(const std::string& dir) {
  TieredStoreOptions o;
  o.directory = dir;
  o.hot.segment_bytes = 64 << 10;
  o.hot.group_commit_interval = absl::Milliseconds(1);
  o.lifecycle_interval = absl::Hours(1);
  return o;
}

int CountSpans(const opentelemetry::proto::trace::v1::TracesData& d) {
  int n = 0;
  for (const auto& rs : d.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
  }
  return n;
}

const int64_t kT0 = int64_t{1'700'000'000} * 1'000'000'000;

TEST(TieredStoreTest, TracesAreFoundByIdAndSearch) {
  TempDir dir;
  auto store = TieredStore::Open(Options(dir.path()));
  ASSERT_TRUE(store.ok()) << store.status();
  for (uint64_t n = 1; n <= 50; ++n) {
    ASSERT_TRUE(
        AppendWait(**store, Signal::kTraces, MakeTrace(n, kT0 + n * 1'000'000'000, n % 10 == 0))
            .ok());
  }
  auto services = (*store)->Services();
  ASSERT_TRUE(services.ok());
  EXPECT_EQ(*services, (std::vector<std::string>{"backend", "frontend"}));
  auto ops = (*store)->Operations("frontend", "");
  ASSERT_TRUE(ops.ok());
  EXPECT_EQ(*ops,
            (std::vector<Operation>{{"GET /users/{id}", "server"}, {"call backend", "client"}}));
  EXPECT_EQ((*store)->Operations("frontend", "client")->size(), 1u);
  EXPECT_TRUE((*store)->Operations("nobody", "")->empty());

  auto trace = (*store)->GetTrace(Tid(7));
  ASSERT_TRUE(trace.ok());
  ASSERT_TRUE(trace->has_value());
  EXPECT_EQ(CountSpans(**trace), 3);
  EXPECT_FALSE((*store)->GetTrace(Tid(999))->has_value());

  TraceQuery q;
  q.service = "backend";
  q.limit = 100;
  EXPECT_EQ((*store)->FindTraces(q)->size(), 50u);
  q.limit = 5;
  auto newest = (*store)->FindTraces(q);
  ASSERT_EQ(newest->size(), 5u);
  EXPECT_EQ((*newest)[0], Tid(50));  // most recent first
  q.limit = 100;
  q.tags = {{"error", "true"}};
  EXPECT_EQ((*store)->FindTraces(q)->size(), 5u);
  q.tags = {{"http.response.status_code", "500"}};
  EXPECT_EQ((*store)->FindTraces(q)->size(), 5u);
  q.tags = {{"user.id", "user-3"}, {"k8s.pod.name", "backend-pod-1"}};
  EXPECT_EQ((*store)->FindTraces(q)->size(), 7u);  // n % 7 == 3 for n in 1..50
  q.tags = {{"user.id", "user-3"}, {"k8s.pod.name", "frontend-pod-1"}};
  EXPECT_TRUE((*store)->FindTraces(q)->empty());
  q.tags.clear();
  q.operation = "SELECT users";
  q.min_duration = absl::Nanoseconds(30'000'000 + 41 * 1000);
  EXPECT_EQ((*store)->FindTraces(q)->size(), 10u);  // n = 41..50
  q.min_duration.reset();
  q.max_duration = absl::Nanoseconds(30'000'000 + 10 * 1000);
  EXPECT_EQ((*store)->FindTraces(q)->size(), 10u);
  q.max_duration.reset();
  q.time.start = absl::FromUnixNanos(kT0 + int64_t{20} * 1'000'000'000);
  q.time.end = absl::FromUnixNanos(kT0 + int64_t{29} * 1'000'000'000 + 5'000'000);
  EXPECT_EQ((*store)->FindTraces(q)->size(), 10u);
  q = TraceQuery{};
  q.span_kind = "client";
  q.service = "backend";
  EXPECT_TRUE((*store)->FindTraces(q)->empty());

  auto deps = (*store)->Dependencies(TimeRange{});
  ASSERT_TRUE(deps.ok());
  ASSERT_EQ(deps->size(), 1u);
  EXPECT_EQ((*deps)[0].parent, "frontend");
  EXPECT_EQ((*deps)[0].child, "backend");
  EXPECT_EQ((*deps)[0].call_count, 50u);
}

TEST(TieredStoreTest, StoredTraceEqualsWhatWasSent) {
  TempDir dir;
  auto store = TieredStore::Open(Options(dir.path()));
  ASSERT_TRUE(store.ok());
  otlpd::testing::SampleOptions so;
  so.seed = 77;
  so.items_per_scope = 1;
  TracesRequest sent = otlpd::testing::MakeTraces(so);
  ASSERT_TRUE(AppendWait(**store, Signal::kTraces, sent).ok());
  TraceId id;
  std::memcpy(id.data(), sent.resource_spans(0).scope_spans(0).spans(0).trace_id().data(), 16);
  auto got = (*store)->GetTrace(id);
  ASSERT_TRUE(got.ok() && got->has_value());
  TracesRequest as_request;
  *as_request.mutable_resource_spans() = (*got)->resource_spans();
  EXPECT_EQ(otlpd::testing::ProtoDiff(sent, as_request), "");
}

TEST(TieredStoreTest, LogsAndMetricsAreQueryable) {
  TempDir dir;
  auto store = TieredStore::Open(Options(dir.path()));
  ASSERT_TRUE(store.ok());
  LogsRequest logs;
  auto* rl = logs.add_resource_logs();
  SetString(rl->mutable_resource()->add_attributes(), "service.name", "checkout");
  auto* sl = rl->add_scope_logs();
  const char* bodies[] = {"payment declined for order 17", "order 18 shipped",
                          "Payment accepted: order 19"};
  for (int i = 0; i < 3; ++i) {
    auto* lr = sl->add_log_records();
    lr->set_time_unix_nano(kT0 + i);
    lr->set_severity_number(
        static_cast<opentelemetry::proto::logs::v1::SeverityNumber>(i == 0 ? 17 : 9));
    lr->mutable_body()->set_string_value(bodies[i]);
    lr->set_trace_id(TidBytes(100 + i));
  }
  ASSERT_TRUE(AppendWait(**store, Signal::kLogs, logs).ok());
  LogQuery lq;
  lq.words = {"PAYMENT"};
  auto found = (*store)->FindLogs(lq);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->resource_logs_size(), 2);
  EXPECT_EQ(found->resource_logs(0).scope_logs(0).log_records(0).body().string_value(), bodies[2]);
  lq.words = {"payment", "declined"};
  EXPECT_EQ((*store)->FindLogs(lq)->resource_logs_size(), 1);
  lq.words.clear();
  lq.min_severity = 17;
  EXPECT_EQ((*store)->FindLogs(lq)->resource_logs_size(), 1);
  lq.min_severity = 0;
  lq.trace_id = Tid(101);
  ASSERT_EQ((*store)->FindLogs(lq)->resource_logs_size(), 1);
  lq.trace_id.reset();
  lq.service = "other";
  EXPECT_EQ((*store)->FindLogs(lq)->resource_logs_size(), 0);

  MetricsRequest metrics;
  auto* rm = metrics.add_resource_metrics();
  SetString(rm->mutable_resource()->add_attributes(), "service.name", "checkout");
  auto* m = rm->add_scope_metrics()->add_metrics();
  m->set_name("http.requests");
  auto* sum = m->mutable_sum();
  sum->set_is_monotonic(true);
  for (int i = 0; i < 10; ++i) {
    auto* p = sum->add_data_points();
    p->set_time_unix_nano(kT0 + int64_t{i} * 1'000'000'000);
    p->set_as_int(i * 10);
    SetString(p->add_attributes(), "route", i % 2 ? "/a" : "/b");
  }
  ASSERT_TRUE(AppendWait(**store, Signal::kMetrics, metrics).ok());
  MetricQuery mq;
  mq.name = "http.requests";
  mq.match = {{"route", "/a"}};
  auto series = (*store)->FindMetrics(mq);
  ASSERT_TRUE(series.ok());
  ASSERT_EQ(series->resource_metrics_size(), 1);
  EXPECT_EQ(series->resource_metrics(0).scope_metrics(0).metrics(0).sum().data_points_size(), 5);
  mq.match = {{"service.name", "checkout"}};
  mq.time.start = absl::FromUnixNanos(kT0 + int64_t{5} * 1'000'000'000);
  EXPECT_EQ((*store)
                ->FindMetrics(mq)
                ->resource_metrics(0)
                .scope_metrics(0)
                .metrics(0)
                .sum()
                .data_points_size(),
            5);
  mq.name = "nope";
  EXPECT_EQ((*store)->FindMetrics(mq)->resource_metrics_size(), 0);
}

TEST(TieredStoreTest, ReopenFindsEverythingAgain) {
  TempDir dir;
  {
    auto store = TieredStore::Open(Options(dir.path()));
    ASSERT_TRUE(store.ok());
    for (uint64_t n = 1; n <= 200; ++n) {
      ASSERT_TRUE(AppendWait(**store, Signal::kTraces, MakeTrace(n, kT0 + n)).ok());
    }
    EXPECT_GT((*store)->hot_stats().bytes, 128u << 10);  // several segments
  }
  auto store = TieredStore::Open(Options(dir.path()));
  ASSERT_TRUE(store.ok());
  TierStats st = (*store)->hot_stats();
  EXPECT_EQ(st.spans, 600u);
  EXPECT_EQ(st.records, 200u);
  for (uint64_t n = 1; n <= 200; ++n) {
    auto t = (*store)->GetTrace(Tid(n));
    ASSERT_TRUE(t.ok() && t->has_value()) << n;
    EXPECT_EQ(CountSpans(**t), 3);
  }
}

TEST(TieredStoreTest, BadRequestsAreRefusedAndFullIsRetryable) {
  TempDir dir;
  TieredStoreOptions o = Options(dir.path());
  o.hot.max_size = 64 << 10;
  auto store = TieredStore::Open(o);
  ASSERT_TRUE(store.ok());
  absl::Notification done;
  absl::Status bad;
  (*store)->Append(Signal::kTraces, absl::Cord("\xff\xff\xff garbage"), [&](absl::Status s) {
    bad = s;
    done.Notify();
  });
  done.WaitForNotification();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  absl::Status last;
  int ok = 0;
  for (uint64_t n = 1; n <= 500 && last.ok(); ++n) {
    last = AppendWait(**store, Signal::kTraces, MakeTrace(n, kT0 + n));
    ok += last.ok();
  }
  EXPECT_EQ(last.code(), absl::StatusCode::kResourceExhausted) << last;
  EXPECT_EQ((*store)->hot_stats().records, static_cast<uint64_t>(ok));
}

TEST(TieredStoreTest, ConcurrentAppendsAndQueries) {
  TempDir dir;
  auto store = TieredStore::Open(Options(dir.path()));
  ASSERT_TRUE(store.ok());
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::thread reader([&] {
    while (!stop.load()) {
      TraceQuery q;
      q.service = "frontend";
      if (!(*store)->FindTraces(q).ok()) errors++;
      if (!(*store)->GetTrace(Tid(3)).ok()) errors++;
      if (!(*store)->Dependencies({}).ok()) errors++;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (uint64_t n = 1; n <= 50; ++n) {
        if (!AppendWait(**store, Signal::kTraces, MakeTrace(t * 1000 + n, kT0 + n)).ok()) errors++;
      }
    });
  }
  for (auto& w : writers) w.join();
  stop = true;
  reader.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ((*store)->hot_stats().spans, 600u);
}

LogsRequest MakeLogs(uint64_t n, int64_t t) {
  LogsRequest logs;
  auto* rl = logs.add_resource_logs();
  SetString(rl->mutable_resource()->add_attributes(), "service.name", "checkout");
  auto* lr = rl->add_scope_logs()->add_log_records();
  lr->set_time_unix_nano(t);
  lr->set_severity_number(opentelemetry::proto::logs::v1::SEVERITY_NUMBER_WARN);
  lr->mutable_body()->set_string_value(absl::StrCat("order ", n, " delayed"));
  lr->set_trace_id(TidBytes(n));
  return logs;
}

MetricsRequest MakeGauge(uint64_t n, int64_t t) {
  MetricsRequest metrics;
  auto* rm = metrics.add_resource_metrics();
  SetString(rm->mutable_resource()->add_attributes(), "service.name", "checkout");
  auto* m = rm->add_scope_metrics()->add_metrics();
  m->set_name("queue.depth");
  auto* p = m->mutable_gauge()->add_data_points();
  p->set_time_unix_nano(t);
  p->set_as_int(static_cast<int64_t>(n));
  return metrics;
}

TEST(TieredStoreTest, MigrationToWarmKeepsEveryItemQueryableOnce) {
  TempDir dir;
  TieredStoreOptions o = Options(dir.path());
  o.hot.max_age = absl::Milliseconds(1);
  o.lifecycle_interval = absl::Hours(1);  // passes run when the test says
  {
    auto store = TieredStore::Open(o);
    ASSERT_TRUE(store.ok());
    for (uint64_t n = 1; n <= 40; ++n) {
      ASSERT_TRUE(
          AppendWait(**store, Signal::kTraces, MakeTrace(n, kT0 + n * 1'000'000'000, n % 10 == 0))
              .ok());
      ASSERT_TRUE(AppendWait(**store, Signal::kLogs, MakeLogs(n, kT0 + n)).ok());
      ASSERT_TRUE(AppendWait(**store, Signal::kMetrics, MakeGauge(n, kT0 + n)).ok());
    }
    absl::SleepFor(absl::Milliseconds(5));
    auto moved = (*store)->RunLifecycle(/*flush=*/true);
    ASSERT_TRUE(moved.ok()) << moved.status();
    EXPECT_EQ(*moved, 120u);
    TierStats hot = (*store)->hot_stats(), warm = (*store)->warm_stats();
    EXPECT_EQ(hot.spans + hot.log_records + hot.metric_points, 0u);
    EXPECT_EQ(warm.spans, 120u);
    EXPECT_EQ(warm.log_records, 40u);
    EXPECT_EQ(warm.metric_points, 40u);
    EXPECT_EQ(warm.blocks, 3u);
    // New data lands in hot; queries see both tiers.
    ASSERT_TRUE(AppendWait(**store, Signal::kTraces, MakeTrace(41, kT0 + 41'000'000'000)).ok());
  }
  auto store = TieredStore::Open(o);
  ASSERT_TRUE(store.ok());
  for (uint64_t n = 1; n <= 41; ++n) {
    auto t = (*store)->GetTrace(Tid(n));
    ASSERT_TRUE(t.ok() && t->has_value()) << n;
    EXPECT_EQ(CountSpans(**t), 3) << n;
  }
  EXPECT_EQ(*(*store)->Services(), (std::vector<std::string>{"backend", "frontend"}));
  EXPECT_EQ((*store)->Operations("frontend", "")->size(), 2u);
  TraceQuery q;
  q.service = "backend";
  q.tags = {{"error", "true"}};
  q.limit = 100;
  EXPECT_EQ((*store)->FindTraces(q)->size(), 4u);
  q.tags.clear();
  q.limit = 3;
  auto newest = (*store)->FindTraces(q);
  ASSERT_EQ(newest->size(), 3u);
  EXPECT_EQ((*newest)[0], Tid(41));
  EXPECT_EQ((*newest)[1], Tid(40));
  auto deps = (*store)->Dependencies(TimeRange{});
  ASSERT_EQ(deps->size(), 1u);
  EXPECT_EQ((*deps)[0].call_count, 41u);
  LogQuery lq;
  lq.words = {"order", "7"};
  lq.trace_id = Tid(7);
  EXPECT_EQ((*store)->FindLogs(lq)->resource_logs_size(), 1);
  lq = LogQuery{};
  lq.limit = 1000;
  EXPECT_EQ((*store)->FindLogs(lq)->resource_logs_size(), 40);
  MetricQuery mq;
  mq.name = "queue.depth";
  EXPECT_EQ((*store)->FindMetrics(mq)->resource_metrics_size(), 40);
  // The hot segments the warm tier took over are gone.
  EXPECT_LE((*store)->hot_stats().blocks, 2u);
}

TEST(TieredStoreTest, AStepWhoseBlocksPartlyWentStaysCommitted) {
  TempDir dir;
  TieredStoreOptions o = Options(dir.path());
  o.hot.max_age = absl::Milliseconds(1);
  {
    auto store = TieredStore::Open(o);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(AppendWait(**store, Signal::kTraces, MakeTrace(1, kT0)).ok());
    ASSERT_TRUE(AppendWait(**store, Signal::kLogs, MakeLogs(1, kT0)).ok());
    absl::SleepFor(absl::Milliseconds(5));
    ASSERT_TRUE((*store)->RunLifecycle(/*flush=*/true).ok());
    ASSERT_EQ((*store)->warm_stats().blocks, 2u);
  }
  // The step's trace block goes (as retention or recompaction would take it).
  for (const auto& e : fs::directory_iterator(dir.path() + "/warm")) {
    if (e.path().extension() != ".meta") continue;
    auto meta = BlockDir::ReadMeta(e.path().string());
    ASSERT_TRUE(meta.ok());
    if (meta->signal() == static_cast<uint32_t>(Signal::kTraces)) {
      fs::remove(e.path());
      fs::remove(fs::path(e.path()).replace_extension(".blk"));
    }
  }
  auto store = TieredStore::Open(o);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->warm_stats().blocks, 1u);
  EXPECT_EQ((*store)->warm_stats().log_records, 1u);
  LogQuery lq;
  lq.trace_id = Tid(1);
  EXPECT_EQ((*store)->FindLogs(lq)->resource_logs_size(), 1);
}

TEST(TieredStoreTest, RetentionDeletesOldWarmBlocksAndCountsThem) {
  TempDir dir;
  TieredStoreOptions o = Options(dir.path());
  o.hot.max_age = absl::Milliseconds(1);
  o.warm.retention = absl::Milliseconds(50);
  o.lifecycle_interval = absl::Hours(1);
  auto store = TieredStore::Open(o);
  ASSERT_TRUE(store.ok());
  for (uint64_t n = 1; n <= 10; ++n) {
    ASSERT_TRUE(AppendWait(**store, Signal::kTraces, MakeTrace(n, kT0 + n)).ok());
  }
  absl::SleepFor(absl::Milliseconds(5));
  ASSERT_TRUE((*store)->RunLifecycle(/*flush=*/true).ok());
  EXPECT_EQ((*store)->warm_stats().spans, 30u);
  absl::SleepFor(absl::Milliseconds(80));
  ASSERT_TRUE((*store)->RunLifecycle(/*flush=*/true).ok());
  EXPECT_EQ((*store)->warm_stats().spans, 0u);
  EXPECT_EQ((*store)->warm_stats().expired_items, 30u);
  EXPECT_FALSE((*store)->GetTrace(Tid(3))->has_value());
}

TEST(TieredStoreTest, PerSignalRetentionAndWordBloomsOnLogBlocks) {
  TempDir dir;
  TieredStoreOptions o = Options(dir.path());
  o.hot.max_age = absl::Milliseconds(1);
  o.warm.signal_retention[static_cast<size_t>(Signal::kLogs)] = absl::Milliseconds(50);
  o.lifecycle_io_rate = 64 << 20;  // in force, not binding here
  auto store = TieredStore::Open(o);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(AppendWait(**store, Signal::kTraces, MakeTrace(1, kT0)).ok());
  ASSERT_TRUE(AppendWait(**store, Signal::kLogs, MakeLogs(1, kT0)).ok());
  absl::SleepFor(absl::Milliseconds(5));
  ASSERT_TRUE((*store)->RunLifecycle(/*flush=*/true).ok());
  LogQuery lq;
  lq.words = {"delayed"};
  EXPECT_EQ((*store)->FindLogs(lq)->resource_logs_size(), 1);
  lq.words = {"shipped"};  // not in any body: the block's bloom rules it out
  EXPECT_EQ((*store)->FindLogs(lq)->resource_logs_size(), 0);
  absl::SleepFor(absl::Milliseconds(80));
  ASSERT_TRUE((*store)->RunLifecycle(/*flush=*/true).ok());
  EXPECT_EQ((*store)->warm_stats().log_records, 0u);  // logs expired
  EXPECT_EQ((*store)->warm_stats().spans, 3u);        // traces kept (no retention)
}

TEST(TieredStoreTest, DamagedWarmBlockIsSkippedNotFatal) {
  TempDir dir;
  TieredStoreOptions o = Options(dir.path());
  o.hot.max_age = absl::Milliseconds(1);
  o.lifecycle_interval = absl::Hours(1);
  {
    auto store = TieredStore::Open(o);
    ASSERT_TRUE(store.ok());
    for (uint64_t n = 1; n <= 10; ++n) {
      ASSERT_TRUE(AppendWait(**store, Signal::kTraces, MakeTrace(n, kT0 + n)).ok());
    }
    absl::SleepFor(absl::Milliseconds(5));
    ASSERT_TRUE((*store)->RunLifecycle(/*flush=*/true).ok());
  }
  for (const auto& e : fs::directory_iterator(dir.path() + "/warm")) {
    if (e.path().extension() != ".blk") continue;
    std::string data = otlpd::testing::ReadFileOrEmpty(e.path().string());
    data[data.size() / 2] ^= 0x40;
    std::ofstream(e.path(), std::ios::binary) << data;
  }
  auto store = TieredStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status();
  auto t = (*store)->GetTrace(Tid(3));
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->has_value());
  EXPECT_GE((*store)->warm_stats().quarantined, 1u);
  ASSERT_TRUE(AppendWait(**store, Signal::kTraces, MakeTrace(99, kT0)).ok());
  EXPECT_TRUE((*store)->GetTrace(Tid(99))->has_value());
}

// kill -9 while a child appends and migrates: every trace whose append completed is found
// afterwards with all its spans, exactly once, whichever tier holds it.
TEST(TieredStoreTest, KillNineDuringMigrationLosesAndDuplicatesNothing) {
  TempDir dir;
  TieredStoreOptions o = Options(dir.path());
  o.hot.max_age = absl::Milliseconds(20);
  o.warm.block_window = absl::Milliseconds(50);
  o.lifecycle_interval = absl::Milliseconds(5);
  std::mt19937_64 rng(11);
  std::set<uint64_t> acked;
  uint64_t next = 1;
  for (int cycle = 0; cycle < 8; ++cycle) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      auto store = TieredStore::Open(o);
      if (!store.ok()) ::_exit(3);
      for (uint64_t n = next;; ++n) {
        if (!AppendWait(**store, Signal::kTraces, MakeTrace(n, kT0 + n)).ok()) ::_exit(4);
        if (::write(fds[1], &n, sizeof n) != sizeof n) ::_exit(5);
      }
    }
    ::close(fds[1]);
    absl::SleepFor(absl::Milliseconds(100 + rng() % 300));
    ::kill(pid, SIGKILL);
    int status;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << WEXITSTATUS(status);
    uint64_t n;
    while (::read(fds[0], &n, sizeof n) == sizeof n) {
      acked.insert(n);
      next = std::max(next, n + 1);
    }
    ::close(fds[0]);
    next += 100000;
    TieredStoreOptions still = o;
    still.lifecycle_interval = absl::Hours(1);
    auto store = TieredStore::Open(still);
    ASSERT_TRUE(store.ok()) << store.status();
    for (uint64_t a : acked) {
      auto t = (*store)->GetTrace(Tid(a));
      ASSERT_TRUE(t.ok() && t->has_value()) << "cycle " << cycle << " lost trace " << a;
      ASSERT_EQ(CountSpans(**t), 3) << "cycle " << cycle << " trace " << a;
    }
    EXPECT_GT((*store)->warm_stats().blocks, 0u);
  }
  EXPECT_GT(acked.size(), 50u);
}

// kill -9 while a child appends: every trace whose append completed is found afterwards,
// with all its spans, exactly once.
TEST(TieredStoreTest, KillNineLosesNoAcknowledgedTrace) {
  TempDir dir;
  std::mt19937_64 rng(7);
  std::set<uint64_t> acked;
  uint64_t next = 1;
  for (int cycle = 0; cycle < 5; ++cycle) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      auto store = TieredStore::Open(Options(dir.path()));
      if (!store.ok()) ::_exit(3);
      for (uint64_t n = next;; ++n) {
        if (!AppendWait(**store, Signal::kTraces, MakeTrace(n, kT0 + n)).ok()) ::_exit(4);
        if (::write(fds[1], &n, sizeof n) != sizeof n) ::_exit(5);
      }
    }
    ::close(fds[1]);
    absl::SleepFor(absl::Milliseconds(100 + rng() % 200));
    ::kill(pid, SIGKILL);
    int status;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << WEXITSTATUS(status);
    uint64_t n;
    while (::read(fds[0], &n, sizeof n) == sizeof n) {
      acked.insert(n);
      next = std::max(next, n + 1);
    }
    ::close(fds[0]);
    next += 100000;
    auto store = TieredStore::Open(Options(dir.path()));
    ASSERT_TRUE(store.ok()) << store.status();
    for (uint64_t a : acked) {
      auto t = (*store)->GetTrace(Tid(a));
      ASSERT_TRUE(t.ok() && t->has_value()) << "cycle " << cycle << " lost trace " << a;
      ASSERT_EQ(CountSpans(**t), 3) << "trace " << a;
    }
  }
  EXPECT_GT(acked.size(), 20u);
}

}  // namespace
}  // namespace otlpd::storage
