#include "processors/attributes/attributes_processor.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "core/span_index.h"
#include "processors/attraction/value.h"
#include "processors/attraction/workspace.h"

namespace otlpd {

using attraction::WireField;
using attraction::WireReader;
using attraction::Workspace;

// Field numbers shared by the three signals: Export*ServiceRequest.resource_*,
// Resource*.resource / scope_*, Scope*.scope / spans|log_records|metrics.
namespace {
constexpr uint32_t kResourceEntries = 1;
constexpr uint32_t kResource = 1;
constexpr uint32_t kScopeEntries = 2;
constexpr uint32_t kScope = 1;
constexpr uint32_t kItems = 2;
constexpr uint32_t kResourceAttributes = 1;
constexpr uint32_t kScopeName = 1;
constexpr uint32_t kScopeVersion = 2;

// Span.
constexpr uint32_t kSpanName = 5;
constexpr uint32_t kSpanKind = 6;
constexpr uint32_t kSpanAttributes = 9;
// LogRecord.
constexpr uint32_t kSeverityNumber = 2;
constexpr uint32_t kSeverityText = 3;
constexpr uint32_t kBody = 5;
constexpr uint32_t kLogAttributes = 6;
// Metric and its data members (gauge, sum, histogram, exponential histogram, summary),
// whose data points are field 1.
constexpr uint32_t kMetricName = 1;
constexpr uint32_t kDataPoints = 1;

// The attributes field of the data points of Metric.data member `member`, 0 if not one.
uint32_t DataPointAttributes(uint32_t member) {
  switch (member) {
    case 5:   // Gauge: NumberDataPoint
    case 7:   // Sum: NumberDataPoint
    case 11:  // Summary: SummaryDataPoint
      return 7;
    case 9:  // Histogram: HistogramDataPoint
      return 9;
    case 10:  // ExponentialHistogram: ExponentialHistogramDataPoint
      return 1;
    default:
      return 0;
  }
}
}  // namespace

// One walk over one request.
class AttributesWalker {
 public:
  AttributesWalker(const AttributesProcessor& p, Workspace& ws, const Metadata* metadata,
                   const SpanIndex* index)
      : p_(p), ws_(ws), metadata_(metadata), index_(index) {}

  bool Run(Signal signal, std::string_view request) {
    request_ = request;
    spans_ = SpanIndexCursor(index_, request);
    if (index_ != nullptr) {
      // What the actions add to a span holding none of their keys: what they add to an
      // attribute-less one (AttrProc::KeysActedOn).
      ws_.attrs.Clear();
      p_.proc_.Process(ws_.attrs, metadata_, &ws_.scratch);
      appended_ = ws_.attrs.Encode(kSpanAttributes, &ws_.scratch);
    }
    ItemFn item = signal == Signal::kTraces ? &AttributesWalker::Span
                  : signal == Signal::kLogs ? &AttributesWalker::LogRecord
                                            : &AttributesWalker::Metric;
    WireReader r(request);
    WireField f;
    while (r.Next(&f)) {
      if (f.IsLen(kResourceEntries)) Resource(f, item);
    }
    return !r.error() && !failed_;
  }

 private:
  using ItemFn = int64_t (AttributesWalker::*)(const WireField&);

  void Resource(const WireField& rx, ItemFn item) {
    resource_ = rx.payload;
    resource_loaded_ = false;
    if (filtered_) {
      // Matched once for the resource; a resource none of whose items can be processed is
      // not walked.
      MatchInput in;
      if (p_.include_ && p_.include_->NeedsResource()) LoadResource(in);
      if (p_.exclude_ && p_.exclude_->NeedsResource()) LoadResource(in);
      if (p_.include_ && !p_.include_->MatchesResource(in, &ws_.scratch)) return;
      exclude_resource_ = p_.exclude_ && p_.exclude_->MatchesResource(in, &ws_.scratch);
    }
    const auto open = ws_.editor.OpenField(rx);
    int64_t delta = 0;
    WireReader r(rx.payload);
    WireField f;
    while (r.Next(&f)) {
      if (f.IsLen(kScopeEntries)) delta += Scope(f, item);
    }
    if (r.error()) failed_ = true;
    ws_.editor.CloseField(open, delta, &ws_.scratch);
  }

  int64_t Scope(const WireField& sx, ItemFn item) {
    scope_ = sx.payload;
    scope_loaded_ = false;
    if (filtered_) {
      MatchInput in;
      if ((p_.include_ && p_.include_->NeedsScope()) ||
          (p_.exclude_ && p_.exclude_->NeedsScope())) {
        LoadScope(in);
      }
      if (p_.include_ && !p_.include_->MatchesScope(in)) return 0;
      exclude_scope_ = exclude_resource_ && p_.exclude_->MatchesScope(in);
      // Excluded whole: nothing about the items themselves to look at.
      if (exclude_scope_ && !p_.exclude_->HasItemProperties()) return 0;
    }
    const auto open = ws_.editor.OpenField(sx);
    int64_t delta = 0;
    WireReader r(sx.payload);
    WireField f;
    while (r.Next(&f)) {
      if (f.IsLen(kItems)) delta += (this->*item)(f);
    }
    if (r.error()) failed_ = true;
    return ws_.editor.CloseField(open, delta, &ws_.scratch);
  }

