#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/batch_builder.h"
#include "core/component.h"
#include "core/config_node.h"
#include "core/metrics.h"
#include "processors/batch/config.h"
#include "processors/batch/factory.h"
#include "testing/otlp_data.h"
#include "testing/test_host.h"
#include "testing/wait.h"

namespace otlpd {
namespace {

using opentelemetry::proto::metrics::v1::Metric;
using testing::SampleOptions;
using testing::WaitUntil;

using otlpd::testing::TestHost;

// A downstream consumer that records what it gets. By default it completes each request at
// once with the next status of `script` (OK when the script is used up); with hold() it
// keeps the completions until the test releases them.
class Sink : public Consumer {
 public:
  void Consume(TelemetryPtr data, Completion done) override {
    absl::Status status;
    {
      absl::MutexLock lock(&mu_);
      received_.push_back(data);
      if (hold_) {
        held_.push_back(std::move(done));
        return;
      }
      if (next_status_ < script_.size()) status = script_[next_status_++];
    }
    std::move(done)(status);
  }

  void hold() {
    absl::MutexLock lock(&mu_);
    hold_ = true;
  }
  void set_script(std::vector<absl::Status> script) {
    absl::MutexLock lock(&mu_);
    script_ = std::move(script);
    next_status_ = 0;
  }
  // Completes the oldest held request.
  bool CompleteOne(absl::Status status) {
    Completion done;
    {
      absl::MutexLock lock(&mu_);
      if (held_.empty()) return false;
      done = std::move(held_.front());
      held_.erase(held_.begin());
    }
    std::move(done)(status);
    return true;
  }
  size_t held() {
    absl::MutexLock lock(&mu_);
    return held_.size();
  }
  std::vector<TelemetryPtr> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }
  size_t received_count() {
    absl::MutexLock lock(&mu_);
    return received_.size();
  }

