#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace otlpd {

// OTLP/JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) for any
// OTLP message (requests, responses, google.rpc.Status):
//  - trace_id / span_id / parent_span_id are lowercase hex, not base64;
//  - enums are integers (names accepted when decoding);
//  - keys lowerCamelCase when encoding; lowerCamelCase or snake_case accepted when decoding;
//  - 64-bit integers encoded as strings; strings or numbers accepted;
//  - other bytes fields base64; unknown fields ignored.
//
// An id that is not valid hex decodes to a 1-byte value, so that it fails the length check
// of id validation and the item is rejected with partial_success (see README).
absl::Status DecodeOtlpJson(std::string_view json, google::protobuf::Message* out);

// The protobuf encoding of the message `descriptor` that DecodeOtlpJson would produce from
// `json`, written directly (no message objects, no reflection per field). Same acceptance:
// OK exactly when DecodeOtlpJson(json, &message) is OK (with the same error), and then the
// bytes parse into a message equal to what DecodeOtlpJson produces. Fields are written in
// the order of the JSON keys, repeated numeric fields packed, so the bytes may differ from
// SerializeAsString of that message but parse the same.
//
// A descriptor from which a map field, google.protobuf.Any or Duration, a group or a proto2
// message can be reached (none of them in OTLP export requests) goes the reflective way:
// DecodeOtlpJson, then SerializeAsString. The one case beyond DecodeOtlpJson's errors:
// kResourceExhausted when the encoding would exceed the 2 GiB protobuf can parse (only
// possible from a JSON text of several hundred MiB).
absl::StatusOr<std::string> TranscodeOtlpJson(std::string_view json,
                                              const google::protobuf::Descriptor* descriptor);

std::string EncodeOtlpJson(const google::protobuf::Message& message);

// Appends `text` as a JSON string (quotes included): `"`, `\`, \n, \r, \t, \b, \f by
// name, other control bytes as \u00XX, and each byte that is not part of well-formed UTF-8
// as U+FFFD, so the output is always valid JSON. No HTML escaping.
void AppendJsonString(std::string_view text, std::string* out);

}  // namespace otlpd
