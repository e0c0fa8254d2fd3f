#include "processors/filter/filter_processor.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "core/span_index.h"
#include "processors/attraction/value.h"
#include "processors/attraction/workspace.h"

namespace otlpd {

using attraction::WireField;
using attraction::WireReader;
using attraction::Workspace;
using ottl::Field;
using ottl::Value;

namespace {
// Field numbers shared by the three signals: Export*ServiceRequest.resource_*,
// Resource*.resource / scope_*, Scope*.scope / spans|log_records|metrics.
constexpr uint32_t kResourceEntries = 1;
constexpr uint32_t kResource = 1;
constexpr uint32_t kScopeEntries = 2;
constexpr uint32_t kScope = 1;
constexpr uint32_t kItems = 2;
constexpr uint32_t kResourceAttributes = 1;
constexpr uint32_t kScopeName = 1;
constexpr uint32_t kScopeVersion = 2;
constexpr uint32_t kScopeAttributes = 3;

// Span.
constexpr uint32_t kSpanName = 5;
constexpr uint32_t kSpanKind = 6;
constexpr uint32_t kSpanStart = 7;
constexpr uint32_t kSpanEnd = 8;
constexpr uint32_t kSpanAttributes = 9;
constexpr uint32_t kSpanEvents = 11;
constexpr uint32_t kSpanStatus = 15;
constexpr uint32_t kStatusMessage = 2;
constexpr uint32_t kStatusCode = 3;
// Span.Event.
constexpr uint32_t kEventTime = 1;
constexpr uint32_t kEventName = 2;
constexpr uint32_t kEventAttributes = 3;
// LogRecord.
constexpr uint32_t kLogTime = 1;
constexpr uint32_t kSeverityNumber = 2;
constexpr uint32_t kSeverityText = 3;
constexpr uint32_t kBody = 5;
constexpr uint32_t kLogAttributes = 6;
constexpr uint32_t kObservedTime = 11;
constexpr uint32_t kLogEventName = 12;
// Metric, and its data members' data points (field 1 of each member).
constexpr uint32_t kMetricName = 1;
constexpr uint32_t kMetricDescription = 2;
constexpr uint32_t kMetricUnit = 3;
constexpr uint32_t kDataPoints = 1;
constexpr uint32_t kPointStart = 2;
constexpr uint32_t kPointTime = 3;
constexpr uint32_t kPointCount = 4;

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

// pmetric.MetricType of a Metric.data member.
int64_t MetricType(uint32_t member) {
  switch (member) {
    case 5:
      return 1;  // gauge
    case 7:
      return 2;  // sum
    case 9:
      return 3;  // histogram
    case 10:
      return 4;  // exponential histogram
    case 11:
      return 5;  // summary
    default:
      return 0;
  }
}

// The last occurrence of field `number` in `message` (protobuf: the last one wins).
bool FindLast(std::string_view message, uint32_t number, WireField* out) {
  bool found = false;
  WireReader r(message);
  WireField f;
  while (r.Next(&f)) {
    if (f.number == number) {
      *out = f;
      found = true;
    }
  }
  return found;
}

Value ToValue(const attraction::Value& v, std::string_view encoding) {
  switch (v.type) {
    case attraction::ValueType::kEmpty:
      return Value::Nil();
    case attraction::ValueType::kStr:
      return Value::Str(v.bytes);
    case attraction::ValueType::kInt:
      return Value::Int(v.int_value);
    case attraction::ValueType::kDouble:
      return Value::Double(v.double_value);
    case attraction::ValueType::kBool:
      return Value::Bool(v.bool_value);
    default:
      return Value::Other(encoding);
  }
}

// Per-thread state besides the shared Workspace.
struct FilterState {
  attraction::AttrMap scope_attrs;
  std::string as_string;
};
FilterState& StateForThread() {
  thread_local FilterState state;
  return state;
}

}  // namespace

// One walk over one request: conditions read the current item through Get.
class FilterWalker : public ottl::Item {
 public:
  // `index`: the receiver's span index of `request` (may be null).
  FilterWalker(const FilterProcessor& p, Workspace& ws, const SpanIndex* index)
      : p_(p), c_(p.config_), ws_(ws), st_(StateForThread()), index_(index) {
    auto uses = [](const FilterProcessorConfig::Conditions* cs) {
      if (cs == nullptr) return false;
      for (const ottl::Condition& c : *cs) {
        if (c.Uses(Field::kAttribute)) return true;
      }
      return false;
    };
    uses_attrs_[static_cast<int>(ottl::Context::kSpan)] =
        uses(c_.span.get()) || c_.spans_include.has_value() || c_.spans_exclude.has_value();
    uses_attrs_[static_cast<int>(ottl::Context::kSpanEvent)] = uses(c_.spanevent.get());
    uses_attrs_[static_cast<int>(ottl::Context::kDataPoint)] = uses(c_.datapoint.get());
    uses_attrs_[static_cast<int>(ottl::Context::kLog)] = uses(c_.log_record.get());
  }

