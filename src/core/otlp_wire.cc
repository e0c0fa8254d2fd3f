#include "core/otlp_wire.h"

#include <google/protobuf/descriptor.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/telemetry.h"
#include "opentelemetry/proto/logs/v1/logs.pb.h"
#include "opentelemetry/proto/metrics/v1/metrics.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace otlpd {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::logs::v1::LogRecord;
using opentelemetry::proto::metrics::v1::Metric;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::ScopeSpans;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Span_Link;

// ParseFromArray's recursion limit (io::CodedInputStream's default). The top-level message
// does not count; every nested message and every group (known or unknown) takes a level.
constexpr int kRecursionLimit = 100;

// Field numbers up to this get a slot in a message's dense field array.
constexpr uint32_t kMaxDenseField = 1024;

enum WireType : uint32_t {
  kWireVarint = 0,
  kWireFixed64 = 1,
  kWireLengthDelimited = 2,
  kWireStartGroup = 3,
  kWireEndGroup = 4,
  kWireFixed32 = 5,
};
constexpr uint8_t kNoField = 0xff;  // Field::wire_type of a dense slot with no declared field

enum class Kind : uint8_t { kVarint, kFixed64, kFixed32, kBytes, kMessage, kGroup };

// What a field means to the item counts and id checks.
enum class Hook : uint8_t {
  kNone,
  kTraceId,       // bytes: Span/Link/LogRecord trace_id
  kSpanId,        // bytes: Span/Link/LogRecord span_id
  kParentSpanId,  // bytes: Span.parent_span_id
  kDataMember,    // message: a member of Metric.data
  kDataPoint,     // message: Gauge/Sum/.../Summary data_points
  // For the span index (core/span_index.h):
  kTraceState,      // bytes: Span.trace_state
  kName,            // bytes: Span.name
  kKind,            // varint: Span.kind
  kStartTime,       // fixed64: Span.start_time_unix_nano
  kEndTime,         // fixed64: Span.end_time_unix_nano
  kSpanAttributes,  // message: Span.attributes
  kStatus,          // message: Span.status
  kAttributeKey,    // bytes: KeyValue.key (read only under Span.attributes)
};

// What a message does when it ends.
enum class Role : uint8_t {
  kPlain,
  kSpan,        // one item; invalid if its ids or a link's ids are
  kLink,        // marks the enclosing span invalid if its ids are
  kLogRecord,   // one item; invalid if its ids are
  kMetric,      // as many items as the data points of its last Metric.data member
  kDataPoints,  // a Metric.data member: counts its data points into the metric
  // A KeyValue of Span.attributes: its key's bits go into the span's key filter when an index
  // is built. Its own table (the KeyValue's fields), so that other KeyValues stay kPlain.
  kSpanAttribute,
};

struct Table;

// Per-message state of the roles that keep some; what protobuf would hold in the parsed
// message for the fields that matter here (last occurrence of a singular field wins).
struct Frame {
  std::string_view trace_id;
  std::string_view span_id;
  std::string_view parent_span_id;
  bool links_valid = true;
  uint32_t data_case = 0;       // field number of the current Metric.data member, 0 = none
  size_t data_points = 0;       // data points of that member
  uint64_t attribute_keys = 0;  // a span's: AttributeKeyBits of its attributes' keys, ORed
};

// A span attribute's state: only its key (the last key field wins, as in protobuf). Small,
// since one is set up for every attribute of every span.
struct KeyFrame {
  std::string_view key;
};

template <Role R>
using FrameOf = std::conditional_t<R == Role::kSpanAttribute, KeyFrame, Frame>;

struct Ctx {
  size_t items = 0;
  size_t invalid = 0;
  const char* error = nullptr;
  const char* error_at = nullptr;
  SpanIndex* index = nullptr;  // spans' summaries go here when set
  const char* base = nullptr;  // the request's first byte (offsets in the index)
};

using ScanFn = const char* (*)(const Table& table, const char* p, const char* end, uint32_t end_tag,
                               int depth, Ctx& ctx, Frame* parent);