  // The resource's attributes and service name, read once per resource when a matcher
  // needs them. A resource field given more than once merges, as protobuf does.
  void LoadResource(MatchInput& in) {
    if (!resource_loaded_) {
      resource_loaded_ = true;
      ws_.resource.Clear();
      WireReader r(resource_);
      WireField f;
      while (r.Next(&f)) {
        if (!f.IsLen(kResource)) continue;
        WireReader rr(f.payload);
        WireField a;
        while (rr.Next(&a)) {
          if (a.IsLen(kResourceAttributes)) ws_.resource.AddField(a, &ws_.scratch);
        }
      }
      const int i = ws_.resource.Find("service.name");
      service_name_ =
          i < 0 ? "<nil-service-name>"
                : attraction::AsString(ws_.resource.Get(static_cast<size_t>(i), &ws_.scratch),
                                       &ws_.scratch);
    }
    in.resource = &ws_.resource;
    in.service_name = service_name_;
  }

  void LoadScope(MatchInput& in) {
    if (!scope_loaded_) {
      scope_loaded_ = true;
      scope_name_ = {};
      scope_version_ = {};
      WireReader r(scope_);
      WireField f;
      while (r.Next(&f)) {
        if (!f.IsLen(kScope)) continue;
        WireReader rr(f.payload);
        WireField s;
        while (rr.Next(&s)) {
          if (s.IsLen(kScopeName)) scope_name_ = s.payload;
          if (s.IsLen(kScopeVersion)) scope_version_ = s.payload;
        }
      }
    }
    in.scope_name = scope_name_;
    in.scope_version = scope_version_;
  }

  // Whether the item is left alone: not included, or excluded (include first, as otelcol).
  // Its resource and scope already matched the include (else it would not be walked).
  bool Skip(const MatchInput& in) {
    if (p_.include_ && !p_.include_->MatchesItem(in, &ws_.scratch)) return true;
    return exclude_scope_ && p_.exclude_->MatchesItem(in, &ws_.scratch);
  }

  // Runs the actions on the item's attributes (loaded into ws_.attrs from `fields`) and
  // rewrites the item if they changed.
  int64_t Apply(const WireField& item, uint32_t attributes_field,
                const attraction::AttrFields& fields) {
    p_.proc_.Process(ws_.attrs, metadata_, &ws_.scratch);
    if (!ws_.attrs.changed()) return 0;
    return attraction::RewriteAttributes(item, ws_.attrs, attributes_field, fields, ws_);
  }

  // Whether the span's key filter rules out every key the actions act on.
  bool HoldsNoActionKey(const SpanSummary& s) const {
    for (uint64_t bits : p_.action_key_bits_) {
      if ((s.attribute_keys & bits) == bits) return false;
    }
    return true;
  }

  int64_t Span(const WireField& span) {
    if (const SpanSummary* s = spans_.Next(span.payload); s != nullptr && HoldsNoActionKey(*s)) {
      // The actions add `appended_` after the span's attributes, which stay as they are
      // (where RewriteAttributes would write it), without loading them.
      const char* at = s->attributes_end != 0 ? request_.data() + s->attributes_end : span.end;
      return ws_.editor.InsertInField(span, at, appended_, &ws_.scratch);
    }
    ws_.attrs.Clear();
    attraction::AttrFields fields;
    std::string_view name;
    int32_t kind = 0;
    WireReader r(span.payload);
    WireField f;
    while (r.Next(&f)) {
      if (f.IsLen(kSpanAttributes)) {
        ws_.attrs.AddField(f, &ws_.scratch);
        fields.Add(f);
      } else if (f.IsLen(kSpanName)) {
        name = f.payload;
      } else if (f.IsVarint(kSpanKind)) {
        kind = static_cast<int32_t>(f.scalar);
      }
    }
    if (r.error()) {
      failed_ = true;
      return 0;
    }
    if (filtered_) {
      MatchInput in;
      in.attributes = &ws_.attrs;
      in.span_name = name;
      in.span_kind = kind;
      if (Skip(in)) return 0;
    }
    return Apply(span, kSpanAttributes, fields);
  }

