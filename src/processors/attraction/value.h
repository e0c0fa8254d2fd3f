// OTLP AnyValue as the attribute actions see it: read from its protobuf bytes, written back
// as protobuf bytes, and converted the way otelcol's pdata (pcommon.Value) converts it, so
// that hash, convert and the include/exclude matchers give otelcol's results.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "processors/attraction/scratch.h"

namespace otlpd::attraction {

// pcommon.ValueType.
enum class ValueType : uint8_t { kEmpty, kStr, kInt, kDouble, kBool, kMap, kSlice, kBytes };

// "Empty", "Str", "Int", ... as pcommon names them (they appear in error messages).
std::string_view ValueTypeName(ValueType type);

// A decoded AnyValue. Strings and nested values are views of the encoding.
struct Value {
  ValueType type = ValueType::kEmpty;
  // kStr, kBytes: the contents; kMap: a KeyValueList's bytes; kSlice: an ArrayValue's bytes.
  std::string_view bytes;
  int64_t int_value = 0;
  double double_value = 0;
  bool bool_value = false;
};

// Decodes AnyValue bytes with protobuf's merge rules (the last oneof member wins; repeated
// occurrences of a message member merge, their bytes concatenated in `scratch`).
Value DecodeValue(std::string_view any_value, Scratch* scratch);

// AnyValue encodings, in `scratch`.
std::string_view EncodeStr(std::string_view s, Scratch* scratch);
std::string_view EncodeInt(int64_t v, Scratch* scratch);
std::string_view EncodeDouble(double v, Scratch* scratch);

// The same, appended to `out` (configuration values).
void AppendStrValue(std::string* out, std::string_view s);
void AppendIntValue(std::string* out, int64_t v);
void AppendDoubleValue(std::string* out, double v);
void AppendBoolValue(std::string* out, bool v);

// pcommon.Value.AsString: strings as they are, bools "true"/"false", ints in decimal,
// doubles as Go's JSON encoder writes them, bytes in base64, maps and slices as JSON
// (keys sorted, HTML-escaped as Go's encoding/json does), empty as "".
std::string AsString(const Value& v, Scratch* scratch);

// The string a regexp attribute matcher compares (otelcol's filtermatcher): strings, bools,
// ints, and doubles formatted with strconv.FormatFloat(f, 'f', -1, 64). False for other
// types, which never match.
bool MatcherString(const Value& v, std::string* out);

// Equality as otelcol's strict attribute matcher sees it: same type and value; maps and
// slices compared by content.
bool ValueEquals(const Value& a, const Value& b, Scratch* scratch);

// strconv.FormatFloat(f, 'f', -1, 64): "+Inf", "-Inf", "NaN" for the specials.
std::string FormatFloatFixed(double f);

// Go's encoding/json form of a double (also pcommon's AsString of a double). False for
// NaN and infinities, which encoding/json refuses.
bool FormatFloatJson(double f, std::string* out);

// strconv.ParseInt(s, 10, 64) and strconv.ParseFloat(s, 64): false where Go returns an
// error (syntax, or out of range; a float too small for a double becomes 0 as in Go).
bool ParseGoInt(std::string_view s, int64_t* out);
bool ParseGoFloat(std::string_view s, double* out);

// Go's int64(f) on amd64: truncation, and math.MinInt64 for NaN and out-of-range values.
int64_t GoFloatToInt(double f);

}  // namespace otlpd::attraction
