#include "core/otlp_json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
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
};

// Field names within one message differ cheaply: length and a few characters make a
// good enough hash, much faster than hashing every byte of every JSON key.
struct FieldNameHash {
  size_t operator()(std::string_view s) const {
    if (s.empty()) return 0;
    size_t n = s.size();
    return n * 0x9e3779b97f4a7c15ull ^ (static_cast<unsigned char>(s[0]) << 8) ^
           (static_cast<unsigned char>(s[n - 1]) << 16) ^
           (static_cast<unsigned char>(s[n / 2]) << 24);
  }
};

// Per-descriptor lookup tables, built once and then read without locking.
struct MessageInfo {
  const pb::Descriptor* descriptor = nullptr;
  WellKnown well_known = WellKnown::kNone;
  std::vector<FieldInfo> fields;  // declaration order
  // json_name and name
  absl::flat_hash_map<std::string_view, const FieldInfo*, FieldNameHash> by_name;
  const FieldInfo* Find(std::string_view name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  }
};

// Debian's abseil has its own string_view type.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsIdField(const FieldDescriptor* field) {
  return field->type() == FieldDescriptor::TYPE_BYTES &&
         (field->name() == "trace_id" || field->name() == "span_id" ||
          field->name() == "parent_span_id");
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
    return BuildLocked(descriptor);
  }

 private:
  // Builds `descriptor` and every message type reachable from it, so that decoding and
  // encoding follow FieldInfo::message pointers without coming back here.
  MessageInfo* BuildLocked(const pb::Descriptor* descriptor) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto [it, inserted] = infos_.try_emplace(descriptor);
    if (!inserted) return it->second.get();
    it->second = std::make_unique<MessageInfo>();
    MessageInfo* info = it->second.get();  // stable across rehashing of infos_
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
        f.message = BuildLocked(field->message_type());
      }
    }
    for (const FieldInfo& f : info->fields) {
      info->by_name.emplace(f.field->json_name(), &f);
      info->by_name.emplace(f.field->name(), &f);
    }
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

// --- hex ---------------------------------------------------------------------------

int HexDigit(char c) {
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
      if (!absl::SimpleAtoi(Absl(json.get_string().value_unsafe()), out)) {
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
      if (!absl::SimpleAtoi(Absl(json.get_string().value_unsafe()), out)) {
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
  struct PathElement {
    std::string_view name;
    int64_t index;
  };

  absl::Status Error(std::string_view what) const {
    std::string path;
    for (const PathElement& e : path_) {
      if (!path.empty()) path.push_back('.');
      absl::StrAppend(&path, Absl(e.name));
      if (e.index >= 0) absl::StrAppend(&path, "[", e.index, "]");
    }
    if (path.empty()) return absl::InvalidArgumentError(absl::StrCat("OTLP/JSON: ", Absl(what)));
    return absl::InvalidArgumentError(absl::StrCat("OTLP/JSON field ", path, ": ", Absl(what)));
  }

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

}  // namespace

absl::Status DecodeOtlpJson(std::string_view json, google::protobuf::Message* out) {
  out->Clear();
  thread_local simdjson::dom::parser parser;
  absl::Status status;
  {
    element root;
    simdjson::error_code error = parser.parse(json.data(), json.size()).get(root);
    if (error != simdjson::SUCCESS) {
      status = absl::InvalidArgumentError(
          absl::StrCat("invalid JSON: ", simdjson::error_message(error)));
    } else if (root.type() != element_type::OBJECT) {
      status = absl::InvalidArgumentError("OTLP/JSON: the document must be a JSON object");
    } else {
      status = Decoder().DecodeMessage(root, *Registry().Get(out->GetDescriptor()), out, 0);
    }
  }
  if (parser.capacity() > kMaxRetainedParserCapacity) parser = simdjson::dom::parser();
  return status;
}

std::string EncodeOtlpJson(const google::protobuf::Message& message) {
  std::string out;
  out.reserve(256);
  Encoder(&out).EncodeMessage(message, *Registry().Get(message.GetDescriptor()));
  return out;
}

}  // namespace otlpd
