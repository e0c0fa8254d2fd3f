#include "processors/attraction/value.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <vector>

#include "absl/strings/escaping.h"
#include "processors/attraction/wire.h"

namespace otlpd::attraction {

namespace {

// AnyValue field numbers.
constexpr uint32_t kStringValue = 1;
constexpr uint32_t kBoolValue = 2;
constexpr uint32_t kIntValue = 3;
constexpr uint32_t kDoubleValue = 4;
constexpr uint32_t kArrayValue = 5;
constexpr uint32_t kKvlistValue = 6;
constexpr uint32_t kBytesValue = 7;
constexpr uint32_t kStringValueStrindex = 8;

// Nested maps and slices deeper than this are not rendered (protobuf's own limit is 100).
constexpr int kMaxDepth = 100;

std::string_view Concat(std::string_view a, std::string_view b, Scratch* scratch) {
  char* p = scratch->Alloc(a.size() + b.size());
  CopyBytes(CopyBytes(p, a), b);
  return {p, a.size() + b.size()};
}

// A KeyValue's key and (merged) value bytes.
void DecodeKeyValue(std::string_view kv, std::string_view* key, std::string_view* value,
                    Scratch* scratch) {
  *key = {};
  *value = {};
  bool has_value = false;
  WireReader r(kv);
  WireField f;
  while (r.Next(&f)) {
    if (f.IsLen(1)) {
      *key = f.payload;
    } else if (f.IsLen(2)) {
      *value = has_value ? Concat(*value, f.payload, scratch) : f.payload;
      has_value = true;
    }
  }
}

// A map's entries as Go's AsRaw sees them: one per key, the last one winning, by key order.
std::map<std::string_view, Value> MapEntries(std::string_view kvlist, Scratch* scratch) {
  std::map<std::string_view, Value> entries;
  WireReader r(kvlist);
  WireField f;
  while (r.Next(&f)) {
    if (!f.IsLen(1)) continue;
    std::string_view key, value;
    DecodeKeyValue(f.payload, &key, &value, scratch);
    entries[key] = DecodeValue(value, scratch);
  }
  return entries;
}

std::vector<Value> SliceEntries(std::string_view array, Scratch* scratch) {
  std::vector<Value> entries;
  WireReader r(array);
  WireField f;
  while (r.Next(&f)) {
    if (f.IsLen(1)) entries.push_back(DecodeValue(f.payload, scratch));
  }
  return entries;
}

std::string_view EncodeLen(uint8_t tag, std::string_view payload, Scratch* scratch) {
  char* p = scratch->Alloc(1 + VarintSize(payload.size()) + payload.size());
  char* w = p;
  *w++ = static_cast<char>(tag);
  w = WriteVarint(w, payload.size());
  w = CopyBytes(w, payload);
  return {p, static_cast<size_t>(w - p)};
}

// One UTF-8 sequence at s[i]: its code point and length, or (-1, 1) when invalid, as Go's
// utf8.DecodeRuneInString decides (no overlong forms, no surrogates, at most U+10FFFF).
std::pair<int32_t, int> DecodeRune(std::string_view s, size_t i) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  auto cont = [&](size_t k) { return k < s.size() && (static_cast<uint8_t>(s[k]) & 0xc0) == 0x80; };
  if (b0 >= 0xc2 && b0 <= 0xdf && cont(i + 1)) {
    return {((b0 & 0x1f) << 6) | (static_cast<uint8_t>(s[i + 1]) & 0x3f), 2};
  }
  if (b0 >= 0xe0 && b0 <= 0xef && cont(i + 1) && cont(i + 2)) {
    const auto b1 = static_cast<uint8_t>(s[i + 1]);
    if ((b0 == 0xe0 && b1 < 0xa0) || (b0 == 0xed && b1 >= 0xa0)) return {-1, 1};
    return {((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (static_cast<uint8_t>(s[i + 2]) & 0x3f), 3};
  }
  if (b0 >= 0xf0 && b0 <= 0xf4 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
    const auto b1 = static_cast<uint8_t>(s[i + 1]);
    if ((b0 == 0xf0 && b1 < 0x90) || (b0 == 0xf4 && b1 >= 0x90)) return {-1, 1};
    return {((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) |
                ((static_cast<uint8_t>(s[i + 2]) & 0x3f) << 6) |
                (static_cast<uint8_t>(s[i + 3]) & 0x3f),
            4};
  }
  return {-1, 1};
}

// A JSON string as Go's json.Marshal writes it (HTML characters escaped, invalid UTF-8 as
// U+FFFD).
void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '\b':
          out->append("\\b");
          break;
        case '\f':
          out->append("\\f");
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
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            out->append("\\u00");
            out->push_back(kHex[c >> 4]);
            out->push_back(kHex[c & 0xf]);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    auto [rune, size] = DecodeRune(s, i);
    if (rune < 0) {
      out->append("\\ufffd");
    } else if (rune == 0x2028 || rune == 0x2029) {
      out->append(rune == 0x2028 ? "\\u2028" : "\\u2029");
    } else {
      out->append(s.substr(i, size));
    }
    i += size;
  }
  out->push_back('"');
}

// Go's json.Marshal of AsRaw(); false where it fails (NaN or infinite doubles).
bool AppendJson(const Value& v, std::string* out, Scratch* scratch, int depth) {
  if (depth > kMaxDepth) return false;
  switch (v.type) {
    case ValueType::kEmpty:
      out->append("null");
      return true;
    case ValueType::kStr:
      AppendJsonString(v.bytes, out);
      return true;
    case ValueType::kBool:
      out->append(v.bool_value ? "true" : "false");
      return true;
    case ValueType::kInt:
      out->append(std::to_string(v.int_value));
      return true;
    case ValueType::kDouble: {
      std::string text;
      if (!FormatFloatJson(v.double_value, &text)) return false;
      out->append(text);
      return true;
    }
    case ValueType::kBytes:
      out->push_back('"');
      out->append(absl::Base64Escape(absl::string_view(v.bytes.data(), v.bytes.size())));
      out->push_back('"');
      return true;
    case ValueType::kMap: {
      out->push_back('{');
      bool first = true;
      for (const auto& [key, value] : MapEntries(v.bytes, scratch)) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(key, out);
        out->push_back(':');
        if (!AppendJson(value, out, scratch, depth + 1)) return false;
      }
      out->push_back('}');
      return true;
    }
    case ValueType::kSlice: {
      out->push_back('[');
      bool first = true;
      for (const Value& value : SliceEntries(v.bytes, scratch)) {
        if (!first) out->push_back(',');
        first = false;
        if (!AppendJson(value, out, scratch, depth + 1)) return false;
      }
      out->push_back(']');
      return true;
    }
  }
  return false;
}

bool EqualsAt(const Value& a, const Value& b, Scratch* scratch, int depth) {
  if (a.type != b.type || depth > kMaxDepth) return false;
  switch (a.type) {
    case ValueType::kEmpty:
      return true;
    case ValueType::kStr:
    case ValueType::kBytes:
      return a.bytes == b.bytes;
    case ValueType::kInt:
      return a.int_value == b.int_value;
    case ValueType::kDouble:
      return a.double_value == b.double_value;
    case ValueType::kBool:
      return a.bool_value == b.bool_value;
    case ValueType::kSlice: {
      std::vector<Value> x = SliceEntries(a.bytes, scratch);
      std::vector<Value> y = SliceEntries(b.bytes, scratch);
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!EqualsAt(x[i], y[i], scratch, depth + 1)) return false;
      }
      return true;
    }
    case ValueType::kMap: {
      auto x = MapEntries(a.bytes, scratch);
      auto y = MapEntries(b.bytes, scratch);
      if (x.size() != y.size()) return false;
      for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j) {
        if (i->first != j->first || !EqualsAt(i->second, j->second, scratch, depth + 1)) {
          return false;
        }
      }
      return true;
    }
  }
  return false;
}

