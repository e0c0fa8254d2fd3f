#pragma once

#include <string>
#include <string_view>

namespace otlpd::attraction {

// Lower-case hex of the SHA-256 digest of `data` (otelcol's hash action, since v0.75).
std::string Sha256Hex(std::string_view data);

}  // namespace otlpd::attraction