 private:
  absl::Mutex mu_;
  bool hold_ = false;
  std::vector<absl::Status> script_;
  size_t next_status_ = 0;
  std::vector<TelemetryPtr> received_;
  std::vector<Completion> held_;
};

// Records a caller's completion.
struct Result {
  std::atomic<int> calls{0};
  absl::Mutex mu;
  absl::Status status;
  Completion Callback() {
    return [this](absl::Status s) {
      {
        absl::MutexLock lock(&mu);
        status = s;
      }
      // Last: once the test sees the call it may destroy this Result.
      calls.fetch_add(1);
    };
  }
  absl::Status Get() {
    absl::MutexLock lock(&mu);
    return status;
  }
};

TelemetryPtr Sample(Signal signal, SampleOptions options) {
  auto t = std::make_shared<Telemetry>(signal);
  switch (signal) {
    case Signal::kTraces:
      t->mutable_traces()->CopyFrom(testing::MakeTraces(options));
      break;
    case Signal::kMetrics:
      t->mutable_metrics()->CopyFrom(testing::MakeMetrics(options));
      break;
    case Signal::kLogs:
      t->mutable_logs()->CopyFrom(testing::MakeLogs(options));
      break;
  }
  return t;
}

// Every item with everything that describes it (resource, scope, metric metadata), in order.
std::vector<std::string> Flatten(const Telemetry& t) {
  std::vector<std::string> out;
  switch (t.signal()) {
    case Signal::kTraces:
      for (const auto& rs : t.traces().resource_spans()) {
        for (const auto& ss : rs.scope_spans()) {
          for (const auto& span : ss.spans()) {
            out.push_back(absl::StrCat(rs.resource().SerializeAsString(), "|", rs.schema_url(), "|",
                                       ss.scope().SerializeAsString(), "|", ss.schema_url(), "|",
                                       span.SerializeAsString()));
          }
        }
      }
      break;
    case Signal::kLogs:
      for (const auto& rl : t.logs().resource_logs()) {
        for (const auto& sl : rl.scope_logs()) {
          for (const auto& record : sl.log_records()) {
            out.push_back(absl::StrCat(rl.resource().SerializeAsString(), "|", rl.schema_url(), "|",
                                       sl.scope().SerializeAsString(), "|", sl.schema_url(), "|",
                                       record.SerializeAsString()));
          }
        }
      }
      break;
    case Signal::kMetrics:
      for (const auto& rm : t.metrics().resource_metrics()) {
        for (const auto& sm : rm.scope_metrics()) {
          for (const auto& m : sm.metrics()) {
            // The metric without its points.
            Metric meta = m;
            meta.clear_data();
            std::string context =
                absl::StrCat(rm.resource().SerializeAsString(), "|", rm.schema_url(), "|",
                             sm.scope().SerializeAsString(), "|", sm.schema_url(), "|",
                             meta.SerializeAsString(), "|", m.data_case(), "|");
            auto add = [&](const auto& points, std::string extra) {
              for (const auto& p : points) {
                out.push_back(absl::StrCat(context, extra, "|", p.SerializeAsString()));
              }
            };
            switch (m.data_case()) {
              case Metric::kGauge:
                add(m.gauge().data_points(), "");
                break;
              case Metric::kSum:
                add(m.sum().data_points(),
                    absl::StrCat(m.sum().aggregation_temporality(), m.sum().is_monotonic()));
                break;
              case Metric::kHistogram:
                add(m.histogram().data_points(),
                    absl::StrCat(m.histogram().aggregation_temporality()));
                break;
              case Metric::kExponentialHistogram:
                add(m.exponential_histogram().data_points(),
                    absl::StrCat(m.exponential_histogram().aggregation_temporality()));
                break;
              case Metric::kSummary:
                add(m.summary().data_points(), "");
                break;
              case Metric::DATA_NOT_SET:
                break;
            }
          }
        }
      }
      break;
  }
  return out;
}

std::vector<std::string> FlattenAll(const std::vector<TelemetryPtr>& all) {
  std::vector<std::string> out;
  for (const auto& t : all) {
    std::vector<std::string> part = Flatten(*t);
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

struct Fixture {
  explicit Fixture(Signal signal, const std::string& yaml) : signal(signal) {
    auto factory = NewBatchProcessorFactory();
    Diagnostics diag;
    ConfigNode node(YAML::Load(yaml), "processors::batch", &diag);
    config = factory->ParseConfig(node);
    node.ReportUnknownKeys();
    EXPECT_TRUE(diag.ok()) << diag.Format();
    CreateSettings settings{ComponentId{"batch", "test"}, &host};
    auto created = factory->Create(settings, *config, signal, sink);
    EXPECT_TRUE(created.ok()) << created.status();
    processor = std::move(*created);
    EXPECT_TRUE(processor->Start().ok());
  }
  ~Fixture() {
    if (processor) processor->Shutdown(absl::Now() + absl::Seconds(5));
  }
  uint64_t Counter(const std::string& name) {
    return host.registry.GetCounter(name, {{"processor", "batch/test"}})->value();
  }
  // Makes downstream busy: holds completions and sends one small request, which goes at
  // once (downstream was idle). What arrives next waits for it, as behind a slow exporter.
  void Occupy() {
    sink->hold();
    const size_t before = sink->received_count();
    TelemetryPtr data = Sample(signal, {.seed = 999, .items_per_scope = 1});
    blocker_items = data->ItemCount();
    processor->Consume(data, blocker.Callback());
    ASSERT_EQ(sink->received_count(), before + 1);
  }
  size_t blocker_items = 0;

  struct Result blocker;
  Signal signal;
  TestHost host;
  std::shared_ptr<Sink> sink = std::make_shared<Sink>();
  std::unique_ptr<ComponentConfig> config;
  std::unique_ptr<Processor> processor;
};

class BatchSignalTest : public ::testing::TestWithParam<Signal> {};

INSTANTIATE_TEST_SUITE_P(AllSignals, BatchSignalTest,
                         ::testing::Values(Signal::kTraces, Signal::kMetrics, Signal::kLogs),
                         [](const auto& info) { return std::string(SignalName(info.param)); });

TEST_P(BatchSignalTest, MergesRequestsIntoOneInOrder) {
  const Signal signal = GetParam();
  std::vector<TelemetryPtr> inputs;
  size_t per_request = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    inputs.push_back(Sample(signal, {.seed = seed, .resources = 2, .items_per_scope = 2}));
    per_request = inputs.back()->ItemCount();
  }
  ASSERT_GT(per_request, 0u);
  // While downstream is busy the requests wait; the fourth completes the batch.
  Fixture f(signal, absl::StrCat("send_batch_size: ", per_request * 4, "\ntimeout: 1h"));
  f.Occupy();
  Result results[4];
  for (int i = 0; i < 4; ++i) {
    f.processor->Consume(inputs[i], results[i].Callback());
    EXPECT_EQ(f.sink->received_count(), i < 3 ? 1u : 2u);
  }
  ASSERT_EQ(f.sink->received_count(), 2u);
  while (f.sink->CompleteOne(absl::OkStatus())) {
  }
  TelemetryPtr merged = f.sink->received()[1];
  EXPECT_EQ(merged->signal(), signal);
  EXPECT_EQ(merged->ItemCount(), per_request * 4);

  // Exactly the concatenation of the requests.
  auto expected = std::make_shared<Telemetry>(signal);
  for (const auto& in : inputs) expected->mutable_message()->MergeFrom(in->message());
  EXPECT_EQ(testing::ProtoDiff(expected->message(), merged->message()), "");
  for (auto& r : results) {
    EXPECT_EQ(r.calls.load(), 1);
    EXPECT_TRUE(r.Get().ok()) << r.Get();
  }
  // The blocker and the merged batch.
  EXPECT_EQ(f.Counter("otelcol_processor_batch_batch_size_trigger_send"), 2u);
  EXPECT_EQ(f.Counter("otelcol_processor_batch_timeout_trigger_send"), 0u);
  Histogram* sizes = f.host.registry.GetHistogram("otelcol_processor_batch_batch_send_size",
                                                  {{"processor", "batch/test"}}, {});
  EXPECT_EQ(sizes->count(), 2u);
  EXPECT_EQ(sizes->sum(), static_cast<double>(per_request * 4 + f.blocker_items));
}

TEST_P(BatchSignalTest, SplitsOneLargeRequestByMaxSize) {
  const Signal signal = GetParam();
  TelemetryPtr input =
      Sample(signal, {.seed = 7, .resources = 3, .scopes_per_resource = 2, .items_per_scope = 7});
  const size_t total = input->ItemCount();
  ASSERT_GT(total, 30u);
  const size_t max = total / 3 - 1;  // forces cuts inside resources, scopes and metrics
  Fixture f(signal,
            absl::StrCat("send_batch_size: 1\nsend_batch_max_size: ", max, "\ntimeout: 1h"));
  f.sink->hold();
  Result result;
  f.processor->Consume(input, result.Callback());

  std::vector<TelemetryPtr> out = f.sink->received();
  ASSERT_EQ(out.size(), (total + max - 1) / max);
  size_t sum = 0;
  for (const auto& t : out) {
    EXPECT_LE(t->ItemCount(), max);
    EXPECT_GT(t->ItemCount(), 0u);
    sum += t->ItemCount();
  }
  EXPECT_EQ(sum, total);
  // Every item, in order, with its own resource, scope and metric description.
  EXPECT_EQ(FlattenAll(out), Flatten(*input));

  // The caller hears back only when the last part is done.
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    ASSERT_TRUE(f.sink->CompleteOne(absl::OkStatus()));
    EXPECT_EQ(result.calls.load(), 0) << "after " << i + 1 << " of " << out.size();
  }
  ASSERT_TRUE(f.sink->CompleteOne(absl::OkStatus()));
  EXPECT_EQ(result.calls.load(), 1);
  EXPECT_TRUE(result.Get().ok());
}

TEST_P(BatchSignalTest, SplitsAcrossRequestsAndKeepsTheRestPending) {
  const Signal signal = GetParam();
  std::vector<TelemetryPtr> inputs;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    inputs.push_back(Sample(signal, {.seed = seed, .items_per_scope = 4}));
  }
  const size_t n = inputs[0]->ItemCount();
  // size n+1, max n+n/2+1: the second request completes a batch and is cut in two.
  const size_t size = n + 1;
  const size_t max = n + n / 2 + 1;
  Fixture f(signal, absl::StrCat("send_batch_size: ", size, "\nsend_batch_max_size: ", max,
                                 "\ntimeout: 1h"));
  f.Occupy();
  Result results[3];
  f.processor->Consume(inputs[0], results[0].Callback());
  EXPECT_EQ(f.sink->received_count(), 1u);
  f.processor->Consume(inputs[1], results[1].Callback());
  ASSERT_EQ(f.sink->received_count(), 2u);
  EXPECT_EQ(f.sink->received()[1]->ItemCount(), max);
  f.processor->Consume(inputs[2], results[2].Callback());
  // Pending now 2n - max + n >= size: a second batch.
  ASSERT_EQ(f.sink->received_count(), 3u);
  ASSERT_TRUE(f.sink->CompleteOne(absl::OkStatus()));  // the blocker
  f.processor->Shutdown(absl::Now());                  // flushes the rest without waiting
  std::vector<TelemetryPtr> out = f.sink->received();
  out.erase(out.begin());
  size_t sum = 0;
  for (const auto& t : out) {
    EXPECT_LE(t->ItemCount(), max);
    sum += t->ItemCount();
  }
  EXPECT_EQ(sum, 3 * n);
  std::vector<TelemetryPtr> copies = {inputs[0], inputs[1], inputs[2]};
  EXPECT_EQ(FlattenAll(out), FlattenAll(copies));

