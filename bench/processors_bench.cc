// Spans per second through the attributes, resource, filter, redaction, traffic_observer and
// sampling processors against a pass-through processor, on requests as the receiver hands them
// on (protobuf bytes that passed the wire scan, wrapped in a Telemetry), into a consumer that
// completes at once.
//
// Two workloads: realistic traces (tests/testing/realistic_traces.h: services, operations,
// semantic-convention attributes, ~350 B per span, requests of ~100 spans) and the standard
// throughput workload of README §3 (100 spans per request, 10 random 20-character string
// attributes each). The cost per span of a processor is 1/rate(processor) - 1/rate(pass-
// through); set against the nop pipeline's per-core figure in README "Performance" it gives
// the share of the daemon's throughput the processor takes.
#include <benchmark/benchmark.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/config_node.h"
#include "core/otlp_wire.h"
#include "core/telemetry.h"
#include "extensions/jaegerremotesampling/jaeger_remote_sampling_extension.h"
#include "processors/adaptive_sampler/factory.h"
#include "processors/attributes/factory.h"
#include "processors/filter/factory.h"
#include "processors/probabilistic_sampler/factory.h"
#include "processors/redaction/factory.h"
#include "processors/resource/factory.h"
#include "processors/rule_sampler/factory.h"
#include "processors/traffic_observer/traffic_observer_processor.h"
#include "receivers/otlp/request_decoder.h"
#include "testing/realistic_traces.h"