  // False if the request is malformed or a condition failed with error_mode: propagate.
  bool Run(std::string_view request) {
    request_ = request;
    spans_ = SpanIndexCursor(index_, request);
    WireReader r(request);
    WireField f;
    while (r.Next(&f) && !failed_) {
      if (!f.IsLen(kResourceEntries)) continue;
      ++resources_;
      Resource(f);
    }
    if (r.error()) malformed_ = true;
    return !malformed_ && !failed_;
  }

  uint64_t dropped() const { return dropped_; }
  bool everything_dropped() const { return resources_ > 0 && kept_resources_ == 0; }
  bool malformed() const { return malformed_; }

  // ottl::Item.
  Value Get(Field field, std::string_view key) override {
    switch (field) {
      case Field::kAttribute:
        if (summary_ != nullptr) return IndexedAttribute(key);
        if (!scanned_) ScanItem();
        return Attribute(ws_.attrs, key);
      case Field::kResourceAttribute:
        LoadResource();
        return Attribute(ws_.resource, key);
      case Field::kScopeAttribute:
        LoadScope();
        return Attribute(st_.scope_attrs, key);
      case Field::kScopeName:
        LoadScope();
        return Value::Str(scope_name_);
      case Field::kScopeVersion:
        LoadScope();
        return Value::Str(scope_version_);
      case Field::kMetricName:
        return StrField(metric_, kMetricName);
      case Field::kMetricType:
        return Value::Int(MetricType(member_));
      default:
        break;
    }
    switch (context_) {
      case ottl::Context::kSpan:
        if (summary_ != nullptr) {
          // From the receiver's span index, without reading the span.
          switch (field) {
            case Field::kName:
              return Value::Str(
                  std::string_view(request_.data() + summary_->name, summary_->name_size));
            case Field::kKind:
              return Value::Int(summary_->kind);
            case Field::kStartTime:
              return Value::Int(static_cast<int64_t>(summary_->start_unix_nano));
            case Field::kEndTime:
              return Value::Int(static_cast<int64_t>(summary_->end_unix_nano));
            case Field::kStatusCode:
              return Value::Int(summary_->status_code);
            default:
              break;
          }
        }
        switch (field) {
          case Field::kName:
            return ItemStr(kSpanName);
          case Field::kKind:
            return ItemInt(kSpanKind);
          case Field::kStartTime:
            return ItemInt(kSpanStart);
          case Field::kEndTime:
            return ItemInt(kSpanEnd);
          case Field::kStatusCode:
          case Field::kStatusMessage: {
            std::string_view s;
            if (const WireField* status = ItemField(kSpanStatus);
                status != nullptr && status->type == attraction::kWireLen) {
              s = status->payload;
            }
            return field == Field::kStatusCode ? IntField(s, kStatusCode)
                                               : StrField(s, kStatusMessage);
          }
          default:
            break;
        }
        break;
      case ottl::Context::kSpanEvent:
        if (field == Field::kName) return ItemStr(kEventName);
        if (field == Field::kTime) return ItemInt(kEventTime);
        break;
      case ottl::Context::kLog:
        switch (field) {
          case Field::kTime:
            return ItemInt(kLogTime);
          case Field::kObservedTime:
            return ItemInt(kObservedTime);
          case Field::kSeverityNumber:
            return ItemInt(kSeverityNumber);
          case Field::kSeverityText:
            return ItemStr(kSeverityText);
          case Field::kEventName:
            return ItemStr(kLogEventName);
          case Field::kBody:
            return Body();
          default:
            break;
        }
        break;
      case ottl::Context::kMetric:
        if (field == Field::kName) return ItemStr(kMetricName);
        if (field == Field::kDescription) return ItemStr(kMetricDescription);
        if (field == Field::kUnit) return ItemStr(kMetricUnit);
        break;
      case ottl::Context::kDataPoint:
        if (field == Field::kStartTime) return ItemInt(kPointStart);
        if (field == Field::kTime) return ItemInt(kPointTime);
        if (field == Field::kCount) {
          // Histogram, exponential histogram and summary points count (fixed64 field 4);
          // number points have none.
          if (member_ != 9 && member_ != 10 && member_ != 11) return Value::Nil();
          return ItemInt(kPointCount);
        }
        break;
    }
    return Value::Nil();  // not reached: the parser admits only the paths above
  }

