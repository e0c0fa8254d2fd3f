#include "core/otlp_json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/casts.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "otlpd/options.pb.h"
#include "simdjson.h"

namespace otlpd {
namespace {

namespace pb = google::protobuf;
using pb::FieldDescriptor;
using simdjson::dom::element;
using simdjson::dom::element_type;

// Messages nested deeper than this (AnyValue inside arrays inside kvlists ...) are refused:
// the decoder recurses once per message. Below protobuf's default recursion limit (100),
// so that whatever is accepted here can be encoded and parsed again by any protobuf peer.
constexpr int kMaxDepth = 99;

// A parser keeps buffers sized for the largest document it has seen; beyond this it is
// replaced after use so that one huge request does not pin memory in every thread.
constexpr size_t kMaxRetainedParserCapacity = 16 << 20;

// How a bytes field is written in JSON: base64 (OTLP bytes), lowercase hex (ids), or as a
// JSON string (text fields OTLP declares `string`; see proto/otlpd/options.proto).
enum class BytesFormat { kBase64, kHex, kText };
enum class WellKnown { kNone, kAny, kDuration };

struct MessageInfo;

struct FieldInfo {
  const FieldDescriptor* field = nullptr;
  std::string_view json_name;
  std::string key;  // `"jsonName":`, ready to append when encoding
  BytesFormat bytes_format = BytesFormat::kBase64;
  const MessageInfo* message = nullptr;  // for message and map fields

  // For TranscodeOtlpJson, which writes the wire format without the descriptor.
  FieldDescriptor::Type type = FieldDescriptor::TYPE_INT32;
  uint32_t index = 0;  // in MessageInfo::fields
  bool repeated = false;
  // Repeated numeric field written as one length-delimited run, as protobuf serializes
  // proto3 (its parser takes either form).
  bool packed = false;
  // Written even when it holds the default value: a oneof member, a proto3 `optional`.
  bool presence = false;
  uint8_t wire_type = 0;  // of one element
  uint8_t tag_size = 0;
  char tag[5] = {};  // encoded tag of the field (length-delimited when packed)
  absl::flat_hash_map<std::string_view, int> enum_numbers;  // enum value names
  // MessageInfo::Find(json_name) is this field (not another field's proto name, which a
  // custom json_name could make it), so that a key equal to json_name means this field.
  bool json_name_finds_itself = false;
};

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline uint32_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// a[0, n) == b[0, n), inline: JSON keys are short, and a call to memcmp per key costs
// more than the comparison.
inline bool SameBytes(const char* a, const char* b, size_t n) {
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) {
      if (Load64(a + i) != Load64(b + i)) return false;
    }
    return Load64(a + n - 8) == Load64(b + n - 8);
  }
  if (n >= 4) return Load32(a) == Load32(b) && Load32(a + n - 4) == Load32(b + n - 4);
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Per-descriptor lookup tables, built once and then read without locking.
struct MessageInfo {
  const pb::Descriptor* descriptor = nullptr;
  WellKnown well_known = WellKnown::kNone;
  // Whether TranscodeOtlpJson can write this message and every one reachable from it: no
  // map, group, Any or Duration, and proto3 (no closed enums, no proto2 presence rules).
  bool transcodable = false;
  std::vector<FieldInfo> fields;  // declaration order

  // The fields by json_name and by name: an open-addressing table at most a quarter full.
  // Field names within one message differ cheaply: length and three characters make a good
  // enough hash, much faster than hashing every byte of every JSON key.
  struct NameSlot {
    std::string_view name;
    const FieldInfo* field = nullptr;  // null: empty slot
  };
  std::vector<NameSlot> slots;
  int slot_shift = 64;

  static uint64_t NameHash(std::string_view s) {
    if (s.empty()) return 0;
    const size_t n = s.size();
    const uint64_t h = n << 24 ^ static_cast<uint64_t>(static_cast<unsigned char>(s[0])) << 16 ^
                       static_cast<uint64_t>(static_cast<unsigned char>(s[n - 1])) << 8 ^
                       static_cast<unsigned char>(s[n / 2]);
    return h * 0x9e3779b97f4a7c15ull;
  }

  void Index() {
    size_t size = 4;
    while (size < 8 * fields.size()) size *= 2;
    slots.assign(size, NameSlot{});
    slot_shift = 64 - __builtin_ctzll(size);
    for (const FieldInfo& f : fields) {
      for (std::string_view name : {f.json_name, std::string_view(f.field->name())}) {
        if (Find(name) != nullptr) continue;  // json_name == name
        size_t i = NameHash(name) >> slot_shift;
        while (slots[i].field != nullptr) i = (i + 1) & (slots.size() - 1);
        slots[i] = {name, &f};
      }
    }
    for (FieldInfo& f : fields) f.json_name_finds_itself = Find(f.json_name) == &f;
  }

  const FieldInfo* Find(std::string_view name) const {
    size_t i = NameHash(name) >> slot_shift;
    while (true) {
      const NameSlot& slot = slots[i];
      if (slot.field == nullptr) return nullptr;
      if (slot.name.size() == name.size() &&
          SameBytes(slot.name.data(), name.data(), name.size())) {
        return slot.field;
      }
      i = (i + 1) & (slots.size() - 1);
    }
  }
};

// Debian's abseil has its own string_view type.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsIdField(const FieldDescriptor* field) {
  return field->type() == FieldDescriptor::TYPE_BYTES &&
         (field->name() == "trace_id" || field->name() == "span_id" ||
          field->name() == "parent_span_id");
}

// --- protobuf wire format -------------------------------------------------------------

enum WireType : uint8_t {
  kWireVarint = 0,
  kWireFixed64 = 1,
  kWireLengthDelimited = 2,
  kWireFixed32 = 5,
};

uint8_t WireTypeOf(FieldDescriptor::Type type) {
  switch (type) {
    case FieldDescriptor::TYPE_DOUBLE:
    case FieldDescriptor::TYPE_FIXED64:
    case FieldDescriptor::TYPE_SFIXED64:
      return kWireFixed64;
    case FieldDescriptor::TYPE_FLOAT:
    case FieldDescriptor::TYPE_FIXED32:
    case FieldDescriptor::TYPE_SFIXED32:
      return kWireFixed32;
    case FieldDescriptor::TYPE_STRING:
    case FieldDescriptor::TYPE_BYTES:
    case FieldDescriptor::TYPE_MESSAGE:
    case FieldDescriptor::TYPE_GROUP:  // never transcoded
      return kWireLengthDelimited;
    default:
      return kWireVarint;
  }
}

