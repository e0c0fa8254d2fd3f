#include "core/telemetry.h"

#include <cassert>

namespace otlpd {

namespace {

std::unique_ptr<google::protobuf::Arena> MakeArena(size_t initial_block) {
  if (initial_block == 0) return std::make_unique<google::protobuf::Arena>();
  // Arena blocks must be 8-byte multiples: protobuf 3.21 carves cleanup nodes from the end
  // of a block and would misalign them otherwise.
  initial_block = (initial_block + 63) & ~size_t{63};
  google::protobuf::ArenaOptions options;
  options.start_block_size = initial_block;
  options.max_block_size = std::max<size_t>(initial_block, 1 << 20);
  return std::make_unique<google::protobuf::Arena>(options);
}

}  // namespace

Telemetry::Telemetry(Signal signal, size_t initial_block)
    : signal_(signal), arena_(MakeArena(initial_block)) {
  switch (signal) {
    case Signal::kTraces:
      message_ = google::protobuf::Arena::CreateMessage<TracesRequest>(arena_.get());
      break;
    case Signal::kMetrics:
      message_ = google::protobuf::Arena::CreateMessage<MetricsRequest>(arena_.get());
      break;
    case Signal::kLogs:
      message_ = google::protobuf::Arena::CreateMessage<LogsRequest>(arena_.get());
      break;
  }
}

Telemetry::~Telemetry() = default;

const TracesRequest& Telemetry::traces() const {
  assert(signal_ == Signal::kTraces);
  return static_cast<const TracesRequest&>(*message_);
}
const MetricsRequest& Telemetry::metrics() const {
  assert(signal_ == Signal::kMetrics);
  return static_cast<const MetricsRequest&>(*message_);
}
const LogsRequest& Telemetry::logs() const {
  assert(signal_ == Signal::kLogs);
  return static_cast<const LogsRequest&>(*message_);
}
TracesRequest* Telemetry::mutable_traces() {
  assert(signal_ == Signal::kTraces);
  return static_cast<TracesRequest*>(message_);
}
MetricsRequest* Telemetry::mutable_metrics() {
  assert(signal_ == Signal::kMetrics);
  return static_cast<MetricsRequest*>(message_);
}
LogsRequest* Telemetry::mutable_logs() {
  assert(signal_ == Signal::kLogs);
  return static_cast<LogsRequest*>(message_);
}

size_t Telemetry::ItemCount() const { return CountItems(signal_, *message_); }

size_t CountItems(const TracesRequest& r) {
  size_t n = 0;
  for (const auto& rs : r.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
  }
  return n;
}

size_t CountItems(const MetricsRequest& r) {
  using opentelemetry::proto::metrics::v1::Metric;
  size_t n = 0;
  for (const auto& rm : r.resource_metrics()) {
    for (const auto& sm : rm.scope_metrics()) {
      for (const auto& m : sm.metrics()) {
        switch (m.data_case()) {
          case Metric::kGauge:
            n += m.gauge().data_points_size();
            break;
          case Metric::kSum:
            n += m.sum().data_points_size();
            break;
          case Metric::kHistogram:
            n += m.histogram().data_points_size();
            break;
          case Metric::kExponentialHistogram:
            n += m.exponential_histogram().data_points_size();
            break;
          case Metric::kSummary:
            n += m.summary().data_points_size();
            break;
          case Metric::DATA_NOT_SET:
            break;
        }
      }
    }
  }
  return n;
}

size_t CountItems(const LogsRequest& r) {
  size_t n = 0;
  for (const auto& rl : r.resource_logs()) {
    for (const auto& sl : rl.scope_logs()) n += sl.log_records_size();
  }
  return n;
}

size_t CountItems(Signal signal, const google::protobuf::Message& m) {
  switch (signal) {
    case Signal::kTraces:
      return CountItems(static_cast<const TracesRequest&>(m));
    case Signal::kMetrics:
      return CountItems(static_cast<const MetricsRequest&>(m));
    case Signal::kLogs:
      return CountItems(static_cast<const LogsRequest&>(m));
  }
  return 0;
}

}  // namespace otlpd
