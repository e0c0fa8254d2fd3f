#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace otlpd {

// "host" or "host:port" ("[v6]" or "[v6]:port") as "host:port", with `default_port` when
// none is given. kInvalidArgument for an empty host or a port outside 1..65535.
absl::StatusOr<std::string> NormalizeBackendEndpoint(absl::string_view hostname, int default_port);

// The addresses `hostname` resolves to (getaddrinfo, IPv4 and IPv6), as sorted, distinct
// "ip:port" / "[ip]:port". kDeadlineExceeded when the lookup takes longer than `timeout`
// (it then finishes in the background), kUnavailable when it fails or finds nothing.
absl::StatusOr<std::vector<std::string>> ResolveBackends(const std::string& hostname, int port,
                                                         absl::Duration timeout);

}  // namespace otlpd