struct Field {
  uint8_t wire_type = kNoField;  // the declared type's wire type
  Kind kind = Kind::kVarint;
  // A repeated numeric field also parses from its packed (length-delimited) form, as
  // protobuf's generated code accepts both: 1 = varint elements, 4 or 8 = fixed elements.
  uint8_t packed = 0;
  Hook hook = Hook::kNone;
  const Table* child = nullptr;  // kMessage, kGroup
};

// One message type: its fields by number, and what it does for the counts.
struct Table {
  Role role = Role::kPlain;
  ScanFn scan = nullptr;
  std::vector<Field> dense;                        // index = field number
  std::vector<std::pair<uint32_t, Field>> sparse;  // field numbers above kMaxDenseField

  const Field* Find(uint32_t number) const {
    if (number < dense.size()) return &dense[number];
    for (const auto& [n, f] : sparse) {
      if (n == number) return &f;
    }
    return nullptr;
  }
};

const char* Fail(Ctx& ctx, const char* reason, const char* at) {
  ctx.error = reason;
  ctx.error_at = at;
  return nullptr;
}

// --- Varints, as protobuf 3.21's parse_context reads them --------------------------------

// A value varint (VarintParse): at most 10 bytes; the 10th may be any byte below 0x80
// (bits beyond 64 are dropped, not rejected).
const char* SkipVarintSlow(const char* p, const char* end) {
  const char* limit = end - p > 10 ? p + 10 : end;
  for (; p < limit; ++p) {
    if (static_cast<uint8_t>(*p) < 0x80) return p + 1;
  }
  return nullptr;
}

inline const char* SkipVarint(const char* p, const char* end) {
  if (p < end && static_cast<uint8_t>(*p) < 0x80) return p + 1;
  return SkipVarintSlow(p, end);
}

// A value varint's value, accepting exactly what SkipVarint accepts.
const char* ReadVarintValue(const char* p, const char* end, uint64_t* value) {
  uint64_t v = 0;
  const char* limit = end - p > 10 ? p + 10 : end;
  for (int shift = 0; p < limit; ++p, shift += 7) {
    const uint64_t byte = static_cast<uint8_t>(*p);
    if (shift < 64) v |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      *value = v;
      return p + 1;
    }
  }
  return nullptr;
}

// A tag (ReadTag): at most 5 bytes, the value taken modulo 2^32 (so a 5th byte's high bits
// are dropped, not rejected).
const char* ReadTagSlow(const char* p, const char* end, uint32_t* tag) {
  uint32_t value = 0;
  for (int i = 0; i < 5 && p + i < end; ++i) {
    const uint32_t byte = static_cast<uint8_t>(p[i]);
    value |= (byte & 0x7f) << (7 * i);
    if (byte < 0x80) {
      *tag = value;
      return p + i + 1;
    }
  }
  return nullptr;
}

inline const char* ReadTag(const char* p, const char* end, uint32_t* tag) {
  const uint32_t byte = static_cast<uint8_t>(*p);  // the caller checked p < end
  if (byte < 0x80) {
    *tag = byte;
    return p + 1;
  }
  return ReadTagSlow(p, end, tag);
}

// A length (ReadSize): at most 5 bytes, the 5th below 8, the value at most INT_MAX - 16.
// Also checks that the length fits before `end`, which the parser finds out later.
const char* ReadLengthSlow(const char* p, const char* end, uint32_t* length) {
  uint32_t value = 0;
  for (int i = 0; i < 4 && p + i < end; ++i) {
    const uint32_t byte = static_cast<uint8_t>(p[i]);
    value |= (byte & 0x7f) << (7 * i);
    if (byte < 0x80) {
      p += i + 1;
      if (value > static_cast<size_t>(end - p)) return nullptr;
      *length = value;
      return p;
    }
  }
  if (end - p < 5) return nullptr;
  const uint32_t byte = static_cast<uint8_t>(p[4]);
  if (byte >= 8) return nullptr;
  value |= byte << 28;
  if (value > static_cast<uint32_t>(INT_MAX) - 16) return nullptr;
  p += 5;
  if (value > static_cast<size_t>(end - p)) return nullptr;
  *length = value;
  return p;
}

