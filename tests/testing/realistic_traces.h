// Deterministic OTLP trace generators for storage tests and benchmarks (here, in the test
// helpers, so that sanitizer builds without bench/ have them; bench/ builds this file into
// otlpd_bench_data).
//
// MakeRealisticTraces models a small microservice shop: a dozen services with several
// pods each, whole traces of 4–30 spans that cross services (client/server pairs, database,
// cache and messaging calls), semantic-convention attributes with realistic cardinality,
// a few % errors with exception events, random ids. About 350 bytes of OTLP protobuf per
// span. Storage sizes are judged on it (README §3).
//
// MakeRandomAttributeTraces is the standard throughput workload of README §3: 100 spans per
// request, 10 attributes of 20-character keys and random 20-character values, one event,
// a resource with service.name; nearly incompressible.
#pragma once

#include <cstddef>
#include <random>

#include "absl/time/time.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace otlpd::bench {

using TracesRequest = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

// Whole traces (at least `min_spans` spans in all) whose roots start at `start` and after,
// a few ms apart; spans grouped by pod (resource) and instrumentation scope like a
// collector's batch. The service topology (services, pods) is fixed; everything else
// follows from `rng`.
TracesRequest MakeRealisticTraces(std::mt19937_64& rng, size_t min_spans, absl::Time start);

// The standard workload: `spans` spans (100 per request in the README), one span per trace
// (random trace and span ids), starting around `start`.
TracesRequest MakeRandomAttributeTraces(std::mt19937_64& rng, size_t spans, absl::Time start);

// Request `i` of a varied series for comparing two ways of reading spans (the span index
// tests): realistic traces for even i, the random-attribute workload for odd i, `spans` each.
TracesRequest MakeVariedTraces(std::mt19937_64& rng, int i, size_t spans, absl::Time start);

// Sets what the generators leave out and samplers and filters read, on a fixed share of the
// spans in order: every 4th gets a tracestate with `ot=rv`, every 7th a `sampling.priority`
// (alternately 0 and 1), every 5th an error status.
void AddSamplingFields(TracesRequest* request);

}  // namespace otlpd::bench