size_t VarintSize(uint64_t value) {
  size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

inline char* WriteVarint(char* p, uint64_t value) {
  while (value >= 0x80) {
    *p++ = static_cast<char>(value | 0x80);
    value >>= 7;
  }
  *p++ = static_cast<char>(value);
  return p;
}

class InfoRegistry {
 public:
  const MessageInfo* Get(const pb::Descriptor* descriptor) {
    {
      absl::ReaderMutexLock lock(&mu_);
      auto it = infos_.find(descriptor);
      if (it != infos_.end()) return it->second.get();
    }
    absl::MutexLock lock(&mu_);
    std::vector<MessageInfo*> built;
    MessageInfo* info = BuildLocked(descriptor, &built);
    for (MessageInfo* m : built) {
      absl::flat_hash_set<const MessageInfo*> visited;
      m->transcodable = AllLocallyTranscodable(m, &visited);
    }
    return info;
  }

 private:
  static bool LocallyTranscodable(const MessageInfo& info) {
    if (info.well_known != WellKnown::kNone) return false;
    if (info.descriptor->file()->syntax() != pb::FileDescriptor::SYNTAX_PROTO3) return false;
    for (const FieldInfo& f : info.fields) {
      if (f.field->is_map() || f.type == FieldDescriptor::TYPE_GROUP) return false;
    }
    return true;
  }

  static bool AllLocallyTranscodable(const MessageInfo* info,
                                     absl::flat_hash_set<const MessageInfo*>* visited) {
    if (!visited->insert(info).second) return true;
    if (!LocallyTranscodable(*info)) return false;
    for (const FieldInfo& f : info->fields) {
      if (f.message != nullptr && !AllLocallyTranscodable(f.message, visited)) return false;
    }
    return true;
  }

  // Builds `descriptor` and every message type reachable from it, so that decoding and
  // encoding follow FieldInfo::message pointers without coming back here.
  MessageInfo* BuildLocked(const pb::Descriptor* descriptor, std::vector<MessageInfo*>* built)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto [it, inserted] = infos_.try_emplace(descriptor);
    if (!inserted) return it->second.get();
    it->second = std::make_unique<MessageInfo>();
    MessageInfo* info = it->second.get();  // stable across rehashing of infos_
    built->push_back(info);
    info->descriptor = descriptor;
    if (descriptor->full_name() == "google.protobuf.Any") info->well_known = WellKnown::kAny;
    if (descriptor->full_name() == "google.protobuf.Duration") {
      info->well_known = WellKnown::kDuration;
    }
    info->fields.resize(descriptor->field_count());
    for (int i = 0; i < descriptor->field_count(); ++i) {
      const FieldDescriptor* field = descriptor->field(i);
      FieldInfo& f = info->fields[i];
      f.field = field;
      f.json_name = field->json_name();
      f.key = absl::StrCat("\"", field->json_name(), "\":");
      if (IsIdField(field)) f.bytes_format = BytesFormat::kHex;
      if (field->options().GetExtension(otlpd::text)) f.bytes_format = BytesFormat::kText;
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        f.message = BuildLocked(field->message_type(), built);
      }
      f.type = field->type();
      f.index = static_cast<uint32_t>(i);
      f.repeated = field->is_repeated();
      f.packed = field->is_packed();
      f.presence = field->has_presence();
      f.wire_type = WireTypeOf(f.type);
      const uint32_t tag = static_cast<uint32_t>(field->number()) << 3 |
                           (f.packed ? uint8_t{kWireLengthDelimited} : f.wire_type);
      f.tag_size = static_cast<uint8_t>(WriteVarint(f.tag, tag) - f.tag);
      if (f.type == FieldDescriptor::TYPE_ENUM) {
        const pb::EnumDescriptor* type = field->enum_type();
        for (int v = 0; v < type->value_count(); ++v) {
          f.enum_numbers.emplace(type->value(v)->name(), type->value(v)->number());
        }
      }
    }
    info->Index();
    return info;
  }

  absl::Mutex mu_;
  absl::flat_hash_map<const pb::Descriptor*, std::unique_ptr<MessageInfo>> infos_
      ABSL_GUARDED_BY(mu_);
};

InfoRegistry& Registry() {
  static auto* registry = new InfoRegistry;
  return *registry;
}

simdjson::dom::parser& ThreadParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

void TrimThreadParser() {
  simdjson::dom::parser& parser = ThreadParser();
  if (parser.capacity() > kMaxRetainedParserCapacity) parser = simdjson::dom::parser();
}

// --- hex ---------------------------------------------------------------------------

