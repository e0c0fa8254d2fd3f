#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "opentelemetry/proto/common/v1/common.pb.h"

namespace otlpd::query {

// Appends JSON to a string with the commas placed for the caller. No validation of nesting:
// callers pair Begin/End and put a Key before each object member.
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }
  void Key(absl::string_view key);

  void String(absl::string_view value);
  void Int(int64_t value);
  void Uint(uint64_t value);
  // Shortest text that reads back the same; NaN and infinities (not JSON) as null.
  void Double(double value);
  void Bool(bool value);
  void Null();
  // An already encoded JSON value.
  void Raw(absl::string_view json);

 private:
  void Open(char c);
  void Close(char c);
  void BeforeValue();

  std::string* out_;
  std::vector<bool> has_member_;  // per open container: something written already
  bool after_key_ = false;
};

// Appends the shortest round-trip form of a finite double ("1.5", "1e+21"). Non-finite
// values give "NaN", "+Inf" and "-Inf" (callers decide how to quote them).
void AppendDouble(double value, std::string* out);

// An OTLP AnyValue as a JSON value: string, bool, integer (exact), double (non-finite as the
// string "NaN"/"+Inf"/"-Inf"), bytes as base64, arrays as arrays, key-value lists as objects
// (keys sorted when `sort_keys`, as Go's encoding/json prints maps), unset as null.
void WriteAnyValue(const opentelemetry::proto::common::v1::AnyValue& value, bool sort_keys,
                   JsonWriter* json);

// Attributes as a JSON object (later duplicates of a key win, kept at the first position).
void WriteAttributes(
    const google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>& attrs,
    JsonWriter* json);

// The value as pdata's Value.AsString() gives it (what the Jaeger translator uses for map and
// array attributes): strings as they are, numbers and bools as text, bytes base64, arrays
// and maps as compact JSON with sorted keys.
std::string AnyValueAsString(const opentelemetry::proto::common::v1::AnyValue& value);

// Lowercase hex of raw id bytes.
std::string Hex(absl::string_view bytes);

}  // namespace otlpd::query
