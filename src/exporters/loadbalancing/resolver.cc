#include "exporters/loadbalancing/resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace otlpd {

absl::StatusOr<std::string> NormalizeBackendEndpoint(absl::string_view hostname, int default_port) {
  absl::string_view host = hostname;
  absl::string_view port_text;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("unterminated [ in \"", hostname, "\""));
    }
    absl::string_view rest = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected text after ] in \"", hostname, "\""));
      }
      port_text = rest.substr(1);
      if (port_text.empty())
        return absl::InvalidArgumentError(absl::StrCat("empty port in \"", hostname, "\""));
    }
    if (host.size() <= 2) return absl::InvalidArgumentError("empty host");
  } else {
    const size_t colon = host.rfind(':');
    if (colon != absl::string_view::npos) {
      if (host.find(':') != colon) {
        return absl::InvalidArgumentError(
            absl::StrCat("\"", hostname, "\": an IPv6 address needs brackets, e.g. [::1]:4317"));
      }
      port_text = host.substr(colon + 1);
      host = host.substr(0, colon);
      if (port_text.empty())
        return absl::InvalidArgumentError(absl::StrCat("empty port in \"", hostname, "\""));
    }
    if (host.empty())
      return absl::InvalidArgumentError(absl::StrCat("empty host in \"", hostname, "\""));
    if (host.find_first_of("/ ") != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("\"", hostname, "\" is not a host name"));
    }
  }
  int port = default_port;
  if (!port_text.empty() && (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid port in \"", hostname, "\""));
  }
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<std::vector<std::string>> ResolveBackends(const std::string& hostname, int port,
                                                         absl::Duration timeout) {
  // getaddrinfo cannot be cancelled: it runs on its own thread, which outlives a timed-out
  // call and cleans up after itself.
  struct Lookup {
    absl::Mutex mu;
    bool done ABSL_GUARDED_BY(mu) = false;
    int rc ABSL_GUARDED_BY(mu) = 0;
    std::vector<std::string> addresses ABSL_GUARDED_BY(mu);
  };
  auto lookup = std::make_shared<Lookup>();
  std::thread([lookup, hostname, port] {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* result = nullptr;
    const int rc = getaddrinfo(hostname.c_str(), nullptr, &hints, &result);
    std::vector<std::string> addresses;
    for (addrinfo* ai = result; rc == 0 && ai != nullptr; ai = ai->ai_next) {
      char text[INET6_ADDRSTRLEN] = {};
      if (ai->ai_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, text,
                  sizeof(text));
        addresses.push_back(absl::StrCat(text, ":", port));
      } else if (ai->ai_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, text,
                  sizeof(text));
        addresses.push_back(absl::StrCat("[", text, "]:", port));
      }
    }
    if (result != nullptr) freeaddrinfo(result);
    std::sort(addresses.begin(), addresses.end());
    addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
    absl::MutexLock lock(&lookup->mu);
    lookup->rc = rc;
    lookup->addresses = std::move(addresses);
    lookup->done = true;
  }).detach();

  absl::MutexLock lock(&lookup->mu);
  const bool done = lookup->mu.AwaitWithTimeout(absl::Condition(&lookup->done), timeout);
  if (!done) {
    return absl::DeadlineExceededError(absl::StrCat(
        "resolving \"", hostname, "\" took longer than ", absl::FormatDuration(timeout)));
  }
  if (lookup->rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("resolving \"", hostname, "\": ", gai_strerror(lookup->rc)));
  }
  if (lookup->addresses.empty()) {
    return absl::UnavailableError(absl::StrCat("\"", hostname, "\" resolves to no address"));
  }
  return lookup->addresses;
}

}  // namespace otlpd
