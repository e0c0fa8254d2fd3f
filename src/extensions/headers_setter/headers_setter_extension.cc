#include "extensions/headers_setter/headers_setter_extension.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"

namespace otlpd {

namespace {

using Action = HeadersSetterConfig::Action;

// Where in `headers` the header `name` is, or end().
Metadata::iterator Find(Metadata& headers, const std::string& name) {
  return std::find_if(headers.begin(), headers.end(),
                      [&](const auto& header) { return header.first == name; });
}

}  // namespace

bool IsValidHeaderName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

bool IsValidHeaderValue(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

HeadersSetterExtension::HeadersSetterExtension(const CreateSettings& settings,
                                               const HeadersSetterConfig& config)
    : id_(settings.id.ToString()), headers_(config.headers) {}

absl::StatusOr<Metadata> HeadersSetterExtension::Headers(const Metadata* client_metadata) const {
  Metadata headers;
  for (const HeadersSetterConfig::Header& entry : headers_) {
    auto existing = Find(headers, entry.key);
    if (entry.action == Action::kDelete) {
      if (existing != headers.end()) headers.erase(existing);
      continue;
    }
    if (entry.action == Action::kInsert && existing != headers.end()) continue;
    if (entry.action == Action::kUpdate && existing == headers.end()) continue;

    const std::string* value = nullptr;
    if (entry.value.has_value()) {
      value = &*entry.value;
    } else if (entry.from_context.has_value()) {
      if (client_metadata != nullptr) value = FindMetadata(*client_metadata, *entry.from_context);
      // Config values were checked at parse time; a client's value is checked here.
      if (value != nullptr && !IsValidHeaderValue(*value)) {
        spdlog::debug(
            "{}: not setting header {}: client metadata {} has a value that is not a valid "
            "header value (control or non-ASCII characters)",
            id_, entry.key, *entry.from_context);
        continue;
      }
      if (value == nullptr && entry.default_value.has_value()) value = &*entry.default_value;
    }
    if (value == nullptr) continue;

    if (existing != headers.end()) {
      existing->second = *value;
    } else {
      headers.emplace_back(entry.key, *value);
    }
  }
  return headers;
}

}  // namespace otlpd
