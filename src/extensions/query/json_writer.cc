#include "extensions/query/json_writer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/otlp_json.h"

namespace otlpd::query {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_member_.empty()) {
    if (has_member_.back()) out_->push_back(',');
    has_member_.back() = true;
  }
}

void JsonWriter::Open(char c) {
  BeforeValue();
  out_->push_back(c);
  has_member_.push_back(false);
}

void JsonWriter::Close(char c) {
  out_->push_back(c);
  if (!has_member_.empty()) has_member_.pop_back();
}

void JsonWriter::Key(absl::string_view key) {
  BeforeValue();
  AppendJsonString(std::string_view(key.data(), key.size()), out_);
  out_->push_back(':');
  after_key_ = true;
}

void JsonWriter::String(absl::string_view value) {
  BeforeValue();
  AppendJsonString(std::string_view(value.data(), value.size()), out_);
}

void JsonWriter::Int(int64_t value) {
  BeforeValue();
  absl::StrAppend(out_, value);
}

void JsonWriter::Uint(uint64_t value) {
  BeforeValue();
  absl::StrAppend(out_, value);
}

void JsonWriter::Double(double value) {
  BeforeValue();
  if (!std::isfinite(value)) {
    out_->append("null");
    return;
  }
  AppendDouble(value, out_);
}

void JsonWriter::Bool(bool value) {
  BeforeValue();
  out_->append(value ? "true" : "false");
}

void JsonWriter::Null() {
  BeforeValue();
  out_->append("null");
}

void JsonWriter::Raw(absl::string_view json) {
  BeforeValue();
  out_->append(json.data(), json.size());
}

void AppendDouble(double value, std::string* out) {
  if (std::isnan(value)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(value)) {
    out->append(value > 0 ? "+Inf" : "-Inf");
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  if (ec != std::errc()) {
    out->append("0");
    return;
  }
  out->append(buf, end);
}

namespace {

// Members of a key-value list in output order: first position of each key, last value.
std::vector<const KeyValue*> Members(const google::protobuf::RepeatedPtrField<KeyValue>& kvs,
                                     bool sort_keys) {
  std::vector<const KeyValue*> members;
  absl::flat_hash_map<absl::string_view, size_t> index;
  for (const KeyValue& kv : kvs) {
    auto [it, inserted] = index.emplace(kv.key(), members.size());
    if (inserted) {
      members.push_back(&kv);
    } else {
      members[it->second] = &kv;
    }
  }
  if (sort_keys) {
    std::sort(members.begin(), members.end(),
              [](const KeyValue* a, const KeyValue* b) { return a->key() < b->key(); });
  }
  return members;
}

}  // namespace

void WriteAnyValue(const AnyValue& value, bool sort_keys, JsonWriter* json) {
  switch (value.value_case()) {
    case AnyValue::kStringValue:
      json->String(value.string_value());
      return;
    case AnyValue::kBoolValue:
      json->Bool(value.bool_value());
      return;
    case AnyValue::kIntValue:
      json->Int(value.int_value());
      return;
    case AnyValue::kDoubleValue:
      if (std::isfinite(value.double_value())) {
        json->Double(value.double_value());
      } else {
        std::string text;
        AppendDouble(value.double_value(), &text);
        json->String(text);
      }
      return;
    case AnyValue::kBytesValue:
      json->String(absl::Base64Escape(value.bytes_value()));
      return;
    case AnyValue::kArrayValue:
      json->BeginArray();
      for (const AnyValue& v : value.array_value().values()) WriteAnyValue(v, sort_keys, json);
      json->EndArray();
      return;
    case AnyValue::kKvlistValue:
      json->BeginObject();
      for (const KeyValue* kv : Members(value.kvlist_value().values(), sort_keys)) {
        json->Key(kv->key());
        WriteAnyValue(kv->value(), sort_keys, json);
      }
      json->EndObject();
      return;
    default:  // unset, or a dictionary index (profiles only)
      break;
  }
  json->Null();
}

void WriteAttributes(const google::protobuf::RepeatedPtrField<KeyValue>& attrs, JsonWriter* json) {
  json->BeginObject();
  for (const KeyValue* kv : Members(attrs, /*sort_keys=*/false)) {
    json->Key(kv->key());
    WriteAnyValue(kv->value(), /*sort_keys=*/false, json);
  }
  json->EndObject();
}

std::string AnyValueAsString(const AnyValue& value) {
  switch (value.value_case()) {
    case AnyValue::kStringValue:
      return value.string_value();
    case AnyValue::kBoolValue:
      return value.bool_value() ? "true" : "false";
    case AnyValue::kIntValue:
      return absl::StrCat(value.int_value());
    case AnyValue::kDoubleValue: {
      std::string text;
      AppendDouble(value.double_value(), &text);
      return text;
    }
    case AnyValue::kBytesValue:
      return absl::Base64Escape(value.bytes_value());
    case AnyValue::kArrayValue:
    case AnyValue::kKvlistValue: {
      std::string out;
      JsonWriter json(&out);
      WriteAnyValue(value, /*sort_keys=*/true, &json);
      return out;
    }
    default:  // unset, or a dictionary index (profiles only)
      break;
  }
  return "";
}

std::string Hex(absl::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = kDigits[b >> 4];
    out[2 * i + 1] = kDigits[b & 0xf];
  }
  return out;
}

}  // namespace otlpd::query
