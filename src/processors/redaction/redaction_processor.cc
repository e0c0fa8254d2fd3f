#include "processors/redaction/redaction_processor.h"

#include <re2/re2.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "opentelemetry/proto/common/v1/common.pb.h"
#include "processors/attraction/value.h"
#include "processors/attraction/workspace.h"

namespace otlpd {

using attraction::AttrFields;
using attraction::AttrMap;
using attraction::Scratch;
using attraction::WireField;
using attraction::WireReader;
using attraction::Workspace;

namespace {

constexpr uint32_t kResourceEntries = 1;
constexpr uint32_t kResource = 1;
constexpr uint32_t kResourceAttributes = 1;
constexpr uint32_t kScopeEntries = 2;
constexpr uint32_t kScope = 1;
constexpr uint32_t kScopeAttributes = 3;
constexpr uint32_t kItems = 2;
constexpr uint32_t kSpanAttributes = 9;
constexpr uint32_t kSpanEvents = 11;
constexpr uint32_t kEventAttributes = 3;
constexpr uint32_t kBody = 5;
constexpr uint32_t kLogAttributes = 6;
constexpr uint32_t kDataPoints = 1;

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

// otelcol's summary attributes.
constexpr std::string_view kRedactedKeys = "redaction.redacted.keys";
constexpr std::string_view kRedactedCount = "redaction.redacted.count";
constexpr std::string_view kMaskedKeys = "redaction.masked.keys";
constexpr std::string_view kMaskedCount = "redaction.masked.count";
constexpr std::string_view kAllowedKeys = "redaction.allowed.keys";
constexpr std::string_view kAllowedCount = "redaction.allowed.count";
constexpr std::string_view kIgnoredCount = "redaction.ignored.count";
constexpr std::string_view kBodyRedactedKeys = "redaction.body.redacted.keys";
constexpr std::string_view kBodyRedactedCount = "redaction.body.redacted.count";
constexpr std::string_view kBodyMaskedKeys = "redaction.body.masked.keys";
constexpr std::string_view kBodyMaskedCount = "redaction.body.masked.count";
constexpr std::string_view kBodyAllowedKeys = "redaction.body.allowed.keys";
constexpr std::string_view kBodyAllowedCount = "redaction.body.allowed.count";
constexpr std::string_view kBodyIgnoredCount = "redaction.body.ignored.count";

// Per-thread lists reused from map to map.
struct RedactionState {
  std::vector<std::string_view> redacted, masked, allowed, ignored;
  AttrMap inner;  // a span event's attributes, a resource's or scope's
};
RedactionState& StateForThread() {
  thread_local RedactionState state;
  return state;
}

bool AnyMatch(const RedactionProcessorConfig::Regexes& regexes, std::string_view s) {
  for (const auto& re : regexes) {
    if (re2::RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), *re)) return true;
  }
  return false;
}

// A length-delimited field `number` holding `payload`, encoded in `scratch`.
std::string_view LenField(uint32_t number, std::string_view payload, Scratch* scratch) {
  char* p = scratch->Alloc(attraction::LenFieldSize(number, payload.size()));
  char* q = attraction::WriteVarint(p, attraction::Tag(number, attraction::kWireLen));
  q = attraction::WriteVarint(q, payload.size());
  q = attraction::CopyBytes(q, payload);
  return std::string_view(p, static_cast<size_t>(q - p));
}

}  // namespace

