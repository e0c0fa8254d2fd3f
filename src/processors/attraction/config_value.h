#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

namespace otlpd::attraction {

// Whether a config value is absent or null (`value:` / `value: ~`), which otelcol treats as
// not set.
bool IsNullNode(const YAML::Node& node);

// Encodes a config `value` as an OTLP AnyValue, typed as otelcol's config loader types it
// (yaml.v3 resolving plain scalars, then pcommon.Value.FromRaw): 123 and 0x1F are ints,
// 1.5, 1e3 and .inf doubles, true/false bools, quoted scalars and everything else strings,
// lists arrays and maps key/value lists. ${env:VAR} is expanded first. False with `error`
// set for what cannot be a value.
bool YamlToAnyValue(const YAML::Node& node, std::string* out, std::string* error);

}  // namespace otlpd::attraction
