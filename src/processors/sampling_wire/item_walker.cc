#include "processors/sampling_wire/item_walker.h"

#include <cstring>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include "core/span_index.h"
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
static_assert(std::is_trivially_destructible_v<ItemVerdict>);
struct GroupRecord {  // a scope entry or a resource entry
  WireField field;
  size_t first = 0;  // first item (scope) or scope (resource)
  size_t count = 0;
  size_t items = 0;
  size_t kept = 0;
  bool changed = false;
};

struct WalkState {
  // items[0, item_count) are this walk's; the vector only grows, so that a record is not
  // value-initialized (a 168-byte memset) per item.
  std::vector<ItemRecord> items;
  size_t item_count = 0;
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

// A KeyValue's key and AnyValue bytes. Nearly all are encoded as key (field 1, one-byte
// length) then value (field 2): split in place; anything else (fields out of order, repeats,
// whose merge rules only a full parse applies) takes ReadKeyValue.
[[gnu::noinline]] bool ReadKeyValueSlow(std::string_view kv, std::string_view* key,
                                        std::string_view* value) {
  return ReadKeyValue(kv, key, value);
}

inline bool SplitKeyValue(std::string_view kv, std::string_view* key, std::string_view* value) {
  if (kv.size() >= 2 && kv[0] == 0x0a && static_cast<uint8_t>(kv[1]) < 0x80) [[likely]] {
    const size_t length = static_cast<uint8_t>(kv[1]);
    const size_t rest = kv.size() - 2;
    if (rest == length) {
      *key = kv.substr(2);
      *value = {};
      return true;
    }
    // value field with a one-byte length reaching exactly to the end
    if (rest > length + 1 && kv[2 + length] == 0x12 &&
        static_cast<uint8_t>(kv[3 + length]) < 0x80 &&
        static_cast<uint8_t>(kv[3 + length]) == rest - length - 2) [[likely]] {
      *key = std::string_view(kv.data() + 2, length);
      *value = std::string_view(kv.data() + 4 + length, rest - length - 2);
      return true;
    }
  }
  return ReadKeyValueSlow(kv, key, value);
}

// Whether a KeyValue's encoding has the usual shape (key first with a one-byte length, then
// the value reaching exactly to the end) and a key of another length than `size`: then it
// cannot be the attribute looked for, which settles most of them without a call.
inline bool UsualWithKeyLengthOtherThan(std::string_view kv, size_t size) {
  const auto* b = reinterpret_cast<const uint8_t*>(kv.data());
  if (kv.size() < 2 || b[0] != 0x0a || b[1] >= 0x80 || b[1] == size) return false;
  const size_t length = b[1];
  const size_t rest = kv.size() - 2;
  if (rest == length) return true;
  if (rest <= length + 1 || b[2 + length] != 0x12) return false;
  uint64_t value_length = 0;
  const char* v =
      attraction::ReadVarint(kv.data() + 3 + length, kv.data() + kv.size(), &value_length);
  return v != nullptr && v + value_length == kv.data() + kv.size();
}

std::optional<attraction::Value> FindAttribute(std::string_view message, uint32_t field,
                                               std::string_view key, Scratch* scratch) {
  std::optional<attraction::Value> found;
  const char* p = message.data();
  const char* const end = p + message.size();
  // The attribute fields' one-byte tag (every attributes field number is below 16).
  const uint8_t tag = field < 16 ? static_cast<uint8_t>((field << 3) | attraction::kWireLen) : 0;
  WireField f;
  while (p < end) {
    std::string_view kv;
    if (tag != 0 && static_cast<uint8_t>(*p) == tag) [[likely]] {
      uint64_t length = 0;
      const char* value = attraction::ReadVarint(p + 1, end, &length);
      if (value == nullptr || length > static_cast<uint64_t>(end - value)) break;
      kv = std::string_view(value, length);
      p = value + length;
    } else {
      WireReader r(std::string_view(p, end - p));
      if (!r.Next(&f)) break;
      p = f.end;
      if (!f.IsLen(field)) continue;
      kv = f.payload;
    }
    if (UsualWithKeyLengthOtherThan(kv, key.size())) continue;
    std::string_view k;
    std::string_view v;
    if (SplitKeyValue(kv, &k, &v) && k == key) found = attraction::DecodeValue(v, scratch);
  }
  return found;
}

// An attribute field of the item: notes its value when its key is one the walk looks for.
[[gnu::always_inline]] inline void NoteAttribute(std::string_view kv, ItemView* view) {
  std::string_view key;
  std::string_view value;
  if (!SplitKeyValue(kv, &key, &value)) return;
  const int i = view->keys->Find(key);
  if (i < 0) return;
  view->found |= uint32_t{1} << i;
  view->found_values[i] = value;
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

// The status message's code (Status.code = 3, a varint).
int32_t StatusCode(std::string_view status) {
  int32_t code = 0;
  WireReader r(status);
  WireField s;
  while (r.Next(&s)) {
    if (s.IsVarint(kStatusCode)) code = static_cast<int32_t>(s.scalar);
  }
  return code;
}

// A span's fields, read straight off their one-byte tags (every Span field number is below
// 16): length-delimited ones (ids, name, attributes, events, status) share one path, and
// anything else goes through the general reader.
bool ParseSpan(const WireField& span, ItemView* view, ItemRecord* record) {
  const char* p = span.payload.data();
  const char* const end = p + span.payload.size();
  WireField f;
  while (p < end) {
    const uint8_t tag = static_cast<uint8_t>(*p);
    if ((tag & 7) == attraction::kWireLen && tag >= 0x08 && tag < 0x80) [[likely]] {
      uint64_t length = 0;
      const char* value = attraction::ReadVarint(p + 1, end, &length);
      if (value == nullptr || length > static_cast<uint64_t>(end - value)) return false;
      const std::string_view payload(value, length);
      const char* const field_begin = p;
      p = value + length;
      switch (tag >> 3) {
        case kSpanAttributes:
          if (view->keys != nullptr) NoteAttribute(payload, view);
          break;
        case kSpanTraceId:
          view->trace_id = payload;
          break;
        case kSpanTraceState:
          view->trace_state = payload;
          record->trace_state_begin = field_begin;
          record->trace_state_end = p;
          break;
        case kSpanParentSpanId:
          view->has_parent = !payload.empty();
          break;
        case kSpanName:
          view->name = payload;
          break;
        case kSpanStatus:
          view->status_code = StatusCode(payload);
          break;
        default:
          break;
      }
      continue;
    }
    WireReader r(std::string_view(p, end - p));
    if (!r.Next(&f)) return false;
    p = f.end;
    switch (f.number) {
      case kSpanKind:
        if (f.type == attraction::kWireVarint) view->kind = static_cast<int32_t>(f.scalar);
        break;
      case kSpanStart:
        if (f.type == attraction::kWireFixed64) view->start_unix_nano = f.scalar;
        break;
      case kSpanEnd:
        if (f.type == attraction::kWireFixed64) view->end_unix_nano = f.scalar;
        break;
      default:
        break;
    }
  }
  return true;
}

// A span's view from its summary in the receiver's span index (`request`'s): every item
// field of the view and the record's tracestate bounds are set.
void FromIndex(const SpanSummary& s, std::string_view request, ItemView* view, ItemRecord* record) {
  const char* base = request.data();
  view->keys = nullptr;  // nothing noted: lookups walk the attribute fields
  view->found = 0;
  view->attribute_fields =
      std::string_view(base + s.attributes_begin, s.attributes_end - s.attributes_begin);
  view->attribute_keys = s.attribute_keys;
  view->trace_id = std::string_view(base + s.trace_id, s.trace_id_size);
  if (s.trace_state_field_size != 0) {
    view->trace_state = std::string_view(base + s.trace_state, s.trace_state_size);
    record->trace_state_begin = base + s.trace_state_field;
    record->trace_state_end = base + s.trace_state_field + s.trace_state_field_size;
  } else {
    view->trace_state = {};
    record->trace_state_begin = nullptr;
    record->trace_state_end = nullptr;
  }
  view->name = std::string_view(base + s.name, s.name_size);
  view->has_parent = s.has_parent;
  view->kind = s.kind;
  view->status_code = s.status_code;
  view->start_unix_nano = s.start_unix_nano;
  view->end_unix_nano = s.end_unix_nano;
}

bool ParseLogRecord(const WireField& record, ItemView* view) {
  WireReader r(record.payload);
  WireField f;
  uint64_t observed = 0;
  while (r.Next(&f)) {
    if (f.IsLen(kLogTraceId)) {
      view->trace_id = f.payload;
    } else if (f.IsLen(kLogAttributes)) {
      if (view->keys != nullptr) NoteAttribute(f.payload, view);
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

AttributeKeys::AttributeKeys(std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) Add(key);
}

void AttributeKeys::Add(std::string_view key) {
  if (key.empty() || key.size() >= 64 || count_ == kMax || Find(key) >= 0) return;
  keys_[count_++] = std::string(key);
  length_mask_ |= uint64_t{1} << key.size();
}

std::optional<attraction::Value> ItemView::Attribute(std::string_view key, Scratch* scratch) const {
  if (keys != nullptr) {
    if (const int i = keys->Find(key); i >= 0) {
      if ((found & (uint32_t{1} << i)) == 0) return std::nullopt;
      return attraction::DecodeValue(found_values[i], scratch);
    }
  }
  if (const uint64_t bits = AttributeKeyBits(key); (attribute_keys & bits) != bits) {
    return std::nullopt;
  }
  return FindAttribute(attribute_fields, attributes_field, key, scratch);
}

ItemVerdict DecideSpan(const consistent_sampling::Stage& stage, const ItemView& span,
                       bool fail_closed, Scratch* scratch,
                       consistent_sampling::Decision* decision) {
  using consistent_sampling::DecisionError;
  namespace cs = consistent_sampling;
  // Most spans arrive without a tracestate and with a valid trace id: then the decision is
  // the trace id's randomness against the stage's threshold, and a kept span's tracestate is
  // "ot=th:<threshold>", the same for every span kept by the stage (encoded once per thread).
  // Decide below gives the same result the long way.
  if (decision == nullptr && span.trace_state.empty() && !cs::IsInvalidTraceId(span.trace_id)) {
    const uint64_t threshold = stage.Outgoing(std::nullopt);
    ItemVerdict verdict;
    verdict.keep = cs::ShouldSample(threshold, cs::RandomnessFromTraceId(span.trace_id));
    if (!verdict.keep) return verdict;
    thread_local uint64_t encoded_threshold = 0;
    thread_local std::string encoded;
    if (encoded.empty() || encoded_threshold != threshold) {
      cs::TraceState ts;
      ts.ot.threshold = threshold;
      encoded.clear();
      if (!cs::AppendTraceState(ts, &encoded).ok()) encoded.clear();
      encoded_threshold = threshold;
    }
    if (!encoded.empty()) {
      verdict.replace_trace_state = true;
      verdict.trace_state = scratch->Copy(encoded);
      return verdict;
    }
  }
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

WalkResult Walk(TelemetryPtr data, DecideFn decide, const AttributeKeys* keys) {
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
  st.item_count = 0;
  st.scopes.clear();
  st.resources.clear();
  bool failed = false;
  bool changed = false;
  // The receiver's span index, followed while it matches the items met.
  SpanIndexCursor spans(signal == Signal::kTraces ? data->span_index().get() : nullptr, request);

  // Pass 1: every item's verdict, and what each scope and resource keeps.
  WireReader rr(request);
  WireField rx;
  while (rr.Next(&rx)) {
    if (!rx.IsLen(kResourceEntries)) continue;
    GroupRecord resource{rx, st.scopes.size()};
    // One view per resource entry, its item fields reset per item (it is large).
    ItemView view;
    view.resource = rx.payload;
    view.service_name = ServiceName(rx.payload, &ws.scratch);
    view.attributes_field = signal == Signal::kTraces ? kSpanAttributes : kLogAttributes;
    const AttributeKeys* const walk_keys = keys != nullptr && keys->size() > 0 ? keys : nullptr;
    WireReader sr(rx.payload);
    WireField sx;
    while (sr.Next(&sx)) {
      if (!sx.IsLen(kScopeEntries)) continue;
      GroupRecord scope{sx, st.item_count};
      WireReader ir(sx.payload);
      while (true) {
        // Each field is read straight into the next record, which becomes the item's.
        if (st.item_count == st.items.size()) st.items.emplace_back();
        ItemRecord& record = st.items[st.item_count];
        if (!ir.Next(&record.field)) break;
        const WireField& item = record.field;
        if (!item.IsLen(kItems)) continue;
        // Taken before the stores below, which the compiler cannot tell apart from the
        // record's: reading it back from the record as one 16-byte load right after Next's
        // two 8-byte stores stalls store forwarding (~5 ns per span, perf).
        const std::string_view payload = item.payload;
        ++st.item_count;
        bool ok = true;
        if (const SpanSummary* s = spans.Next(payload); s != nullptr) {
          FromIndex(*s, request, &view, &record);
        } else {
          // Read from the item's bytes: fields it lacks keep these zero values.
          record.trace_state_begin = nullptr;
          record.trace_state_end = nullptr;
          view.attribute_fields = payload;
          view.keys = walk_keys;
          view.trace_id = {};
          view.trace_state = {};
          view.name = {};
          view.has_parent = false;
          view.kind = 0;
          view.status_code = 0;
          view.start_unix_nano = 0;
          view.end_unix_nano = 0;
          view.found = 0;
          view.attribute_keys = ~uint64_t{0};
          ok = signal == Signal::kTraces ? ParseSpan(item, &view, &record)
                                         : ParseLogRecord(item, &view);
        }
        if (!ok) {
          --st.item_count;
          failed = true;
          continue;
        }
        // Constructed in place from decide's result (no copy of the verdict through the
        // stack: ItemVerdict is trivially destructible).
        ::new (static_cast<void*>(&record.verdict)) ItemVerdict(decide(view, &ws.scratch));
        ++scope.items;
        if (record.verdict.keep) ++scope.kept;
        if (Changes(record, signal)) scope.changed = true;
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
      const size_t scope_end = scope.first + scope.count;
      for (size_t i = scope.first; i < scope_end; ++i) {
        const ItemRecord& item = st.items[i];
        if (item.verdict.keep) {
          scope_delta += EditItem(item, signal, ws);
          continue;
        }
        // A run of dropped items next to each other goes in one edit (at 10 % nine in ten
        // spans go, in runs of about nine).
        const char* const begin = item.field.begin;
        const char* end = item.field.end;
        while (i + 1 < scope_end && !st.items[i + 1].verdict.keep &&
               st.items[i + 1].field.begin == end) {
          end = st.items[++i].field.end;
        }
        ws.editor.Replace(begin, end);
        scope_delta -= end - begin;
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