  std::string_view OtherAsString(std::string_view any_value) override {
    st_.as_string =
        attraction::AsString(attraction::DecodeValue(any_value, &ws_.scratch), &ws_.scratch);
    return st_.as_string;
  }

 private:
  static Value StrField(std::string_view message, uint32_t number) {
    WireField f;
    if (!FindLast(message, number, &f) || f.type != attraction::kWireLen) return Value::Str({});
    return Value::Str(f.payload);
  }
  static Value IntField(std::string_view message, uint32_t number) {
    WireField f;
    if (!FindLast(message, number, &f)) return Value::Int(0);
    // Enums are int32 varints; times fixed64: both read as Go reads them.
    if (f.type == attraction::kWireVarint &&
        (number == kSpanKind || number == kSeverityNumber || number == kStatusCode)) {
      return Value::Int(static_cast<int32_t>(f.scalar));
    }
    return Value::Int(static_cast<int64_t>(f.scalar));
  }

  // The item's fields, read in one pass on the first access: where the last occurrence of
  // each field numbered below kCachedFields starts (copying whole WireFields here would
  // stall on store forwarding), and its attributes.
  static constexpr uint32_t kCachedFields = 17;
  void ScanItem() {
    scanned_ = true;
    for (const char*& a : at_) a = nullptr;
    ws_.attrs.Clear();
    WireReader r(item_);
    WireField f;
    while (r.Next(&f)) {
      if (want_attrs_ && f.number == attributes_field_ && f.type == attraction::kWireLen) {
        ws_.attrs.AddField(f, &ws_.scratch);
      }
      if (f.number < kCachedFields) at_[f.number] = f.begin;
    }
  }
  const WireField* ItemField(uint32_t number) {
    if (!scanned_) ScanItem();
    if (at_[number] == nullptr) return nullptr;
    WireReader r(std::string_view(at_[number], item_.data() + item_.size() - at_[number]));
    return r.Next(&field_) ? &field_ : nullptr;
  }
  Value ItemStr(uint32_t number) {
    const WireField* f = ItemField(number);
    if (f == nullptr || f->type != attraction::kWireLen) return Value::Str({});
    return Value::Str(f->payload);
  }
  Value ItemInt(uint32_t number) {
    const WireField* f = ItemField(number);
    if (f == nullptr) return Value::Int(0);
    if (f->type == attraction::kWireVarint &&
        (number == kSpanKind || number == kSeverityNumber || number == kStatusCode)) {
      return Value::Int(static_cast<int32_t>(f->scalar));
    }
    return Value::Int(static_cast<int64_t>(f->scalar));
  }

