#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/factory.h"

namespace otlpd {

// otelcol-contrib's headers_setter extension settings (same keys). `from_attribute` is
// refused at parse time: otlpd requests carry no client auth attributes.
struct HeadersSetterConfig : ComponentConfig {
  enum class Action { kInsert, kUpdate, kUpsert, kDelete };

  struct Header {
    std::string key;  // lower-cased, as metadata names are
    Action action = Action::kUpsert;
    // At most one of value / from_context is set (none for delete).
    std::optional<std::string> value;
    std::optional<std::string> from_context;  // lower-cased client metadata key
    // Used when from_context finds nothing.
    std::optional<std::string> default_value;
  };

  std::vector<Header> headers;
};

}  // namespace otlpd
