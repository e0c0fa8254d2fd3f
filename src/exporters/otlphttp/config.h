#pragma once

#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "core/compression.h"
#include "core/exporter_helper.h"
#include "core/factory.h"
#include "core/signal.h"
#include "core/tls_config.h"

namespace otlpd {

enum class OtlpHttpEncoding { kProto, kJson };

// The "otlphttp" exporter: OTLP/HTTP to one upstream, same keys as otelcol's.
class OtlpHttpExporterConfig : public ComponentConfig {
 public:
  std::string endpoint;  // base URL
  // Where each signal is POSTed: <signal>_endpoint, else endpoint + "/v1/<signal>".
  // Empty when neither is set (that signal cannot be exported).
  std::array<std::string, 3> signal_urls;
  const std::string& UrlFor(Signal s) const { return signal_urls[static_cast<int>(s)]; }

  OtlpHttpEncoding encoding = OtlpHttpEncoding::kProto;
  Compression compression = Compression::kGzip;
  std::vector<std::pair<std::string, std::string>> headers;
  // The URL's scheme decides whether TLS is used: insecure: true next to an https:// URL
  // is an error; server_name_override names the server (SNI, certificate check) instead of
  // the URL's host.
  TlsClientSettings tls;
  std::optional<ComponentId> authenticator;  // auth::authenticator
  ExporterHelperSettings helper;             // timeout (30s here), retry_on_failure, sending_queue
};

}  // namespace otlpd
