#include "core/auth.h"

namespace otlpd {

const std::string* FindMetadata(const Metadata& metadata, std::string_view lower_name) {
  for (const auto& [name, value] : metadata) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

}  // namespace otlpd