inline const char* ReadLength(const char* p, const char* end, uint32_t* length) {
  if (p < end) {
    const uint32_t byte = static_cast<uint8_t>(*p);
    if (byte < 0x80) {
      ++p;
      if (byte > static_cast<size_t>(end - p)) return nullptr;
      *length = byte;
      return p;
    }
  }
  return ReadLengthSlow(p, end, length);
}

// --- Ids (core/id_validation.h's rules on string_views) ---------------------------------

bool AllZero(std::string_view id) {
  for (char c : id) {
    if (c != 0) return false;
  }
  return true;
}

bool ValidTraceId(std::string_view id) { return id.size() == 16 && !AllZero(id); }
bool ValidSpanId(std::string_view id) { return id.size() == 8 && !AllZero(id); }

uint32_t Offset(const Ctx& ctx, const char* p) { return static_cast<uint32_t>(p - ctx.base); }

// The span's summary once its fields are read: where it ends and what its Frame holds.
void CompleteSummary(const Frame& span, const char* end, const Ctx& ctx, SpanSummary* s) {
  s->end = Offset(ctx, end);
  if (!span.trace_id.empty()) {
    s->trace_id = Offset(ctx, span.trace_id.data());
    s->trace_id_size = static_cast<uint32_t>(span.trace_id.size());
  }
  s->has_parent = !span.parent_span_id.empty();
  s->attribute_keys = span.attribute_keys;
}

template <Role R>
void Finish(FrameOf<R>& self, Ctx& ctx, Frame* parent) {
  if constexpr (R == Role::kSpanAttribute) {
    if (ctx.index != nullptr && parent != nullptr) {
      parent->attribute_keys |= AttributeKeyBits(self.key);
    }
  } else if constexpr (R == Role::kSpan) {
    ++ctx.items;
    const bool valid = ValidTraceId(self.trace_id) && ValidSpanId(self.span_id) &&
                       (self.parent_span_id.empty() || self.parent_span_id.size() == 8) &&
                       self.links_valid;
    if (!valid) ++ctx.invalid;
  } else if constexpr (R == Role::kLink) {
    if (parent != nullptr && !(ValidTraceId(self.trace_id) && ValidSpanId(self.span_id))) {
      parent->links_valid = false;
    }
  } else if constexpr (R == Role::kLogRecord) {
    ++ctx.items;
    if ((!self.trace_id.empty() && self.trace_id.size() != 16) ||
        (!self.span_id.empty() && self.span_id.size() != 8)) {
      ++ctx.invalid;
    }
  } else if constexpr (R == Role::kMetric) {
    ctx.items += self.data_points;
  }
}

// --- The walker ---------------------------------------------------------------------------

const Table& EmptyTable();
const char* SkipUnknown(uint32_t tag, const char* p, const char* end, int depth, Ctx& ctx,
                        const char* field_start);

// The code (field 3, a varint) of a Status message the scan has accepted: the last one wins,
// and a Status without one leaves `*code` as it was (repeated Status fields merge).
[[gnu::noinline]] void ReadStatusCode(const char* p, const char* end, int depth, int32_t* code) {
  Ctx ignored;
  while (p < end) {
    const char* const field_start = p;
    uint32_t tag;
    p = ReadTag(p, end, &tag);
    if (p == nullptr) return;
    if (tag == ((3 << 3) | kWireVarint)) {
      uint64_t value;
      p = ReadVarintValue(p, end, &value);
      if (p == nullptr) return;
      *code = static_cast<int32_t>(value);
      continue;
    }
    p = SkipUnknown(tag, p, end, depth, ignored, field_start);
    if (p == nullptr) return;
  }
}