  // An attribute of a span summarized in the index: a key the summary's key filter rules out
  // is absent; otherwise the map is built from the span's attribute fields alone.
  Value IndexedAttribute(std::string_view key) {
    if (const uint64_t bits = AttributeKeyBits(key); (summary_->attribute_keys & bits) != bits) {
      return Value::Nil();
    }
    if (!attrs_loaded_) {
      attrs_loaded_ = true;
      ws_.attrs.Clear();
      WireReader r(std::string_view(request_.data() + summary_->attributes_begin,
                                    summary_->attributes_end - summary_->attributes_begin));
      WireField f;
      while (r.Next(&f)) {
        if (f.number == kSpanAttributes && f.type == attraction::kWireLen) {
          ws_.attrs.AddField(f, &ws_.scratch);
        }
      }
    }
    return Attribute(ws_.attrs, key);
  }

  Value Attribute(const attraction::AttrMap& attrs, std::string_view key) {
    const int i = attrs.Find(key);
    if (i < 0) return Value::Nil();
    const std::string_view encoding = attrs[static_cast<size_t>(i)].value;
    return ToValue(attraction::DecodeValue(encoding, &ws_.scratch), encoding);
  }

  Value Body() {
    // A repeated message field merges: its encodings concatenate.
    std::string_view body;
    bool seen = false;
    WireReader r(item_);
    WireField f;
    while (r.Next(&f)) {
      if (!f.IsLen(kBody)) continue;
      if (seen) {
        char* merged = ws_.scratch.Alloc(body.size() + f.payload.size());
        attraction::CopyBytes(attraction::CopyBytes(merged, body), f.payload);
        body = std::string_view(merged, body.size() + f.payload.size());
      } else {
        body = f.payload;
      }
      seen = true;
    }
    if (!seen) return Value::Nil();
    return ToValue(attraction::DecodeValue(body, &ws_.scratch), body);
  }

  void LoadResource() {
    if (resource_loaded_) return;
    resource_loaded_ = true;
    ws_.resource.Clear();
    service_name_.clear();
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
  }

  void LoadScope() {
    if (scope_loaded_) return;
    scope_loaded_ = true;
    scope_name_ = {};
    scope_version_ = {};
    st_.scope_attrs.Clear();
    WireReader r(scope_);
    WireField f;
    while (r.Next(&f)) {
      if (!f.IsLen(kScope)) continue;
      WireReader rr(f.payload);
      WireField s;
      while (rr.Next(&s)) {
        if (s.IsLen(kScopeName)) scope_name_ = s.payload;
        if (s.IsLen(kScopeVersion)) scope_version_ = s.payload;
        if (s.IsLen(kScopeAttributes)) st_.scope_attrs.AddField(s, &ws_.scratch);
      }
    }
  }

  // Whether any of `conditions` matches the current item (context_ and item_ set).
  bool AnyMatches(const FilterProcessorConfig::Conditions* conditions) {
    if (conditions == nullptr) return false;
    for (const ottl::Condition& c : *conditions) {
      bool error = false;
      const bool match = c.Matches(*this, &error);
      if (error) {
        if (c_.error_mode == FilterProcessorConfig::ErrorMode::kPropagate) {
          failed_ = true;
          failed_condition_ = &c;
          return false;
        }
        if (c_.error_mode == FilterProcessorConfig::ErrorMode::kIgnore) {
          if (uint64_t n = p_.error_log_.Add(1)) {
            spdlog::warn(
                "{}: condition \"{}\" failed to evaluate on {} item(s); treated as "
                "not matching (error_mode: ignore)",
                p_.id_, c.text(), n);
          }
        }
        continue;
      }
      if (match) return true;
    }
    return false;
  }