bool IsDigit(char c, bool hex) {
  return (c >= '0' && c <= '9') || (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
}

bool EqualFoldAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Go's strconv underscoreOK: underscores only between digits (a base prefix counts as one).
bool UnderscoresOk(std::string_view s) {
  char saw = '^';
  size_t i = 0;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  bool hex = false;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    i = 2;
    saw = '0';
    hex = true;
  }
  for (; i < s.size(); ++i) {
    if (IsDigit(s[i], hex)) {
      saw = '0';
      continue;
    }
    if (s[i] == '_') {
      if (saw != '0') return false;
      saw = '_';
      continue;
    }
    if (saw == '_') return false;
    saw = '!';
  }
  return saw != '_';
}

// The syntax of Go's float literals as ParseFloat takes them (sign, decimal or hexadecimal
// mantissa, exponent; a hexadecimal mantissa needs a 'p' exponent).
bool IsGoFloatSyntax(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  bool hex = false;
  if (i + 1 < s.size() && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    hex = true;
    i += 2;
  }
  bool digits = false;
  bool dot = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (IsDigit(c, hex)) {
      digits = true;
    } else if (c == '_') {
      continue;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (!digits) return false;
  if (i == s.size()) return !hex;
  const char e = s[i];
  if (hex ? (e != 'p' && e != 'P') : (e != 'e' && e != 'E')) return false;
  ++i;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  bool exp_digits = false;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      exp_digits = true;
    } else if (s[i] != '_') {
      return false;
    }
  }
  return exp_digits;
}

}  // namespace