RedactionProcessor::RedactionProcessor(const CreateSettings& settings,
                                       const RedactionProcessorConfig& config, Signal signal,
                                       ConsumerPtr next)
    : id_(settings.id.ToString()),
      signal_(signal),
      config_(config),
      masker_(config_),
      next_(std::move(next)) {
  for (const std::string& k : config_.allowed_keys) allowed_keys_.insert(k);
  // The summary attributes survive a second redaction processor (as in otelcol).
  for (std::string_view k :
       {kRedactedKeys, kRedactedCount, kMaskedKeys, kMaskedCount, kAllowedKeys, kAllowedCount,
        kIgnoredCount, kBodyRedactedKeys, kBodyRedactedCount, kBodyMaskedKeys, kBodyMaskedCount,
        kBodyAllowedKeys, kBodyAllowedCount, kBodyIgnoredCount}) {
    allowed_keys_.insert(std::string(k));
  }
  for (const std::string& k : config_.ignored_keys) ignored_keys_.insert(k);
  const bool ignores = !config_.ignored_keys.empty() || !config_.ignored_key_patterns.empty();
  only_builtin_masks_ = config_.allow_all_keys && config_.blocked_key_patterns.empty() &&
                        config_.blocked_values.empty() && !config_.redact_all_types &&
                        !(ignores && config_.summary != RedactionProcessorConfig::Summary::kSilent);
}

bool RedactionProcessor::Ignored(std::string_view key) const {
  if (!ignored_keys_.empty() && ignored_keys_.contains(absl::string_view(key.data(), key.size()))) {
    return true;
  }
  return AnyMatch(config_.ignored_key_patterns, key);
}

bool RedactionProcessor::Allowed(std::string_view key) const {
  return config_.allow_all_keys ||
         allowed_keys_.contains(absl::string_view(key.data(), key.size()));
}

bool RedactionProcessor::AllowedValue(std::string_view value) const {
  return AnyMatch(config_.allowed_values, value);
}

bool RedactionProcessor::BlockedKey(std::string_view key) const {
  return AnyMatch(config_.blocked_key_patterns, key);
}

void RedactionProcessor::AddSummary(AttrMap& attrs, const std::vector<std::string_view>& keys,
                                    std::string_view keys_attr, std::string_view count_attr,
                                    Scratch* scratch) const {
  if (keys.empty() || config_.summary == RedactionProcessorConfig::Summary::kSilent) return;
  if (config_.summary == RedactionProcessorConfig::Summary::kDebug && !keys_attr.empty()) {
    std::vector<std::string> all(keys.begin(), keys.end());
    const int i = attrs.Find(keys_attr);
    if (i >= 0) {
      const attraction::Value v = attrs.Get(static_cast<size_t>(i), scratch);
      if (v.type == attraction::ValueType::kStr && !v.bytes.empty()) {
        for (absl::string_view part :
             absl::StrSplit(absl::string_view(v.bytes.data(), v.bytes.size()), ',')) {
          all.emplace_back(part);
        }
      }
    }
    std::sort(all.begin(), all.end());
    attrs.Put(keys_attr, attraction::EncodeStr(absl::StrJoin(all, ","), scratch));
  }
  int64_t count = static_cast<int64_t>(keys.size());
  const int i = attrs.Find(count_attr);
  if (i >= 0) {
    const attraction::Value v = attrs.Get(static_cast<size_t>(i), scratch);
    if (v.type == attraction::ValueType::kInt) count += v.int_value;
  }
  attrs.Put(count_attr, attraction::EncodeInt(count, scratch));
}

bool RedactionProcessor::RedactAttributes(AttrMap& attrs, Scratch* scratch) const {
  RedactionState& st = StateForThread();
  st.redacted.clear();
  st.masked.clear();
  st.allowed.clear();
  st.ignored.clear();
  for (size_t i = 0; i < attrs.size(); ++i) {
    const std::string_view key = attrs[i].key;
    if (Ignored(key)) {
      st.ignored.push_back(key);
      continue;
    }
    if (!Allowed(key)) {
      st.redacted.push_back(key);
      continue;
    }
    const attraction::Value v = attrs.Get(i, scratch);
    std::string_view s;
    std::string formatted;
    if (v.type == attraction::ValueType::kStr) {
      s = v.bytes;
    } else if (config_.redact_all_types) {
      formatted = attraction::AsString(v, scratch);
      s = formatted;
    } else if (!BlockedKey(key)) {
      // otelcol reads a non-string value as "" (pcommon's Str()), which the masks leave be.
      continue;
    }
    if (AllowedValue(s)) {
      st.allowed.push_back(key);
      continue;
    }
    if (BlockedKey(key)) {
      st.masked.push_back(key);
      attrs.Set(i, attraction::EncodeStr(masker_.MaskWhole(s, scratch), scratch));
      continue;
    }
    const std::string_view masked = masker_.Mask(s, scratch);
    if (masked.data() != s.data() || masked.size() != s.size()) {
      st.masked.push_back(key);
      attrs.Set(i, attraction::EncodeStr(masked, scratch));
    }
  }
  for (std::string_view key : st.redacted) attrs.Remove(key);
  AddSummary(attrs, st.redacted, kRedactedKeys, kRedactedCount, scratch);
  AddSummary(attrs, st.masked, kMaskedKeys, kMaskedCount, scratch);
  AddSummary(attrs, st.allowed, kAllowedKeys, kAllowedCount, scratch);
  AddSummary(attrs, st.ignored, "", kIgnoredCount, scratch);
  return attrs.changed();
}