  void SetItem(ottl::Context context, std::string_view item, uint32_t attributes_field) {
    context_ = context;
    item_ = item;
    attributes_field_ = attributes_field;
    scanned_ = false;
    attrs_loaded_ = false;
    summary_ = nullptr;
    want_attrs_ = uses_attrs_[static_cast<int>(context)];
  }

  // Cuts field `f` out of the request; returns the change of size.
  int64_t Drop(const WireField& f) {
    ws_.editor.Replace(f.begin, f.end);
    return -(f.end - f.begin);
  }

  void Resource(const WireField& rx) {
    resource_ = rx.payload;
    resource_loaded_ = false;
    const auto mark = ws_.editor.GetMark();
    const auto open = ws_.editor.OpenField(rx);
    int64_t delta = 0;
    int kept_scopes = 0;
    WireReader r(rx.payload);
    WireField f;
    while (r.Next(&f) && !failed_) {
      if (f.IsLen(kScopeEntries)) delta += Scope(f, &kept_scopes);
    }
    if (r.error()) malformed_ = true;
    if (kept_scopes == 0) {
      ws_.editor.Rollback(mark);
      Drop(rx);
      return;
    }
    ++kept_resources_;
    ws_.editor.CloseField(open, delta, &ws_.scratch);
  }

  int64_t Scope(const WireField& sx, int* kept_scopes) {
    scope_ = sx.payload;
    scope_loaded_ = false;
    const auto mark = ws_.editor.GetMark();
    const auto open = ws_.editor.OpenField(sx);
    int64_t delta = 0;
    int kept = 0;
    WireReader r(sx.payload);
    WireField f;
    while (r.Next(&f) && !failed_) {
      if (!f.IsLen(kItems)) continue;
      int64_t d = 0;
      bool keep = true;
      switch (p_.signal_) {
        case Signal::kTraces:
          keep = Span(f, &d);
          break;
        case Signal::kMetrics:
          keep = Metric(f, &d);
          break;
        case Signal::kLogs:
          keep = LogRecord(f, &d);
          break;
      }
      delta += d;
      if (keep) ++kept;
    }
    if (r.error()) malformed_ = true;
    if (kept == 0) {
      ws_.editor.Rollback(mark);
      return Drop(sx);
    }
    ++*kept_scopes;
    return ws_.editor.CloseField(open, delta, &ws_.scratch);
  }

  // The legacy spans include/exclude: whether the span is dropped.
  bool LegacyDrops() {
    MatchInput in;
    LoadResource();
    if (service_name_.empty()) {
      const int i = ws_.resource.Find("service.name");
      service_name_ =
          i < 0 ? "<nil-service-name>"
                : attraction::AsString(ws_.resource.Get(static_cast<size_t>(i), &ws_.scratch),
                                       &ws_.scratch);
    }
    LoadScope();
    if (!scanned_) ScanItem();
    in.resource = &ws_.resource;
    in.service_name = service_name_;
    in.scope_name = scope_name_;
    in.scope_version = scope_version_;
    in.attributes = &ws_.attrs;
    in.span_name = ItemStr(kSpanName).str;
    in.span_kind = static_cast<int32_t>(ItemInt(kSpanKind).i);
    auto matches = [&](const MatchProperties& mp) {
      return mp.MatchesResource(in, &ws_.scratch) && mp.MatchesScope(in) &&
             mp.MatchesItem(in, &ws_.scratch);
    };
    if (c_.spans_include && !matches(*c_.spans_include)) return true;
    return c_.spans_exclude && matches(*c_.spans_exclude);
  }