std::string_view ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kEmpty:
      return "Empty";
    case ValueType::kStr:
      return "Str";
    case ValueType::kInt:
      return "Int";
    case ValueType::kDouble:
      return "Double";
    case ValueType::kBool:
      return "Bool";
    case ValueType::kMap:
      return "Map";
    case ValueType::kSlice:
      return "Slice";
    case ValueType::kBytes:
      return "Bytes";
  }
  return "";
}

Value DecodeValue(std::string_view any_value, Scratch* scratch) {
  Value v;
  uint32_t member = 0;
  WireReader r(any_value);
  WireField f;
  while (r.Next(&f)) {
    switch (f.number) {
      case kStringValue:
      case kBytesValue:
        if (f.type != kWireLen) break;
        member = f.number;
        v.bytes = f.payload;
        break;
      case kArrayValue:
      case kKvlistValue:
        if (f.type != kWireLen) break;
        // A repeated message member merges into the one before it.
        v.bytes = member == f.number ? Concat(v.bytes, f.payload, scratch) : f.payload;
        member = f.number;
        break;
      case kBoolValue:
        if (f.type != kWireVarint) break;
        member = f.number;
        v.bool_value = f.scalar != 0;
        break;
      case kIntValue:
        if (f.type != kWireVarint) break;
        member = f.number;
        v.int_value = static_cast<int64_t>(f.scalar);
        break;
      case kDoubleValue:
        if (f.type != kWireFixed64) break;
        member = f.number;
        std::memcpy(&v.double_value, &f.scalar, sizeof(double));
        break;
      case kStringValueStrindex:
        if (f.type == kWireVarint) member = f.number;
        break;
      default:
        break;
    }
  }
  switch (member) {
    case kStringValue:
      v.type = ValueType::kStr;
      break;
    case kBoolValue:
      v.type = ValueType::kBool;
      break;
    case kIntValue:
      v.type = ValueType::kInt;
      break;
    case kDoubleValue:
      v.type = ValueType::kDouble;
      break;
    case kArrayValue:
      v.type = ValueType::kSlice;
      break;
    case kKvlistValue:
      v.type = ValueType::kMap;
      break;
    case kBytesValue:
      v.type = ValueType::kBytes;
      break;
    default:
      // Empty, or a profiles dictionary reference, which has no value of its own here.
      v.type = ValueType::kEmpty;
      v.bytes = {};
  }
  return v;
}

std::string_view EncodeStr(std::string_view s, Scratch* scratch) {
  return EncodeLen(Tag(kStringValue, kWireLen), s, scratch);
}

std::string_view EncodeInt(int64_t v, Scratch* scratch) {
  char* p = scratch->Alloc(11);
  p[0] = static_cast<char>(Tag(kIntValue, kWireVarint));
  const size_t n = WriteVarint(p + 1, static_cast<uint64_t>(v)) - p;
  return {p, n};
}

std::string_view EncodeDouble(double v, Scratch* scratch) {
  char* p = scratch->Alloc(9);
  p[0] = static_cast<char>(Tag(kDoubleValue, kWireFixed64));
  std::memcpy(p + 1, &v, 8);
  return {p, 9};
}

void AppendStrValue(std::string* out, std::string_view s) { AppendLenField(out, kStringValue, s); }

void AppendIntValue(std::string* out, int64_t v) {
  AppendVarint(out, Tag(kIntValue, kWireVarint));
  AppendVarint(out, static_cast<uint64_t>(v));
}

void AppendDoubleValue(std::string* out, double v) {
  AppendVarint(out, Tag(kDoubleValue, kWireFixed64));
  char bits[8];
  std::memcpy(bits, &v, 8);
  out->append(bits, 8);
}

void AppendBoolValue(std::string* out, bool v) {
  AppendVarint(out, Tag(kBoolValue, kWireVarint));
  out->push_back(v ? 1 : 0);
}

