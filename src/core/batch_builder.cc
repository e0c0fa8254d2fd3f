#include "core/batch_builder.h"

#include <google/protobuf/arena.h>
#include <google/protobuf/repeated_ptr_field.h>

#include <algorithm>
#include <memory>

namespace otlpd {

namespace {

using google::protobuf::Arena;
using google::protobuf::RepeatedPtrField;
using opentelemetry::proto::logs::v1::ResourceLogs;
using opentelemetry::proto::logs::v1::ScopeLogs;
using opentelemetry::proto::metrics::v1::Metric;
using opentelemetry::proto::metrics::v1::ResourceMetrics;
using opentelemetry::proto::metrics::v1::ScopeMetrics;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::ScopeSpans;

// Shares a source message: the batch only reads it, and its arena never frees it.
template <class T>
T* Share(const T& m) {
  return const_cast<T*>(&m);
}

template <class T>
void ShareRange(const RepeatedPtrField<T>& src, size_t from, size_t to, RepeatedPtrField<T>* dst) {
  dst->Reserve(dst->size() + static_cast<int>(to - from));
  for (size_t i = from; i < to; ++i)
    dst->UnsafeArenaAddAllocated(Share(src.Get(static_cast<int>(i))));
}

// Appends to `dst` the children of one parent whose items are [base, parent_end) in the
// request, restricted to the items [begin, end). Children wholly inside are shared; a child
// cut by the boundary is rebuilt by `part(child, child_begin, from, to)` with the items
// [from, to) (absolute indices). An empty child goes with the range holding the position
// it sits at, or with the range ending at parent_end when it is trailing.
template <class Child, class CountFn, class PartFn>
void AppendChildren(const RepeatedPtrField<Child>& src, size_t base, size_t parent_end,
                    size_t begin, size_t end, RepeatedPtrField<Child>* dst, CountFn count,
                    PartFn part) {
  size_t idx = base;
  for (const Child& child : src) {
    if (idx > end) break;
    size_t n = count(child);
    if (n == 0) {
      if ((begin <= idx && idx < end) || (idx == end && idx == parent_end)) {
        dst->UnsafeArenaAddAllocated(Share(child));
      }
      continue;
    }
    size_t child_end = idx + n;
    if (child_end <= begin) {
      idx = child_end;
      continue;
    }
    if (idx >= end) break;
    if (begin <= idx && child_end <= end) {
      dst->UnsafeArenaAddAllocated(Share(child));
    } else {
      dst->UnsafeArenaAddAllocated(
          part(child, idx, std::max(begin, idx), std::min(end, child_end)));
    }
    idx = child_end;
  }
}

// --- traces ---------------------------------------------------------------------------

size_t CountScopeSpans(const ScopeSpans& s) { return s.spans_size(); }
size_t CountResourceSpans(const ResourceSpans& r) {
  size_t n = 0;
  for (const auto& s : r.scope_spans()) n += CountScopeSpans(s);
  return n;
}

void AppendRange(const TracesRequest& src, size_t begin, size_t end, size_t total,
                 TracesRequest* dst, Arena* arena) {
  auto part_scope = [arena](const ScopeSpans& s, size_t base, size_t from, size_t to) {
    auto* out = Arena::CreateMessage<ScopeSpans>(arena);
    if (s.has_scope()) out->unsafe_arena_set_allocated_scope(Share(s.scope()));
    out->set_schema_url(s.schema_url());
    ShareRange(s.spans(), from - base, to - base, out->mutable_spans());
    return out;
  };
  auto part_resource = [&](const ResourceSpans& r, size_t base, size_t from, size_t to) {
    auto* out = Arena::CreateMessage<ResourceSpans>(arena);
    if (r.has_resource()) out->unsafe_arena_set_allocated_resource(Share(r.resource()));
    out->set_schema_url(r.schema_url());
    AppendChildren(r.scope_spans(), base, base + CountResourceSpans(r), from, to,
                   out->mutable_scope_spans(), CountScopeSpans, part_scope);
    return out;
  };
  AppendChildren(src.resource_spans(), 0, total, begin, end, dst->mutable_resource_spans(),
                 CountResourceSpans, part_resource);
}

// --- logs -----------------------------------------------------------------------------

size_t CountScopeLogs(const ScopeLogs& s) { return s.log_records_size(); }
size_t CountResourceLogs(const ResourceLogs& r) {
  size_t n = 0;
  for (const auto& s : r.scope_logs()) n += CountScopeLogs(s);
  return n;
}

void AppendRange(const LogsRequest& src, size_t begin, size_t end, size_t total, LogsRequest* dst,
                 Arena* arena) {
  auto part_scope = [arena](const ScopeLogs& s, size_t base, size_t from, size_t to) {
    auto* out = Arena::CreateMessage<ScopeLogs>(arena);
    if (s.has_scope()) out->unsafe_arena_set_allocated_scope(Share(s.scope()));
    out->set_schema_url(s.schema_url());
    ShareRange(s.log_records(), from - base, to - base, out->mutable_log_records());
    return out;
  };
  auto part_resource = [&](const ResourceLogs& r, size_t base, size_t from, size_t to) {
    auto* out = Arena::CreateMessage<ResourceLogs>(arena);
    if (r.has_resource()) out->unsafe_arena_set_allocated_resource(Share(r.resource()));
    out->set_schema_url(r.schema_url());
    AppendChildren(r.scope_logs(), base, base + CountResourceLogs(r), from, to,
                   out->mutable_scope_logs(), CountScopeLogs, part_scope);
    return out;
  };
  AppendChildren(src.resource_logs(), 0, total, begin, end, dst->mutable_resource_logs(),
                 CountResourceLogs, part_resource);
}

// --- metrics --------------------------------------------------------------------------

size_t CountMetric(const Metric& m) {
  switch (m.data_case()) {
    case Metric::kGauge:
      return m.gauge().data_points_size();
    case Metric::kSum:
      return m.sum().data_points_size();
    case Metric::kHistogram:
      return m.histogram().data_points_size();
    case Metric::kExponentialHistogram:
      return m.exponential_histogram().data_points_size();
    case Metric::kSummary:
      return m.summary().data_points_size();
    case Metric::DATA_NOT_SET:
      break;
  }
  return 0;
}
size_t CountScopeMetrics(const ScopeMetrics& s) {
  size_t n = 0;
  for (const auto& m : s.metrics()) n += CountMetric(m);
  return n;
}
size_t CountResourceMetrics(const ResourceMetrics& r) {
  size_t n = 0;
  for (const auto& s : r.scope_metrics()) n += CountScopeMetrics(s);
  return n;
}

// A Metric with the data points [from, to) of `m` and all of its descriptive fields.
Metric* PartMetric(const Metric& m, size_t from, size_t to, Arena* arena) {
  auto* out = Arena::CreateMessage<Metric>(arena);
  out->set_name(m.name());
  out->set_description(m.description());
  out->set_unit(m.unit());
  ShareRange(m.metadata(), 0, m.metadata_size(), out->mutable_metadata());
  switch (m.data_case()) {
    case Metric::kGauge:
      ShareRange(m.gauge().data_points(), from, to, out->mutable_gauge()->mutable_data_points());
      break;
    case Metric::kSum: {
      auto* sum = out->mutable_sum();
      sum->set_aggregation_temporality(m.sum().aggregation_temporality());
      sum->set_is_monotonic(m.sum().is_monotonic());
      ShareRange(m.sum().data_points(), from, to, sum->mutable_data_points());
      break;
    }
    case Metric::kHistogram: {
      auto* h = out->mutable_histogram();
      h->set_aggregation_temporality(m.histogram().aggregation_temporality());
      ShareRange(m.histogram().data_points(), from, to, h->mutable_data_points());
      break;
    }
    case Metric::kExponentialHistogram: {
      auto* h = out->mutable_exponential_histogram();
      h->set_aggregation_temporality(m.exponential_histogram().aggregation_temporality());
      ShareRange(m.exponential_histogram().data_points(), from, to, h->mutable_data_points());
      break;
    }
    case Metric::kSummary:
      ShareRange(m.summary().data_points(), from, to,
                 out->mutable_summary()->mutable_data_points());
      break;
    case Metric::DATA_NOT_SET:
      break;
  }
  return out;
}

void AppendRange(const MetricsRequest& src, size_t begin, size_t end, size_t total,
                 MetricsRequest* dst, Arena* arena) {
  auto part_metric = [arena](const Metric& m, size_t base, size_t from, size_t to) {
    return PartMetric(m, from - base, to - base, arena);
  };
  auto part_scope = [&](const ScopeMetrics& s, size_t base, size_t from, size_t to) {
    auto* out = Arena::CreateMessage<ScopeMetrics>(arena);
    if (s.has_scope()) out->unsafe_arena_set_allocated_scope(Share(s.scope()));
    out->set_schema_url(s.schema_url());
    AppendChildren(s.metrics(), base, base + CountScopeMetrics(s), from, to, out->mutable_metrics(),
                   CountMetric, part_metric);
    return out;
  };
  auto part_resource = [&](const ResourceMetrics& r, size_t base, size_t from, size_t to) {
    auto* out = Arena::CreateMessage<ResourceMetrics>(arena);
    if (r.has_resource()) out->unsafe_arena_set_allocated_resource(Share(r.resource()));
    out->set_schema_url(r.schema_url());
    AppendChildren(r.scope_metrics(), base, base + CountResourceMetrics(r), from, to,
                   out->mutable_scope_metrics(), CountScopeMetrics, part_scope);
    return out;
  };
  AppendChildren(src.resource_metrics(), 0, total, begin, end, dst->mutable_resource_metrics(),
                 CountResourceMetrics, part_resource);
}

}  // namespace

TelemetryPtr BuildBatch(Signal signal, const std::vector<ItemRange>& ranges) {
  if (ranges.size() == 1 && ranges[0].begin == 0 && ranges[0].end == ranges[0].total) {
    return ranges[0].data;
  }
  size_t items = 0;
  bool whole_encoded = true;
  for (const ItemRange& r : ranges) {
    items += r.end - r.begin;
    whole_encoded &= r.begin == 0 && r.end == r.total && r.data->has_wire();
  }
  if (whole_encoded) {
    // An Export*ServiceRequest is one repeated field, so the concatenation of encoded
    // requests is the encoding of their merge: no decoding, no copying.
    absl::Cord wire;
    for (const ItemRange& r : ranges) wire.Append(r.data->wire());
    std::shared_ptr<Telemetry> batch = Telemetry::FromWire(signal, std::move(wire), items);
    if (!ranges.empty()) batch->set_metadata(ranges.front().data->metadata());
    return batch;
  }
  auto batch = std::make_shared<Telemetry>(signal);
  Arena* arena = batch->arena();
  for (const ItemRange& r : ranges) {
    const Telemetry& src = *r.data;
    switch (signal) {
      case Signal::kTraces:
        AppendRange(src.traces(), r.begin, r.end, r.total, batch->mutable_traces(), arena);
        break;
      case Signal::kMetrics:
        AppendRange(src.metrics(), r.begin, r.end, r.total, batch->mutable_metrics(), arena);
        break;
      case Signal::kLogs:
        AppendRange(src.logs(), r.begin, r.end, r.total, batch->mutable_logs(), arena);
        break;
    }
    batch->KeepAlive(r.data);
  }
  if (!ranges.empty()) batch->set_metadata(ranges.front().data->metadata());
  batch->SetItemCount(items);
  return batch;
}

}  // namespace otlpd