std::string_view RedactionProcessor::RedactBody(std::string_view s, Scratch* scratch) const {
  if (AllowedValue(s)) return s;
  return masker_.Mask(s, scratch);
}

void RedactionProcessor::AddBodySummary(AttrMap& attrs, Scratch* scratch) const {
  static const std::vector<std::string_view> kBodyKey = {"body"};
  AddSummary(attrs, kBodyKey, kBodyMaskedKeys, kBodyMaskedCount, scratch);
}

namespace {

using opentelemetry::proto::common::v1::AnyValue;

// What a structured body's redaction did, by dotted key path.
struct BodyOutcome {
  std::vector<std::string> redacted, masked, allowed, ignored;
};

// The string form otelcol masks for a scalar (AsString), or nullopt for maps, slices and
// empty values.
std::optional<std::string> ScalarText(const AnyValue& v) {
  switch (v.value_case()) {
    case AnyValue::kStringValue:
      return v.string_value();
    case AnyValue::kIntValue:
      return absl::StrCat(v.int_value());
    case AnyValue::kBoolValue:
      return v.bool_value() ? "true" : "false";
    case AnyValue::kDoubleValue:
    case AnyValue::kBytesValue: {
      // The same formatting the attribute path uses.
      attraction::Scratch scratch;
      const std::string bytes = v.SerializeAsString();
      return attraction::AsString(attraction::DecodeValue(bytes, &scratch), &scratch);
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

// Recursion over a structured body; the rules are RedactAttributes' (see there).
class BodyRedactor {
 public:
  BodyRedactor(const RedactionProcessor& p, attraction::Scratch* scratch, BodyOutcome* out)
      : p_(p), scratch_(scratch), out_(out) {}

  // Returns whether `v` changed.
  bool Value(AnyValue* v, const std::string& path, std::string_view key, bool keyed) {
    if (v->has_kvlist_value()) return Map(v->mutable_kvlist_value(), path);
    if (v->has_array_value()) {
      bool changed = false;
      auto* values = v->mutable_array_value()->mutable_values();
      for (int i = 0; i < values->size(); ++i) {
        changed |= Value(values->Mutable(i), absl::StrCat(path, "[", i, "]"), key, false);
      }
      return changed;
    }
    std::optional<std::string> text = ScalarText(*v);
    if (!text) return false;
    const bool blocked = keyed && p_.BlockedKey(key);
    if (!v->has_string_value() && !p_.config_.redact_all_types && !blocked) return false;
    if (p_.AllowedValue(*text)) {
      out_->allowed.push_back(path);
      return false;
    }
    const std::string_view masked =
        blocked ? p_.masker_.MaskWhole(*text, scratch_) : p_.masker_.Mask(*text, scratch_);
    if (!blocked && masked == *text) return false;
    out_->masked.push_back(path);
    v->set_string_value(std::string(masked));
    return true;
  }

 private:
  bool Map(opentelemetry::proto::common::v1::KeyValueList* map, const std::string& path) {
    bool changed = false;
    auto* values = map->mutable_values();
    for (int i = 0; i < values->size();) {
      auto* kv = values->Mutable(i);
      const std::string key_path = path.empty() ? kv->key() : absl::StrCat(path, ".", kv->key());
      if (p_.Ignored(kv->key())) {
        out_->ignored.push_back(key_path);
      } else if (!p_.Allowed(kv->key())) {
        out_->redacted.push_back(key_path);
        values->erase(values->begin() + i);
        changed = true;
        continue;
      } else {
        changed |= Value(kv->mutable_value(), key_path, kv->key(), true);
      }
      ++i;
    }
    return changed;
  }

  const RedactionProcessor& p_;
  attraction::Scratch* scratch_;
  BodyOutcome* out_;
};

std::string RedactionProcessor::RedactStructuredBody(std::string_view any_value, AttrMap& attrs,
                                                     Scratch* scratch) const {
  AnyValue body;
  if (!body.ParseFromArray(any_value.data(), static_cast<int>(any_value.size()))) return "";
  BodyOutcome outcome;
  BodyRedactor redactor(*this, scratch, &outcome);
  const bool changed = redactor.Value(&body, "", "", false);
  auto summary = [&](const std::vector<std::string>& keys, std::string_view keys_attr,
                     std::string_view count_attr) {
    const std::vector<std::string_view> views(keys.begin(), keys.end());
    AddSummary(attrs, views, keys_attr, count_attr, scratch);
  };
  summary(outcome.redacted, kBodyRedactedKeys, kBodyRedactedCount);
  summary(outcome.masked, kBodyMaskedKeys, kBodyMaskedCount);
  summary(outcome.allowed, kBodyAllowedKeys, kBodyAllowedCount);
  summary(outcome.ignored, "", kBodyIgnoredCount);
  return changed ? body.SerializeAsString() : "";
}

// One walk over one request. Each message is walked once to load its attributes and once
// more, only when something in it changes, to write the edits in the order of its bytes.
class RedactionWalker {
 public:
  RedactionWalker(const RedactionProcessor& p, Workspace& ws)
      : p_(p), ws_(ws), st_(StateForThread()) {}

  bool Run(std::string_view request) {
    WireReader r(request);
    WireField f;
    while (r.Next(&f)) {
      if (f.IsLen(kResourceEntries)) Resource(f);
    }
    return !r.error() && !failed_;
  }

 private:
  // Redacts the attributes (field `attr_field`) of message `msg` and rewrites them if they
  // changed; returns the change of `msg`'s size.
  int64_t SimpleMessage(const WireField& msg, uint32_t attr_field, AttrMap& attrs) {
    attrs.Clear();
    AttrFields fields;
    WireReader r(msg.payload);
    WireField f;
    while (r.Next(&f)) {
      if (f.IsLen(attr_field)) {
        attrs.AddField(f, &ws_.scratch);
        fields.Add(f);
      }
    }
    if (r.error()) {
      failed_ = true;
      return 0;
    }
    if (!p_.RedactAttributes(attrs, &ws_.scratch)) return 0;
    return attraction::RewriteAttributes(msg, attrs, attr_field, fields, ws_);
  }

  // Writes the edits of `item` in the order of its bytes: its changed attributes (`attrs`,
  // loaded from `fields`) and whatever `other` does with its other fields.
  template <class Other>
  int64_t EditItem(const WireField& item, uint32_t attr_field, const AttrMap& attrs,
                   const AttrFields& fields, bool attrs_changed, Other&& other) {
    const auto open = ws_.editor.OpenField(item);
    int64_t delta = 0;
    bool emitted = false;
    WireReader r(item.payload);
    WireField f;
    while (r.Next(&f)) {
      if (attrs_changed && f.IsLen(attr_field)) {
        if (fields.contiguous) {
          if (!emitted) {
            const char* region = attrs.StableEnd(fields.begin);
            ws_.editor.Replace(region, fields.end);
            delta -= fields.end - region;
            delta += static_cast<int64_t>(
                attrs.Emit(attr_field, &ws_.editor, &ws_.scratch, attrs.stable()));
          }
        } else {
          ws_.editor.Replace(f.begin, f.end);
          delta -= f.end - f.begin;
          if (!emitted) {
            delta += static_cast<int64_t>(attrs.Emit(attr_field, &ws_.editor, &ws_.scratch));
          }
        }
        emitted = true;
        continue;
      }
      delta += other(f);
    }
    if (attrs_changed && !emitted) {
      ws_.editor.Replace(item.end, item.end);
      delta += static_cast<int64_t>(attrs.Emit(attr_field, &ws_.editor, &ws_.scratch));
    }
    return ws_.editor.CloseField(open, delta, &ws_.scratch);
  }

  void Resource(const WireField& rx) {
    const auto open = ws_.editor.OpenField(rx);
    int64_t delta = 0;
    WireReader r(rx.payload);
    WireField f;
    while (r.Next(&f)) {
      if (f.IsLen(kResource)) {
        delta += SimpleMessage(f, kResourceAttributes, st_.inner);
      } else if (f.IsLen(kScopeEntries)) {
        delta += Scope(f);
      }
    }
    if (r.error()) failed_ = true;
    ws_.editor.CloseField(open, delta, &ws_.scratch);
  }

  int64_t Scope(const WireField& sx) {
    const auto open = ws_.editor.OpenField(sx);
    int64_t delta = 0;
    WireReader r(sx.payload);
    WireField f;
    while (r.Next(&f)) {
      if (f.IsLen(kScope)) {
        delta += SimpleMessage(f, kScopeAttributes, st_.inner);
      } else if (f.IsLen(kItems)) {
        switch (p_.signal_) {
          case Signal::kTraces:
            delta += Span(f);
            break;
          case Signal::kLogs:
            delta += LogRecord(f);
            break;
          case Signal::kMetrics:
            delta += Metric(f);
            break;
        }
      }
    }
    if (r.error()) failed_ = true;
    return ws_.editor.CloseField(open, delta, &ws_.scratch);
  }

  int64_t Span(const WireField& span) {
    ws_.attrs.Clear();
    AttrFields fields;
    bool events = false;
    WireReader r(span.payload);
    WireField f;
    while (r.Next(&f)) {
      if (f.IsLen(kSpanAttributes)) {
        ws_.attrs.AddField(f, &ws_.scratch);
        fields.Add(f);
      } else if (f.IsLen(kSpanEvents)) {
        events = true;
      }
    }
    if (r.error()) {
      failed_ = true;
      return 0;
    }
    const bool changed = p_.RedactAttributes(ws_.attrs, &ws_.scratch);
    if (!changed && !events) return 0;
    if (!events)
      return attraction::RewriteAttributes(span, ws_.attrs, kSpanAttributes, fields, ws_);
    return EditItem(span, kSpanAttributes, ws_.attrs, fields, changed, [&](const WireField& g) {
      return g.IsLen(kSpanEvents) ? SimpleMessage(g, kEventAttributes, st_.inner) : 0;
    });
  }

  int64_t LogRecord(const WireField& record) {
    ws_.attrs.Clear();
    AttrFields fields;
    std::string_view body;
    int bodies = 0;
    WireReader r(record.payload);
    WireField f;
    while (r.Next(&f)) {
      if (f.IsLen(kLogAttributes)) {
        ws_.attrs.AddField(f, &ws_.scratch);
        fields.Add(f);
      } else if (f.IsLen(kBody)) {
        if (bodies > 0) {
          // A repeated message field merges: its encodings concatenate.
          char* merged = ws_.scratch.Alloc(body.size() + f.payload.size());
          attraction::CopyBytes(attraction::CopyBytes(merged, body), f.payload);
          body = std::string_view(merged, body.size() + f.payload.size());
        } else {
          body = f.payload;
        }
        ++bodies;
      }
    }
    if (r.error()) {
      failed_ = true;
      return 0;
    }
    bool changed = p_.RedactAttributes(ws_.attrs, &ws_.scratch);
    // The body: strings, and other scalars by their string form (otelcol's AsString); maps
    // and slices by the attribute rules at every level.
    std::string_view new_body_field;
    if (bodies > 0) {
      const attraction::Value v = attraction::DecodeValue(body, &ws_.scratch);
      std::string formatted;
      std::string_view s;
      bool scalar = true;
      switch (v.type) {
        case attraction::ValueType::kStr:
          s = v.bytes;
          break;
        case attraction::ValueType::kInt:
        case attraction::ValueType::kDouble:
        case attraction::ValueType::kBool:
        case attraction::ValueType::kBytes:
          formatted = attraction::AsString(v, &ws_.scratch);
          s = formatted;
          break;
        case attraction::ValueType::kMap:
        case attraction::ValueType::kSlice: {
          scalar = false;
          const std::string redacted = p_.RedactStructuredBody(body, ws_.attrs, &ws_.scratch);
          changed = ws_.attrs.changed();
          if (!redacted.empty()) {
            new_body_field = LenField(kBody, ws_.scratch.Copy(redacted), &ws_.scratch);
          }
          break;
        }
        default:
          scalar = false;
      }
      if (scalar) {
        const std::string_view masked = p_.RedactBody(s, &ws_.scratch);
        if (masked.data() != s.data() || masked.size() != s.size()) {
          new_body_field =
              LenField(kBody, attraction::EncodeStr(masked, &ws_.scratch), &ws_.scratch);
          p_.AddBodySummary(ws_.attrs, &ws_.scratch);
          changed = ws_.attrs.changed();
        }
      }
    }
    if (new_body_field.empty()) {
      if (!changed) return 0;
      return attraction::RewriteAttributes(record, ws_.attrs, kLogAttributes, fields, ws_);
    }
    bool body_written = false;
    return EditItem(record, kLogAttributes, ws_.attrs, fields, changed, [&](const WireField& g) {
      if (!g.IsLen(kBody)) return int64_t{0};
      ws_.editor.Replace(g.begin, g.end);
      int64_t d = -(g.end - g.begin);
      if (!body_written) {
        ws_.editor.Append(new_body_field);
        d += static_cast<int64_t>(new_body_field.size());
        body_written = true;
      }
      return d;
    });
  }

  int64_t Metric(const WireField& metric) {
    const auto open = ws_.editor.OpenField(metric);
    int64_t delta = 0;
    WireReader r(metric.payload);
    WireField f;
    while (r.Next(&f)) {
      const uint32_t attr_field = DataPointAttributes(f.number);
      if (attr_field == 0 || f.type != attraction::kWireLen) continue;
      const auto member_open = ws_.editor.OpenField(f);
      int64_t md = 0;
      WireReader rr(f.payload);
      WireField point;
      while (rr.Next(&point)) {
        if (point.IsLen(kDataPoints)) md += SimpleMessage(point, attr_field, ws_.attrs);
      }
      if (rr.error()) failed_ = true;
      delta += ws_.editor.CloseField(member_open, md, &ws_.scratch);
    }
    if (r.error()) failed_ = true;
    return ws_.editor.CloseField(open, delta, &ws_.scratch);
  }

  const RedactionProcessor& p_;
  Workspace& ws_;
  RedactionState& st_;
  bool failed_ = false;
};

TelemetryPtr RedactionProcessor::Process(TelemetryPtr data) const {
  Workspace& ws = Workspace::ForThread();
  const std::string_view request = ws.Begin(*data);
  if (only_builtin_masks_ && !redaction::MayHoldCardOrEmail(request, config_.mask_card_numbers,
                                                            config_.mask_email_addresses)) {
    ws.editor.Reset({});
    ws.source = nullptr;
    return data;
  }
  RedactionWalker walker(*this, ws);
  if (!walker.Run(request)) {
    if (uint64_t n = malformed_log_.Add(1)) {
      spdlog::warn("{}: {} malformed {} request(s) passed on unchanged", id_, n,
                   SignalName(signal_));
    }
    ws.editor.Reset({});
    return data;
  }
  return ws.Finish(std::move(data));
}

void RedactionProcessor::Consume(TelemetryPtr data, Completion done) {
  next_->Consume(Process(std::move(data)), std::move(done));
}

}  // namespace otlpd
