#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "core/component.h"
#include "core/http_server.h"
#include "extensions/health_check/config.h"

namespace otlpd {

// otelcol's health_check extension: GET <path> answers 200
// {"status":"Server available","upSince":...,"uptime":...} while the host is healthy and
// 503 {"status":"Server not available"} otherwise.
class HealthCheckExtension : public Extension {
 public:
  HealthCheckExtension(const CreateSettings& settings, const HealthCheckConfig& config);
  ~HealthCheckExtension() override;

  absl::Status Start() override;
  void Shutdown(absl::Time deadline) override;

  // The port actually bound (after Start), for endpoints with port 0.
  int port() const;

 private:
  HttpResponse Answer(const HttpRequest& request) const;

  const std::string id_;
  const HealthCheckConfig config_;
  Host* const host_;
  absl::Time up_since_ = absl::InfinitePast();
  std::unique_ptr<HttpServer> server_;
};

}  // namespace otlpd
