#pragma once

// A parsed JSON document as a plain tree, for field-by-field checks in tests: looking up a
// missing key or index gives a null value instead of failing, so that one wrong field is
// reported by its EXPECT and the test goes on.

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace otlpd::query::testing {

struct JsonValue {
  enum class Type { kMissing, kNull, kBool, kInt, kUint, kDouble, kString, kArray, kObject };
  Type type = Type::kMissing;
  bool b = false;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  std::string s;
  std::vector<JsonValue> items;
  std::vector<std::pair<std::string, JsonValue>> members;

  const JsonValue& operator[](std::string_view key) const {
    for (const auto& [k, v] : members) {
      if (k == key) return v;
    }
    return Missing();
  }
  const JsonValue& operator[](size_t index) const {
    return index < items.size() ? items[index] : Missing();
  }
  bool Has(std::string_view key) const {
    for (const auto& [k, v] : members) {
      if (k == key) return true;
    }
    return false;
  }
  size_t size() const { return type == Type::kArray ? items.size() : members.size(); }
  bool is_string() const { return type == Type::kString; }
  bool is_number() const {
    return type == Type::kInt || type == Type::kUint || type == Type::kDouble;
  }
  bool is_integer() const { return type == Type::kInt || type == Type::kUint; }
  bool is_array() const { return type == Type::kArray; }
  bool is_object() const { return type == Type::kObject; }
  bool is_null() const { return type == Type::kNull; }
  bool is_bool() const { return type == Type::kBool; }
  double number() const {
    return type == Type::kInt    ? static_cast<double>(i)
           : type == Type::kUint ? static_cast<double>(u)
                                 : d;
  }
  int64_t integer() const { return type == Type::kUint ? static_cast<int64_t>(u) : i; }

  static const JsonValue& Missing() {
    static const JsonValue missing;
    return missing;
  }
};

inline JsonValue FromSimdjson(simdjson::dom::element e) {
  JsonValue v;
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY: {
      v.type = JsonValue::Type::kArray;
      simdjson::dom::array a;
      if (e.get_array().get(a) == simdjson::SUCCESS) {
        for (simdjson::dom::element x : a) v.items.push_back(FromSimdjson(x));
      }
      break;
    }
    case simdjson::dom::element_type::OBJECT: {
      v.type = JsonValue::Type::kObject;
      simdjson::dom::object o;
      if (e.get_object().get(o) == simdjson::SUCCESS) {
        for (auto field : o)
          v.members.emplace_back(std::string(field.key), FromSimdjson(field.value));
      }
      break;
    }
    case simdjson::dom::element_type::INT64:
      v.type = JsonValue::Type::kInt;
      if (e.get_int64().get(v.i) != simdjson::SUCCESS) v.type = JsonValue::Type::kNull;
      break;
    case simdjson::dom::element_type::UINT64:
      v.type = JsonValue::Type::kUint;
      if (e.get_uint64().get(v.u) != simdjson::SUCCESS) v.type = JsonValue::Type::kNull;
      break;
    case simdjson::dom::element_type::DOUBLE:
      v.type = JsonValue::Type::kDouble;
      if (e.get_double().get(v.d) != simdjson::SUCCESS) v.type = JsonValue::Type::kNull;
      break;
    case simdjson::dom::element_type::STRING: {
      v.type = JsonValue::Type::kString;
      std::string_view sv;
      if (e.get_string().get(sv) == simdjson::SUCCESS) v.s = std::string(sv);
      break;
    }
    case simdjson::dom::element_type::BOOL:
      v.type = JsonValue::Type::kBool;
      if (e.get_bool().get(v.b) != simdjson::SUCCESS) v.type = JsonValue::Type::kNull;
      break;
    case simdjson::dom::element_type::NULL_VALUE:
      v.type = JsonValue::Type::kNull;
      break;
  }
  return v;
}

// The parsed document; kMissing (with `error` set) when the text is not valid JSON.
inline JsonValue ParseJson(std::string_view text, std::string* error = nullptr) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  const simdjson::padded_string padded(text.data(), text.size());
  if (auto e = parser.parse(padded).get(root); e != simdjson::SUCCESS) {
    if (error != nullptr) *error = simdjson::error_message(e);
    return JsonValue();
  }
  return FromSimdjson(root);
}

}  // namespace otlpd::query::testing
