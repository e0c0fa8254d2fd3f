#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"

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

std::string EncodeOtlpJson(const google::protobuf::Message& message);

}  // namespace otlpd
