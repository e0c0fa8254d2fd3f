#include "storage/attribute_text.h"

#include <charconv>
#include <string>

#include "absl/hash/hash.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/otlp_json.h"

namespace otlpd::storage {

namespace {

using opentelemetry::proto::common::v1::AnyValue;

void AppendJson(const AnyValue& v, std::string* out) {
  switch (v.value_case()) {
    case AnyValue::kStringValue:
      AppendJsonString(v.string_value(), out);
      return;
    case AnyValue::kArrayValue: {
      out->push_back('[');
      bool first = true;
      for (const AnyValue& e : v.array_value().values()) {
        if (!first) out->push_back(',');
        first = false;
        AppendJson(e, out);
      }
      out->push_back(']');
      return;
    }
    case AnyValue::kKvlistValue: {
      out->push_back('{');
      bool first = true;
      for (const auto& kv : v.kvlist_value().values()) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(kv.key(), out);
        out->push_back(':');
        AppendJson(kv.value(), out);
      }
      out->push_back('}');
      return;
    }
    case AnyValue::kBytesValue:
      AppendJsonString(absl::Base64Escape(v.bytes_value()), out);
      return;
    case AnyValue::VALUE_NOT_SET:
      out->append("null");
      return;
    default:
      out->append(AttributeText(v));
  }
}

}  // namespace

std::string AttributeText(const AnyValue& value) {
  switch (value.value_case()) {
    case AnyValue::kStringValue:
      return value.string_value();
    case AnyValue::kBoolValue:
      return value.bool_value() ? "true" : "false";
    case AnyValue::kIntValue:
      return absl::StrCat(value.int_value());
    case AnyValue::kDoubleValue: {
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, value.double_value());
      return std::string(buf, r.ptr);
    }
    case AnyValue::kBytesValue:
      return absl::Base64Escape(value.bytes_value());
    case AnyValue::kArrayValue:
    case AnyValue::kKvlistValue: {
      std::string out;
      AppendJson(value, &out);
      return out;
    }
    default:
      return "";
  }
}

uint64_t AttributeHash(std::string_view key, std::string_view value_text) {
  return absl::Hash<std::pair<absl::string_view, absl::string_view>>{}(
      {absl::string_view(key.data(), key.size()),
       absl::string_view(value_text.data(), value_text.size())});
}

std::string ServiceName(const opentelemetry::proto::resource::v1::Resource& resource) {
  for (const auto& kv : resource.attributes()) {
    if (kv.key() == "service.name") return AttributeText(kv.value());
  }
  return "";
}

}  // namespace otlpd::storage
