#pragma once

#include <curl/curl.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/auth.h"
#include "core/exporter_helper.h"
#include "exporters/otlphttp/config.h"

namespace otlpd {

// The `otlphttp` exporter's sender: each attempt POSTs the request to the upstream's
// /v1/<signal> URL with libcurl: protobuf bodies are the request's encoding as received
// (no re-serialization), JSON bodies are encoded once per attempt; the body is compressed
// once per attempt. Connections (an easy + multi handle each) are pooled, so keep-alive
// connections are reused. Everything around it is the ExporterHelper.
class OtlpHttpSender final : public RequestSender {
 public:
  OtlpHttpSender(std::string id, const OtlpHttpExporterConfig& config);
  ~OtlpHttpSender() override;

  absl::Status Start(Host* host) override;
  SendResult Send(const Telemetry& data, SendContext* context, absl::Time deadline) override;
  void CancelAll() override;
  void Shutdown() override;

 private:
  struct Connection;
  std::unique_ptr<Connection> Acquire();
  void Release(std::unique_ptr<Connection> conn);
  SendResult Response(Signal signal, const Connection& conn, long http_status) const;

  const std::string id_;
  const OtlpHttpExporterConfig config_;
  const ClientAuthenticator* auth_ = nullptr;
  curl_slist* base_headers_ = nullptr;
  std::atomic<bool> cancelled_{false};

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
};

// A Retry-After header value (delay-seconds or an HTTP-date) as a delay from `now`.
std::optional<absl::Duration> ParseRetryAfter(std::string_view value, absl::Time now);

}  // namespace otlpd
