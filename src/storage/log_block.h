#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"

namespace otlpd::storage {

// The warm/cold form of logs: the records of many requests in columns (column_file.h), each
// zstd'd on its own. What makes logs small:
//   - bodies are split into a template and its variables: digit runs become integers in
//     one column per (template, position), tokens such as hex ids become strings in a
//     dictionary per (template, position); "GET /api/users/{n} 200 in {n}.{n}ms" is stored
//     once per block;
//   - attributes are stored per key (AttrWriter), times as deltas, observed times as
//     offsets from the time, severity texts, resources and scopes as dictionaries;
//   - trace and span ids as move-to-front references: the lines of one request share them.
// Lossless: the requests read back are the requests added (same messages, same order;
// fields this format does not know are kept as bytes).
class LogBlockBuilder {
 public:
  using LogsRequest = opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest;

  LogBlockBuilder();
  ~LogBlockBuilder();
  LogBlockBuilder(const LogBlockBuilder&) = delete;
  LogBlockBuilder& operator=(const LogBlockBuilder&) = delete;

  void Add(int64_t receive_ns, const LogsRequest& request);
  size_t record_count() const;
  size_t request_count() const;
  // Encodes everything added so far; the builder may not be used afterwards.
  absl::StatusOr<std::string> Finish(int zstd_level);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// BlockMeta.format of log blocks.
inline constexpr std::string_view kLogBlockFormat = "log_block";

// Calls fn for each request of the block, in the order they were added. DataLoss naming the
// section and offset when the block is damaged (fn may have been called for earlier ones).
absl::Status ForEachLogsRequest(
    std::string block,
    const std::function<void(int64_t receive_ns, LogBlockBuilder::LogsRequest&& request)>& fn);

// The same over a block of logs in either format: a log block, or a record block (zstd'd
// requests: what stores wrote before log blocks).
absl::Status ForEachLogsRequestIn(
    std::string_view format, std::string block,
    const std::function<void(int64_t receive_ns, LogBlockBuilder::LogsRequest&& request)>& fn);

}  // namespace otlpd::storage