  bool Span(const WireField& span, int64_t* delta) {
    SetItem(ottl::Context::kSpan, span.payload, kSpanAttributes);
    summary_ = spans_.Next(span.payload);
    const bool legacy = c_.spans_include || c_.spans_exclude;
    if ((legacy && LegacyDrops()) || AnyMatches(c_.span.get())) {
      if (failed_) return true;
      *delta = Drop(span);
      ++dropped_;
      return false;
    }
    if (c_.spanevent == nullptr || c_.spanevent->empty() || failed_) return true;
    const auto open = ws_.editor.OpenField(span);
    int64_t d = 0;
    WireReader r(span.payload);
    WireField f;
    while (r.Next(&f) && !failed_) {
      if (!f.IsLen(kSpanEvents)) continue;
      SetItem(ottl::Context::kSpanEvent, f.payload, kEventAttributes);
      if (AnyMatches(c_.spanevent.get())) d += Drop(f);
    }
    *delta = ws_.editor.CloseField(open, d, &ws_.scratch);
    return true;
  }

  bool LogRecord(const WireField& record, int64_t* delta) {
    SetItem(ottl::Context::kLog, record.payload, kLogAttributes);
    if (!AnyMatches(c_.log_record.get()) || failed_) return true;
    *delta = Drop(record);
    ++dropped_;
    return false;
  }

  static uint64_t CountPoints(std::string_view metric) {
    uint64_t n = 0;
    WireReader r(metric);
    WireField f;
    while (r.Next(&f)) {
      if (DataPointAttributes(f.number) == 0 || f.type != attraction::kWireLen) continue;
      WireReader rr(f.payload);
      WireField p;
      while (rr.Next(&p)) {
        if (p.IsLen(kDataPoints)) ++n;
      }
    }
    return n;
  }

  bool Metric(const WireField& metric, int64_t* delta) {
    metric_ = metric.payload;
    member_ = 0;
    WireReader scan(metric.payload);
    WireField f;
    while (scan.Next(&f)) {
      if (DataPointAttributes(f.number) != 0 && f.type == attraction::kWireLen) member_ = f.number;
    }
    SetItem(ottl::Context::kMetric, metric.payload, 0);
    if (AnyMatches(c_.metric.get())) {
      if (failed_) return true;
      *delta = Drop(metric);
      dropped_ += CountPoints(metric.payload);
      return false;
    }
    if (c_.datapoint == nullptr || c_.datapoint->empty() || failed_) return true;
    const auto mark = ws_.editor.GetMark();
    const auto open = ws_.editor.OpenField(metric);
    int64_t d = 0;
    uint64_t kept = 0;
    uint64_t dropped = 0;
    WireReader r(metric.payload);
    while (r.Next(&f) && !failed_) {
      const uint32_t attributes_field = DataPointAttributes(f.number);
      if (attributes_field == 0 || f.type != attraction::kWireLen) continue;
      member_ = f.number;
      const auto member_open = ws_.editor.OpenField(f);
      int64_t md = 0;
      WireReader rr(f.payload);
      WireField point;
      while (rr.Next(&point) && !failed_) {
        if (!point.IsLen(kDataPoints)) continue;
        SetItem(ottl::Context::kDataPoint, point.payload, attributes_field);
        if (AnyMatches(c_.datapoint.get())) {
          md += Drop(point);
          ++dropped;
        } else {
          ++kept;
        }
      }
      d += ws_.editor.CloseField(member_open, md, &ws_.scratch);
    }
    dropped_ += dropped;
    if (kept == 0) {
      // No data points left: the metric goes too (as in otelcol).
      ws_.editor.Rollback(mark);
      *delta = Drop(metric);
      return false;
    }
    *delta = ws_.editor.CloseField(open, d, &ws_.scratch);
    return true;
  }

 public:
  const ottl::Condition* failed_condition_ = nullptr;

 private:
  const FilterProcessor& p_;
  const FilterProcessorConfig& c_;
  Workspace& ws_;
  FilterState& st_;
  bool failed_ = false;
  bool malformed_ = false;
  uint64_t dropped_ = 0;
  int resources_ = 0;
  int kept_resources_ = 0;