  // First batch: request 0 and the head of request 1.
  ASSERT_TRUE(f.sink->CompleteOne(absl::OkStatus()));
  EXPECT_EQ(results[0].calls.load(), 1);
  EXPECT_EQ(results[1].calls.load(), 0);
  while (f.sink->CompleteOne(absl::OkStatus())) {
  }
  for (auto& r : results) {
    EXPECT_EQ(r.calls.load(), 1);
    EXPECT_TRUE(r.Get().ok());
  }
}

TEST(BatchBuilderTest, EmptyResourcesAndScopesEndUpInExactlyOnePart) {
  auto t = std::make_shared<Telemetry>(Signal::kTraces);
  TracesRequest* r = t->mutable_traces();
  r->add_resource_spans()->set_schema_url("empty-first");
  auto* rs = r->add_resource_spans();
  rs->set_schema_url("full");
  auto* s1 = rs->add_scope_spans();
  s1->mutable_scope()->set_name("s1");
  for (int i = 0; i < 3; ++i) s1->add_spans()->set_name(absl::StrCat("a", i));
  rs->add_scope_spans()->mutable_scope()->set_name("empty-middle");
  auto* s2 = rs->add_scope_spans();
  s2->mutable_scope()->set_name("s2");
  for (int i = 0; i < 3; ++i) s2->add_spans()->set_name(absl::StrCat("b", i));
  rs->add_scope_spans()->mutable_scope()->set_name("empty-trailing-scope");
  r->add_resource_spans()->set_schema_url("empty-last");
  const size_t total = t->ItemCount();
  ASSERT_EQ(total, 6u);

  for (size_t cut = 1; cut < total; ++cut) {
    TelemetryPtr head = BuildBatch(Signal::kTraces, {ItemRange{t, 0, cut, total}});
    TelemetryPtr tail = BuildBatch(Signal::kTraces, {ItemRange{t, cut, total, total}});
    EXPECT_EQ(head->ItemCount() + tail->ItemCount(), total);
    std::map<std::string, int> resources, scopes;
    for (const TelemetryPtr& part : {head, tail}) {
      for (const auto& prs : part->traces().resource_spans()) {
        if (prs.scope_spans_size() == 0) resources[prs.schema_url()]++;
        for (const auto& pss : prs.scope_spans()) {
          if (pss.spans_size() == 0) scopes[pss.scope().name()]++;
        }
      }
    }
    EXPECT_EQ(resources["empty-first"], 1) << "cut " << cut;
    EXPECT_EQ(resources["empty-last"], 1) << "cut " << cut;
    EXPECT_EQ(scopes["empty-middle"], 1) << "cut " << cut;
    EXPECT_EQ(scopes["empty-trailing-scope"], 1) << "cut " << cut;
    std::vector<TelemetryPtr> parts = {head, tail};
    EXPECT_EQ(FlattenAll(parts), Flatten(*t));
  }
  // The whole request is returned as is.
  EXPECT_EQ(BuildBatch(Signal::kTraces, {ItemRange{t, 0, total, total}}).get(), t.get());
}

