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
#include "core/component.h"
#include "core/queued_sender.h"
#include "exporters/otlphttp/config.h"

namespace otlpd {

// POSTs each request to the upstream's /v1/<signal> URL with libcurl, behind otelcol's
// queue + retry (QueuedRetrySender). Each worker borrows a connection (its own easy +
// multi handle) from a pool, so keep-alive connections are reused.
class OtlpHttpExporter final : public Exporter {
 public:
  OtlpHttpExporter(const CreateSettings& settings, const OtlpHttpExporterConfig& config);
  ~OtlpHttpExporter() override;

  absl::Status Start() override;
  void Shutdown(absl::Time deadline) override;
  void Consume(TelemetryPtr data, Completion done) override;

  // One POST, no retry (what the sender's workers call).
  absl::Status Export(const Telemetry& data);

 private:
  struct Connection;
  std::unique_ptr<Connection> Acquire();
  void Release(std::unique_ptr<Connection> conn);
  absl::Status Response(const Telemetry& data, const Connection& conn, long http_status) const;

  const std::string id_;
  const OtlpHttpExporterConfig config_;
  curl_slist* request_headers_ = nullptr;
  // Exports stop at this time (absl::ToUnixNanos); set by Shutdown.
  std::atomic<int64_t> shutdown_deadline_ns_;

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;

  QueuedRetrySender sender_;  // last: its workers use the members above
};

// A Retry-After header value (delay-seconds or an HTTP-date) as a delay from `now`.
std::optional<absl::Duration> ParseRetryAfter(std::string_view value, absl::Time now);

}  // namespace otlpd