constexpr int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Invalid ids become one zero byte: the decode succeeds and id validation later rejects
// just the item that carries it.
std::string DecodeHexId(std::string_view hex) {
  std::string out;
  if (hex.size() % 2 != 0) return std::string(1, '\0');
  out.resize(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexDigit(hex[2 * i]);
    int lo = HexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::string(1, '\0');
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

// --- Duration text ("1.5s") ----------------------------------------------------------

constexpr int64_t kMaxDurationSeconds = 315576000000;

bool ParseDuration(std::string_view text, int64_t* seconds, int32_t* nanos) {
  if (text.size() < 2 || text.back() != 's') return false;
  text.remove_suffix(1);
  bool negative = false;
  if (text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  std::string_view whole = text;
  std::string_view frac;
  if (size_t dot = text.find('.'); dot != std::string_view::npos) {
    whole = text.substr(0, dot);
    frac = text.substr(dot + 1);
    if (frac.empty() || frac.size() > 9) return false;
  }
  if (whole.empty()) return false;
  uint64_t s = 0;
  auto [end, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), s);
  if (ec != std::errc() || end != whole.data() + whole.size() || s > kMaxDurationSeconds) {
    return false;
  }
  int32_t n = 0;
  for (size_t i = 0; i < 9; ++i) {
    int digit = 0;
    if (i < frac.size()) {
      if (frac[i] < '0' || frac[i] > '9') return false;
      digit = frac[i] - '0';
    }
    n = n * 10 + digit;
  }
  *seconds = negative ? -static_cast<int64_t>(s) : static_cast<int64_t>(s);
  *nanos = negative ? -n : n;
  return true;
}

void AppendDuration(int64_t seconds, int32_t nanos, std::string* out) {
  out->push_back('"');
  if (seconds < 0 || nanos < 0) {
    out->push_back('-');
    seconds = -seconds;
    nanos = -nanos;
  }
  absl::StrAppend(out, seconds);
  if (nanos != 0) {
    char frac[10];
    int value = nanos;
    for (int i = 8; i >= 0; --i) {
      frac[i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
    int digits = 9;
    if (nanos % 1000000 == 0) {
      digits = 3;
    } else if (nanos % 1000 == 0) {
      digits = 6;
    }
    out->push_back('.');
    out->append(frac, digits);
  }
  out->append("s\"");
}

// --- JSON scalars -> C++ values ---------------------------------------------------
// Each returns nullptr on success, else what was expected (for the error message).

// absl::SimpleAtoi, with a fast path for the common form: plain digits ("1700000000000000000").
bool ParseDecimal(std::string_view s, uint64_t* out) {
  if (!s.empty() && s.size() <= 19) {  // below 10^19: no overflow
    uint64_t v = 0;
    size_t i = 0;
    for (; i < s.size(); ++i) {
      const unsigned digit = static_cast<unsigned char>(s[i]) - '0';
      if (digit > 9) break;
      v = v * 10 + digit;
    }
    if (i == s.size()) {
      *out = v;
      return true;
    }
  }
  return absl::SimpleAtoi(Absl(s), out);
}

bool ParseDecimal(std::string_view s, int64_t* out) {
  const bool negative = !s.empty() && s[0] == '-';
  const std::string_view digits = s.substr(negative ? 1 : 0);
  if (!digits.empty() && digits.size() <= 18) {  // below 10^18: no overflow
    int64_t v = 0;
    size_t i = 0;
    for (; i < digits.size(); ++i) {
      const unsigned digit = static_cast<unsigned char>(digits[i]) - '0';
      if (digit > 9) break;
      v = v * 10 + digit;
    }
    if (i == digits.size()) {
      *out = negative ? -v : v;
      return true;
    }
  }
  return absl::SimpleAtoi(Absl(s), out);
}

const char* ReadInt64(element json, int64_t* out) {
  switch (json.type()) {
    case element_type::INT64:
      *out = json.get_int64().value_unsafe();
      return nullptr;
    case element_type::UINT64:
      return "an integer in int64 range";
    case element_type::DOUBLE: {
      double d = json.get_double().value_unsafe();
      if (std::trunc(d) != d || d < -0x1p63 || d >= 0x1p63) return "an integer";
      *out = static_cast<int64_t>(d);
      return nullptr;
    }
    case element_type::STRING:
      if (!ParseDecimal(json.get_string().value_unsafe(), out)) {
        return "an integer (as number or decimal string)";
      }
      return nullptr;
    default:
      return "an integer";
  }
}

const char* ReadUint64(element json, uint64_t* out) {
  switch (json.type()) {
    case element_type::INT64: {
      int64_t v = json.get_int64().value_unsafe();
      if (v < 0) return "a non-negative integer";
      *out = static_cast<uint64_t>(v);
      return nullptr;
    }
    case element_type::UINT64:
      *out = json.get_uint64().value_unsafe();
      return nullptr;
    case element_type::DOUBLE: {
      double d = json.get_double().value_unsafe();
      if (std::trunc(d) != d || d < 0 || d >= 0x1p64) return "a non-negative integer";
      *out = static_cast<uint64_t>(d);
      return nullptr;
    }
    case element_type::STRING:
      if (!ParseDecimal(json.get_string().value_unsafe(), out)) {
        return "a non-negative integer (as number or decimal string)";
      }
      return nullptr;
    default:
      return "a non-negative integer";
  }
}

const char* ReadInt32(element json, int32_t* out) {
  int64_t v = 0;
  if (ReadInt64(json, &v) != nullptr || v < std::numeric_limits<int32_t>::min() ||
      v > std::numeric_limits<int32_t>::max()) {
    return "an integer in int32 range";
  }
  *out = static_cast<int32_t>(v);
  return nullptr;
}

const char* ReadUint32(element json, uint32_t* out) {
  uint64_t v = 0;
  if (ReadUint64(json, &v) != nullptr || v > std::numeric_limits<uint32_t>::max()) {
    return "an integer in uint32 range";
  }
  *out = static_cast<uint32_t>(v);
  return nullptr;
}

const char* ReadDouble(element json, double* out) {
  switch (json.type()) {
    case element_type::INT64:
      *out = static_cast<double>(json.get_int64().value_unsafe());
      return nullptr;
    case element_type::UINT64:
      *out = static_cast<double>(json.get_uint64().value_unsafe());
      return nullptr;
    case element_type::DOUBLE:
      *out = json.get_double().value_unsafe();
      return nullptr;
    case element_type::STRING: {
      std::string_view s = json.get_string().value_unsafe();
      if (s == "NaN") {
        *out = std::numeric_limits<double>::quiet_NaN();
      } else if (s == "Infinity") {
        *out = std::numeric_limits<double>::infinity();
      } else if (s == "-Infinity") {
        *out = -std::numeric_limits<double>::infinity();
      } else {
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
        if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
          return "a number (or \"NaN\", \"Infinity\", \"-Infinity\")";
        }
      }
      return nullptr;
    }
    default:
      return "a number";
  }
}

const char* ReadFloat(element json, float* out) {
  double d = 0;
  if (const char* expected = ReadDouble(json, &d)) return expected;
  if (std::isfinite(d) && std::fabs(d) > std::numeric_limits<float>::max()) {
    return "a number in float range";
  }
  *out = static_cast<float>(d);
  return nullptr;
}

const char* ReadBool(element json, bool* out) {
  if (json.type() != element_type::BOOL) return "true or false";
  *out = json.get_bool().value_unsafe();
  return nullptr;
}

const char* ReadEnum(element json, const pb::EnumDescriptor* type, int* out) {
  if (json.type() == element_type::STRING) {
    const pb::EnumValueDescriptor* value =
        type->FindValueByName(std::string(json.get_string().value_unsafe()));
    if (value != nullptr) {
      *out = value->number();
      return nullptr;
    }
    // Not a name: maybe a number in a string, as for other integers.
  }
  int32_t v = 0;
  if (ReadInt32(json, &v) != nullptr) return "an enum integer or value name";
  *out = v;
  return nullptr;
}

const char* ReadBytes(element json, BytesFormat format, std::string* out) {
  if (json.type() != element_type::STRING) return "a string";
  std::string_view s = json.get_string().value_unsafe();
  if (format == BytesFormat::kText) {
    out->assign(s.data(), s.size());
    return nullptr;
  }
  if (format == BytesFormat::kHex) {
    *out = DecodeHexId(s);
    return nullptr;
  }
  if (absl::Base64Unescape(Absl(s), out) || absl::WebSafeBase64Unescape(Absl(s), out))
    return nullptr;
  return "a base64 string";
}

// --- errors --------------------------------------------------------------------------

// Where in the document a value is: a field (by JSON name) and, for an element of a
// repeated field, its index.
struct PathElement {
  std::string_view name;
  int64_t index;
};

absl::Status PathError(const std::vector<PathElement>& path_elements, std::string_view what) {
  std::string path;
  for (const PathElement& e : path_elements) {
    if (!path.empty()) path.push_back('.');
    absl::StrAppend(&path, Absl(e.name));
    if (e.index >= 0) absl::StrAppend(&path, "[", e.index, "]");
  }
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat("OTLP/JSON: ", Absl(what)));
  return absl::InvalidArgumentError(absl::StrCat("OTLP/JSON field ", path, ": ", Absl(what)));
}

// --- decoder -------------------------------------------------------------------------

class Decoder {
 public:
  absl::Status DecodeMessage(element json, const MessageInfo& info, pb::Message* message,
                             int depth) {
    if (depth > kMaxDepth) {
      return Error(absl::StrCat("nested deeper than ", kMaxDepth, " messages"));
    }
    if (info.well_known == WellKnown::kDuration) return DecodeDuration(json, info, message);
    simdjson::dom::object object;
    if (json.get_object().get(object) != simdjson::SUCCESS) return Error("expected an object");
    if (info.well_known == WellKnown::kAny) {
      if (object.at_key("@type").error() == simdjson::SUCCESS) {
        return DecodeAny(json, object, info, message, depth);
      }
    }
    const pb::Reflection* reflection = message->GetReflection();
    for (simdjson::dom::key_value_pair member : object) {
      const FieldInfo* field = info.Find(member.key);
      if (field == nullptr || member.value.is_null()) continue;
      path_.push_back({field->json_name, -1});
      absl::Status status = DecodeField(member.value, *field, reflection, message, depth);
      if (!status.ok()) return status;
      path_.pop_back();
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Error(std::string_view what) const { return PathError(path_, what); }

  absl::Status DecodeField(element json, const FieldInfo& field, const pb::Reflection* reflection,
                           pb::Message* message, int depth) {
    if (field.field->is_map()) return DecodeMap(json, field, reflection, message, depth);
    if (!field.field->is_repeated()) {
      return DecodeValue(json, field, reflection, message, false, depth);
    }
    simdjson::dom::array array;
    if (json.get_array().get(array) != simdjson::SUCCESS) return Error("expected an array");
    int64_t index = 0;
    for (element item : array) {
      path_.back().index = index++;
      if (item.is_null()) return Error("null is not allowed in an array");
      absl::Status status = DecodeValue(item, field, reflection, message, true, depth);
      if (!status.ok()) return status;
    }
    path_.back().index = -1;
    return absl::OkStatus();
  }

  // Sets (or with `add`, appends to) `field` of `message` from `json`.
  absl::Status DecodeValue(element json, const FieldInfo& field, const pb::Reflection* reflection,
                           pb::Message* message, bool add, int depth) {
    const FieldDescriptor* fd = field.field;
    const char* expected = nullptr;
    switch (fd->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32: {
        int32_t v = 0;
        if (!(expected = ReadInt32(json, &v))) {
          add ? reflection->AddInt32(message, fd, v) : reflection->SetInt32(message, fd, v);
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t v = 0;
        if (!(expected = ReadInt64(json, &v))) {
          add ? reflection->AddInt64(message, fd, v) : reflection->SetInt64(message, fd, v);
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t v = 0;
        if (!(expected = ReadUint32(json, &v))) {
          add ? reflection->AddUInt32(message, fd, v) : reflection->SetUInt32(message, fd, v);
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v = 0;
        if (!(expected = ReadUint64(json, &v))) {
          add ? reflection->AddUInt64(message, fd, v) : reflection->SetUInt64(message, fd, v);
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        double v = 0;
        if (!(expected = ReadDouble(json, &v))) {
          add ? reflection->AddDouble(message, fd, v) : reflection->SetDouble(message, fd, v);
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_FLOAT: {
        float v = 0;
        if (!(expected = ReadFloat(json, &v))) {
          add ? reflection->AddFloat(message, fd, v) : reflection->SetFloat(message, fd, v);
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool v = false;
        if (!(expected = ReadBool(json, &v))) {
          add ? reflection->AddBool(message, fd, v) : reflection->SetBool(message, fd, v);
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        int v = 0;
        if (!(expected = ReadEnum(json, fd->enum_type(), &v))) {
          add ? reflection->AddEnumValue(message, fd, v) : reflection->SetEnumValue(message, fd, v);
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string v;
        if (fd->type() == FieldDescriptor::TYPE_BYTES) {
          expected = ReadBytes(json, field.bytes_format, &v);
        } else if (json.type() == element_type::STRING) {
          v = json.get_string().value_unsafe();
        } else {
          expected = "a string";
        }
        if (!expected) {
          add ? reflection->AddString(message, fd, std::move(v))
              : reflection->SetString(message, fd, std::move(v));
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        pb::Message* sub =
            add ? reflection->AddMessage(message, fd) : reflection->MutableMessage(message, fd);
        return DecodeMessage(json, *field.message, sub, depth + 1);
      }
    }
    if (expected != nullptr) return Error(absl::StrCat("expected ", expected));
    return absl::OkStatus();
  }

  absl::Status DecodeMap(element json, const FieldInfo& field, const pb::Reflection* reflection,
                         pb::Message* message, int depth) {
    simdjson::dom::object object;
    if (json.get_object().get(object) != simdjson::SUCCESS) return Error("expected an object");
    const MessageInfo& entry_info = *field.message;
    const FieldInfo& key_field = entry_info.fields[0];
    const FieldInfo& value_field = entry_info.fields[1];
    for (simdjson::dom::key_value_pair member : object) {
      if (member.value.is_null()) return Error("null is not allowed as a map value");
      pb::Message* entry = reflection->AddMessage(message, field.field);
      const pb::Reflection* entry_reflection = entry->GetReflection();
      const FieldDescriptor* kd = key_field.field;
      std::string_view key = member.key;
      bool ok = true;
      switch (kd->cpp_type()) {
        case FieldDescriptor::CPPTYPE_STRING:
          entry_reflection->SetString(entry, kd, std::string(key));
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          ok = key == "true" || key == "false";
          entry_reflection->SetBool(entry, kd, key == "true");
          break;
        case FieldDescriptor::CPPTYPE_INT32: {
          int32_t v = 0;
          ok = absl::SimpleAtoi(Absl(key), &v);
          entry_reflection->SetInt32(entry, kd, v);
          break;
        }
        case FieldDescriptor::CPPTYPE_INT64: {
          int64_t v = 0;
          ok = absl::SimpleAtoi(Absl(key), &v);
          entry_reflection->SetInt64(entry, kd, v);
          break;
        }
        case FieldDescriptor::CPPTYPE_UINT32: {
          uint32_t v = 0;
          ok = absl::SimpleAtoi(Absl(key), &v);
          entry_reflection->SetUInt32(entry, kd, v);
          break;
        }
        case FieldDescriptor::CPPTYPE_UINT64: {
          uint64_t v = 0;
          ok = absl::SimpleAtoi(Absl(key), &v);
          entry_reflection->SetUInt64(entry, kd, v);
          break;
        }
        default:
          ok = false;
      }
      if (!ok) return Error(absl::StrCat("invalid map key \"", Absl(key), "\""));
      absl::Status status =
          DecodeValue(member.value, value_field, entry_reflection, entry, false, depth + 1);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

  absl::Status DecodeDuration(element json, const MessageInfo& info, pb::Message* message) {
    int64_t seconds = 0;
    int32_t nanos = 0;
    if (json.type() != element_type::STRING ||
        !ParseDuration(json.get_string().value_unsafe(), &seconds, &nanos)) {
      return Error("expected a duration such as \"1.5s\"");
    }
    const pb::Reflection* reflection = message->GetReflection();
    reflection->SetInt64(message, info.Find("seconds")->field, seconds);
    reflection->SetInt32(message, info.Find("nanos")->field, nanos);
    return absl::OkStatus();
  }

  // {"@type": "type.googleapis.com/pkg.Msg", ...fields of Msg} (or "value" for a
  // well-known type with its own JSON form).
  absl::Status DecodeAny(element json, simdjson::dom::object object, const MessageInfo& info,
                         pb::Message* message, int depth) {
    std::string_view type_url;
    if (object["@type"].get_string().get(type_url) != simdjson::SUCCESS) {
      return Error("expected \"@type\" to be a string");
    }
    const pb::Descriptor* type = nullptr;
    if (size_t slash = type_url.rfind('/'); slash != std::string_view::npos) {
      type = pb::DescriptorPool::generated_pool()->FindMessageTypeByName(
          std::string(type_url.substr(slash + 1)));
    }
    if (type == nullptr) return Error(absl::StrCat("unknown type in Any: ", Absl(type_url)));
    const pb::Message* prototype = pb::MessageFactory::generated_factory()->GetPrototype(type);
    if (prototype == nullptr) return Error(absl::StrCat("unknown type in Any: ", Absl(type_url)));
    std::unique_ptr<pb::Message> inner(prototype->New());
    const MessageInfo* inner_info = Registry().Get(type);
    absl::Status status;
    if (inner_info->well_known != WellKnown::kNone) {
      element value;
      if (object["value"].get(value) != simdjson::SUCCESS) {
        return Error("expected \"value\" in Any of a well-known type");
      }
      status = DecodeMessage(value, *inner_info, inner.get(), depth + 1);
    } else {
      status = DecodeMessage(json, *inner_info, inner.get(), depth + 1);
    }
    if (!status.ok()) return status;
    const pb::Reflection* reflection = message->GetReflection();
    reflection->SetString(message, info.Find("type_url")->field, std::string(type_url));
    reflection->SetString(message, info.Find("value")->field, inner->SerializeAsString());
    return absl::OkStatus();
  }

  std::vector<PathElement> path_;
};

// --- transcoder ----------------------------------------------------------------------

// Protobuf parses a length-delimited field only up to this length (and a whole message only
// up to INT_MAX bytes).
constexpr size_t kMaxWireLength = static_cast<size_t>(std::numeric_limits<int>::max()) - 16;

inline char* StoreLittleEndian(char* p, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<char>(value >> (8 * i));
  return p + bytes;
}

// Hex digit values; -1 (all bits, so that OR-ing digits flags any bad one) for the rest.
constexpr std::array<int8_t, 256> kHexValue = [] {
  std::array<int8_t, 256> table{};
  for (int c = 0; c < 256; ++c) table[c] = static_cast<int8_t>(HexDigit(static_cast<char>(c)));
  return table;
}();

// The protobuf encoding being written by TranscodeOtlpJson. The length of a message or
// packed run is known only at its end: it gets a one-byte placeholder, filled in place when
// the length is below 128 (attributes, values, events: most messages). A longer one (spans,
// scopes, resources: few) is recorded and spliced in while the output is copied out once,
// so that no byte is moved more than that (moving each long body on its own would move the
// bytes of a span once per enclosing message).
class WireBuffer {
 public:
  struct Length {
    size_t at;     // offset of the placeholder byte
    size_t extra;  // extra_ when the length was opened
  };

  void Reset(size_t capacity) {
    if (storage_.size() < capacity) storage_.resize(capacity);
    begin_ = storage_.data();
    pos_ = begin_;
    end_ = begin_ + storage_.size();
    extra_ = 0;
    long_lengths_.clear();
  }

  // So that one huge document does not pin memory in every thread.
  void Trim(size_t max_capacity) {
    if (storage_.size() > max_capacity) std::string().swap(storage_);
    if (long_lengths_.capacity() > max_capacity / 64) {
      std::vector<std::pair<size_t, size_t>>().swap(long_lengths_);
    }
  }

  // Room for `n` more bytes at the returned position; Advance() to the end of what was
  // written there.
  char* Reserve(size_t n) {
    if (static_cast<size_t>(end_ - pos_) < n) Grow(n);
    return pos_;
  }
  void Advance(char* p) { pos_ = p; }
  size_t offset() const { return static_cast<size_t>(pos_ - begin_); }
  void Rewind(size_t offset) { pos_ = begin_ + offset; }

  Length OpenLength() {
    char* p = Reserve(1);
    pos_ = p + 1;
    return {static_cast<size_t>(p - begin_), extra_};
  }
  // False when the length is more than protobuf parses.
  bool CloseLength(Length open) {
    const size_t length = offset() - open.at - 1 + (extra_ - open.extra);
    if (length < 0x80) {
      begin_[open.at] = static_cast<char>(length);
      return true;
    }
    if (length > kMaxWireLength) return false;
    long_lengths_.emplace_back(open.at, length);
    extra_ += VarintSize(length) - 1;
    return true;
  }

  size_t size() const { return offset() + extra_; }

  std::string Assemble() {
    const size_t used = offset();
    if (long_lengths_.empty()) return std::string(begin_, used);
    // Recorded as they closed: inner before outer.
    std::sort(long_lengths_.begin(), long_lengths_.end());
    std::string out(used + extra_, '\0');
    char* o = out.data();
    size_t from = 0;
    for (const auto& [at, length] : long_lengths_) {
      std::memcpy(o, begin_ + from, at - from);
      o = WriteVarint(o + (at - from), length);
      from = at + 1;
    }
    std::memcpy(o, begin_ + from, used - from);
    return out;
  }

 private:
  void Grow(size_t n) {
    const size_t used = offset();
    storage_.resize(std::max(2 * storage_.size(), used + n + 4096));
    begin_ = storage_.data();
    pos_ = begin_ + used;
    end_ = begin_ + storage_.size();
  }

  std::string storage_;  // its whole size is usable; offset() bytes are written
  char* begin_ = nullptr;
  char* pos_ = nullptr;
  char* end_ = nullptr;
  size_t extra_ = 0;  // bytes that the long lengths take beyond their placeholders
  std::vector<std::pair<size_t, size_t>> long_lengths_;  // (placeholder offset, length)
};

// Writes what Decoder would set into a message as the wire encoding of that message. JSON
// members are written in document order, which makes protobuf's parse of the result follow
// the decoder's reflection calls: a repeated key sets a scalar again (last wins), merges a
// message field (MutableMessage) and appends to a repeated field; a later member of a oneof
// replaces an earlier one, and the same member again merges. The one thing to take care of
// is that the decoder's Set of a default value overwrites an earlier value, while protobuf
// serialization would leave a default out: defaults are written when they may overwrite
// something (a repeated key, or a message merged into an earlier one).
class Transcoder {
 public:
  explicit Transcoder(WireBuffer& out) : out_(out) {}

  // The fields of `json`, an object for `info`, at nesting `depth`. `merge`: merged into an
  // earlier occurrence of the same message.
  bool Message(element json, const MessageInfo& info, int depth, bool merge) {
    if (depth > kMaxDepth) return FailDepth();
    simdjson::dom::object object;
    if (json.get_object().get(object) != simdjson::SUCCESS) return Fail("expected an object");
    uint64_t seen = 0;  // singular fields met so far, by index (beyond 64: always "again")
    // Clients write keys in one order, most often declaration order: the field after the
    // last one found is compared first, which saves most hash lookups.
    uint32_t next = 0;
    for (simdjson::dom::key_value_pair member : object) {
      const FieldInfo* field = nullptr;
      if (next < info.fields.size()) {
        const FieldInfo& guess = info.fields[next];
        if (guess.json_name_finds_itself && guess.json_name.size() == member.key.size() &&
            SameBytes(guess.json_name.data(), member.key.data(), member.key.size())) {
          field = &guess;
        }
      }
      if (field == nullptr) field = info.Find(member.key);
      if (field == nullptr || member.value.is_null()) continue;
      next = field->index + 1;
      bool again = merge;
      if (!field->repeated) {
        const uint64_t bit = field->index < 64 ? uint64_t{1} << field->index : 0;
        again = again || bit == 0 || (seen & bit) != 0;
        seen |= bit;
      }
      if (!Field(member.value, *field, depth, again)) {
        path_.push_back({field->json_name, fail_index_});
        fail_index_ = -1;
        return false;
      }
    }
    return true;
  }

  // After Message() failed: the error DecodeOtlpJson gives for the same document.
  absl::Status status() const {
    if (too_large_) {
      return absl::ResourceExhaustedError(
          "OTLP/JSON: the protobuf encoding of the document exceeds 2 GiB");
    }
    std::vector<PathElement> path(path_.rbegin(), path_.rend());
    return PathError(path, what_);
  }

 private:
  // Out of line: keeps string building out of the frames of the hot functions.
  ABSL_ATTRIBUTE_NOINLINE bool Fail(std::string_view what) {
    what_ = what;
    return false;
  }
  ABSL_ATTRIBUTE_NOINLINE bool FailExpected(const char* expected) {
    what_ = absl::StrCat("expected ", expected);
    return false;
  }
  ABSL_ATTRIBUTE_NOINLINE bool FailDepth() {
    what_ = absl::StrCat("nested deeper than ", kMaxDepth, " messages");
    return false;
  }
  bool TooLarge() {
    too_large_ = true;
    return false;
  }

  bool Field(element json, const FieldInfo& field, int depth, bool again) {
    if (!field.repeated) {
      if (field.type == FieldDescriptor::TYPE_MESSAGE) {
        return SubMessage(json, field, depth, again);
      }
      return Scalar(json, field, true, !again && !field.presence);
    }
    simdjson::dom::array array;
    if (json.get_array().get(array) != simdjson::SUCCESS) return Fail("expected an array");
    int64_t index = 0;
    if (field.packed) {
      const size_t start = out_.offset();
      WriteTag(field);
      const WireBuffer::Length length = out_.OpenLength();
      for (element item : array) {
        if (item.is_null() || !Scalar(item, field, false, false)) {
          fail_index_ = index;
          return item.is_null() ? Fail("null is not allowed in an array") : false;
        }
        ++index;
      }
      if (index == 0) {
        out_.Rewind(start);  // nothing inside was recorded
        return true;
      }
      return out_.CloseLength(length) || TooLarge();
    }
    for (element item : array) {
      const bool ok = !item.is_null() && (field.type == FieldDescriptor::TYPE_MESSAGE
                                              ? SubMessage(item, field, depth, false)
                                              : Scalar(item, field, true, false));
      if (!ok) {
        fail_index_ = index;
        return item.is_null() ? Fail("null is not allowed in an array") : false;
      }
      ++index;
    }
    return true;
  }

  void WriteTag(const FieldInfo& field) {
    char* p = out_.Reserve(sizeof(field.tag));
    std::memcpy(p, field.tag, sizeof(field.tag));
    out_.Advance(p + field.tag_size);
  }

  bool SubMessage(element json, const FieldInfo& field, int depth, bool merge) {
    WriteTag(field);
    const WireBuffer::Length length = out_.OpenLength();
    if (!Message(json, *field.message, depth + 1, merge)) return false;
    return out_.CloseLength(length) || TooLarge();
  }

  // Writes the value of a scalar field (with its tag if `tag`), nothing for the default
  // value if `skip_default`.
  bool Scalar(element json, const FieldInfo& field, bool tag, bool skip_default) {
    const char* expected = nullptr;
    uint64_t v = 0;  // the varint value, or the bits of a fixed-size value
    switch (field.type) {
      case FieldDescriptor::TYPE_INT32:
      case FieldDescriptor::TYPE_SINT32:
      case FieldDescriptor::TYPE_SFIXED32: {
        int32_t x = 0;
        expected = ReadInt32(json, &x);
        if (field.type == FieldDescriptor::TYPE_INT32) {
          v = static_cast<uint64_t>(static_cast<int64_t>(x));  // sign-extended, as protobuf
        } else if (field.type == FieldDescriptor::TYPE_SINT32) {
          v = (static_cast<uint32_t>(x) << 1) ^ static_cast<uint32_t>(x >> 31);
        } else {
          v = static_cast<uint32_t>(x);
        }
        break;
      }
      case FieldDescriptor::TYPE_INT64:
      case FieldDescriptor::TYPE_SINT64:
      case FieldDescriptor::TYPE_SFIXED64: {
        int64_t x = 0;
        expected = ReadInt64(json, &x);
        v = field.type == FieldDescriptor::TYPE_SINT64
                ? (static_cast<uint64_t>(x) << 1) ^ static_cast<uint64_t>(x >> 63)
                : static_cast<uint64_t>(x);
        break;
      }
      case FieldDescriptor::TYPE_UINT32:
      case FieldDescriptor::TYPE_FIXED32: {
        uint32_t x = 0;
        expected = ReadUint32(json, &x);
        v = x;
        break;
      }
      case FieldDescriptor::TYPE_UINT64:
      case FieldDescriptor::TYPE_FIXED64:
        expected = ReadUint64(json, &v);
        break;
      case FieldDescriptor::TYPE_DOUBLE: {
        double x = 0;
        expected = ReadDouble(json, &x);
        v = absl::bit_cast<uint64_t>(x);  // -0.0 is not the default, as for protobuf
        break;
      }
      case FieldDescriptor::TYPE_FLOAT: {
        float x = 0;
        expected = ReadFloat(json, &x);
        v = absl::bit_cast<uint32_t>(x);
        break;
      }
      case FieldDescriptor::TYPE_BOOL: {
        bool x = false;
        expected = ReadBool(json, &x);
        v = x;
        break;
      }
      case FieldDescriptor::TYPE_ENUM: {
        int x = 0;
        expected = ReadEnumNumber(json, field, &x);
        v = static_cast<uint64_t>(static_cast<int64_t>(x));
        break;
      }
      case FieldDescriptor::TYPE_STRING:
      case FieldDescriptor::TYPE_BYTES:
        return Bytes(json, field, tag, skip_default);
      case FieldDescriptor::TYPE_MESSAGE:
      case FieldDescriptor::TYPE_GROUP:
        break;  // not scalars: never here
    }
    if (expected != nullptr) return FailExpected(expected);
    if (v == 0 && skip_default) return true;
    char* p = out_.Reserve(16);
    if (tag) {
      std::memcpy(p, field.tag, sizeof(field.tag));
      p += field.tag_size;
    }
    switch (field.wire_type) {
      case kWireFixed64:
        p = StoreLittleEndian(p, v, 8);
        break;
      case kWireFixed32:
        p = StoreLittleEndian(p, v, 4);
        break;
      default:
        p = WriteVarint(p, v);
    }
    out_.Advance(p);
    return true;
  }

  // ReadEnum, with the names looked up without building a std::string.
  static const char* ReadEnumNumber(element json, const FieldInfo& field, int* out) {
    if (json.type() == element_type::STRING) {
      auto it = field.enum_numbers.find(json.get_string().value_unsafe());
      if (it != field.enum_numbers.end()) {
        *out = it->second;
        return nullptr;
      }
    }
    int32_t v = 0;
    if (ReadInt32(json, &v) != nullptr) return "an enum integer or value name";
    *out = v;
    return nullptr;
  }

  bool Bytes(element json, const FieldInfo& field, bool tag, bool skip_default) {
    if (json.type() != element_type::STRING) return Fail("expected a string");
    std::string_view s = json.get_string().value_unsafe();
    // simdjson has checked that the document is UTF-8 and refuses escapes of unpaired
    // surrogates, so a `string` field needs no check of its own to parse again.
    if (field.type == FieldDescriptor::TYPE_BYTES) {
      if (field.bytes_format == BytesFormat::kHex) return HexId(s, field, tag, skip_default);
      if (field.bytes_format == BytesFormat::kBase64) {
        if (!absl::Base64Unescape(Absl(s), &scratch_) &&
            !absl::WebSafeBase64Unescape(Absl(s), &scratch_)) {
          return Fail("expected a base64 string");
        }
        s = scratch_;
      }
    }
    if (s.empty() && skip_default) return true;
    if (s.size() > kMaxWireLength) return TooLarge();
    char* p = out_.Reserve(s.size() + 16);
    if (tag) {
      std::memcpy(p, field.tag, sizeof(field.tag));
      p += field.tag_size;
    }
    p = WriteVarint(p, s.size());
    std::memcpy(p, s.data(), s.size());
    out_.Advance(p + s.size());
    return true;
  }

  // DecodeHexId: an id that is not an even number of hex digits becomes one zero byte.
  bool HexId(std::string_view hex, const FieldInfo& field, bool tag, bool skip_default) {
    if (hex.empty() && skip_default) return true;
    char* p = out_.Reserve(hex.size() / 2 + 16);
    if (tag) {
      std::memcpy(p, field.tag, sizeof(field.tag));
      p += field.tag_size;
    }
    if (hex.size() % 2 == 0) {
      char* q = WriteVarint(p, hex.size() / 2);
      int bad = 0;
      for (size_t i = 0; i < hex.size(); i += 2) {
        const int hi = kHexValue[static_cast<unsigned char>(hex[i])];
        const int lo = kHexValue[static_cast<unsigned char>(hex[i + 1])];
        bad |= hi | lo;
        *q++ = static_cast<char>(hi << 4 | lo);
      }
      if (bad >= 0) {
        out_.Advance(q);
        return true;
      }
    }
    *p++ = 1;
    *p++ = 0;
    out_.Advance(p);
    return true;
  }

  WireBuffer& out_;
  std::string scratch_;  // decoded base64
  // The error: what was expected, and the path to it from the innermost field outwards.
  std::string what_;
  std::vector<PathElement> path_;
  int64_t fail_index_ = -1;  // index in the failing repeated field, as the path shows it
  bool too_large_ = false;
};

// --- encoder -------------------------------------------------------------------------

// Bytes that cannot be copied as they are: control characters, '"', '\\', and every
// byte >= 0x80 (checked as UTF-8).
constexpr std::array<bool, 256> kNeedsEscape = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[c] = true;
  table['"'] = true;
  table['\\'] = true;
  for (int c = 0x80; c < 0x100; ++c) table[c] = true;
  return table;
}();

// Length of the well-formed UTF-8 sequence at s[i] (2 to 4), or 0 if it is not one
// (a stray continuation byte, a truncated or overlong sequence, a surrogate, > U+10FFFF).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // > U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return n;
}

// A JSON string of `s`. Text fields keep whatever bytes a client sent; a byte that is not
// part of well-formed UTF-8 is written as U+FFFD (as Go's encoding/json does), so the
// output is always valid JSON.
void AppendQuoted(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (!kNeedsEscape[c]) continue;
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(s, i);
      if (n > 0) {
        i += n - 1;  // well-formed: copied with the run around it
        continue;
      }
      out->append(s.data() + start, i - start);
      start = i + 1;
      out->append("\xEF\xBF\xBD");
      continue;
    }
    out->append(s.data() + start, i - start);
    start = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default: {
        char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
        out->append(escaped, sizeof(escaped));
      }
    }
  }
  out->append(s.data() + start, s.size() - start);
  out->push_back('"');
}

void AppendHex(std::string_view bytes, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t at = out->size();
  out->resize(at + 2 * bytes.size());
  char* p = out->data() + at;
  for (unsigned char c : bytes) {
    *p++ = kHex[c >> 4];
    *p++ = kHex[c & 0xf];
  }
  out->push_back('"');
}

template <typename Int>
void AppendInt(Int value, bool quoted, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  if (quoted) out->push_back('"');
  out->append(buf, end - buf);
  if (quoted) out->push_back('"');
}

template <typename Float>
void AppendFloat(Float value, std::string* out) {
  if (std::isnan(value)) {
    out->append("\"NaN\"");
  } else if (std::isinf(value)) {
    out->append(value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else if (value == 0 && std::signbit(value)) {
    out->append("-0.0");  // "-0" would read back as the integer 0
  } else {
    char buf[32];
    // Shortest representation that reads back as the same value.
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
    out->append(buf, end - buf);
  }
}

class Encoder {
 public:
  explicit Encoder(std::string* out) : out_(*out) {}

  void EncodeMessage(const pb::Message& message, const MessageInfo& info) {
    if (info.well_known == WellKnown::kDuration) {
      const pb::Reflection* reflection = message.GetReflection();
      AppendDuration(reflection->GetInt64(message, info.Find("seconds")->field),
                     reflection->GetInt32(message, info.Find("nanos")->field), &out_);
      return;
    }
    if (info.well_known == WellKnown::kAny && EncodeAny(message, info)) return;
    out_.push_back('{');
    EncodeFields(message, info, true);
    out_.push_back('}');
  }

 private:
  // Appends the set fields as `"key":value` pairs; returns whether nothing was written.
  bool EncodeFields(const pb::Message& message, const MessageInfo& info, bool first) {
    const pb::Reflection* reflection = message.GetReflection();
    for (const FieldInfo& field : info.fields) {
      const FieldDescriptor* fd = field.field;
      if (fd->is_repeated()) {
        int size = reflection->FieldSize(message, fd);
        if (size == 0) continue;
        if (!first) out_.push_back(',');
        first = false;
        out_.append(field.key);
        if (fd->is_map()) {
          EncodeMap(message, reflection, field, size);
          continue;
        }
        out_.push_back('[');
        for (int i = 0; i < size; ++i) {
          if (i > 0) out_.push_back(',');
          EncodeValue(message, reflection, field, i);
        }
        out_.push_back(']');
      } else {
        // For proto3 scalars without presence HasField means "not the default value";
        // oneof members and optional fields report presence, so a set 0 is kept.
        if (!reflection->HasField(message, fd)) continue;
        if (!first) out_.push_back(',');
        first = false;
        out_.append(field.key);
        EncodeValue(message, reflection, field, -1);
      }
    }
    return first;
  }

  // Singular field when index < 0, else element `index` of a repeated field.
  void EncodeValue(const pb::Message& message, const pb::Reflection* r, const FieldInfo& field,
                   int index) {
    const FieldDescriptor* fd = field.field;
    bool repeated = index >= 0;
    switch (fd->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        AppendInt(repeated ? r->GetRepeatedInt32(message, fd, index) : r->GetInt32(message, fd),
                  false, &out_);
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        AppendInt(repeated ? r->GetRepeatedUInt32(message, fd, index) : r->GetUInt32(message, fd),
                  false, &out_);
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        AppendInt(repeated ? r->GetRepeatedInt64(message, fd, index) : r->GetInt64(message, fd),
                  true, &out_);
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        AppendInt(repeated ? r->GetRepeatedUInt64(message, fd, index) : r->GetUInt64(message, fd),
                  true, &out_);
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        AppendFloat(repeated ? r->GetRepeatedDouble(message, fd, index) : r->GetDouble(message, fd),
                    &out_);
        break;
      case FieldDescriptor::CPPTYPE_FLOAT:
        AppendFloat(repeated ? r->GetRepeatedFloat(message, fd, index) : r->GetFloat(message, fd),
                    &out_);
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        out_.append((repeated ? r->GetRepeatedBool(message, fd, index) : r->GetBool(message, fd))
                        ? "true"
                        : "false");
        break;
      case FieldDescriptor::CPPTYPE_ENUM:
        AppendInt(
            repeated ? r->GetRepeatedEnumValue(message, fd, index) : r->GetEnumValue(message, fd),
            false, &out_);
        break;
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        const std::string& value = repeated
                                       ? r->GetRepeatedStringReference(message, fd, index, &scratch)
                                       : r->GetStringReference(message, fd, &scratch);
        if (fd->type() != FieldDescriptor::TYPE_BYTES || field.bytes_format == BytesFormat::kText) {
          AppendQuoted(value, &out_);
        } else if (field.bytes_format == BytesFormat::kHex) {
          AppendHex(value, &out_);
        } else {
          out_.push_back('"');
          out_.append(absl::Base64Escape(value));
          out_.push_back('"');
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        EncodeMessage(
            repeated ? r->GetRepeatedMessage(message, fd, index) : r->GetMessage(message, fd),
            *field.message);
        break;
    }
  }

  void EncodeMap(const pb::Message& message, const pb::Reflection* reflection,
                 const FieldInfo& field, int size) {
    const FieldInfo& key_field = field.message->fields[0];
    const FieldInfo& value_field = field.message->fields[1];
    out_.push_back('{');
    for (int i = 0; i < size; ++i) {
      if (i > 0) out_.push_back(',');
      const pb::Message& entry = reflection->GetRepeatedMessage(message, field.field, i);
      const pb::Reflection* entry_reflection = entry.GetReflection();
      if (key_field.field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        EncodeValue(entry, entry_reflection, key_field, -1);
      } else {
        // Non-string keys are quoted decimal / true / false.
        size_t at = out_.size();
        EncodeValue(entry, entry_reflection, key_field, -1);
        if (out_[at] != '"') {
          out_.insert(out_.begin() + at, '"');
          out_.push_back('"');
        }
      }
      out_.push_back(':');
      EncodeValue(entry, entry_reflection, value_field, -1);
    }
    out_.push_back('}');
  }

  // {"@type": url, ...fields} when the packed type is known and parses; false otherwise
  // (the Any is then written field by field).
  bool EncodeAny(const pb::Message& message, const MessageInfo& info) {
    const pb::Reflection* reflection = message.GetReflection();
    std::string type_url = reflection->GetString(message, info.Find("type_url")->field);
    size_t slash = type_url.rfind('/');
    if (slash == std::string::npos) return false;
    const pb::Descriptor* type =
        pb::DescriptorPool::generated_pool()->FindMessageTypeByName(type_url.substr(slash + 1));
    if (type == nullptr) return false;
    const pb::Message* prototype = pb::MessageFactory::generated_factory()->GetPrototype(type);
    if (prototype == nullptr) return false;
    std::unique_ptr<pb::Message> inner(prototype->New());
    if (!inner->ParseFromString(reflection->GetString(message, info.Find("value")->field))) {
      return false;
    }
    const MessageInfo* inner_info = Registry().Get(type);
    out_.append("{\"@type\":");
    AppendQuoted(type_url, &out_);
    if (inner_info->well_known != WellKnown::kNone) {
      out_.append(",\"value\":");
      EncodeMessage(*inner, *inner_info);
    } else {
      EncodeFields(*inner, *inner_info, false);
    }
    out_.push_back('}');
    return true;
  }

  std::string& out_;
};

// The root object of `json`, parsed by this thread's parser (valid until its next use).
absl::StatusOr<element> ParseRoot(std::string_view json) {
  simdjson::dom::parser& parser = ThreadParser();
  element root;
  simdjson::error_code error = parser.parse(json.data(), json.size()).get(root);
  if (error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON: ", simdjson::error_message(error)));
  }
  if (root.type() != element_type::OBJECT) {
    return absl::InvalidArgumentError("OTLP/JSON: the document must be a JSON object");
  }
  return root;
}

// DecodeOtlpJson into a new message of `descriptor`, serialized.
absl::StatusOr<std::string> TranscodeReflectively(std::string_view json,
                                                  const pb::Descriptor* descriptor) {
  std::unique_ptr<pb::DynamicMessageFactory> dynamic_factory;
  const pb::Message* prototype = nullptr;
  if (descriptor->file()->pool() == pb::DescriptorPool::generated_pool()) {
    prototype = pb::MessageFactory::generated_factory()->GetPrototype(descriptor);
  }
  if (prototype == nullptr) {
    dynamic_factory = std::make_unique<pb::DynamicMessageFactory>();
    prototype = dynamic_factory->GetPrototype(descriptor);
  }
  std::unique_ptr<pb::Message> message(prototype->New());
  absl::Status status = DecodeOtlpJson(json, message.get());
  if (!status.ok()) return status;
  return message->SerializeAsString();
}

}  // namespace

absl::Status DecodeOtlpJson(std::string_view json, google::protobuf::Message* out) {
  out->Clear();
  absl::Status status;
  {
    absl::StatusOr<element> root = ParseRoot(json);
    if (!root.ok()) {
      status = root.status();
    } else {
      status = Decoder().DecodeMessage(*root, *Registry().Get(out->GetDescriptor()), out, 0);
    }
  }
  TrimThreadParser();
  return status;
}

absl::StatusOr<std::string> TranscodeOtlpJson(std::string_view json,
                                              const google::protobuf::Descriptor* descriptor) {
  const MessageInfo* info = Registry().Get(descriptor);
  if (!info->transcodable) return TranscodeReflectively(json, descriptor);
  thread_local WireBuffer buffer;
  absl::StatusOr<std::string> out;
  {
    absl::StatusOr<element> root = ParseRoot(json);
    if (!root.ok()) {
      out = root.status();
    } else {
      // Nearly always enough: the encoding is most often about half the size of the text.
      buffer.Reset(json.size() + 1024);
      Transcoder transcoder(buffer);
      if (!transcoder.Message(*root, *info, 0, false)) {
        out = transcoder.status();
      } else if (buffer.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
        out = absl::ResourceExhaustedError(
            "OTLP/JSON: the protobuf encoding of the document exceeds 2 GiB");
      } else {
        out = buffer.Assemble();
      }
    }
  }
  TrimThreadParser();
  buffer.Trim(kMaxRetainedParserCapacity);
  return out;
}

std::string EncodeOtlpJson(const google::protobuf::Message& message) {
  std::string out;
  out.reserve(256);
  Encoder(&out).EncodeMessage(message, *Registry().Get(message.GetDescriptor()));
  return out;
}

void AppendJsonString(std::string_view text, std::string* out) { AppendQuoted(text, out); }

}  // namespace otlpd