  ottl::Context context_ = ottl::Context::kSpan;
  std::string_view item_;
  uint32_t attributes_field_ = 0;
  bool scanned_ = false;
  bool want_attrs_ = false;
  bool attrs_loaded_ = false;  // ws_.attrs holds the span's attributes (IndexedAttribute)
  std::string_view request_;
  const SpanIndex* const index_;
  SpanIndexCursor spans_{nullptr, {}};    // follows index_ through the spans
  const SpanSummary* summary_ = nullptr;  // the current span's, when the index has it
  bool uses_attrs_[5] = {};               // by context: whether a condition reads attributes["k"]
  const char* at_[kCachedFields] = {};
  WireField field_;
  std::string_view metric_;
  uint32_t member_ = 0;

  std::string_view resource_;
  bool resource_loaded_ = false;
  std::string service_name_;
  std::string_view scope_;
  bool scope_loaded_ = false;
  std::string_view scope_name_;
  std::string_view scope_version_;
};

FilterProcessor::FilterProcessor(const CreateSettings& settings,
                                 const FilterProcessorConfig& config, Signal signal,
                                 ConsumerPtr next)
    : id_(settings.id.ToString()), signal_(signal), config_(config), next_(std::move(next)) {
  // Span conditions read names, kinds, times, status codes and attributes from the
  // receiver's span index when it is there.
  if (signal == Signal::kTraces && config.span != nullptr && !config.span->empty()) {
    RequestSpanIndex();
  }
  if (settings.host != nullptr) {
    const char* name = signal == Signal::kTraces    ? "otelcol_processor_filter_spans_filtered"
                       : signal == Signal::kMetrics ? "otelcol_processor_filter_datapoints_filtered"
                                                    : "otelcol_processor_filter_logs_filtered";
    filtered_ = settings.host->metrics().GetCounter(
        name, {{"filter", id_}}, "Number of items dropped by the filter processor");
  }
}

absl::StatusOr<TelemetryPtr> FilterProcessor::Process(TelemetryPtr data) const {
  Workspace& ws = Workspace::ForThread();
  const std::string_view request = ws.Begin(*data);
  FilterWalker walker(*this, ws, signal_ == Signal::kTraces ? data->span_index().get() : nullptr);
  if (!walker.Run(request)) {
    ws.editor.Reset({});
    if (walker.malformed()) {
      // Not expected: receivers only pass on requests that passed the wire scan.
      if (uint64_t n = malformed_log_.Add(1)) {
        spdlog::warn("{}: {} malformed {} request(s) passed on unchanged", id_, n,
                     SignalName(signal_));
      }
      return data;
    }
    return absl::InvalidArgumentError(
        absl::StrCat(id_, ": condition \"", walker.failed_condition_->text(),
                     "\" failed to evaluate (error_mode: propagate)"));
  }
  if (filtered_ != nullptr && walker.dropped() > 0) filtered_->Add(walker.dropped());
  if (walker.everything_dropped()) {
    ws.editor.Reset({});
    ws.source = nullptr;
    return TelemetryPtr();
  }
  if (ws.editor.empty()) return data;
  const size_t items = data->ItemCount();
  auto out = Telemetry::FromWire(signal_, ws.editor.Build(ws.source),
                                 items >= walker.dropped() ? items - walker.dropped() : 0);
  out->set_metadata(data->metadata());
  ws.editor.Reset({});
  ws.source = nullptr;
  return out;
}

void FilterProcessor::Consume(TelemetryPtr data, Completion done) {
  absl::StatusOr<TelemetryPtr> out = Process(std::move(data));
  if (!out.ok()) {
    std::move(done)(out.status());
    return;
  }
  if (*out == nullptr) {
    std::move(done)(absl::OkStatus());  // nothing left to deliver
    return;
  }
  next_->Consume(std::move(*out), std::move(done));
}

}  // namespace otlpd