TEST(BatchBuilderTest, BatchKeepsItsSourcesAlive) {
  std::weak_ptr<const Telemetry> weak;
  TelemetryPtr batch;
  {
    TelemetryPtr a = Sample(Signal::kLogs, {.seed = 1});
    TelemetryPtr b = Sample(Signal::kLogs, {.seed = 2});
    weak = a;
    batch = BuildBatch(Signal::kLogs, {ItemRange{a, 0, a->ItemCount(), a->ItemCount()},
                                       ItemRange{b, 1, 2, b->ItemCount()}});
  }
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(batch->ItemCount(), 4u);
  // Serializing reads through the shared messages.
  LogsRequest copy;
  ASSERT_TRUE(copy.ParseFromString(batch->message().SerializeAsString()));
  EXPECT_EQ(CountItems(copy), 4u);
  batch.reset();
  EXPECT_TRUE(weak.expired());
}

TEST(BatchProcessorTest, FullRequestPassesThroughUncopied) {
  TelemetryPtr input = Sample(Signal::kTraces, {.items_per_scope = 20});
  Fixture f(Signal::kTraces, "send_batch_size: 10\ntimeout: 1h");
  Result result;
  f.processor->Consume(input, result.Callback());
  ASSERT_EQ(f.sink->received_count(), 1u);
  EXPECT_EQ(f.sink->received()[0].get(), input.get());
  EXPECT_EQ(result.calls.load(), 1);
  EXPECT_EQ(f.Counter("otelcol_processor_batch_batch_size_trigger_send"), 1u);
}

