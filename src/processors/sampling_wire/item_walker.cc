#include "processors/sampling_wire/item_walker.h"

#include <cstring>
#include <string>
#include <vector>

#include "processors/attraction/wire.h"
#include "processors/attraction/workspace.h"

namespace otlpd::sampling_wire {

using attraction::Scratch;
using attraction::WireField;
using attraction::WireReader;
using attraction::Workspace;

namespace {

// Shared by ResourceSpans/ResourceLogs and ScopeSpans/ScopeLogs: resource_* = 1 in the
// request, resource = 1 and scope_* = 2 in a resource entry, the items = 2 in a scope entry.
constexpr uint32_t kResourceEntries = 1;
constexpr uint32_t kResource = 1;
constexpr uint32_t kScopeEntries = 2;
constexpr uint32_t kItems = 2;
constexpr uint32_t kResourceAttributes = 1;
constexpr uint32_t kKeyValueKey = 1;
constexpr uint32_t kKeyValueValue = 2;

// Span.
constexpr uint32_t kSpanTraceId = 1;
constexpr uint32_t kSpanTraceState = 3;
constexpr uint32_t kSpanParentSpanId = 4;
constexpr uint32_t kSpanName = 5;
constexpr uint32_t kSpanKind = 6;
constexpr uint32_t kSpanStart = 7;
constexpr uint32_t kSpanEnd = 8;
constexpr uint32_t kSpanAttributes = 9;
constexpr uint32_t kSpanStatus = 15;
constexpr uint32_t kStatusCode = 3;
// LogRecord.
constexpr uint32_t kLogTime = 1;
constexpr uint32_t kLogAttributes = 6;
constexpr uint32_t kLogTraceId = 9;
constexpr uint32_t kLogObservedTime = 11;

struct ItemRecord {
  WireField field;
  const char* trace_state_begin = nullptr;  // the (last) trace_state field, if any
  const char* trace_state_end = nullptr;
  ItemVerdict verdict;
};
struct GroupRecord {  // a scope entry or a resource entry
  WireField field;
  size_t first = 0;  // first item (scope) or scope (resource)
  size_t count = 0;
  size_t items = 0;
  size_t kept = 0;
  bool changed = false;
};

struct WalkState {
  std::vector<ItemRecord> items;
  std::vector<GroupRecord> scopes;
  std::vector<GroupRecord> resources;
};

WalkState& StateForThread() {
  thread_local WalkState state;
  return state;
}

// The key of a KeyValue's encoding and its value's AnyValue bytes.
bool ReadKeyValue(std::string_view kv, std::string_view* key, std::string_view* value) {
  WireReader r(kv);
  WireField f;
  *key = {};
  *value = {};
  while (r.Next(&f)) {
    if (f.IsLen(kKeyValueKey)) *key = f.payload;
    if (f.IsLen(kKeyValueValue)) *value = f.payload;
  }
  return !r.error();
}

std::optional<attraction::Value> FindAttribute(std::string_view message, uint32_t field,
                                               std::string_view key, Scratch* scratch) {
  std::optional<attraction::Value> found;
  WireReader r(message);
  WireField f;
  while (r.Next(&f)) {
    if (!f.IsLen(field)) continue;
    // Most KeyValues start with their key (field 1, one-byte length): compare it in place
    // and skip the others without parsing them.
    const std::string_view kv = f.payload;
    if (kv.size() >= 2 && kv[0] == 0x0a && static_cast<uint8_t>(kv[1]) < 0x80) {
      const size_t length = static_cast<uint8_t>(kv[1]);
      if (length != key.size() || kv.size() < 2 + length ||
          std::memcmp(kv.data() + 2, key.data(), length) != 0) {
        // A second key field later in the KeyValue (merge rules: the last wins) is possible
        // in principle; only a full parse can tell, so such odd encodings take it.
        if (kv.size() == 2 + length || kv[2 + length] == 0x12) {
          // key then value: the usual shape, and not our key.
          if (kv.size() == 2 + length) continue;
          uint64_t value_length = 0;
          const char* p =
              attraction::ReadVarint(kv.data() + 3 + length, kv.data() + kv.size(), &value_length);
          if (p != nullptr && p + value_length == kv.data() + kv.size()) continue;
        }
      }
    }
    std::string_view k;
    std::string_view v;
    if (ReadKeyValue(kv, &k, &v) && k == key) found = attraction::DecodeValue(v, scratch);
  }
  return found;
}

std::string_view ServiceName(std::string_view resource_entry, Scratch* scratch) {
  std::string_view name;
  WireReader r(resource_entry);
  WireField f;
  while (r.Next(&f)) {
    if (!f.IsLen(kResource)) continue;
    std::optional<attraction::Value> v =
        FindAttribute(f.payload, kResourceAttributes, "service.name", scratch);
    if (!v) continue;
    if (v->type == attraction::ValueType::kStr) {
      name = v->bytes;
    } else {
      name = scratch->Copy(attraction::AsString(*v, scratch));
    }
  }
  return name;
}

bool ParseSpan(const WireField& span, ItemView* view, ItemRecord* record) {
  WireReader r(span.payload);
  WireField f;
  while (r.Next(&f)) {
    switch (f.number) {
      case kSpanTraceId:
        if (f.type == attraction::kWireLen) view->trace_id = f.payload;
        break;
      case kSpanTraceState:
        if (f.type == attraction::kWireLen) {
          view->trace_state = f.payload;
          record->trace_state_begin = f.begin;
          record->trace_state_end = f.end;
        }
        break;
      case kSpanParentSpanId:
        if (f.type == attraction::kWireLen) view->has_parent = !f.payload.empty();
        break;
      case kSpanName:
        if (f.type == attraction::kWireLen) view->name = f.payload;
        break;
      case kSpanKind:
        if (f.type == attraction::kWireVarint) view->kind = static_cast<int32_t>(f.scalar);
        break;
      case kSpanStart:
        if (f.type == attraction::kWireFixed64) view->start_unix_nano = f.scalar;
        break;
      case kSpanEnd:
        if (f.type == attraction::kWireFixed64) view->end_unix_nano = f.scalar;
        break;
      case kSpanStatus:
        if (f.type == attraction::kWireLen) {
          WireReader sr(f.payload);
          WireField s;
          while (sr.Next(&s)) {
            if (s.IsVarint(kStatusCode)) view->status_code = static_cast<int32_t>(s.scalar);
          }
        }
        break;
      default:
        break;
    }
  }
  return !r.error();
}

bool ParseLogRecord(const WireField& record, ItemView* view) {
  WireReader r(record.payload);
  WireField f;
  uint64_t observed = 0;
  while (r.Next(&f)) {
    if (f.IsLen(kLogTraceId)) {
      view->trace_id = f.payload;
    } else if (f.number == kLogTime && f.type == attraction::kWireFixed64) {
      view->start_unix_nano = f.scalar;
    } else if (f.number == kLogObservedTime && f.type == attraction::kWireFixed64) {
      observed = f.scalar;
    }
  }
  if (view->start_unix_nano == 0) view->start_unix_nano = observed;
  view->end_unix_nano = view->start_unix_nano;
  return !r.error();
}

// A length-delimited field's encoding: tag, length, bytes.
std::string_view EncodeLenField(uint32_t number, std::string_view bytes, Scratch* scratch) {
  const uint64_t tag = (uint64_t{number} << 3) | attraction::kWireLen;
  const size_t n =
      attraction::VarintSize(tag) + attraction::VarintSize(bytes.size()) + bytes.size();
  char* out = scratch->Alloc(n);
  char* p = attraction::WriteVarint(out, tag);
  p = attraction::WriteVarint(p, bytes.size());
  attraction::CopyBytes(p, bytes);
  return {out, n};
}

// KeyValue{key, value: AnyValue{string_value}} as attribute field `number`.
std::string_view EncodeStringAttribute(uint32_t number, std::string_view key,
                                       std::string_view value, Scratch* scratch) {
  const std::string_view any = EncodeLenField(1, value, scratch);
  const std::string_view k = EncodeLenField(kKeyValueKey, key, scratch);
  const std::string_view v = EncodeLenField(kKeyValueValue, any, scratch);
  char* kv = scratch->Alloc(k.size() + v.size());
  attraction::CopyBytes(attraction::CopyBytes(kv, k), v);
  return EncodeLenField(number, std::string_view(kv, k.size() + v.size()), scratch);
}

// Applies a kept item's changes; returns how much the item field grew.
int64_t EditItem(const ItemRecord& item, Signal signal, Workspace& ws) {
  const ItemVerdict& v = item.verdict;
  if (signal == Signal::kTraces) {
    if (!v.replace_trace_state) return 0;
    const auto open = ws.editor.OpenField(item.field);
    int64_t delta = 0;
    const std::string_view encoded =
        v.trace_state.empty() ? std::string_view()
                              : EncodeLenField(kSpanTraceState, v.trace_state, &ws.scratch);
    if (item.trace_state_begin != nullptr) {
      ws.editor.Replace(item.trace_state_begin, item.trace_state_end);
      delta -= item.trace_state_end - item.trace_state_begin;
    } else {
      ws.editor.Replace(item.field.end, item.field.end);
    }
    ws.editor.Append(encoded);
    delta += static_cast<int64_t>(encoded.size());
    return ws.editor.CloseField(open, delta, &ws.scratch);
  }
  if (v.set_count == 0) return 0;
  // Log record attributes: an existing one with the key is replaced in place, else appended.
  const auto open = ws.editor.OpenField(item.field);
  int64_t delta = 0;
  bool done[2] = {false, false};
  WireReader r(item.field.payload);
  WireField f;
  while (r.Next(&f)) {
    if (!f.IsLen(kLogAttributes)) continue;
    std::string_view key;
    std::string_view value;
    if (!ReadKeyValue(f.payload, &key, &value)) continue;
    for (int i = 0; i < v.set_count; ++i) {
      if (key != v.set_keys[i]) continue;
      ws.editor.Replace(f.begin, f.end);
      delta -= f.end - f.begin;
      if (!done[i]) {
        const std::string_view kv =
            EncodeStringAttribute(kLogAttributes, v.set_keys[i], v.set_values[i], &ws.scratch);
        ws.editor.Append(kv);
        delta += static_cast<int64_t>(kv.size());
        done[i] = true;
      }
      break;
    }
  }
  bool appending = false;
  for (int i = 0; i < v.set_count; ++i) {
    if (done[i]) continue;
    if (!appending) ws.editor.Replace(item.field.end, item.field.end);
    appending = true;
    const std::string_view kv =
        EncodeStringAttribute(kLogAttributes, v.set_keys[i], v.set_values[i], &ws.scratch);
    ws.editor.Append(kv);
    delta += static_cast<int64_t>(kv.size());
  }
  return ws.editor.CloseField(open, delta, &ws.scratch);
}

bool Changes(const ItemRecord& item, Signal signal) {
  if (!item.verdict.keep) return true;
  return signal == Signal::kTraces ? item.verdict.replace_trace_state : item.verdict.set_count > 0;
}

}  // namespace

std::optional<attraction::Value> ItemView::Attribute(std::string_view key, Scratch* scratch) const {
  return FindAttribute(payload, attributes_field, key, scratch);
}

ItemVerdict DecideSpan(const consistent_sampling::Stage& stage, const ItemView& span,
                       bool fail_closed, Scratch* scratch,
                       consistent_sampling::Decision* decision) {
  using consistent_sampling::DecisionError;
  thread_local std::string buffer;
  consistent_sampling::Decision d =
      consistent_sampling::Decide(stage, span.trace_id, span.trace_state, &buffer);
  ItemVerdict verdict;
  switch (d.error) {
    case DecisionError::kNone:
      break;
    case DecisionError::kInconsistentThreshold:
      if (fail_closed) d.keep = false;
      break;
    default:
      verdict.keep = !fail_closed;
      if (decision != nullptr) *decision = d;
      return verdict;
  }
  verdict.keep = d.keep;
  if (d.keep && d.tracestate_changed) {
    verdict.replace_trace_state = true;
    verdict.trace_state = scratch->Copy(buffer);
  }
  if (decision != nullptr) *decision = d;
  return verdict;
}

WalkResult Walk(TelemetryPtr data, DecideFn decide) {
  WalkResult result;
  const Signal signal = data->signal();
  if (signal == Signal::kMetrics) {
    result.items_in = result.items_kept = data->ItemCount();
    result.data = std::move(data);
    return result;
  }
  Workspace& ws = Workspace::ForThread();
  const std::string_view request = ws.Begin(*data);
  WalkState& st = StateForThread();
  st.items.clear();
  st.scopes.clear();
  st.resources.clear();
  bool failed = false;
  bool changed = false;

  // Pass 1: every item's verdict, and what each scope and resource keeps.
  WireReader rr(request);
  WireField rx;
  while (rr.Next(&rx)) {
    if (!rx.IsLen(kResourceEntries)) continue;
    GroupRecord resource{rx, st.scopes.size()};
    ItemView base;
    base.resource = rx.payload;
    base.service_name = ServiceName(rx.payload, &ws.scratch);
    base.attributes_field = signal == Signal::kTraces ? kSpanAttributes : kLogAttributes;
    WireReader sr(rx.payload);
    WireField sx;
    while (sr.Next(&sx)) {
      if (!sx.IsLen(kScopeEntries)) continue;
      GroupRecord scope{sx, st.items.size()};
      WireReader ir(sx.payload);
      WireField item;
      while (ir.Next(&item)) {
        if (!item.IsLen(kItems)) continue;
        ItemRecord record;
        record.field = item;
        ItemView view = base;
        view.payload = item.payload;
        const bool ok = signal == Signal::kTraces ? ParseSpan(item, &view, &record)
                                                  : ParseLogRecord(item, &view);
        if (!ok) {
          failed = true;
          continue;
        }
        record.verdict = decide(view, &ws.scratch);
        ++scope.items;
        if (record.verdict.keep) ++scope.kept;
        if (Changes(record, signal)) scope.changed = true;
        st.items.push_back(record);
        ++scope.count;
      }
      failed |= ir.error();
      resource.items += scope.items;
      resource.kept += scope.kept;
      resource.changed |= scope.changed;
      st.scopes.push_back(scope);
      ++resource.count;
    }
    failed |= sr.error();
    changed |= resource.changed;
    result.items_in += resource.items;
    result.items_kept += resource.kept;
    st.resources.push_back(resource);
  }
  failed |= rr.error();
  if (failed) {
    ws.editor.Reset({});
    result.malformed = true;
    result.items_kept = result.items_in;
    result.data = std::move(data);
    return result;
  }
  if (result.items_kept == 0 && result.items_in > 0) {
    ws.editor.Reset({});
    return result;
  }
  if (!changed) {
    ws.editor.Reset({});
    result.data = std::move(data);
    return result;
  }

  // Pass 2: the edits, in the order of the bytes.
  for (const GroupRecord& resource : st.resources) {
    if (!resource.changed) continue;
    if (resource.items > 0 && resource.kept == 0) {
      ws.editor.Replace(resource.field.begin, resource.field.end);
      continue;
    }
    const auto open_resource = ws.editor.OpenField(resource.field);
    int64_t resource_delta = 0;
    for (size_t s = resource.first; s < resource.first + resource.count; ++s) {
      const GroupRecord& scope = st.scopes[s];
      if (!scope.changed) continue;
      if (scope.items > 0 && scope.kept == 0) {
        ws.editor.Replace(scope.field.begin, scope.field.end);
        resource_delta -= scope.field.end - scope.field.begin;
        continue;
      }
      const auto open_scope = ws.editor.OpenField(scope.field);
      int64_t scope_delta = 0;
      for (size_t i = scope.first; i < scope.first + scope.count; ++i) {
        const ItemRecord& item = st.items[i];
        if (!item.verdict.keep) {
          ws.editor.Replace(item.field.begin, item.field.end);
          scope_delta -= item.field.end - item.field.begin;
        } else {
          scope_delta += EditItem(item, signal, ws);
        }
      }
      resource_delta += ws.editor.CloseField(open_scope, scope_delta, &ws.scratch);
    }
    ws.editor.CloseField(open_resource, resource_delta, &ws.scratch);
  }
  auto out = Telemetry::FromWire(signal, ws.editor.Build(ws.source), result.items_kept);
  out->set_metadata(data->metadata());
  ws.editor.Reset({});
  ws.source = nullptr;
  result.data = std::move(out);
  return result;
}

}  // namespace otlpd::sampling_wire
