#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/config_node.h"
#include "core/consumer.h"
#include "core/telemetry.h"
#include "processors/tail_sampling/config.h"
#include "processors/tail_sampling/factory.h"

namespace otlpd::tailtest {

using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::trace::v1::Span;

// A 16-byte trace id made of `n`, with its randomness (the low 7 bytes) spread by a mixer so
// that ids of consecutive n are uniform random to the samplers.
inline std::string TraceIdOf(uint64_t n) {
  uint64_t x = n + 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  x ^= x >> 31;
  std::string id(16, '\0');
  for (int i = 0; i < 8; ++i) id[i] = static_cast<char>(n >> (56 - 8 * i));
  for (int i = 0; i < 8; ++i) id[8 + i] = static_cast<char>(x >> (56 - 8 * i));
  return id;
}

inline KeyValue Str(const std::string& k, const std::string& v) {
  KeyValue kv;
  kv.set_key(k);
  kv.mutable_value()->set_string_value(v);
  return kv;
}
inline KeyValue Int(const std::string& k, int64_t v) {
  KeyValue kv;
  kv.set_key(k);
  kv.mutable_value()->set_int_value(v);
  return kv;
}
inline KeyValue Bool(const std::string& k, bool v) {
  KeyValue kv;
  kv.set_key(k);
  kv.mutable_value()->set_bool_value(v);
  return kv;
}

// Adds a span of trace `trace_id` under a resource with service.name `service` (a new
// resource entry each call).
inline Span* AddSpan(TracesRequest* r, const std::string& service, const std::string& trace_id,
                     uint64_t span_n) {
  auto* rs = r->add_resource_spans();
  *rs->mutable_resource()->add_attributes() = Str("service.name", service);
  Span* span = rs->add_scope_spans()->add_spans();
  span->set_trace_id(trace_id);
  std::string sid(8, '\0');
  for (int i = 0; i < 8; ++i) sid[i] = static_cast<char>((span_n + 1) >> (56 - 8 * i));
  span->set_span_id(sid);
  span->set_name(absl::StrCat("op-", span_n % 5));
  span->set_start_time_unix_nano(1'700'000'000'000'000'000ull);
  span->set_end_time_unix_nano(1'700'000'000'000'000'000ull + 1'000'000);
  return span;
}

inline TelemetryPtr Wrap(const TracesRequest& r) {
  std::string bytes = r.SerializeAsString();
  size_t spans = CountItems(r);
  return Telemetry::FromWire(Signal::kTraces, absl::Cord(std::move(bytes)), spans);
}

// Records what reaches it; answers with `status` (OK unless a test sets it).
class Sink : public Consumer {
 public:
  void Consume(TelemetryPtr data, Completion done) override {
    absl::Status s;
    {
      absl::MutexLock lock(&mu_);
      s = status_;
      if (s.ok()) {
        received_.push_back(data->traces());
        spans_ += static_cast<int64_t>(data->ItemCount());
      }
    }
    std::move(done)(s);
  }
  void set_status(absl::Status s) {
    absl::MutexLock lock(&mu_);
    status_ = std::move(s);
  }
  int64_t spans() {
    absl::MutexLock lock(&mu_);
    return spans_;
  }
  std::vector<TracesRequest> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }
  // Every received span with its resource's service.name.
  std::vector<std::pair<std::string, Span>> Spans() {
    std::vector<std::pair<std::string, Span>> out;
    for (const TracesRequest& r : received()) {
      for (const auto& rs : r.resource_spans()) {
        std::string service;
        for (const auto& kv : rs.resource().attributes()) {
          if (kv.key() == "service.name") service = kv.value().string_value();
        }
        for (const auto& ss : rs.scope_spans()) {
          for (const Span& s : ss.spans()) out.emplace_back(service, s);
        }
      }
    }
    return out;
  }

 private:
  absl::Mutex mu_;
  absl::Status status_;
  std::vector<TracesRequest> received_;
  int64_t spans_ = 0;
};

// Parses `yaml` as tail_sampling settings; errors go to `diag`.
inline std::unique_ptr<TailSamplingConfig> ParseTail(const std::string& yaml, Diagnostics* diag) {
  auto factory = NewTailSamplingProcessorFactory();
  ConfigNode node(YAML::Load(yaml), "processors::tail_sampling", diag);
  auto config = factory->ParseConfig(node);
  node.ReportUnknownKeys();
  return std::unique_ptr<TailSamplingConfig>(static_cast<TailSamplingConfig*>(config.release()));
}

}  // namespace otlpd::tailtest