  int64_t LogRecord(const WireField& record) {
    ws_.attrs.Clear();
    attraction::AttrFields fields;
    std::string_view body;
    std::string_view severity_text;
    int32_t severity_number = 0;
    bool body_seen = false;
    WireReader r(record.payload);
    WireField f;
    while (r.Next(&f)) {
      if (f.IsLen(kLogAttributes)) {
        ws_.attrs.AddField(f, &ws_.scratch);
        fields.Add(f);
      } else if (f.IsVarint(kSeverityNumber)) {
        severity_number = static_cast<int32_t>(f.scalar);
      } else if (f.IsLen(kSeverityText)) {
        severity_text = f.payload;
      } else if (f.IsLen(kBody)) {
        if (body_seen) {
          // A repeated message field merges: its encodings concatenate.
          char* merged = ws_.scratch.Alloc(body.size() + f.payload.size());
          attraction::CopyBytes(attraction::CopyBytes(merged, body), f.payload);
          body = std::string_view(merged, body.size() + f.payload.size());
        } else {
          body = f.payload;
        }
        body_seen = true;
      }
    }
    if (r.error()) {
      failed_ = true;
      return 0;
    }
    if (filtered_) {
      MatchInput in;
      in.attributes = &ws_.attrs;
      in.body = body;
      in.severity_text = severity_text;
      in.severity_number = severity_number;
      if (Skip(in)) return 0;
    }
    return Apply(record, kLogAttributes, fields);
  }

  int64_t Metric(const WireField& metric) {
    if (filtered_) {
      // Matched once per metric, before its data points (the name may come after them).
      MatchInput in;
      WireReader r(metric.payload);
      WireField f;
      while (r.Next(&f)) {
        if (f.IsLen(kMetricName)) in.metric_name = f.payload;
      }
      if (Skip(in)) return 0;
    }
    const auto open = ws_.editor.OpenField(metric);
    int64_t delta = 0;
    WireReader r(metric.payload);
    WireField f;
    while (r.Next(&f)) {
      const uint32_t attributes_field = DataPointAttributes(f.number);
      if (attributes_field != 0 && f.type == attraction::kWireLen) {
        delta += DataMember(f, attributes_field);
      }
    }
    if (r.error()) failed_ = true;
    return ws_.editor.CloseField(open, delta, &ws_.scratch);
  }

  int64_t DataMember(const WireField& member, uint32_t attributes_field) {
    const auto open = ws_.editor.OpenField(member);
    int64_t delta = 0;
    WireReader r(member.payload);
    WireField f;
    while (r.Next(&f)) {
      if (f.IsLen(kDataPoints)) delta += DataPoint(f, attributes_field);
    }
    if (r.error()) failed_ = true;
    return ws_.editor.CloseField(open, delta, &ws_.scratch);
  }

  int64_t DataPoint(const WireField& point, uint32_t attributes_field) {
    ws_.attrs.Clear();
    attraction::AttrFields fields;
    WireReader r(point.payload);
    WireField f;
    while (r.Next(&f)) {
      if (f.IsLen(attributes_field)) {
        ws_.attrs.AddField(f, &ws_.scratch);
        fields.Add(f);
      }
    }
    if (r.error()) {
      failed_ = true;
      return 0;
    }
    return Apply(point, attributes_field, fields);
  }

  const AttributesProcessor& p_;
  Workspace& ws_;
  const Metadata* metadata_;
  // The receiver's span index (traces, and only when the actions' keys are known:
  // AttributesProcessor::action_key_bits_), followed through the spans by `spans_`.
  const SpanIndex* const index_;
  SpanIndexCursor spans_{nullptr, {}};
  std::string_view request_;
  std::string_view appended_;
  const bool filtered_ = p_.include_.has_value() || p_.exclude_.has_value();
  bool failed_ = false;
  // Whether the exclude's resource (and scope) properties match the current ones.
  bool exclude_resource_ = false;
  bool exclude_scope_ = false;

  std::string_view resource_;
  bool resource_loaded_ = false;
  std::string service_name_;
  std::string_view scope_;
  bool scope_loaded_ = false;
  std::string_view scope_name_;
  std::string_view scope_version_;
};

AttributesProcessor::AttributesProcessor(const CreateSettings& settings,
                                         const AttributesProcessorConfig& config, Signal signal,
                                         ConsumerPtr next)
    : id_(settings.id.ToString()),
      signal_(signal),
      proc_(config.actions),
      include_(config.include),
      exclude_(config.exclude),
      next_(std::move(next)) {
  std::vector<std::string_view> keys;
  if (signal_ == Signal::kTraces && !include_ && !exclude_ && proc_.KeysActedOn(&keys)) {
    for (std::string_view key : keys) action_key_bits_.push_back(AttributeKeyBits(key));
    span_index_ = true;
    RequestSpanIndex();
  }
}

TelemetryPtr AttributesProcessor::Process(TelemetryPtr data) const {
  Workspace& ws = Workspace::ForThread();
  const std::string_view request = ws.Begin(*data);
  AttributesWalker walker(*this, ws, data->metadata().get(),
                          span_index_ ? data->span_index().get() : nullptr);
  if (!walker.Run(signal_, request)) {
    // Not expected: receivers only pass on requests that passed the wire scan.
    if (uint64_t n = malformed_log_.Add(1)) {
      spdlog::warn("{}: {} malformed {} request(s) passed on unchanged", id_, n,
                   SignalName(signal_));
    }
    ws.editor.Reset({});
    return data;
  }
  return ws.Finish(std::move(data));
}

void AttributesProcessor::Consume(TelemetryPtr data, Completion done) {
  next_->Consume(Process(std::move(data)), std::move(done));
}

}  // namespace otlpd
