#pragma once

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "core/compression.h"
#include "core/factory.h"
#include "core/queued_sender.h"
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
  absl::Duration timeout = absl::Seconds(30);
  std::vector<std::pair<std::string, std::string>> headers;
  // insecure is accepted for otelcol compatibility (the URL's scheme decides);
  // server_name_override is refused at parse time (libcurl cannot send another SNI).
  TlsClientSettings tls;
  QueueSettings queue;
  RetrySettings retry;
};

}  // namespace otlpd
