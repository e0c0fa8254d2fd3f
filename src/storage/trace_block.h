// Warm/cold tier trace blocks: immutable, compressed, columnar.
//
// A block holds the spans of a time window, grouped by trace id (sorted) and, within a
// trace, by start time. Each column is compressed on its own with zstd so that similar
// values sit together:
//   - trace ids once per trace (sorted: the trace-id index; a trace's rows follow from the
//     span counts), trace start times relative to the block's earliest start, and a bloom
//     filter over trace ids (10 bits per trace);
//   - per span: the 8-byte span id, the parent as a row reference within the trace (its id
//     is not stored again), start as a delta from the previous span of the trace, duration
//     (both with their noisy low 16 bits in byte planes of their own), and dictionary ids
//     for name, kind, (resource, scope) pair, trace state and status;
//   - attributes per key: each row stores a "shape" id (its ordered list of keys); each key
//     has a type column, a value column and a string dictionary, where a string seen for
//     the first time costs no id (ids follow the order of first appearance);
//   - resources and scopes (with schema URLs) once per block, referenced by id.
// Every section carries an xxhash64 of its stored bytes, sections tile the block, and the
// directory of sections sits before a fixed footer with its own checksum: corruption is
// reported as DataLoss naming the section and its byte offset. The encoding is lossless for
// every OTLP span field (unusual attribute values are kept as serialized AnyValues).
//
// A reader decompresses a column when first needed and keeps it (about 60 bytes per span
// for realistic traces); the first GetTrace also records a decoding checkpoint every 128
// traces so that later lookups decode at most that many.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "storage/store_reader.h"

namespace otlpd::storage {

// Summary of a block, kept beside it (a block is visible once its meta is written).
struct TraceBlockMeta {
  uint64_t min_start_unix_nano = 0;  // earliest span start
  uint64_t max_end_unix_nano = 0;    // latest span end
  uint64_t span_count = 0;
  uint64_t trace_count = 0;
  std::vector<std::string> services;  // service.name values, sorted, unique
  uint64_t input_bytes = 0;           // OTLP protobuf bytes of the spans (approximate)
  uint64_t block_bytes = 0;           // size of the encoded block
  uint64_t checksum = 0;              // xxhash64 of the whole block

  std::string Encode() const;
  static absl::StatusOr<TraceBlockMeta> Decode(std::string_view bytes);
  bool operator==(const TraceBlockMeta&) const = default;
};

class TraceBlockBuilder {
 public:
  TraceBlockBuilder();
  ~TraceBlockBuilder();
  TraceBlockBuilder(const TraceBlockBuilder&) = delete;
  TraceBlockBuilder& operator=(const TraceBlockBuilder&) = delete;

  // Copies the spans; spans of one trace may arrive across calls.
  void Add(const opentelemetry::proto::trace::v1::ResourceSpans& resource_spans);
  size_t span_count() const;
  size_t approx_input_bytes() const;
  // Encodes everything added so far (zstd level: warm ~3, cold ~19). The builder may not be
  // used afterwards.
  absl::StatusOr<std::string> Finish(int zstd_level, TraceBlockMeta* meta);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

class TraceBlockReader {
 public:
  // Checks the header, footer and section directory; columns are read lazily.
  static absl::StatusOr<TraceBlockReader> Open(std::string block_bytes);

  TraceBlockReader(TraceBlockReader&&) noexcept;
  TraceBlockReader& operator=(TraceBlockReader&&) noexcept;
  ~TraceBlockReader();

  size_t span_count() const;
  size_t trace_count() const;

  // False only when the block holds no span of the trace (bloom filter: no false negatives).
  bool MayContain(const TraceId& id) const;
  // The trace's spans grouped by resource and scope; nullopt when the block has none.
  absl::StatusOr<std::optional<opentelemetry::proto::trace::v1::TracesData>> GetTrace(
      const TraceId& id) const;
  // Appends (trace id, start of its latest matching span in ns) for the traces of this block
  // that match `query` (StoreReader's semantics), at most query.limit of them (the most
  // recent; the global top `limit` across blocks is a subset of the per-block tops).
  absl::Status Search(const TraceQuery& query, std::vector<std::pair<TraceId, int64_t>>* out) const;
  absl::StatusOr<std::vector<std::string>> Services() const;
  absl::StatusOr<std::vector<Operation>> Operations(const std::string& service,
                                                    const std::string& span_kind) const;
  // Every span, one ResourceSpans per (resource, scope) run, in block order.
  absl::Status ForEach(
      const std::function<absl::Status(opentelemetry::proto::trace::v1::ResourceSpans&&)>& fn)
      const;
  absl::StatusOr<opentelemetry::proto::trace::v1::TracesData> ReadAll() const;
  // Checks every section's checksum and that every column decodes.
  absl::Status Verify() const;

  struct State;  // the decoded directory and dictionaries (defined in trace_block.cc)

 private:
  explicit TraceBlockReader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace otlpd::storage
