#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "core/telemetry.h"

namespace otlpd {

// A request ready for its pipeline, and how many of its items id validation removed
// (reported to the client as partial_success).
struct DecodedRequest {
  std::shared_ptr<Telemetry> data;
  size_t rejected = 0;
};

// An OTLP protobuf Export*ServiceRequest. The bytes are checked by the wire scan
// (core/otlp_wire.h) and kept as they are, decoded only if a component needs the message;
// only a request holding items with invalid ids is decoded here, to drop those items.
// kInvalidArgument when the bytes are not a valid request.
absl::StatusOr<DecodedRequest> DecodeProtobufRequest(Signal signal, absl::Cord wire);

// An OTLP/JSON Export*ServiceRequest, transcoded to its protobuf encoding
// (TranscodeOtlpJson) and then taken as DecodeProtobufRequest takes one: kept as bytes,
// decoded only if some items have invalid ids, to drop them.
absl::StatusOr<DecodedRequest> DecodeJsonRequest(Signal signal, std::string_view json);

}  // namespace otlpd
