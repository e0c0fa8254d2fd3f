#include "core/telemetry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <climits>

namespace otlpd {

namespace {
std::atomic<bool> span_index_requested{false};

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

void RequestSpanIndex() { span_index_requested.store(true, std::memory_order_relaxed); }
bool SpanIndexRequested() { return span_index_requested.load(std::memory_order_relaxed); }

bool ParseFromCord(const absl::Cord& wire, google::protobuf::Message* out) {
  if (wire.size() > static_cast<size_t>(INT_MAX)) return false;
  if (absl::optional<absl::string_view> flat = wire.TryFlat()) {
    return out->ParseFromArray(flat->data(), static_cast<int>(flat->size()));
  }
  std::string copy(wire);  // a concatenation: one copy, cheap next to decoding
  return out->ParseFromArray(copy.data(), static_cast<int>(copy.size()));
}

google::protobuf::Message* Telemetry::NewMessage(google::protobuf::Arena* arena) const {
  switch (signal_) {
    case Signal::kTraces:
      return google::protobuf::Arena::CreateMessage<TracesRequest>(arena);
    case Signal::kMetrics:
      return google::protobuf::Arena::CreateMessage<MetricsRequest>(arena);
    case Signal::kLogs:
      return google::protobuf::Arena::CreateMessage<LogsRequest>(arena);
  }
  return nullptr;
}

Telemetry::Telemetry(Signal signal, size_t initial_block)
    : signal_(signal), arena_(MakeArena(initial_block)) {
  message_ = NewMessage(arena_.get());
  message_ready_.store(true, std::memory_order_release);
}

Telemetry::Telemetry(WireTag, Signal signal, absl::Cord wire, size_t items)
    : signal_(signal), wire_(std::move(wire)), items_(items) {
  byte_size_.store(wire_.size(), std::memory_order_relaxed);
  wire_ready_.store(true, std::memory_order_release);
}

std::shared_ptr<Telemetry> Telemetry::FromWire(Signal signal, absl::Cord wire, size_t items) {
  // One allocation for the object and its control block.
  return std::make_shared<Telemetry>(WireTag{}, signal, std::move(wire), items);
}

Telemetry::~Telemetry() = default;

void Telemetry::Decode() const {
  absl::MutexLock lock(&lazy_mu_);
  if (message_ready_.load(std::memory_order_relaxed)) return;
  // Decoded protobuf takes about twice its encoded size.
  arena_ = MakeArena(std::max<size_t>(2 * wire_.size(), 1024));
  message_ = NewMessage(arena_.get());
  if (!ParseFromCord(wire_, message_)) {
    // Receivers only make a Telemetry from bytes ScanOtlpRequest accepted, which parse.
    spdlog::error("cannot decode a {} request of {} bytes that passed the wire scan",
                  SignalName(signal_), wire_.size());
    message_->Clear();
  }
  message_ready_.store(true, std::memory_order_release);
}

void Telemetry::Encode() const {
  absl::MutexLock lock(&lazy_mu_);
  if (wire_ready_.load(std::memory_order_relaxed)) return;
  wire_ = absl::Cord(message_->SerializeAsString());
  byte_size_.store(wire_.size(), std::memory_order_relaxed);
  wire_ready_.store(true, std::memory_order_release);
}

const google::protobuf::Message& Telemetry::message() const {
  if (!message_ready_.load(std::memory_order_acquire)) Decode();
  return *message_;
}

const TracesRequest& Telemetry::traces() const {
  assert(signal_ == Signal::kTraces);
  return static_cast<const TracesRequest&>(message());
}
const MetricsRequest& Telemetry::metrics() const {
  assert(signal_ == Signal::kMetrics);
  return static_cast<const MetricsRequest&>(message());
}
const LogsRequest& Telemetry::logs() const {
  assert(signal_ == Signal::kLogs);
  return static_cast<const LogsRequest&>(message());
}

google::protobuf::Message* Telemetry::mutable_message() {
  if (!message_ready_.load(std::memory_order_acquire)) Decode();
  // The bytes (if any) describe the message before the caller's change.
  span_index_.reset();
  if (wire_ready_.load(std::memory_order_relaxed)) {
    wire_.Clear();
    wire_ready_.store(false, std::memory_order_relaxed);
  }
  items_.store(kUnknown, std::memory_order_relaxed);
  byte_size_.store(kUnknown, std::memory_order_relaxed);
  return message_;
}
TracesRequest* Telemetry::mutable_traces() {
  assert(signal_ == Signal::kTraces);
  return static_cast<TracesRequest*>(mutable_message());
}
MetricsRequest* Telemetry::mutable_metrics() {
  assert(signal_ == Signal::kMetrics);
  return static_cast<MetricsRequest*>(mutable_message());
}
LogsRequest* Telemetry::mutable_logs() {
  assert(signal_ == Signal::kLogs);
  return static_cast<LogsRequest*>(mutable_message());
}

google::protobuf::Arena* Telemetry::arena() {
  if (!message_ready_.load(std::memory_order_acquire)) Decode();
  return arena_.get();
}

const absl::Cord& Telemetry::wire() const {
  if (!wire_ready_.load(std::memory_order_acquire)) Encode();
  return wire_;
}

size_t Telemetry::ByteSize() const {
  size_t n = byte_size_.load(std::memory_order_relaxed);
  if (n == kUnknown) {
    n = message().ByteSizeLong();
    byte_size_.store(n, std::memory_order_relaxed);
  }
  return n;
}

size_t Telemetry::ItemCount() const {
  size_t n = items_.load(std::memory_order_relaxed);
  if (n == kUnknown) {
    n = CountItems(signal_, message());
    items_.store(n, std::memory_order_relaxed);
  }
  return n;
}

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
