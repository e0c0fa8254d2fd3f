// Helpers for the sampling processors' tests: span populations with random trace ids over a
// few services, a processor built from YAML through its factory on a TestHost, and the
// Horvitz-Thompson estimate Σ 1/p of what was kept, read from each kept span's `th`.
#pragma once

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/cord.h"
#include "core/config_node.h"
#include "core/factory.h"
#include "core/telemetry.h"
#include "processors/consistent_sampling/tracestate.h"
#include "testing/test_host.h"

namespace otlpd::samplingtest {

using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::trace::v1::Span;

inline KeyValue Str(std::string key, std::string v) {
  KeyValue kv;
  kv.set_key(std::move(key));
  kv.mutable_value()->set_string_value(std::move(v));
  return kv;
}
inline KeyValue Int(std::string key, int64_t v) {
  KeyValue kv;
  kv.set_key(std::move(key));
  kv.mutable_value()->set_int_value(v);
  return kv;
}

inline std::string RandomId(std::mt19937_64& rng, size_t size) {
  std::string id(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < size; ++j) id[i + j] = static_cast<char>(v >> (8 * j));
  }
  return id;
}

// A request of `spans_per_service` spans for each of `services`, each in its own resource
// (service.name) and scope, with random trace and span ids; every span has name "op<i%5>",
// kind SERVER, an `index` attribute and a 1 ms duration.
inline TracesRequest MakeSpans(std::mt19937_64& rng, const std::vector<std::string>& services,
                               int spans_per_service) {
  TracesRequest request;
  for (const std::string& service : services) {
    auto* rs = request.add_resource_spans();
    *rs->mutable_resource()->add_attributes() = Str("service.name", service);
    auto* ss = rs->add_scope_spans();
    ss->mutable_scope()->set_name("test");
    for (int i = 0; i < spans_per_service; ++i) {
      Span* span = ss->add_spans();
      span->set_trace_id(RandomId(rng, 16));
      span->set_span_id(RandomId(rng, 8));
      span->set_name("op" + std::to_string(i % 5));
      span->set_kind(Span::SPAN_KIND_SERVER);
      span->set_start_time_unix_nano(1'700'000'000'000'000'000ull + i);
      span->set_end_time_unix_nano(1'700'000'000'001'000'000ull + i);
      *span->add_attributes() = Int("index", i);
    }
  }
  return request;
}

template <class Request>
TelemetryPtr ToTelemetry(Signal signal, const Request& request) {
  return Telemetry::FromWire(signal, absl::Cord(request.SerializeAsString()), CountItems(request));
}

// Records what reaches it; completes at once.
class Sink : public Consumer {
 public:
  void Consume(TelemetryPtr data, Completion done) override {
    received.push_back(std::move(data));
    std::move(done)(absl::OkStatus());
  }
  std::vector<TelemetryPtr> received;
};

struct Harness {
  Harness(const ProcessorFactory& factory, const std::string& yaml, Signal signal)
      : sink(std::make_shared<Sink>()) {
    Diagnostics diag;
    ConfigNode node(YAML::Load(yaml), "processors::sampler", &diag);
    config = factory.ParseConfig(node);
    node.ReportUnknownKeys();
    EXPECT_TRUE(diag.ok()) << diag.Format();
    CreateSettings settings;
    settings.id = ComponentId{std::string(factory.type()), ""};
    settings.host = &host;
    auto created = factory.Create(settings, *config, signal, sink);
    EXPECT_TRUE(created.ok()) << created.status();
    if (created.ok()) processor = std::move(*created);
  }

  // Consumes `data`, returning the status its completion got.
  absl::Status Send(TelemetryPtr data) {
    absl::Status result = absl::UnknownError("not completed");
    processor->Consume(std::move(data), [&result](absl::Status s) { result = s; });
    return result;
  }

  testing::TestHost host;
  std::unique_ptr<ComponentConfig> config;
  std::shared_ptr<Sink> sink;
  std::unique_ptr<Processor> processor;
};

// Parses `yaml` with `factory`; the diagnostics' text ("" when valid).
inline std::string ConfigErrors(const ProcessorFactory& factory, const std::string& yaml) {
  Diagnostics diag;
  ConfigNode node(YAML::Load(yaml), "processors::sampler", &diag);
  auto config = factory.ParseConfig(node);
  node.ReportUnknownKeys();
  return diag.ok() ? "" : diag.Format();
}

// The `th` a span carries, or nullopt.
inline std::optional<uint64_t> SpanThreshold(const Span& span) {
  auto ts = consistent_sampling::ParseTraceState(span.trace_state());
  if (!ts.ok()) return std::nullopt;
  return ts->ot.threshold;
}

// Per service: spans kept and Σ 1/p over them (p from each span's th).
struct Estimate {
  int64_t kept = 0;
  double weighted = 0;
  int64_t without_th = 0;
};
inline void AddEstimates(const TracesRequest& request, std::map<std::string, Estimate>* out) {
  for (const auto& rs : request.resource_spans()) {
    std::string service;
    for (const auto& kv : rs.resource().attributes()) {
      if (kv.key() == "service.name") service = kv.value().string_value();
    }
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        Estimate& e = (*out)[service];
        ++e.kept;
        std::optional<uint64_t> th = SpanThreshold(span);
        if (!th) {
          ++e.without_th;
          continue;
        }
        e.weighted += consistent_sampling::AdjustedCount(*th);
      }
    }
  }
}

}  // namespace otlpd::samplingtest