namespace otlpd {
namespace {

constexpr int kRequests = 32;  // distinct requests, cycled

struct Workload {
  std::vector<absl::Cord> requests;
  std::vector<size_t> items;
  std::vector<std::shared_ptr<const SpanIndex>> indexes;
  size_t total_items = 0;
};

Workload MakeWorkload(bool realistic) {
  Workload w;
  std::mt19937_64 rng(42);
  const absl::Time start = absl::FromUnixSeconds(1'700'000'000);
  for (int i = 0; i < kRequests; ++i) {
    const TracesRequest request = realistic ? bench::MakeRealisticTraces(rng, 100, start)
                                            : bench::MakeRandomAttributeTraces(rng, 100, start);
    const std::string bytes = request.SerializeAsString();
    // The span index, as the receiver builds it when a sampler is in the pipeline (the other
    // processors do not read it).
    auto index = std::make_shared<SpanIndex>();
    auto scan = ScanOtlpRequest(Signal::kTraces, bytes, index.get());
    if (!scan.ok()) std::abort();
    w.indexes.push_back(std::move(index));
    // One chunk, as the receivers make it (gRPC's slice or the HTTP body, adopted).
    auto* held = new std::string(bytes);
    w.requests.push_back(
        absl::MakeCordFromExternal(*held, [held](absl::string_view) { delete held; }));
    w.items.push_back(scan->items);
    w.total_items += scan->items;
  }
  return w;
}

const Workload& Realistic() {
  static const Workload* w = new Workload(MakeWorkload(true));
  return *w;
}
const Workload& Standard() {
  static const Workload* w = new Workload(MakeWorkload(false));
  return *w;
}

// The end of the pipeline: completes at once, keeps nothing (as the nop exporter).
class Discard : public Consumer {
 public:
  void Consume(TelemetryPtr data, Completion done) override {
    benchmark::DoNotOptimize(data.get());
    std::move(done)(absl::OkStatus());
  }
};

// The baseline: a processor that passes requests on.
class PassThrough : public Processor {
 public:
  explicit PassThrough(ConsumerPtr next) : next_(std::move(next)) {}
  void Consume(TelemetryPtr data, Completion done) override {
    next_->Consume(std::move(data), std::move(done));
  }

 private:
  ConsumerPtr next_;
};

std::unique_ptr<Processor> Make(const ProcessorFactory& factory, const char* yaml) {
  Diagnostics diag;
  ConfigNode node(YAML::Load(yaml), "processors::bench", &diag);
  auto config = factory.ParseConfig(node);
  node.ReportUnknownKeys();
  if (!diag.ok()) {
    std::fprintf(stderr, "%s", diag.Format().c_str());
    std::abort();
  }
  auto p = factory.Create(CreateSettings{{std::string(factory.type()), "bench"}, nullptr}, *config,
                          Signal::kTraces, std::make_shared<Discard>());
  if (!p.ok()) std::abort();
  return std::move(*p);
}

void Run(benchmark::State& state, const Workload& w, Processor& p) {
  size_t i = 0;
  int64_t spans = 0;
  for (auto _ : state) {
    const size_t n = i++ % w.requests.size();
    auto data = Telemetry::FromWire(Signal::kTraces, w.requests[n], w.items[n]);
    data->set_span_index(w.indexes[n]);
    p.Consume(std::move(data), [](absl::Status s) { benchmark::DoNotOptimize(s); });
    spans += static_cast<int64_t>(w.items[n]);
  }
  state.SetItemsProcessed(spans);
}

// As the daemon runs a processor: the receiver's decoding of the request first (its wire scan,
// and the span index when a processor in the process reads it), so that the request's bytes
// are in cache when the processor walks them and the index's cost is counted with it.
// "Received/X" over "Received/PassThrough" is what X adds to the daemon's work per span.
void RunReceived(benchmark::State& state, const Workload& w, Processor& p) {
  size_t i = 0;
  int64_t spans = 0;
  for (auto _ : state) {
    const size_t n = i++ % w.requests.size();
    absl::StatusOr<DecodedRequest> decoded = DecodeProtobufRequest(Signal::kTraces, w.requests[n]);
    if (!decoded.ok()) {
      state.SkipWithError(std::string(decoded.status().message()).c_str());
      break;
    }
    p.Consume(std::move(decoded->data), [](absl::Status s) { benchmark::DoNotOptimize(s); });
    spans += static_cast<int64_t>(w.items[n]);
  }
  state.SetItemsProcessed(spans);
}

// Every span gets a new attribute (the usual use: tag all data with its environment).
constexpr char kUpsertEnv[] = R"yaml(
actions:
  - {key: deployment.environment.name, value: staging, action: upsert}
)yaml";
// A redaction set: hash one key, delete two, insert one.
constexpr char kRedact[] = R"yaml(
actions:
  - {key: user.id, action: hash}
  - {key: http.request.header.authorization, action: delete}
  - {key: db.statement, action: delete}
  - {key: redacted, value: true, action: insert}
)yaml";
// Only some services' server spans, by regular expression.
constexpr char kFiltered[] = R"yaml(
include:
  match_type: regexp
  services: ["^(checkout|payment)"]
  span_kinds: [SERVER]
actions:
  - {key: team, value: payments, action: insert}
)yaml";
// Nothing to do: every request is passed on as it came (the walk is the whole cost).
constexpr char kNoMatch[] = R"yaml(
actions:
  - {key: not.present, action: delete}
  - {pattern: "^secret\\.", action: delete}
)yaml";
constexpr char kResource[] = R"yaml(
attributes:
  - {key: collector.name, value: otlpd, action: upsert}
  - {key: k8s.node.name, action: delete}
)yaml";

// filter: health checks and internal noise dropped (otelcol README's usual conditions); on the
// standard workload nothing matches, so every span is looked at and kept.
constexpr char kFilterSpans[] = R"yaml(
error_mode: ignore
traces:
  span:
    - 'attributes["http.route"] == "/health"'
    - 'kind == SPAN_KIND_INTERNAL and IsMatch(name, "^(healthz|ping)")'
)yaml";
// A slow-span condition that reads two timestamps of every span.
constexpr char kFilterDuration[] = R"yaml(
traces:
  span:
    - 'end_time_unix_nano - start_time_unix_nano < 1000 and status.code != STATUS_CODE_ERROR'
)yaml";
// Span events dropped by name.
constexpr char kFilterEvents[] = R"yaml(
traces:
  spanevent:
    - 'name == "debug.checkpoint"'
)yaml";
// redaction: the built-in masks (card numbers, e-mail addresses) only.
constexpr char kRedactBuiltin[] = R"yaml(
allow_all_keys: true
summary: info
)yaml";
// otelcol README's example pattern (Visa numbers) besides the built-in masks: every string
// value is matched.
constexpr char kRedactPatterns[] = R"yaml(
allow_all_keys: true
blocked_values: ["4[0-9]{12}(?:[0-9]{3})?"]
summary: info
)yaml";