TEST(BatchProcessorTest, IdleDownstreamMeansNoWaiting) {
  // A sequential client (one request at a time, as an SDK's batch span processor) is
  // never held for `timeout`: with downstream idle, its request goes at once.
  Fixture f(Signal::kTraces, "send_batch_size: 8192\ntimeout: 1h");
  for (uint64_t i = 1; i <= 5; ++i) {
    Result r;
    TelemetryPtr input = Sample(Signal::kTraces, {.seed = i});
    f.processor->Consume(input, r.Callback());
    EXPECT_EQ(r.calls.load(), 1);
    EXPECT_TRUE(r.Get().ok());
    EXPECT_EQ(f.sink->received().back().get(), input.get());  // uncopied
  }
  EXPECT_EQ(f.sink->received_count(), 5u);
}

TEST(BatchProcessorTest, RequestsArrivingWhileBusyGoTogether) {
  // Group commit: what arrives while downstream works on a batch goes as one batch when it
  // finishes, without waiting for the size or the timeout.
  Fixture f(Signal::kLogs, "send_batch_size: 1000\ntimeout: 1h");
  f.Occupy();
  Result a, b, c;
  f.processor->Consume(Sample(Signal::kLogs, {.seed = 1}), a.Callback());
  f.processor->Consume(Sample(Signal::kLogs, {.seed = 2}), b.Callback());
  f.processor->Consume(Sample(Signal::kLogs, {.seed = 3}), c.Callback());
  EXPECT_EQ(f.sink->received_count(), 1u);
  ASSERT_TRUE(f.sink->CompleteOne(absl::OkStatus()));  // the blocker finishes
  ASSERT_EQ(f.sink->received_count(), 2u);
  EXPECT_EQ(f.sink->received()[1]->ItemCount(), 9u);
  EXPECT_EQ(a.calls.load(), 0);  // still in the batch downstream
  ASSERT_TRUE(f.sink->CompleteOne(absl::OkStatus()));
  EXPECT_EQ(a.calls.load() + b.calls.load() + c.calls.load(), 3);
  EXPECT_EQ(f.Counter("otlpd_processor_batch_idle_trigger_send"), 1u);
}