// A packed repeated numeric field: its elements must exactly fill the length.
const char* SkipPacked(const char* p, const char* end, uint8_t element, Ctx& ctx,
                       const char* field_start) {
  uint32_t length;
  p = ReadLength(p, end, &length);
  if (p == nullptr) return Fail(ctx, "bad length", field_start);
  const char* field_end = p + length;
  if (element == 1) {
    while (p < field_end) {
      p = SkipVarint(p, field_end);
      if (p == nullptr) return Fail(ctx, "malformed packed varint", field_start);
    }
  } else if (length % element != 0) {
    return Fail(ctx, "packed fixed-size field length not a multiple of the element size",
                field_start);
  }
  return field_end;
}

// Scans one message (end_tag 0: it ends exactly at `end`) or one group (it ends at its
// end-group tag `end_tag`, before `end`). Returns where it ended, nullptr on a parse error.
// `depth` is how many more levels may be nested below this one.
template <Role R>
const char* ScanMessage(const Table& table, const char* p, const char* end, uint32_t end_tag,
                        int depth, Ctx& ctx, Frame* parent) {
  [[maybe_unused]] FrameOf<R> self;
  // A span's summary is written in place as its fields are met (spans do not nest, so the
  // pointer stays valid); fields that end up absent keep their zero values.
  [[maybe_unused]] SpanSummary* summary = nullptr;
  Frame* self_ptr = nullptr;  // the parent of this message's children
  if constexpr (R != Role::kPlain && R != Role::kSpanAttribute) self_ptr = &self;
  if constexpr (R == Role::kSpan) {
    if (ctx.index != nullptr) {
      // Copied from a constant rather than value-initialized: GCC zeroes the 88 bytes with
      // `rep stos` for the latter, whose start-up costs more than the span's other stores.
      static constexpr SpanSummary kEmpty{};
      summary = &ctx.index->emplace_back(kEmpty);
      summary->begin = Offset(ctx, p);
    }
  }
  while (p < end) {
    const char* const field_start = p;
    uint32_t tag;
    p = ReadTag(p, end, &tag);
    if (p == nullptr) return Fail(ctx, "malformed tag", field_start);
    const uint32_t number = tag >> 3;
    const uint32_t wire_type = tag & 7;
    const Field* field = table.Find(number);
    if (field != nullptr) {
      if (wire_type == field->wire_type) {
        switch (field->kind) {
          case Kind::kVarint:
            if constexpr (R == Role::kSpan) {
              if (summary != nullptr && field->hook == Hook::kKind) {
                uint64_t value;
                p = ReadVarintValue(p, end, &value);
                if (p == nullptr) return Fail(ctx, "malformed varint", field_start);
                summary->kind = static_cast<int32_t>(value);  // an int32 enum
                break;
              }
            }
            p = SkipVarint(p, end);
            if (p == nullptr) return Fail(ctx, "malformed varint", field_start);
            break;
          case Kind::kFixed64:
            if (end - p < 8) return Fail(ctx, "truncated fixed64", field_start);
            if constexpr (R == Role::kSpan) {
              if (summary != nullptr && field->hook != Hook::kNone) {
                uint64_t value;
                std::memcpy(&value, p, 8);
                (field->hook == Hook::kStartTime ? summary->start_unix_nano
                                                 : summary->end_unix_nano) = value;
              }
            }
            p += 8;
            break;
          case Kind::kFixed32:
            if (end - p < 4) return Fail(ctx, "truncated fixed32", field_start);
            p += 4;
            break;
          case Kind::kBytes: {
            uint32_t length;
            p = ReadLength(p, end, &length);
            if (p == nullptr) return Fail(ctx, "bad length", field_start);
            if constexpr (R == Role::kSpanAttribute) {
              if (field->hook == Hook::kAttributeKey) self.key = std::string_view(p, length);
            } else if constexpr (R == Role::kSpan || R == Role::kLink || R == Role::kLogRecord) {
              switch (field->hook) {
                case Hook::kTraceId:
                  self.trace_id = std::string_view(p, length);
                  break;
                case Hook::kSpanId:
                  self.span_id = std::string_view(p, length);
                  break;
                case Hook::kParentSpanId:
                  self.parent_span_id = std::string_view(p, length);
                  break;
                case Hook::kTraceState:
                  if constexpr (R == Role::kSpan) {
                    if (summary != nullptr) {
                      summary->trace_state_field = Offset(ctx, field_start);
                      summary->trace_state = Offset(ctx, p);
                      summary->trace_state_size = length;
                      summary->trace_state_field_size =
                          static_cast<uint32_t>(p + length - field_start);
                    }
                  }
                  break;
                case Hook::kName:
                  if constexpr (R == Role::kSpan) {
                    if (summary != nullptr) {
                      summary->name = length != 0 ? Offset(ctx, p) : 0;
                      summary->name_size = length;
                    }
                  }
                  break;
                default:
                  break;
              }
            }
            p += length;
            break;
          }
          case Kind::kMessage: {
            uint32_t length;
            p = ReadLength(p, end, &length);
            if (p == nullptr) return Fail(ctx, "bad length", field_start);
            if (depth == 0) return Fail(ctx, "nesting exceeds the recursion limit", field_start);
            if constexpr (R == Role::kMetric) {
              // A different member of the oneof replaces the current one; the same member
              // again merges into it.
              if (field->hook == Hook::kDataMember && self.data_case != number) {
                self.data_case = number;
                self.data_points = 0;
              }
            }
            if constexpr (R == Role::kDataPoints) {
              if (field->hook == Hook::kDataPoint && parent != nullptr) ++parent->data_points;
            }
            if constexpr (R == Role::kSpan) {
              if (summary != nullptr && field->hook == Hook::kSpanAttributes) {
                // An attribute field ends past offset 0: attributes_end 0 means none yet.
                if (summary->attributes_end == 0) {
                  summary->attributes_begin = Offset(ctx, field_start);
                }
                summary->attributes_end = Offset(ctx, p + length);
              }
            }
            const Table& child = *field->child;
            const char* const child_end = p + length;
            const char* q =
                child.role == Role::kPlain
                    ? ScanMessage<Role::kPlain>(child, p, child_end, 0, depth - 1, ctx, nullptr)
                    : child.scan(child, p, child_end, 0, depth - 1, ctx, self_ptr);
            if (q == nullptr) return nullptr;
            if constexpr (R == Role::kSpan) {
              if (summary != nullptr && field->hook == Hook::kStatus) {
                ReadStatusCode(p, child_end, depth - 1, &summary->status_code);
              }
            }
            p = child_end;
            break;
          }
          case Kind::kGroup: {
            if (depth == 0) return Fail(ctx, "nesting exceeds the recursion limit", field_start);
            const Table& child = *field->child;
            p = child.scan(child, p, end, tag + 1, depth - 1, ctx, self_ptr);
            if (p == nullptr) return nullptr;
            break;
          }
        }
        continue;
      }
      if (wire_type == kWireLengthDelimited && field->packed != 0) {
        p = SkipPacked(p, end, field->packed, ctx, field_start);
        if (p == nullptr) return nullptr;
        continue;
      }
    }
    // Not a declared field with its declared wire type: the end of a group, or an unknown
    // field (which is what protobuf makes of a known number with another wire type).
    if (tag == 0 || wire_type == kWireEndGroup) {
      if (end_tag != 0 && tag == end_tag) {
        if constexpr (R == Role::kSpan) {
          if (summary != nullptr) CompleteSummary(self, field_start, ctx, summary);
        }
        Finish<R>(self, ctx, parent);
        return p;
      }
      return Fail(ctx, tag == 0 ? "zero tag" : "unexpected end-group tag", field_start);
    }
    p = SkipUnknown(tag, p, end, depth, ctx, field_start);
    if (p == nullptr) return nullptr;
  }
  if (end_tag != 0) return Fail(ctx, "unterminated group", end);
  if constexpr (R == Role::kSpan) {
    if (summary != nullptr) CompleteSummary(self, p, ctx, summary);
  }
  Finish<R>(self, ctx, parent);
  return p;
}

