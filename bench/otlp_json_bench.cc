// OTLP/JSON decode and encode of a typical traces request: 100 spans, each with 10 string
// attributes (20-character keys and values) and one event, under one resource. Also the
// load generator's standard workload request (bench/loadgen/workload.cc) as the OTLP/HTTP
// JSON receiver gets it: reflective decode (DecodeOtlpJson) against transcoding to the
// protobuf encoding (TranscodeOtlpJson), which is what the receiver does now.
#include <benchmark/benchmark.h>
#include <google/protobuf/arena.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/otlp_json.h"
#include "core/otlp_wire.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "workload.h"

namespace otlpd {
namespace {

using TracesRequest = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

constexpr int kSpans = 100;

// A 20-character string distinct per (prefix, i, j).
std::string Text20(char prefix, int i, int j) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%c%03d-%03d-abcdefghijklm", prefix, i, j);
  return std::string(buf, 20);
}

TracesRequest MakeRequest() {
  TracesRequest request;
  auto* rs = request.add_resource_spans();
  auto* service = rs->mutable_resource()->add_attributes();
  service->set_key("service.name");
  service->mutable_value()->set_string_value("checkout-service");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("io.opentelemetry.bench");
  ss->mutable_scope()->set_version("1.0.0");
  for (int i = 0; i < kSpans; ++i) {
    auto* span = ss->add_spans();
    std::string trace_id(16, '\0');
    std::string span_id(8, '\0');
    for (int b = 0; b < 16; ++b) trace_id[b] = static_cast<char>(i * 31 + b + 1);
    for (int b = 0; b < 8; ++b) span_id[b] = static_cast<char>(i * 17 + b + 1);
    span->set_trace_id(trace_id);
    span->set_span_id(span_id);
    span->set_name("GET /api/v1/items");
    span->set_kind(opentelemetry::proto::trace::v1::Span::SPAN_KIND_SERVER);
    span->set_start_time_unix_nano(1700000000000000000ull + i * 1000);
    span->set_end_time_unix_nano(1700000000000500000ull + i * 1000);
    for (int j = 0; j < 10; ++j) {
      auto* kv = span->add_attributes();
      kv->set_key(Text20('k', i, j));
      kv->mutable_value()->set_string_value(Text20('v', i, j));
    }
    auto* event = span->add_events();
    event->set_name("exception");
    event->set_time_unix_nano(1700000000000250000ull + i * 1000);
    span->mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_OK);
  }
  return request;
}

// Decodes `json` into a TracesRequest on a fresh arena per iteration.
void DecodeLoop(benchmark::State& state, const std::string& json, int spans,
                const google::protobuf::ArenaOptions& options) {
  for (auto _ : state) {
    google::protobuf::Arena arena(options);
    auto* request = google::protobuf::Arena::CreateMessage<TracesRequest>(&arena);
    absl::Status status = DecodeOtlpJson(json, request);
    if (!status.ok()) {
      state.SkipWithError(std::string(status.message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(request);
  }
  state.SetItemsProcessed(state.iterations() * spans);
  state.SetBytesProcessed(state.iterations() * json.size());
}

void BM_DecodeOtlpJsonTraces(benchmark::State& state) {
  DecodeLoop(state, EncodeOtlpJson(MakeRequest()), kSpans, {});
}
BENCHMARK(BM_DecodeOtlpJsonTraces);

void BM_EncodeOtlpJsonTraces(benchmark::State& state) {
  const TracesRequest request = MakeRequest();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string json = EncodeOtlpJson(request);
    bytes = json.size();
    benchmark::DoNotOptimize(json);
  }
  state.SetItemsProcessed(state.iterations() * kSpans);
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_EncodeOtlpJsonTraces);

// The standard workload request, as the load generator sends it over OTLP/HTTP JSON.
const std::string& WorkloadJson() {
  static const std::string* json =
      new std::string(loadgen::EncodeOtlpJson(loadgen::BuildTraceRequest({}, 1)));
  return *json;
}
constexpr int kWorkloadSpans = loadgen::WorkloadOptions{}.spans_per_request;

// What the receiver did before: decode into a message on an arena sized like the text.
void BM_WorkloadDecodeOtlpJson(benchmark::State& state) {
  const std::string& json = WorkloadJson();
  google::protobuf::ArenaOptions options;
  options.start_block_size = json.size();
  DecodeLoop(state, json, kWorkloadSpans, options);
}
BENCHMARK(BM_WorkloadDecodeOtlpJson);

void BM_WorkloadTranscodeOtlpJson(benchmark::State& state) {
  const std::string& json = WorkloadJson();
  size_t wire_size = 0;
  for (auto _ : state) {
    absl::StatusOr<std::string> wire = TranscodeOtlpJson(json, TracesRequest::descriptor());
    if (!wire.ok()) {
      state.SkipWithError(std::string(wire.status().message()).c_str());
      break;
    }
    wire_size = wire->size();
    benchmark::DoNotOptimize(wire);
  }
  state.SetItemsProcessed(state.iterations() * kWorkloadSpans);
  state.SetBytesProcessed(state.iterations() * json.size());
  state.counters["wire_bytes"] = static_cast<double>(wire_size);
  state.counters["json_bytes"] = static_cast<double>(json.size());
}
BENCHMARK(BM_WorkloadTranscodeOtlpJson);

// The receiver's whole path for a JSON request: transcode, then the wire scan.
void BM_WorkloadTranscodeAndScan(benchmark::State& state) {
  const std::string& json = WorkloadJson();
  for (auto _ : state) {
    absl::StatusOr<std::string> wire = TranscodeOtlpJson(json, TracesRequest::descriptor());
    absl::StatusOr<WireScan> scan = ScanOtlpRequest(Signal::kTraces, *wire);
    if (!scan.ok() || scan->items != kWorkloadSpans) {
      state.SkipWithError("the transcoded request does not scan");
      break;
    }
    benchmark::DoNotOptimize(scan);
  }
  state.SetItemsProcessed(state.iterations() * kWorkloadSpans);
}
BENCHMARK(BM_WorkloadTranscodeAndScan);

// For a pipeline that needs the message after all: transcode, then protobuf's parser.
void BM_WorkloadTranscodeThenParse(benchmark::State& state) {
  const std::string& json = WorkloadJson();
  google::protobuf::ArenaOptions options;
  options.start_block_size = 2 * json.size();
  for (auto _ : state) {
    absl::StatusOr<std::string> wire = TranscodeOtlpJson(json, TracesRequest::descriptor());
    google::protobuf::Arena arena(options);
    auto* request = google::protobuf::Arena::CreateMessage<TracesRequest>(&arena);
    if (!request->ParseFromString(*wire)) {
      state.SkipWithError("the transcoded request does not parse");
      break;
    }
    benchmark::DoNotOptimize(request);
  }
  state.SetItemsProcessed(state.iterations() * kWorkloadSpans);
}
BENCHMARK(BM_WorkloadTranscodeThenParse);

}  // namespace
}  // namespace otlpd