TEST(BatchProcessorTest, TimeoutSendsWhatIsPendingWhileDownstreamStaysBusy) {
  Fixture f(Signal::kLogs, "send_batch_size: 1000\ntimeout: 150ms");
  f.Occupy();  // and never completed
  Result a, b;
  const absl::Time start = absl::Now();
  f.processor->Consume(Sample(Signal::kLogs, {.seed = 1}), a.Callback());
  f.processor->Consume(Sample(Signal::kLogs, {.seed = 2}), b.Callback());
  EXPECT_EQ(f.sink->received_count(), 1u);
  ASSERT_TRUE(WaitUntil([&] { return f.sink->received_count() == 2; }, absl::Seconds(10)));
  const absl::Duration waited = absl::Now() - start;
  EXPECT_GE(waited, absl::Milliseconds(140));
  EXPECT_EQ(f.sink->received()[1]->ItemCount(), 6u);
  EXPECT_EQ(f.Counter("otelcol_processor_batch_timeout_trigger_send"), 1u);

  // The timer starts over for the next pending item.
  Result c;
  f.processor->Consume(Sample(Signal::kLogs, {.seed = 3}), c.Callback());
  ASSERT_TRUE(WaitUntil([&] { return f.sink->received_count() == 3; }, absl::Seconds(10)));
  EXPECT_EQ(f.Counter("otelcol_processor_batch_timeout_trigger_send"), 2u);
  while (f.sink->CompleteOne(absl::OkStatus())) {
  }
  EXPECT_EQ(a.calls.load() + b.calls.load() + c.calls.load(), 3);
}

