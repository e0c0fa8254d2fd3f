#include "extensions/health_check/health_check_extension.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/otlp_json.h"

namespace otlpd {

HealthCheckExtension::HealthCheckExtension(const CreateSettings& settings,
                                           const HealthCheckConfig& config)
    : id_(settings.id.ToString()), config_(config), host_(settings.host) {}

HealthCheckExtension::~HealthCheckExtension() { Shutdown(absl::Now()); }

absl::Status HealthCheckExtension::Start() {
  if (server_ != nullptr) return absl::OkStatus();
  up_since_ = absl::Now();
  HttpServerOptions options;
  options.endpoint = config_.endpoint;
  options.max_body_bytes = 64 << 10;  // probes send no body
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(
      options,
      [this](HttpRequest&& request, HttpRespond respond) { std::move(respond)(Answer(request)); });
  if (!server.ok()) {
    return absl::Status(
        server.status().code(),
        absl::StrCat(id_, ": cannot serve on ", config_.endpoint, ": ", server.status().message()));
  }
  server_ = std::move(*server);
  return absl::OkStatus();
}

void HealthCheckExtension::Shutdown(absl::Time deadline) {
  if (server_ != nullptr) {
    server_->Stop(deadline);
    server_.reset();
  }
}

int HealthCheckExtension::port() const { return server_ != nullptr ? server_->port() : 0; }

HttpResponse HealthCheckExtension::Answer(const HttpRequest& request) const {
  HttpResponse response;
  if (request.path != config_.path) {
    response.status = 404;
    response.headers.emplace_back("Content-Type", "text/plain");
    response.body = "404 page not found\n";
    return response;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    response.status = 405;
    response.headers.emplace_back("Allow", "GET, HEAD");
    return response;
  }
  const bool healthy = host_ != nullptr && host_->Healthy();
  response.status = healthy ? 200 : 503;
  const std::optional<std::string>& custom =
      healthy ? config_.healthy_body : config_.unhealthy_body;
  if (custom.has_value()) {
    response.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    response.body = *custom;
    return response;
  }
  response.headers.emplace_back("Content-Type", "application/json");
  if (healthy) {
    // Go's time and duration formats, as otelcol prints them.
    response.body =
        absl::StrCat(R"({"status":"Server available","upSince":")",
                     absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", up_since_, absl::UTCTimeZone()),
                     R"(","uptime":")", absl::FormatDuration(absl::Now() - up_since_), R"(")");
    // Components that run but lost something (ours; otelcol has no such field).
    std::vector<std::pair<std::string, std::string>> degraded = host_->Degraded();
    if (!degraded.empty()) {
      response.body += R"(,"degraded":{)";
      for (size_t i = 0; i < degraded.size(); ++i) {
        if (i > 0) response.body += ',';
        AppendJsonString(degraded[i].first, &response.body);
        response.body += ':';
        AppendJsonString(degraded[i].second, &response.body);
      }
      response.body += '}';
    }
    response.body += '}';
  } else {
    response.body = R"({"status":"Server not available"})";
  }
  return response;
}

}  // namespace otlpd
