#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "opentelemetry/proto/common/v1/common.pb.h"
#include "opentelemetry/proto/resource/v1/resource.pb.h"

namespace otlpd::storage {

// The string a tag search compares an attribute value with, as Jaeger renders tags:
// strings as they are, bools "true"/"false", ints in decimal, doubles in their shortest
// round-trip form, bytes as base64, arrays and maps as JSON. Every tier uses this one.
std::string AttributeText(const opentelemetry::proto::common::v1::AnyValue& value);

// A 64-bit hash of key=value (value as AttributeText): what the hot index keeps per
// attribute, so a search compares hashes and confirms on the decoded span.
uint64_t AttributeHash(std::string_view key, std::string_view value_text);

// The resource's service.name ("" when it has none).
std::string ServiceName(const opentelemetry::proto::resource::v1::Resource& resource);

}  // namespace otlpd::storage