// An unknown field, skipped the way protobuf's UnknownFieldParse does (FieldParser):
// groups are walked (all their fields unknown), length-delimited contents are not.
const char* SkipUnknown(uint32_t tag, const char* p, const char* end, int depth, Ctx& ctx,
                        const char* field_start) {
  if ((tag >> 3) == 0) return Fail(ctx, "field number 0", field_start);
  switch (tag & 7) {
    case kWireVarint:
      p = SkipVarint(p, end);
      if (p == nullptr) return Fail(ctx, "malformed varint", field_start);
      return p;
    case kWireFixed64:
      if (end - p < 8) return Fail(ctx, "truncated fixed64", field_start);
      return p + 8;
    case kWireLengthDelimited: {
      uint32_t length;
      p = ReadLength(p, end, &length);
      if (p == nullptr) return Fail(ctx, "bad length", field_start);
      return p + length;
    }
    case kWireStartGroup:
      if (depth == 0) return Fail(ctx, "nesting exceeds the recursion limit", field_start);
      return ScanMessage<Role::kPlain>(EmptyTable(), p, end, tag + 1, depth - 1, ctx, nullptr);
    case kWireFixed32:
      if (end - p < 4) return Fail(ctx, "truncated fixed32", field_start);
      return p + 4;
    default:
      return Fail(ctx, "invalid wire type", field_start);
  }
}