// The samplers: 10 % proportional (the default mode), otelcol's legacy hash_seed, 100 %
// (every span kept and its trace_state written: the most rewriting), a rule set matching on
// service, span name, kind and an attribute, and the adaptive sampler per service.
constexpr char kProbabilistic10[] = "sampling_percentage: 10";
constexpr char kHashSeed10[] = "{sampling_percentage: 10, hash_seed: 7}";
constexpr char kProbabilistic100[] = "sampling_percentage: 100";
constexpr char kRules[] = R"yaml(
default_sampling_percentage: 10
rules:
  - {name: health, span_name: {regex: "^GET /health"}, drop: true}
  - {name: errors, status_code: ERROR, sampling_percentage: 100}
  - {name: checkout, service_name: checkout, span_kind: SERVER, sampling_percentage: 50}
  - {name: admin, attributes: [{key: user.id, regex: "^admin"}], sampling_percentage: 100}
)yaml";
constexpr char kAdaptive[] = R"yaml(
goal_spans_per_second: 5000
adjustment_interval: 1s
)yaml";

template <const Workload& (*W)(), const char* kConfig>
void BM_Probabilistic(benchmark::State& state) {
  auto p = Make(*NewProbabilisticSamplerFactory(), kConfig);
  Run(state, W(), *p);
}

template <const Workload& (*W)(), const char* kConfig>
void BM_Rule(benchmark::State& state) {
  auto p = Make(*NewRuleSamplerFactory(), kConfig);
  Run(state, W(), *p);
}

template <const Workload& (*W)(), const char* kConfig>
void BM_Adaptive(benchmark::State& state) {
  auto p = Make(*NewAdaptiveSamplerFactory(), kConfig);
  Run(state, W(), *p);
}

template <const Workload& (*W)()>
void BM_PassThrough(benchmark::State& state) {
  PassThrough p(std::make_shared<Discard>());
  Run(state, W(), p);
}

template <const Workload& (*W)(), const char* kConfig>
void BM_Attributes(benchmark::State& state) {
  auto p = Make(*NewAttributesProcessorFactory(), kConfig);
  Run(state, W(), *p);
}

template <const Workload& (*W)(), const char* kConfig>
void BM_Filter(benchmark::State& state) {
  auto p = Make(*NewFilterProcessorFactory(), kConfig);
  Run(state, W(), *p);
}

template <const Workload& (*W)(), const char* kConfig>
void BM_Redaction(benchmark::State& state) {
  auto p = Make(*NewRedactionProcessorFactory(), kConfig);
  Run(state, W(), *p);
}

template <const Workload& (*W)(), const char* kConfig>
void BM_Resource(benchmark::State& state) {
  auto p = Make(*NewResourceProcessorFactory(), kConfig);
  Run(state, W(), *p);
}

// traffic_observer feeding jaegerremotesampling's adaptive source (the real extension, not
// serving HTTP): the cost of counting root spans per service/operation on every request.
template <const Workload& (*W)()>
void BM_TrafficObserver(benchmark::State& state) {
  JaegerRemoteSamplingConfig config;
  config.adaptive = AdaptiveSamplingConfig{};
  JaegerRemoteSamplingExtension extension(
      CreateSettings{{"jaegerremotesampling", "bench"}, nullptr}, config);
  TrafficObserverProcessor p(&extension, std::make_shared<Discard>());
  Run(state, W(), p);
}

// The receiver's decoding without an index must be measured before any processor that reads
// it is created (the request is process-wide and stays): registered, and so run, first.
void BM_ReceivedPassThrough(benchmark::State& state) {
  if (SpanIndexRequested()) {
    state.SkipWithError("a processor created earlier has the receiver build span indexes");
    return;
  }
  PassThrough p(std::make_shared<Discard>());
  RunReceived(state, Standard(), p);
}

template <std::unique_ptr<ProcessorFactory> (*F)(), const char* kConfig>
void BM_Received(benchmark::State& state) {
  auto p = Make(*F(), kConfig);
  RunReceived(state, Standard(), *p);
}

BENCHMARK(BM_ReceivedPassThrough)->Name("Received/PassThrough");
BENCHMARK(BM_Received<NewAttributesProcessorFactory, kUpsertEnv>)
    ->Name("Received/Attributes/UpsertEveryspan");
