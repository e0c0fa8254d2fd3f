#include "processors/attraction/config_value.h"

#include <cstdint>
#include <limits>
#include <string_view>

#include "core/config_node.h"
#include "processors/attraction/value.h"
#include "processors/attraction/wire.h"

namespace otlpd::attraction {

namespace {

constexpr int kMaxDepth = 32;

// Go's strconv parsing of an unsigned magnitude with base 0 ("0x", "0o", "0b" prefixes, a
// leading 0 meaning octal). Underscores were already removed by the caller, as yaml.v3 does.
bool ParseMagnitude(std::string_view s, uint64_t* out) {
  int base = 10;
  if (s.size() >= 2 && s[0] == '0') {
    const char p = s[1];
    if (p == 'x' || p == 'X') {
      base = 16;
      s.remove_prefix(2);
    } else if (p == 'o' || p == 'O') {
      base = 8;
      s.remove_prefix(2);
    } else if (p == 'b' || p == 'B') {
      base = 2;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
  }
  if (s.empty()) return false;
  uint64_t value = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    if (d >= base) return false;
    if (value > (std::numeric_limits<uint64_t>::max() - static_cast<uint64_t>(d)) /
                    static_cast<uint64_t>(base)) {
      return false;
    }
    value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  *out = value;
  return true;
}

// yaml.v3's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
bool IsYamlFloat(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    const size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  } else {
    if (!digits()) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      digits();
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

// A plain scalar as yaml.v3 resolves it for an untyped target.
void ResolvePlain(std::string_view text, std::string* out) {
  if (text == "true" || text == "True" || text == "TRUE") return AppendBoolValue(out, true);
  if (text == "false" || text == "False" || text == "FALSE") return AppendBoolValue(out, false);
  if (text == ".inf" || text == ".Inf" || text == ".INF" || text == "+.inf" || text == "+.Inf" ||
      text == "+.INF") {
    return AppendDoubleValue(out, std::numeric_limits<double>::infinity());
  }
  if (text == "-.inf" || text == "-.Inf" || text == "-.INF") {
    return AppendDoubleValue(out, -std::numeric_limits<double>::infinity());
  }
  if (text == ".nan" || text == ".NaN" || text == ".NAN") {
    return AppendDoubleValue(out, std::numeric_limits<double>::quiet_NaN());
  }
  if (!text.empty() && (text[0] == '-' || text[0] == '+' || (text[0] >= '0' && text[0] <= '9'))) {
    std::string plain;
    for (char c : text) {
      if (c != '_') plain.push_back(c);
    }
    std::string_view magnitude = plain;
    const bool negative = !magnitude.empty() && magnitude[0] == '-';
    const bool sign = !magnitude.empty() && (magnitude[0] == '-' || magnitude[0] == '+');
    if (sign) magnitude.remove_prefix(1);
    uint64_t m;
    if (ParseMagnitude(magnitude, &m)) {
      if (negative && m <= (uint64_t{1} << 63)) {
        return AppendIntValue(out, static_cast<int64_t>(0 - m));
      }
      // A uint64 beyond int64 wraps, as pcommon's FromRaw(uint64) does.
      if (!negative) return AppendIntValue(out, static_cast<int64_t>(m));
    }
    double d;
    if (IsYamlFloat(plain) && ParseGoFloat(plain, &d)) return AppendDoubleValue(out, d);
  } else if (!text.empty() && text[0] == '.') {
    double d;
    if (ParseGoFloat(text, &d)) return AppendDoubleValue(out, d);
  }
  AppendStrValue(out, text);
}

bool Encode(const YAML::Node& node, std::string* out, std::string* error, int depth) {
  if (depth > kMaxDepth) {
    *error = "value is nested too deeply";
    return false;
  }
  if (!node.IsDefined() || node.IsNull()) return true;  // an empty AnyValue
  if (node.IsScalar()) {
    const std::string text = ExpandEnv(node.Scalar());
    const std::string& tag = node.Tag();
    if (tag == "!" || tag == "tag:yaml.org,2002:str") {
      AppendStrValue(out, text);  // quoted, or tagged as a string
    } else if (text.empty()) {
      AppendStrValue(out, text);  // e.g. an environment variable that expanded to nothing
    } else {
      ResolvePlain(text, out);
    }
    return true;
  }
  if (node.IsSequence()) {
    std::string array;
    for (size_t i = 0; i < node.size(); ++i) {
      std::string element;
      if (!Encode(node[i], &element, error, depth + 1)) return false;
      AppendLenField(&array, 1, element);
    }
    AppendLenField(out, 5, array);  // AnyValue.array_value
    return true;
  }
  if (node.IsMap()) {
    std::string list;
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) {
        *error = "map keys must be strings";
        return false;
      }
      std::string value;
      if (!Encode(it->second, &value, error, depth + 1)) return false;
      std::string kv;
      AppendLenField(&kv, 1, it->first.Scalar());
      AppendLenField(&kv, 2, value);
      AppendLenField(&list, 1, kv);
    }
    AppendLenField(out, 6, list);  // AnyValue.kvlist_value
    return true;
  }
  *error = "unsupported value";
  return false;
}

}  // namespace

bool IsNullNode(const YAML::Node& node) { return !node.IsDefined() || node.IsNull(); }

bool YamlToAnyValue(const YAML::Node& node, std::string* out, std::string* error) {
  out->clear();
  return Encode(node, out, error, 0);
}

}  // namespace otlpd::attraction
