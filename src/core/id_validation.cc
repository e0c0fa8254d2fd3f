#include "core/id_validation.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace otlpd {

namespace {

using opentelemetry::proto::logs::v1::LogRecord;
using opentelemetry::proto::trace::v1::Span;

bool AllZero(const std::string& id) {
  for (char c : id) {
    if (c != 0) return false;
  }
  return true;
}

bool SpanIdsValid(const Span& span) {
  if (!IsValidTraceId(span.trace_id()) || !IsValidSpanId(span.span_id())) return false;
  if (!span.parent_span_id().empty() && span.parent_span_id().size() != 8) return false;
  for (const auto& link : span.links()) {
    if (!IsValidTraceId(link.trace_id()) || !IsValidSpanId(link.span_id())) return false;
  }
  return true;
}

bool LogIdsValid(const LogRecord& log) {
  return (log.trace_id().empty() || log.trace_id().size() == 16) &&
         (log.span_id().empty() || log.span_id().size() == 8);
}

// Keeps the elements `valid` accepts, in order. Only pointers move, and only after the
// first invalid element.
template <class T, class Pred>
IdValidation Compact(google::protobuf::RepeatedPtrField<T>* items, Pred valid) {
  const int n = items->size();
  int kept = 0;
  for (int i = 0; i < n; ++i) {
    if (!valid(items->Get(i))) continue;
    if (kept != i) items->SwapElements(kept, i);
    ++kept;
  }
  if (kept != n) items->DeleteSubrange(kept, n - kept);
  return {static_cast<size_t>(kept), static_cast<size_t>(n - kept)};
}

void Accumulate(IdValidation* total, IdValidation part) {
  total->kept += part.kept;
  total->rejected += part.rejected;
}

}  // namespace

bool IsValidTraceId(const std::string& id) { return id.size() == 16 && !AllZero(id); }

bool IsValidSpanId(const std::string& id) { return id.size() == 8 && !AllZero(id); }

IdValidation RemoveInvalidSpans(TracesRequest* request) {
  IdValidation total;
  for (auto& rs : *request->mutable_resource_spans()) {
    for (auto& ss : *rs.mutable_scope_spans()) {
      Accumulate(&total, Compact(ss.mutable_spans(), SpanIdsValid));
    }
  }
  return total;
}

IdValidation RemoveInvalidLogRecords(LogsRequest* request) {
  IdValidation total;
  for (auto& rl : *request->mutable_resource_logs()) {
    for (auto& sl : *rl.mutable_scope_logs()) {
      Accumulate(&total, Compact(sl.mutable_log_records(), LogIdsValid));
    }
  }
  return total;
}

IdValidation RemoveInvalidItems(Telemetry* data) {
  switch (data->signal()) {
    case Signal::kTraces:
      return RemoveInvalidSpans(data->mutable_traces());
    case Signal::kLogs:
      return RemoveInvalidLogRecords(data->mutable_logs());
    case Signal::kMetrics:
      return {CountItems(data->metrics()), 0};
  }
  return {};
}

std::string RejectedItemsMessage(Signal signal, size_t rejected) {
  std::string_view item = signal == Signal::kTraces ? "spans"
                          : signal == Signal::kLogs ? "log records"
                                                    : "data points";
  return absl::StrCat(rejected, " ", absl::string_view(item.data(), item.size()),
                      " with invalid trace_id/span_id rejected");
}

}  // namespace otlpd
