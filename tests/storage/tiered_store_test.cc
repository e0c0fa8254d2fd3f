#include "storage/tiered_store.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
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
  TraceId id{};
  for (int i = 0; i < 8; ++i) id[8 + i] = static_cast<uint8_t>(n >> (8 * (7 - i)));
  id[0] = 0xab;
  return id;
}
std::string TidBytes(uint64_t n) {
  TraceId id = Tid(n);
  return std::string(reinterpret_cast<const char*>(id.data()), 16);
}
std::string SpanIdBytes(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff) | (i == 7 ? 1 : 0);
  return s;
}

void SetString(opentelemetry::proto::common::v1::KeyValue* kv, const std::string& k,
               const std::string& v) {
  kv->set_key(k);
  kv->mutable_value()->set_string_value(v);
}

// A trace `n`: a frontend server span calling a backend (client + server span).
TracesRequest MakeTrace(uint64_t n, int64_t start_ns, bool error = false) {
  TracesRequest req;
  auto add = [&](const std::string& service, const std::string& name, int kind, uint64_t span,
                 uint64_t parent, int64_t start, int64_t dur) {
    auto* rs = req.add_resource_spans();
    SetString(rs->mutable_resource()->add_attributes(), "service.name", service);
    SetString(rs->mutable_resource()->add_attributes(), "k8s.pod.name", service + "-pod-1");
    auto* ss = rs->add_scope_spans();
    ss->mutable_scope()->set_name("test-scope");
    Span* s = ss->add_spans();
    s->set_trace_id(TidBytes(n));
    s->set_span_id(SpanIdBytes(n * 10 + span));
    if (parent != 0) s->set_parent_span_id(SpanIdBytes(n * 10 + parent));
    s->set_name(name);
    s->set_kind(static_cast<Span::SpanKind>(kind));
    s->set_start_time_unix_nano(start);
    s->set_end_time_unix_nano(start + dur);
    SetString(s->add_attributes(), "http.route", "/users/{id}");
    auto* code = s->add_attributes();
    code->set_key("http.response.status_code");
    code->mutable_value()->set_int_value(error ? 500 : 200);
    SetString(s->add_attributes(), "user.id", absl::StrCat("user-", n % 7));
    if (error && span == 3)
      s->mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
  };
  add("frontend", "GET /users/{id}", 2, 1, 0, start_ns, 50'000'000 + n * 1000);
  add("frontend", "call backend", 3, 2, 1, start_ns + 1'000'000, 40'000'000);
  add("backend", "SELECT users", 2, 3, 2, start_ns + 2'000'000, 30'000'000 + n * 1000);
  return req;
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