TEST(BatchProcessorTest, MetadataKeysBatchPerCombination) {
  Fixture f(Signal::kTraces,
            "send_batch_size: 1000\ntimeout: 1h\nmetadata_keys: [X-Tenant]\n"
            "metadata_cardinality_limit: 2");
  auto with_tenant = [](const char* tenant, uint64_t seed) {
    auto t = std::const_pointer_cast<Telemetry>(Sample(Signal::kTraces, {.seed = seed}));
    if (tenant != nullptr) {
      t->set_metadata(std::make_shared<Metadata>(
          Metadata{{"x-tenant", tenant}, {"authorization", std::string("secret-") + tenant}}));
    }
    return TelemetryPtr(t);
  };
  f.sink->hold();
  Result r[5];
  f.processor->Consume(with_tenant("a", 1), r[0].Callback());  // a: idle, goes at once
  f.processor->Consume(with_tenant("b", 2), r[1].Callback());  // b: its own batcher, idle
  f.processor->Consume(with_tenant("a", 3), r[2].Callback());  // a busy: waits
  f.processor->Consume(with_tenant("a", 4), r[3].Callback());
  EXPECT_EQ(f.sink->received_count(), 2u);
  // A third combination (no tenant) is past the limit: refused for good.
  f.processor->Consume(with_tenant(nullptr, 5), r[4].Callback());
  EXPECT_EQ(r[4].Get().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(r[4].Get().message(), "too many batcher metadata-value combinations");

  ASSERT_TRUE(f.sink->CompleteOne(absl::OkStatus()));  // a's first batch
  ASSERT_EQ(f.sink->received_count(), 3u);
  TelemetryPtr merged = f.sink->received()[2];
  EXPECT_EQ(merged->ItemCount(), 2 * Sample(Signal::kTraces, {.seed = 3}).get()->ItemCount());
  // The merged batch carries the key's value and nothing else of the clients'.
  ASSERT_NE(merged->metadata(), nullptr);
  EXPECT_EQ(*merged->metadata(), (Metadata{{"x-tenant", "a"}}));
  while (f.sink->CompleteOne(absl::OkStatus())) {
  }
}

TEST(BatchProcessorTest, ZeroTimeoutSendsAtOnce) {
  Fixture f(Signal::kTraces, "send_batch_size: 1000\ntimeout: 0s");
  Result a;
  TelemetryPtr input = Sample(Signal::kTraces, {});
  f.processor->Consume(input, a.Callback());
  ASSERT_EQ(f.sink->received_count(), 1u);
  EXPECT_EQ(f.sink->received()[0].get(), input.get());
  EXPECT_EQ(a.calls.load(), 1);
}

TEST(BatchProcessorTest, CallerCompletesOnlyAfterDownstream) {
  Fixture f(Signal::kTraces, "send_batch_size: 6\ntimeout: 1h");
  f.sink->hold();
  Result a, b, passed;
  f.processor->Consume(Sample(Signal::kTraces, {.seed = 1}), a.Callback());
  f.processor->Consume(Sample(Signal::kTraces, {.seed = 2}), b.Callback());
  ASSERT_EQ(f.sink->received_count(), 1u);
  f.processor->Consume(Sample(Signal::kTraces, {.seed = 3, .items_per_scope = 6}),
                       passed.Callback());
  ASSERT_EQ(f.sink->received_count(), 2u);
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(a.calls.load(), 0);
  EXPECT_EQ(b.calls.load(), 0);
  EXPECT_EQ(passed.calls.load(), 0);

  // Completed later, from another thread.
  std::thread later([&] {
    absl::SleepFor(absl::Milliseconds(50));
    f.sink->CompleteOne(absl::OkStatus());
    f.sink->CompleteOne(absl::OkStatus());
  });
  ASSERT_TRUE(
      WaitUntil([&] { return a.calls.load() == 1 && b.calls.load() == 1; }, absl::Seconds(5)));
  ASSERT_TRUE(WaitUntil([&] { return passed.calls.load() == 1; }, absl::Seconds(5)));
  later.join();
  EXPECT_TRUE(a.Get().ok());
  EXPECT_TRUE(passed.Get().ok());
}

TEST(BatchProcessorTest, DownstreamErrorReachesEveryCallerOfTheBatch) {
  Fixture f(Signal::kMetrics, "send_batch_size: 3\nsend_batch_max_size: 4\ntimeout: 1h");
  // Requests of 2 and 5 points -> batches [2 + 2 of the second], [3 left of the second]
  // (the rest of 3 reaches send_batch_size). Only the second batch fails.
  f.sink->set_script({absl::OkStatus(), absl::UnavailableError("upstream down")});
  auto make = [](uint64_t seed, size_t points) {
    TelemetryPtr t = Sample(Signal::kMetrics, {.seed = seed, .items_per_scope = 10});
    // Keep the first `points` points.
    return BuildBatch(Signal::kMetrics, {ItemRange{t, 0, points, t->ItemCount()}});
  };
  TelemetryPtr small = make(1, 2);
  TelemetryPtr large = make(2, 5);
  ASSERT_EQ(small->ItemCount(), 2u);
  ASSERT_EQ(large->ItemCount(), 5u);
  Result a, b;
  // small goes alone (downstream idle); large is cut into 4 (size trigger) and, once that
  // batch is done, the last 1.
  f.processor->Consume(small, a.Callback());
  f.processor->Consume(large, b.Callback());
  ASSERT_EQ(f.sink->received_count(), 3u);
  EXPECT_EQ(f.sink->received()[1]->ItemCount(), 4u);
  EXPECT_EQ(f.sink->received()[2]->ItemCount(), 1u);
  EXPECT_EQ(a.calls.load(), 1);
  EXPECT_TRUE(a.Get().ok());
  EXPECT_EQ(b.calls.load(), 1);
  EXPECT_EQ(b.Get().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(b.Get().message(), "upstream down");

  // A merged batch that fails fails all of its callers.
  f.Occupy();
  Result c, d;
  f.processor->Consume(make(3, 1), c.Callback());
  f.processor->Consume(make(4, 1), d.Callback());
  ASSERT_EQ(f.sink->received_count(), 4u);  // the blocker; c and d wait
  ASSERT_TRUE(f.sink->CompleteOne(absl::OkStatus()));
  ASSERT_EQ(f.sink->received_count(), 5u);
  ASSERT_TRUE(f.sink->CompleteOne(absl::InvalidArgumentError("bad data")));
  EXPECT_EQ(c.Get().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(d.Get().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BatchProcessorTest, ShutdownFlushesAndWaitsForDownstream) {
  Fixture f(Signal::kTraces, "send_batch_size: 1000\ntimeout: 1h");
  f.Occupy();
  Result a;
  f.processor->Consume(Sample(Signal::kTraces, {}), a.Callback());
  EXPECT_EQ(f.sink->received_count(), 1u);  // a waits behind the blocker
  std::atomic<bool> completed{false};
  std::thread downstream([&] {
    WaitUntil([&] { return f.sink->held() == 2; }, absl::Seconds(5));
    absl::SleepFor(absl::Milliseconds(200));
    completed.store(true);
    f.sink->CompleteOne(absl::OkStatus());
    f.sink->CompleteOne(absl::OkStatus());
  });
  const absl::Time start = absl::Now();
  f.processor->Shutdown(absl::Now() + absl::Seconds(10));
  EXPECT_TRUE(completed.load());
  EXPECT_LT(absl::Now() - start, absl::Seconds(9));
  downstream.join();
  EXPECT_EQ(f.sink->received_count(), 2u);
  EXPECT_EQ(a.calls.load(), 1);
  EXPECT_TRUE(a.Get().ok());

  // Shutdown is bounded by its deadline when downstream never answers.
  Fixture g(Signal::kTraces, "send_batch_size: 1000\ntimeout: 1h");
  g.sink->hold();
  Result b;
  g.processor->Consume(Sample(Signal::kTraces, {}), b.Callback());
  const absl::Time t0 = absl::Now();
  g.processor->Shutdown(absl::Now() + absl::Milliseconds(200));
  EXPECT_LT(absl::Now() - t0, absl::Seconds(3));
  EXPECT_EQ(g.sink->held(), 1u);
  g.sink->CompleteOne(absl::OkStatus());
  EXPECT_EQ(b.calls.load(), 1);
}

TEST(BatchProcessorTest, ConcurrentCallersAllCompleteOnce) {
  Fixture f(Signal::kTraces, "send_batch_size: 50\nsend_batch_max_size: 64\ntimeout: 20ms");
  constexpr int kThreads = 6;
  constexpr int kPerThread = 150;
  std::vector<std::unique_ptr<Result>> results;
  for (int i = 0; i < kThreads * kPerThread; ++i) results.push_back(std::make_unique<Result>());
  std::atomic<size_t> sent_items{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        int n = 1 + (t * 31 + i * 17) % 90;  // some above send_batch_max_size
        TelemetryPtr data = Sample(
            Signal::kTraces,
            {.seed = static_cast<uint64_t>(t * 1000 + i), .items_per_scope = n, .rich = false});
        sent_items += data->ItemCount();
        f.processor->Consume(data, results[t * kPerThread + i]->Callback());
      }
    });
  }
  for (auto& th : threads) th.join();
  f.processor->Shutdown(absl::Now() + absl::Seconds(10));
  size_t received = 0;
  for (const auto& t : f.sink->received()) {
    EXPECT_LE(t->ItemCount(), 64u);
    received += t->ItemCount();
  }
  EXPECT_EQ(received, sent_items.load());
  for (auto& r : results) {
    EXPECT_EQ(r->calls.load(), 1);
    EXPECT_TRUE(r->Get().ok());
  }
}

TEST(BatchProcessorTest, ConfigDefaultsAndValidation) {
  auto factory = NewBatchProcessorFactory();
  EXPECT_EQ(factory->type(), "batch");
  auto parse = [&](const std::string& yaml, Diagnostics* diag) {
    ConfigNode node(YAML::Load(yaml), "processors::batch", diag);
    auto config = factory->ParseConfig(node);
    node.ReportUnknownKeys();
    return config;
  };
  Diagnostics ok;
  auto config = parse("{}", &ok);
  EXPECT_TRUE(ok.ok()) << ok.Format();
  const auto& c = ConfigAs<BatchProcessorConfig>(*config);
  EXPECT_EQ(c.send_batch_size, 8192);
  EXPECT_EQ(c.send_batch_max_size, 0);
  EXPECT_EQ(c.timeout, absl::Milliseconds(200));

  Diagnostics max_below_size;
  parse("send_batch_size: 100\nsend_batch_max_size: 50", &max_below_size);
  ASSERT_EQ(max_below_size.errors().size(), 1u);
  EXPECT_NE(max_below_size.errors()[0].message.find("send_batch_max_size"), std::string::npos);

  Diagnostics negative;
  parse("send_batch_size: -1\ntimeout: -1s", &negative);
  EXPECT_EQ(negative.errors().size(), 2u) << negative.Format();

  Diagnostics unknown;
  parse("send_batch_sise: 1", &unknown);
  EXPECT_FALSE(unknown.ok());

  Diagnostics keys;
  config = parse("metadata_keys: [X-Tenant, org]\nmetadata_cardinality_limit: 10", &keys);
  EXPECT_TRUE(keys.ok()) << keys.Format();
  EXPECT_EQ(ConfigAs<BatchProcessorConfig>(*config).metadata_keys,
            (std::vector<std::string>{"org", "x-tenant"}));
  Diagnostics duplicate;
  parse("metadata_keys: [tenant, Tenant]", &duplicate);
  EXPECT_NE(duplicate.Format().find("duplicate entry in metadata_keys: \"tenant\""),
            std::string::npos)
      << duplicate.Format();
}

}  // namespace
}  // namespace otlpd
