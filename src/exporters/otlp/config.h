#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "core/compression.h"
#include "core/exporter_helper.h"
#include "core/factory.h"

namespace otlpd {

// Client TLS settings (otelcol configtls.ClientConfig).
struct OtlpGrpcTlsConfig {
  bool insecure = false;              // plaintext
  bool insecure_skip_verify = false;  // TLS without checking the server's certificate
  std::string ca_file;                // PEM roots; system roots when empty
  std::string cert_file;              // client certificate (mTLS)
  std::string key_file;
  std::string server_name_override;
};

struct OtlpGrpcKeepalive {
  absl::Duration time = absl::ZeroDuration();  // 0: gRPC's default (no pings)
  absl::Duration timeout = absl::ZeroDuration();
  bool permit_without_stream = false;
};

// The "otlp" exporter: OTLP/gRPC to one upstream, same keys as otelcol's.
class OtlpExporterConfig : public ComponentConfig {
 public:
  std::string endpoint;       // host:port, any http:// or https:// prefix removed
  bool https_scheme = false;  // the endpoint said https://: TLS even with tls.insecure
  OtlpGrpcTlsConfig tls;
  Compression compression = Compression::kGzip;
  std::vector<std::pair<std::string, std::string>> headers;  // sent as gRPC metadata
  std::optional<ComponentId> authenticator;                  // auth::authenticator
  std::string balancer_name;                                 // gRPC LB policy
  OtlpGrpcKeepalive keepalive;
  bool wait_for_ready = false;
  ExporterHelperSettings helper;  // timeout, retry_on_failure, sending_queue
};

}  // namespace otlpd