ScanFn ScanFnFor(Role role) {
  switch (role) {
    case Role::kPlain:
      return &ScanMessage<Role::kPlain>;
    case Role::kSpan:
      return &ScanMessage<Role::kSpan>;
    case Role::kLink:
      return &ScanMessage<Role::kLink>;
    case Role::kLogRecord:
      return &ScanMessage<Role::kLogRecord>;
    case Role::kMetric:
      return &ScanMessage<Role::kMetric>;
    case Role::kDataPoints:
      return &ScanMessage<Role::kDataPoints>;
    case Role::kSpanAttribute:
      return &ScanMessage<Role::kSpanAttribute>;
  }
  return &ScanMessage<Role::kPlain>;
}

// --- Tables, built once from the generated descriptors -----------------------------------

class Tables {
 public:
  Tables() {
    // The roles and hooks, named through the generated code so that a renamed field fails
    // to compile rather than silently losing its hook.
    roles_[Span::descriptor()] = Role::kSpan;
    roles_[Span_Link::descriptor()] = Role::kLink;
    roles_[LogRecord::descriptor()] = Role::kLogRecord;
    roles_[Metric::descriptor()] = Role::kMetric;
    hooks_[Span::descriptor()->FindFieldByNumber(Span::kTraceIdFieldNumber)] = Hook::kTraceId;
    hooks_[Span::descriptor()->FindFieldByNumber(Span::kSpanIdFieldNumber)] = Hook::kSpanId;
    hooks_[Span::descriptor()->FindFieldByNumber(Span::kParentSpanIdFieldNumber)] =
        Hook::kParentSpanId;
    hooks_[Span::descriptor()->FindFieldByNumber(Span::kTraceStateFieldNumber)] = Hook::kTraceState;
    hooks_[Span::descriptor()->FindFieldByNumber(Span::kNameFieldNumber)] = Hook::kName;
    hooks_[Span::descriptor()->FindFieldByNumber(Span::kKindFieldNumber)] = Hook::kKind;
    hooks_[Span::descriptor()->FindFieldByNumber(Span::kStartTimeUnixNanoFieldNumber)] =
        Hook::kStartTime;
    hooks_[Span::descriptor()->FindFieldByNumber(Span::kEndTimeUnixNanoFieldNumber)] =
        Hook::kEndTime;
    hooks_[Span::descriptor()->FindFieldByNumber(Span::kAttributesFieldNumber)] =
        Hook::kSpanAttributes;
    hooks_[Span::descriptor()->FindFieldByNumber(Span::kStatusFieldNumber)] = Hook::kStatus;
    hooks_[KeyValue::descriptor()->FindFieldByNumber(KeyValue::kKeyFieldNumber)] =
        Hook::kAttributeKey;
    hooks_[Span_Link::descriptor()->FindFieldByNumber(Span_Link::kTraceIdFieldNumber)] =
        Hook::kTraceId;
    hooks_[Span_Link::descriptor()->FindFieldByNumber(Span_Link::kSpanIdFieldNumber)] =
        Hook::kSpanId;
    hooks_[LogRecord::descriptor()->FindFieldByNumber(LogRecord::kTraceIdFieldNumber)] =
        Hook::kTraceId;
    hooks_[LogRecord::descriptor()->FindFieldByNumber(LogRecord::kSpanIdFieldNumber)] =
        Hook::kSpanId;
    // Every member of Metric.data holds its points in `data_points` (what CountItems counts).
    const auto* data = Metric::descriptor()->FindFieldByNumber(Metric::kGaugeFieldNumber);
    const auto* oneof = data->containing_oneof();
    for (int i = 0; i < oneof->field_count(); ++i) {
      const FieldDescriptor* member = oneof->field(i);
      hooks_[member] = Hook::kDataMember;
      roles_[member->message_type()] = Role::kDataPoints;
      hooks_[member->message_type()->FindFieldByName("data_points")] = Hook::kDataPoint;
    }

    roots_[static_cast<int>(Signal::kTraces)] = Build(TracesRequest::descriptor());
    // The tables for building a span index: copies along the path to Span.attributes, whose
    // KeyValues take the kSpanAttribute role (a scan without an index keeps them kPlain).
    Table* span_attribute = Copy(Build(KeyValue::descriptor()));
    span_attribute->role = Role::kSpanAttribute;
    span_attribute->scan = ScanFnFor(Role::kSpanAttribute);
    const Table* child = span_attribute;
    const std::pair<const Descriptor*, int> path[] = {
        {Span::descriptor(), Span::kAttributesFieldNumber},
        {ScopeSpans::descriptor(), ScopeSpans::kSpansFieldNumber},
        {ResourceSpans::descriptor(), ResourceSpans::kScopeSpansFieldNumber},
        {TracesRequest::descriptor(), TracesRequest::kResourceSpansFieldNumber}};
    for (const auto& [descriptor, number] : path) {
      Table* copy = Copy(Build(descriptor));
      copy->dense.at(static_cast<size_t>(number)).child = child;
      child = copy;
    }
    indexed_traces_root_ = child;
    roots_[static_cast<int>(Signal::kMetrics)] = Build(MetricsRequest::descriptor());
    roots_[static_cast<int>(Signal::kLogs)] = Build(LogsRequest::descriptor());
    empty_.scan = ScanFnFor(Role::kPlain);
  }