std::string AsString(const Value& v, Scratch* scratch) {
  switch (v.type) {
    case ValueType::kEmpty:
      return "";
    case ValueType::kStr:
      return std::string(v.bytes);
    case ValueType::kBool:
      return v.bool_value ? "true" : "false";
    case ValueType::kInt:
      return std::to_string(v.int_value);
    case ValueType::kDouble: {
      std::string out;
      if (!FormatFloatJson(v.double_value, &out)) {
        // pcommon's own wording for what encoding/json refuses.
        return "json: unsupported value: " + FormatFloatFixed(v.double_value);
      }
      return out;
    }
    case ValueType::kBytes:
      return absl::Base64Escape(absl::string_view(v.bytes.data(), v.bytes.size()));
    case ValueType::kMap:
    case ValueType::kSlice: {
      std::string out;
      // json.Marshal fails as a whole (AsString gives "") on NaN or infinite doubles.
      if (!AppendJson(v, &out, scratch, 0)) return "";
      return out;
    }
  }
  return "";
}

bool MatcherString(const Value& v, std::string* out) {
  switch (v.type) {
    case ValueType::kStr:
      out->assign(v.bytes);
      return true;
    case ValueType::kBool:
      *out = v.bool_value ? "true" : "false";
      return true;
    case ValueType::kDouble:
      *out = FormatFloatFixed(v.double_value);
      return true;
    case ValueType::kInt:
      *out = std::to_string(v.int_value);
      return true;
    default:
      return false;
  }
}

bool ValueEquals(const Value& a, const Value& b, Scratch* scratch) {
  return EqualsAt(a, b, scratch, 0);
}

std::string FormatFloatFixed(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
  char buf[400];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::fixed);
  if (ec != std::errc()) return "";
  return std::string(buf, end);
}

bool FormatFloatJson(double f, std::string* out) {
  if (std::isnan(f) || std::isinf(f)) return false;
  // ES6 number-to-string, as Go's encoding/json: exponent form outside [1e-6, 1e21).
  const double abs = std::fabs(f);
  const bool exponent = abs != 0 && (abs < 1e-6 || abs >= 1e21);
  char buf[400];
  auto [end, ec] =
      std::to_chars(buf, buf + sizeof(buf), f,
                    exponent ? std::chars_format::scientific : std::chars_format::fixed);
  if (ec != std::errc()) return false;
  std::string text(buf, end);
  if (exponent) {
    // Go writes e-07 as e-7 (to_chars, like Go's 'e' format, pads to two digits).
    const size_t n = text.size();
    if (n >= 4 && text[n - 4] == 'e' && text[n - 3] == '-' && text[n - 2] == '0') {
      text.erase(n - 2, 1);
    }
  }
  *out = std::move(text);
  return true;
}

bool ParseGoInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  uint64_t value = 0;
  const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (limit - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *out = negative ? static_cast<int64_t>(0 - value) : static_cast<int64_t>(value);
  return true;
}

bool ParseGoFloat(std::string_view s, double* out) {
  if (s.empty()) return false;
  // Specials: an optionally signed "inf"/"infinity", or an unsigned "nan", any case.
  {
    std::string_view t = s;
    double sign = 1;
    const bool signed_text = t[0] == '+' || t[0] == '-';
    if (signed_text) {
      sign = t[0] == '-' ? -1 : 1;
      t.remove_prefix(1);
    }
    if (EqualFoldAscii(t, "inf") || EqualFoldAscii(t, "infinity")) {
      *out = sign * std::numeric_limits<double>::infinity();
      return true;
    }
    if (!signed_text && EqualFoldAscii(t, "nan")) {
      *out = std::numeric_limits<double>::quiet_NaN();
      return true;
    }
  }
  if (!IsGoFloatSyntax(s)) return false;
  std::string clean;
  clean.reserve(s.size());
  if (s.find('_') != std::string_view::npos) {
    if (!UnderscoresOk(s)) return false;
    for (char c : s) {
      if (c != '_') clean.push_back(c);
    }
  } else {
    clean.assign(s);
  }
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size()) return false;
  // Go reports overflow (±Inf) as an error; an underflow just rounds towards 0.
  if (errno == ERANGE && std::isinf(v)) return false;
  *out = v;
  return true;
}

int64_t GoFloatToInt(double f) {
  // CVTTSD2SI's "integer indefinite" value for what does not fit.
  if (std::isnan(f) || f >= 9223372036854775808.0 || f < -9223372036854775808.0) {
    return std::numeric_limits<int64_t>::min();
  }
  return static_cast<int64_t>(f);
}

}  // namespace otlpd::attraction
