#include "core/component.h"

#include <cctype>

namespace otlpd {

bool ComponentId::Parse(std::string_view text, ComponentId* id) {
  const size_t slash = text.find('/');
  const std::string_view type = text.substr(0, slash);
  const std::string_view name = slash == std::string_view::npos ? "" : text.substr(slash + 1);
  if (type.empty() || (slash != std::string_view::npos && name.empty())) return false;
  for (char c : type) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  id->type = std::string(type);
  id->name = std::string(name);
  return true;
}

}  // namespace otlpd
