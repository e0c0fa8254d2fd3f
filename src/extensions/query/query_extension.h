#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/component.h"
#include "core/http_server.h"
#include "extensions/query/config.h"
#include "storage/store_reader.h"

namespace otlpd {

// The `query` extension: an HTTP server answering GET requests under config.base_path with
// Jaeger's query API (jaeger_api.h), Jaeger's api_v3 (api_v3.h) and our logs/metrics API
// (api_v1.h), all read from the store of the exporter config.storage. That exporter is looked
// up through the Host on each request (exporters are created after extensions, and its store
// opens only when it starts); while it is missing, is not a storage::StoreReaderProvider or
// has no open store, reading routes answer 503 naming it. Other methods get 405, other paths
// 404.
class QueryExtension : public Extension {
 public:
  QueryExtension(const CreateSettings& settings, const QueryConfig& config);
  ~QueryExtension() override;

  absl::Status Start() override;
  void Shutdown(absl::Time deadline) override;

  // The port actually bound (after Start), for endpoints with port 0.
  int port() const;

  // Answers one request (what the server calls; public for tests).
  HttpResponse Answer(const HttpRequest& request);

 private:
  HttpResponse Route(const HttpRequest& request);
  absl::StatusOr<storage::StoreReader*> Store() const;

  const std::string id_;
  const QueryConfig config_;
  Host* const host_;
  std::string base_;  // base_path without its trailing '/' ("" for "/")
  std::unique_ptr<HttpServer> server_;
};

}  // namespace otlpd
