// The probabilistic_sampler processor (otelcol-contrib's probabilisticsamplerprocessor): its
// configuration, the decisions of each mode on spans and log records, what the kept items
// carry (th, rv, sampling attributes), what is cut out of the request, and the estimate
// Σ 1/p of the kept spans against the input per service.
#include "processors/probabilistic_sampler/probabilistic_sampler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "processors/probabilistic_sampler/factory.h"
#include "processors/sampling_wire/sampling_test_util.h"

namespace otlpd::samplingtest {
namespace {

namespace cs = consistent_sampling;
using ::testing::HasSubstr;
using LogRecord = opentelemetry::proto::logs::v1::LogRecord;

const ProcessorFactory& Factory() {
  static const auto* factory = NewProbabilisticSamplerFactory().release();
  return *factory;
}

ProbabilisticSampler& Sampler(Harness& h) {
  return static_cast<ProbabilisticSampler&>(*h.processor);
}

TEST(ProbabilisticSamplerConfigTest, KeysDefaultsAndErrors) {
  EXPECT_EQ(ConfigErrors(Factory(), "sampling_percentage: 15.3"), "");
  EXPECT_EQ(ConfigErrors(Factory(), R"(
sampling_percentage: 10
hash_seed: 22
mode: equalizing
fail_closed: false
sampling_precision: 6
attribute_source: record
from_attribute: id
sampling_priority: prio)"),
            "");
  EXPECT_THAT(ConfigErrors(Factory(), "sampling_percentage: -1"),
              HasSubstr("sampling rate is negative"));
  EXPECT_THAT(ConfigErrors(Factory(), "sampling_percentage: 1e-16"),
              HasSubstr("sampling rate is too small"));
  EXPECT_THAT(ConfigErrors(Factory(), "sampling_percentage: 1e39"),
              HasSubstr("sampling rate is invalid"));
  EXPECT_THAT(ConfigErrors(Factory(), "sampling_percentage: .nan"),
              HasSubstr("sampling_percentage"));
  EXPECT_THAT(ConfigErrors(Factory(), "{sampling_percentage: 1, sampling_precision: 0}"),
              HasSubstr("invalid sampling precision: 0"));
  EXPECT_THAT(ConfigErrors(Factory(), "{sampling_percentage: 1, sampling_precision: 15}"),
              HasSubstr("should be <= 14"));
  EXPECT_THAT(ConfigErrors(Factory(), "{sampling_percentage: 1, mode: fast}"), HasSubstr("mode"));
  EXPECT_THAT(ConfigErrors(Factory(), "{sampling_percentage: 1, attribute_source: span}"),
              HasSubstr("attribute_source"));
  EXPECT_THAT(ConfigErrors(Factory(), "{sampling_percentage: 1, hash_seed: -2}"),
              HasSubstr("hash_seed"));
  EXPECT_THAT(ConfigErrors(Factory(), "{sampling_percentage: 1, unknown: 2}"),
              HasSubstr("unknown"));
}

TEST(ProbabilisticSamplerConfigTest, DefaultModeIsProportionalUnlessLegacyHashingIsConfigured) {
  {
    Harness h(Factory(), "sampling_percentage: 10", Signal::kTraces);
    EXPECT_EQ(Sampler(h).mode(), ProbabilisticSampler::Mode::kProportional);
  }
  {
    Harness h(Factory(), "{sampling_percentage: 10, hash_seed: 1}", Signal::kTraces);
    EXPECT_EQ(Sampler(h).mode(), ProbabilisticSampler::Mode::kHashSeed);
  }
  {
    Harness h(Factory(), "{sampling_percentage: 10, attribute_source: record}", Signal::kLogs);
    EXPECT_EQ(Sampler(h).mode(), ProbabilisticSampler::Mode::kHashSeed);
  }
  {
    Harness h(Factory(), "{sampling_percentage: 10, attribute_source: record}", Signal::kTraces);
    EXPECT_EQ(Sampler(h).mode(), ProbabilisticSampler::Mode::kProportional);
  }
}

// Every span decided by the specification's rule on its trace id; kept ones carry th; the
// rest of each kept span is unchanged; empty scopes and resources are cut out.
TEST(ProbabilisticSamplerTest, ProportionalDecidesEverySpanByItsTraceId) {
  Harness h(Factory(), "sampling_percentage: 25", Signal::kTraces);
  std::mt19937_64 rng(1);
  TracesRequest in = MakeSpans(rng, {"a", "b", "c"}, 200);
  // Service "c" gets 2 spans only, both rejected at 25 %: its resource must go.
  auto* c_spans = in.mutable_resource_spans(2)->mutable_scope_spans(0)->mutable_spans();
  c_spans->DeleteSubrange(2, c_spans->size() - 2);
  for (auto& span : *c_spans) span.mutable_trace_id()->replace(9, 7, std::string(7, '\x10'));
  ASSERT_TRUE(h.Send(ToTelemetry(Signal::kTraces, in)).ok());
  ASSERT_EQ(h.sink->received.size(), 1u);
  const TracesRequest& out = h.sink->received[0]->traces();
  ASSERT_EQ(out.resource_spans_size(), 2);

  const uint64_t quarter = *cs::ParseThreshold("c");
  size_t expected_kept = 0;
  std::map<std::string, const Span*> kept;
  for (const auto& rs : out.resource_spans()) {
    for (const auto& span : rs.scope_spans(0).spans()) kept[span.span_id()] = &span;
  }
  for (int r = 0; r < 2; ++r) {
    for (const Span& sent : in.resource_spans(r).scope_spans(0).spans()) {
      const bool keep = cs::RandomnessFromTraceId(sent.trace_id()) >= quarter;
      expected_kept += keep;
      auto it = kept.find(sent.span_id());
      ASSERT_EQ(it != kept.end(), keep);
      if (!keep) continue;
      EXPECT_EQ(it->second->trace_state(), "ot=th:c");
      Span a = sent;
      Span b = *it->second;
      a.clear_trace_state();
      b.clear_trace_state();
      EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
    }
  }
  EXPECT_EQ(kept.size(), expected_kept);
  EXPECT_EQ(h.sink->received[0]->ItemCount(), expected_kept);
  EXPECT_EQ(h.host.registry
                .GetCounter("otelcol_processor_probabilistic_sampler_count_traces_sampled",
                            {{"processor", "probabilistic_sampler"}, {"sampled", "true"}})
                ->value(),
            expected_kept);
}

TEST(ProbabilisticSamplerTest, ArrivingThresholdsAndRandomnessAreRespected) {
  TracesRequest in;
  auto* spans = in.add_resource_spans()->add_scope_spans()->mutable_spans();
  auto add = [&](uint64_t randomness_in_id, std::string tracestate) {
    Span* s = spans->Add();
    std::string id(16, '\x01');
    for (int i = 15; i >= 9; --i) {
      id[static_cast<size_t>(i)] = static_cast<char>(randomness_in_id & 0xff);
      randomness_in_id >>= 8;
    }
    s->set_trace_id(id);
    s->set_span_id(std::string(8, static_cast<char>(spans->size())));
    s->set_trace_state(std::move(tracestate));
  };
  add(0xf0000000000000, "ot=th:8,vendor=x");      // 1/2 * 1/2: th:c, kept
  add(0x90000000000000, "ot=th:8");               // R < c: dropped
  add(0x00000000000000, "ot=rv:f0000000000000");  // rv decides: kept with th:8
  add(0xf0000000000000, "ot=rv:10000000000000");  // rv decides: dropped
  add(0xf0000000000000, "ot=th:zz");              // invalid: dropped (fail_closed)
  add(0x10000000000000, "ot=th:8");               // inconsistent: dropped (fail_closed)
  Harness h(Factory(), "sampling_percentage: 50", Signal::kTraces);
  ASSERT_TRUE(h.Send(ToTelemetry(Signal::kTraces, in)).ok());
  ASSERT_EQ(h.sink->received.size(), 1u);
  const auto& out = h.sink->received[0]->traces().resource_spans(0).scope_spans(0).spans();
  ASSERT_EQ(out.size(), 2);
  EXPECT_EQ(out[0].trace_state(), "ot=th:c,vendor=x");
  EXPECT_EQ(out[1].trace_state(), "ot=th:8;rv:f0000000000000");

  // Fail open: errors pass through unchanged; the inconsistent th is erased and the span
  // decided without it (R = 1/16 < 1/2: dropped).
  Harness open(Factory(), "{sampling_percentage: 50, fail_closed: false}", Signal::kTraces);
  ASSERT_TRUE(open.Send(ToTelemetry(Signal::kTraces, in)).ok());
  const auto& out2 = open.sink->received[0]->traces().resource_spans(0).scope_spans(0).spans();
  ASSERT_EQ(out2.size(), 3);
  EXPECT_EQ(out2[2].trace_state(), "ot=th:zz");

  // Equalizing: an arriving th:c (1/4) is already below 1/2 and passes unchanged.
  Harness eq(Factory(), "{sampling_percentage: 50, mode: equalizing}", Signal::kTraces);
  TracesRequest one;
  auto* s = one.add_resource_spans()->add_scope_spans()->add_spans();
  s->set_trace_id(std::string(16, '\xf0'));
  s->set_trace_state("ot=th:c");
  ASSERT_TRUE(eq.Send(ToTelemetry(Signal::kTraces, one)).ok());
  ASSERT_EQ(eq.sink->received.size(), 1u);
  // Nothing changed: the very same request is passed on.
  EXPECT_EQ(eq.sink->received[0]->wire(), absl::Cord(one.SerializeAsString()));
}

TEST(ProbabilisticSamplerTest, SamplingPriorityOverridesTheProbability) {
  TracesRequest in;
  auto* spans = in.add_resource_spans()->add_scope_spans()->mutable_spans();
  for (const KeyValue& priority :
       {Int("sampling.priority", 0), Int("sampling.priority", 3), Str("sampling.priority", "1.5"),
        Str("sampling.priority", "x")}) {
    Span* s = spans->Add();
    s->set_trace_id(std::string(16, '\x01'));  // randomness 0x010101...: below any 1 % threshold
    *s->add_attributes() = priority;
  }
  Harness h(Factory(), "sampling_percentage: 1", Signal::kTraces);
  ASSERT_TRUE(h.Send(ToTelemetry(Signal::kTraces, in)).ok());
  const auto& out = h.sink->received[0]->traces().resource_spans(0).scope_spans(0).spans();
  ASSERT_EQ(out.size(), 2);  // the two positive priorities
  EXPECT_EQ(out[0].trace_state(), "ot=th:0");
  EXPECT_EQ(out[1].trace_state(), "ot=th:0");

  // 100 % keeps all but priority 0.
  Harness all(Factory(), "sampling_percentage: 100", Signal::kTraces);
  ASSERT_TRUE(all.Send(ToTelemetry(Signal::kTraces, in)).ok());
  EXPECT_EQ(all.sink->received[0]->ItemCount(), 3u);
  // 0 % keeps only the positive priorities; a request with nothing kept completes OK and
  // is not passed on.
  Harness none(Factory(), "sampling_percentage: 0", Signal::kTraces);
  ASSERT_TRUE(none.Send(ToTelemetry(Signal::kTraces, in)).ok());
  EXPECT_EQ(none.sink->received[0]->ItemCount(), 2u);
  spans->DeleteSubrange(1, 3);
  ASSERT_TRUE(none.Send(ToTelemetry(Signal::kTraces, in)).ok());
  EXPECT_EQ(none.sink->received.size(), 1u);
}

// hash_seed: otelcol's FNV-1a bucket decision, with rv and th written.
TEST(ProbabilisticSamplerTest, HashSeedKeepsTheLegacyBucketDecision) {
  Harness h(Factory(), "{sampling_percentage: 30, hash_seed: 77}", Signal::kTraces);
  std::mt19937_64 rng(3);
  TracesRequest in = MakeSpans(rng, {"svc"}, 2000);
  ASSERT_TRUE(h.Send(ToTelemetry(Signal::kTraces, in)).ok());
  const auto& out = h.sink->received[0]->traces().resource_spans(0).scope_spans(0).spans();
  // The legacy rule, written out: FNV-1a(seed LE, trace id) & 0x3fff < uint32(30 * 163.84f).
  const uint32_t rate = static_cast<uint32_t>(30.0f * 163.84f);
  size_t expected = 0;
  int o = 0;
  for (const Span& span : in.resource_spans(0).scope_spans(0).spans()) {
    uint32_t hash = 2166136261u;
    for (int i = 0; i < 4; ++i) hash = (hash ^ ((77u >> (8 * i)) & 0xff)) * 16777619u;
    for (unsigned char c : span.trace_id()) hash = (hash ^ c) * 16777619u;
    if ((hash & 0x3fff) >= rate) continue;
    ++expected;
    ASSERT_LT(o, out.size());
    EXPECT_EQ(out[o].span_id(), span.span_id());
    auto ts = cs::ParseTraceState(out[o].trace_state());
    ASSERT_TRUE(ts.ok());
    EXPECT_EQ(ts->ot.threshold, uint64_t{0x4000 - rate} << 42);
    EXPECT_EQ(ts->ot.randomness, ProbabilisticSampler::HashRandomness(span.trace_id(), 77));
    ++o;
  }
  EXPECT_EQ(static_cast<size_t>(out.size()), expected);
  EXPECT_NEAR(static_cast<double>(expected), 600, 5 * std::sqrt(2000 * 0.3 * 0.7));
}

TEST(ProbabilisticSamplerTest, LogsByTraceIdOrRecordAttribute) {
  LogsRequest in;
  auto* records = in.add_resource_logs()->add_scope_logs()->mutable_log_records();
  std::mt19937_64 rng(5);
  for (int i = 0; i < 400; ++i) {
    LogRecord* r = records->Add();
    if (i % 2 == 0) r->set_trace_id(RandomId(rng, 16));
    *r->add_attributes() = Str("record.id", RandomId(rng, 6));
    if (i == 1) *r->add_attributes() = Str("sampling.threshold", "0");  // replaced when kept
  }
  // Proportional (the default): trace id randomness, else the hashed attribute.
  Harness h(Factory(), "{sampling_percentage: 50, from_attribute: record.id}", Signal::kLogs);
  ASSERT_TRUE(h.Send(ToTelemetry(Signal::kLogs, in)).ok());
  const auto& out = h.sink->received[0]->logs().resource_logs(0).scope_logs(0).log_records();
  EXPECT_NEAR(out.size(), 200, 5 * std::sqrt(400 * 0.25));
  for (const LogRecord& r : out) {
    int thresholds = 0;
    for (const auto& kv : r.attributes()) {
      if (kv.key() == "sampling.threshold") {
        EXPECT_EQ(kv.value().string_value(), "8");
        ++thresholds;
      }
    }
    EXPECT_EQ(thresholds, 1);
    if (r.trace_id().size() == 16) {
      EXPECT_GE(cs::RandomnessFromTraceId(r.trace_id()), *cs::ParseThreshold("8"));
    }
  }
  // Records without randomness at all (no trace id, no attribute) are dropped (fail closed).
  Harness none(Factory(), "sampling_percentage: 100", Signal::kLogs);
  ASSERT_TRUE(none.Send(ToTelemetry(Signal::kLogs, in)).ok());
  EXPECT_EQ(none.sink->received[0]->ItemCount(), 200u);

  // attribute_source: record selects hash_seed: randomness and threshold attributes written.
  Harness rec(Factory(),
              "{sampling_percentage: 50, attribute_source: record, "
              "from_attribute: record.id, sampling_priority: prio}",
              Signal::kLogs);
  LogsRequest prio;
  auto* pr = prio.add_resource_logs()->add_scope_logs()->mutable_log_records();
  int hashed_kept = 0;
  for (int i = 0; i < 200; ++i) {
    LogRecord* r = pr->Add();
    *r->add_attributes() = Str("record.id", "id-" + std::to_string(i));
    if (i < 20) *r->add_attributes() = Int("prio", 100);
  }
  ASSERT_TRUE(rec.Send(ToTelemetry(Signal::kLogs, prio)).ok());
  const auto& out3 = rec.sink->received[0]->logs().resource_logs(0).scope_logs(0).log_records();
  int prioritized = 0;
  for (const LogRecord& r : out3) {
    std::map<std::string, std::string> attrs;
    for (const auto& kv : r.attributes()) attrs[kv.key()] = kv.value().string_value();
    ASSERT_TRUE(attrs.count("sampling.randomness"));
    const uint64_t rv = *cs::ParseRandomness(attrs["sampling.randomness"]);
    EXPECT_EQ(rv, ProbabilisticSampler::HashRandomness(attrs["record.id"], 0));
    if (attrs["sampling.threshold"] == "0") {
      ++prioritized;
    } else {
      EXPECT_GE(rv, *cs::ParseThreshold(attrs["sampling.threshold"]));
      ++hashed_kept;
    }
  }
  EXPECT_EQ(prioritized, 20);  // priority 100 % keeps all of them
  EXPECT_NEAR(hashed_kept, 90, 5 * std::sqrt(180 * 0.25));
}

// Σ 1/p over the kept spans estimates each service's input within ±2 %, in every mode.
TEST(ProbabilisticSamplerTest, AdjustedCountsEstimateTheInputPerService) {
  const std::vector<std::string> services = {"frontend", "cart", "db"};
  for (const char* config :
       {"sampling_percentage: 10", "{sampling_percentage: 10, mode: equalizing}",
        "{sampling_percentage: 10, hash_seed: 9}"}) {
    Harness h(Factory(), config, Signal::kTraces);
    std::mt19937_64 rng(42);
    std::map<std::string, Estimate> estimates;
    constexpr int kRequests = 200;
    constexpr int kPerService = 1000;
    for (int i = 0; i < kRequests; ++i) {
      ASSERT_TRUE(h.Send(ToTelemetry(Signal::kTraces, MakeSpans(rng, services, kPerService))).ok());
      AddEstimates(h.sink->received.back()->traces(), &estimates);
    }
    for (const std::string& service : services) {
      const Estimate& e = estimates[service];
      EXPECT_EQ(e.without_th, 0);
      EXPECT_NEAR(e.weighted / (kRequests * kPerService), 1.0, 0.02) << config << " " << service;
    }
  }
}

}  // namespace
}  // namespace otlpd::samplingtest