BENCHMARK(BM_Received<NewFilterProcessorFactory, kFilterSpans>)->Name("Received/Filter/Spans");
BENCHMARK(BM_Received<NewProbabilisticSamplerFactory, kProbabilistic10>)
    ->Name("Received/Probabilistic/10pct");
BENCHMARK(BM_Received<NewRuleSamplerFactory, kRules>)->Name("Received/Rule/FourRules");
BENCHMARK(BM_Received<NewAdaptiveSamplerFactory, kAdaptive>)
    ->Name("Received/Adaptive/5kPerService");

BENCHMARK(BM_PassThrough<Realistic>)->Name("Realistic/PassThrough");
BENCHMARK(BM_TrafficObserver<Realistic>)->Name("Realistic/TrafficObserver");
BENCHMARK(BM_Attributes<Realistic, kUpsertEnv>)->Name("Realistic/Attributes/UpsertEveryspan");
BENCHMARK(BM_Attributes<Realistic, kRedact>)->Name("Realistic/Attributes/Redact");
BENCHMARK(BM_Attributes<Realistic, kFiltered>)->Name("Realistic/Attributes/IncludeRegexp");
BENCHMARK(BM_Attributes<Realistic, kNoMatch>)->Name("Realistic/Attributes/NothingToChange");
BENCHMARK(BM_Resource<Realistic, kResource>)->Name("Realistic/Resource/UpsertDelete");
BENCHMARK(BM_Filter<Realistic, kFilterSpans>)->Name("Realistic/Filter/Spans");
BENCHMARK(BM_Filter<Realistic, kFilterDuration>)->Name("Realistic/Filter/Duration");
BENCHMARK(BM_Redaction<Realistic, kRedactBuiltin>)->Name("Realistic/Redaction/Builtin");
BENCHMARK(BM_Redaction<Realistic, kRedactPatterns>)->Name("Realistic/Redaction/Patterns");

BENCHMARK(BM_PassThrough<Standard>)->Name("Standard/PassThrough");
BENCHMARK(BM_TrafficObserver<Standard>)->Name("Standard/TrafficObserver");
BENCHMARK(BM_Attributes<Standard, kUpsertEnv>)->Name("Standard/Attributes/UpsertEveryspan");
BENCHMARK(BM_Attributes<Standard, kRedact>)->Name("Standard/Attributes/Redact");
BENCHMARK(BM_Attributes<Standard, kNoMatch>)->Name("Standard/Attributes/NothingToChange");
BENCHMARK(BM_Resource<Standard, kResource>)->Name("Standard/Resource/UpsertDelete");
BENCHMARK(BM_Filter<Standard, kFilterSpans>)->Name("Standard/Filter/Spans");
BENCHMARK(BM_Filter<Standard, kFilterDuration>)->Name("Standard/Filter/Duration");
BENCHMARK(BM_Filter<Standard, kFilterEvents>)->Name("Standard/Filter/SpanEvents");
BENCHMARK(BM_Redaction<Standard, kRedactBuiltin>)->Name("Standard/Redaction/Builtin");
BENCHMARK(BM_Redaction<Standard, kRedactPatterns>)->Name("Standard/Redaction/Patterns");
BENCHMARK(BM_Probabilistic<Standard, kProbabilistic10>)->Name("Standard/Probabilistic/10pct");
BENCHMARK(BM_Probabilistic<Standard, kHashSeed10>)->Name("Standard/Probabilistic/HashSeed10pct");
BENCHMARK(BM_Probabilistic<Standard, kProbabilistic100>)->Name("Standard/Probabilistic/100pct");
BENCHMARK(BM_Rule<Standard, kRules>)->Name("Standard/Rule/FourRules");
BENCHMARK(BM_Adaptive<Standard, kAdaptive>)->Name("Standard/Adaptive/5kPerService");
BENCHMARK(BM_Probabilistic<Realistic, kProbabilistic10>)->Name("Realistic/Probabilistic/10pct");
BENCHMARK(BM_Rule<Realistic, kRules>)->Name("Realistic/Rule/FourRules");
BENCHMARK(BM_Adaptive<Realistic, kAdaptive>)->Name("Realistic/Adaptive/5kPerService");

}  // namespace
}  // namespace otlpd