  const Table& root(Signal signal) const { return *roots_[static_cast<int>(signal)]; }
  const Table& indexed_traces_root() const { return *indexed_traces_root_; }
  const Table& empty() const { return empty_; }

 private:
  Table* Copy(const Table* table) {
    return storage_.emplace_back(std::make_unique<Table>(*table)).get();
  }

  const Table* Build(const Descriptor* descriptor) {
    auto it = built_.find(descriptor);
    if (it != built_.end()) return it->second;
    Table* table = storage_.emplace_back(std::make_unique<Table>()).get();
    built_[descriptor] = table;  // before the fields: message types can be recursive
    auto role = roles_.find(descriptor);
    table->role = role == roles_.end() ? Role::kPlain : role->second;
    table->scan = ScanFnFor(table->role);
    uint32_t max_dense = 0;
    for (int i = 0; i < descriptor->field_count(); ++i) {
      const auto number = static_cast<uint32_t>(descriptor->field(i)->number());
      if (number <= kMaxDenseField && number > max_dense) max_dense = number;
    }
    table->dense.resize(max_dense + 1);
    for (int i = 0; i < descriptor->field_count(); ++i) {
      const FieldDescriptor* fd = descriptor->field(i);
      Field field = MakeField(fd);
      const auto number = static_cast<uint32_t>(fd->number());
      if (number <= kMaxDenseField) {
        table->dense[number] = field;
      } else {
        table->sparse.emplace_back(number, field);
      }
    }
    return table;
  }

