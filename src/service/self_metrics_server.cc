#include "service/self_metrics_server.h"

namespace otlpd {

absl::StatusOr<std::unique_ptr<SelfMetricsServer>> SelfMetricsServer::Start(
    const std::string& address, const MetricsRegistry* metrics) {
  HttpServerOptions opts;
  opts.endpoint = address;
  opts.max_body_bytes = 1 << 16;
  auto server = HttpServer::Start(opts, [metrics](HttpRequest&& req, HttpRespond respond) {
    HttpResponse resp;
    if (req.path != "/metrics") {
      resp.status = 404;
      resp.body = "not found\n";
    } else if (req.method != "GET" && req.method != "HEAD") {
      resp.status = 405;
      resp.headers.emplace_back("Allow", "GET");
    } else {
      resp.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      resp.body = metrics->RenderPrometheus();
    }
    std::move(respond)(std::move(resp));
  });
  if (!server.ok()) return server.status();
  return std::unique_ptr<SelfMetricsServer>(new SelfMetricsServer(std::move(*server)));
}

SelfMetricsServer::~SelfMetricsServer() { server_->Stop(); }

}  // namespace otlpd
