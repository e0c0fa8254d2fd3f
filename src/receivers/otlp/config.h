#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/component.h"
#include "core/factory.h"
#include "core/http_cors.h"
#include "core/tls_config.h"

namespace otlpd {

// receivers::otlp::protocols::grpc (otelcol configgrpc.ServerConfig, the keys otlpd supports).
struct OtlpGrpcConfig {
  std::string endpoint = "127.0.0.1:4317";
  int64_t max_recv_msg_size_mib = 4;   // 0 means gRPC's default (4 MiB)
  int64_t max_concurrent_streams = 0;  // 0 means unlimited
  std::string transport = "tcp";
  TlsServerSettings tls;
  std::optional<ComponentId> authenticator;  // auth::authenticator
  bool include_metadata = false;  // keep the request's metadata with its data (client info)
};

// receivers::otlp::protocols::http (otelcol confighttp.ServerConfig + the OTLP url paths).
struct OtlpHttpConfig {
  std::string endpoint = "127.0.0.1:4318";
  std::string traces_url_path = "/v1/traces";
  std::string metrics_url_path = "/v1/metrics";
  std::string logs_url_path = "/v1/logs";
  int64_t max_request_body_size = 20 << 20;  // bytes, on the wire and after decompression
  TlsServerSettings tls;
  CorsSettings cors;
  std::optional<ComponentId> authenticator;  // auth::authenticator
  bool include_metadata = false;  // keep the request's headers with its data (client info)
};

// A protocol is enabled when its key is present, even with no settings ("grpc:").
struct OtlpReceiverConfig : ComponentConfig {
  std::optional<OtlpGrpcConfig> grpc;
  std::optional<OtlpHttpConfig> http;
};

// True for "host:port", "[v6]:port" and ":port" with port 0..65535.
bool IsValidEndpoint(const std::string& endpoint);

}  // namespace otlpd