  Field MakeField(const FieldDescriptor* fd) {
    Field field;
    switch (fd->type()) {
      case FieldDescriptor::TYPE_DOUBLE:
      case FieldDescriptor::TYPE_FIXED64:
      case FieldDescriptor::TYPE_SFIXED64:
        field.wire_type = kWireFixed64;
        field.kind = Kind::kFixed64;
        field.packed = 8;
        break;
      case FieldDescriptor::TYPE_FLOAT:
      case FieldDescriptor::TYPE_FIXED32:
      case FieldDescriptor::TYPE_SFIXED32:
        field.wire_type = kWireFixed32;
        field.kind = Kind::kFixed32;
        field.packed = 4;
        break;
      case FieldDescriptor::TYPE_INT32:
      case FieldDescriptor::TYPE_INT64:
      case FieldDescriptor::TYPE_UINT32:
      case FieldDescriptor::TYPE_UINT64:
      case FieldDescriptor::TYPE_SINT32:
      case FieldDescriptor::TYPE_SINT64:
      case FieldDescriptor::TYPE_BOOL:
      case FieldDescriptor::TYPE_ENUM:
        // proto3 enums are open: any value is kept, so an enum is just a varint here.
        field.wire_type = kWireVarint;
        field.kind = Kind::kVarint;
        field.packed = 1;
        break;
      case FieldDescriptor::TYPE_STRING:
      case FieldDescriptor::TYPE_BYTES:
        // OTLP's text fields are declared bytes (otlpd.text), so nothing checks UTF-8.
        field.wire_type = kWireLengthDelimited;
        field.kind = Kind::kBytes;
        break;
      case FieldDescriptor::TYPE_MESSAGE:
        field.wire_type = kWireLengthDelimited;
        field.kind = Kind::kMessage;
        field.child = Build(fd->message_type());
        break;
      case FieldDescriptor::TYPE_GROUP:
        field.wire_type = kWireStartGroup;
        field.kind = Kind::kGroup;
        field.child = Build(fd->message_type());
        break;
    }
    if (!fd->is_repeated()) field.packed = 0;
    auto hook = hooks_.find(fd);
    if (hook != hooks_.end()) field.hook = hook->second;
    return field;
  }

  absl::flat_hash_map<const Descriptor*, Role> roles_;
  absl::flat_hash_map<const FieldDescriptor*, Hook> hooks_;
  absl::flat_hash_map<const Descriptor*, const Table*> built_;
  std::vector<std::unique_ptr<Table>> storage_;
  const Table* roots_[3] = {};
  const Table* indexed_traces_root_ = nullptr;
  Table empty_;
};

const Tables& GetTables() {
  static const Tables* const tables = new Tables();
  return *tables;
}

const Table& EmptyTable() { return GetTables().empty(); }

}  // namespace

absl::StatusOr<WireScan> ScanOtlpRequest(Signal signal, std::string_view bytes, SpanIndex* index) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("request larger than 2 GiB");
  }
  if (bytes.empty()) return WireScan{};
  Ctx ctx;
  if (index != nullptr && signal == Signal::kTraces) {
    index->clear();
    ctx.index = index;
    ctx.base = bytes.data();
  }
  const Table& root =
      ctx.index != nullptr ? GetTables().indexed_traces_root() : GetTables().root(signal);
  const char* end = bytes.data() + bytes.size();
  if (ScanMessage<Role::kPlain>(root, bytes.data(), end, 0, kRecursionLimit, ctx, nullptr) ==
      nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(ctx.error, " at byte ", ctx.error_at - bytes.data()));
  }
  return WireScan{ctx.items, ctx.invalid};
}

}  // namespace otlpd
