// The validating wire scan (core/otlp_wire.h) against a full protobuf decode, on the
// standard workload: a traces request of 100 spans, each with 10 string attributes
// (20-character keys and values) and one event, under a resource with service.name, with
// random trace and span ids (the same shape bench/loadgen/workload.cc builds).
#include <benchmark/benchmark.h>
#include <google/protobuf/arena.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include "core/id_validation.h"
#include "core/otlp_wire.h"
#include "core/telemetry.h"

namespace otlpd {
namespace {

using opentelemetry::proto::trace::v1::Span;

constexpr int kSpans = 100;
constexpr int kAttributes = 10;
constexpr int kTextLength = 20;

std::string RandomText(std::mt19937_64& rng, int length) {
  static constexpr std::string_view kAlphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string text(length, ' ');
  for (char& c : text) c = kAlphabet[rng() % kAlphabet.size()];
  return text;
}

std::string RandomBytes(std::mt19937_64& rng, int length) {
  std::string bytes(length, '\0');
  for (char& b : bytes) b = static_cast<char>(rng() & 0xff);
  return bytes;
}

// Semantic-convention-like keys padded to the fixed length, the same in every span.
std::string AttributeKey(int index) {
  static constexpr std::string_view kStems[] = {
      "http.request.method",  "http.response.status",  "url.path.template", "server.address",
      "user_agent.original",  "db.system.name",        "messaging.system",  "rpc.service.name",
      "network.peer.address", "deployment.environment"};
  std::string key(kStems[index % std::size(kStems)]);
  key.resize(kTextLength, '_');
  return key;
}

std::string StandardTracesRequest() {
  std::mt19937_64 rng(42);
  TracesRequest request;
  auto* resource_spans = request.add_resource_spans();
  auto* service = resource_spans->mutable_resource()->add_attributes();
  service->set_key("service.name");
  service->mutable_value()->set_string_value("otlpd-loadgen");
  auto* scope_spans = resource_spans->add_scope_spans();
  scope_spans->mutable_scope()->set_name("otlpd.loadgen");
  scope_spans->mutable_scope()->set_version("1.0.0");
  const uint64_t now_ns = 1'700'000'000'000'000'000ULL;
  for (int i = 0; i < kSpans; ++i) {
    Span* span = scope_spans->add_spans();
    span->set_trace_id(RandomBytes(rng, 16));
    span->set_span_id(RandomBytes(rng, 8));
    span->set_name("GET /api/v1/items/" + std::to_string(i % 10));
    span->set_kind(Span::SPAN_KIND_SERVER);
    const uint64_t start_ns = now_ns + rng() % 1'000'000ULL;
    span->set_start_time_unix_nano(start_ns);
    span->set_end_time_unix_nano(start_ns + 1'000'000ULL + rng() % 10'000'000ULL);
    for (int a = 0; a < kAttributes; ++a) {
      auto* attribute = span->add_attributes();
      attribute->set_key(AttributeKey(a));
      attribute->mutable_value()->set_string_value(RandomText(rng, kTextLength));
    }
    auto* event = span->add_events();
    event->set_time_unix_nano(start_ns + 500'000ULL);
    event->set_name("request.received");
  }
  return request.SerializeAsString();
}

const std::string& Request() {
  static const std::string* const bytes = new std::string(StandardTracesRequest());
  return *bytes;
}

void Report(benchmark::State& state, size_t bytes) {
  state.SetItemsProcessed(state.iterations() * kSpans);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}

// Validate, count and id-check the request without decoding it.
void BM_ScanOtlpTraces(benchmark::State& state) {
  const std::string& bytes = Request();
  for (auto _ : state) {
    absl::StatusOr<WireScan> scan = ScanOtlpRequest(Signal::kTraces, bytes);
    if (!scan.ok() || scan->items != kSpans) {
      state.SkipWithError("scan failed");
      break;
    }
    benchmark::DoNotOptimize(scan);
  }
  Report(state, bytes.size());
}
BENCHMARK(BM_ScanOtlpTraces);

// The same scan building the span index (core/span_index.h), as receivers do when a sampler
// is in the pipeline, and as they build it (receivers/otlp/request_decoder.cc): into the
// thread's vector, which the request then takes, the thread reserving a new one with a quarter
// more room (TakeIndex).
void BM_ScanOtlpTracesWithSpanIndex(benchmark::State& state) {
  const std::string& bytes = Request();
  SpanIndex scratch;
  for (auto _ : state) {
    absl::StatusOr<WireScan> scan = ScanOtlpRequest(Signal::kTraces, bytes, &scratch);
    if (!scan.ok() || scratch.size() != kSpans) {
      state.SkipWithError("scan failed");
      break;
    }
    auto index = std::make_shared<const SpanIndex>(std::move(scratch));
    scratch = SpanIndex();
    scratch.reserve(index->size() + index->size() / 4);
    benchmark::DoNotOptimize(index);
  }
  Report(state, bytes.size());
}
BENCHMARK(BM_ScanOtlpTracesWithSpanIndex);

// A full decode into a message on an arena.
void BM_ParseOtlpTracesArena(benchmark::State& state) {
  const std::string& bytes = Request();
  for (auto _ : state) {
    google::protobuf::Arena arena;
    auto* request = google::protobuf::Arena::CreateMessage<TracesRequest>(&arena);
    if (!request->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      state.SkipWithError("parse failed");
      break;
    }
    benchmark::DoNotOptimize(request);
  }
  Report(state, bytes.size());
}
BENCHMARK(BM_ParseOtlpTracesArena);

// What the receiver does today: decode into a Telemetry whose arena's first block is sized
// for the request, then the id pass.
void BM_ParseOtlpTracesReceiverPath(benchmark::State& state) {
  const std::string& bytes = Request();
  for (auto _ : state) {
    Telemetry data(Signal::kTraces, 2 * bytes.size());
    if (!data.mutable_message()->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      state.SkipWithError("parse failed");
      break;
    }
    IdValidation ids = RemoveInvalidItems(&data);
    benchmark::DoNotOptimize(ids);
  }
  Report(state, bytes.size());
}
BENCHMARK(BM_ParseOtlpTracesReceiverPath);

}  // namespace
}  // namespace otlpd
