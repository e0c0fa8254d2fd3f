#include "extensions/query/query_extension.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "extensions/query/api_common.h"
#include "extensions/query/api_v1.h"
#include "extensions/query/api_v3.h"
#include "extensions/query/jaeger_api.h"

namespace otlpd {

QueryExtension::QueryExtension(const CreateSettings& settings, const QueryConfig& config)
    : id_(settings.id.ToString()), config_(config), host_(settings.host) {
  base_ = config_.base_path;
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
}

QueryExtension::~QueryExtension() { Shutdown(absl::Now()); }

absl::Status QueryExtension::Start() {
  if (server_ != nullptr) return absl::OkStatus();
  HttpServerOptions options;
  options.endpoint = config_.endpoint;
  options.max_body_bytes = 64 << 10;  // GET only: no bodies to read
  options.threads = config_.threads;
  options.tls = config_.tls;
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

void QueryExtension::Shutdown(absl::Time deadline) {
  if (server_ != nullptr) {
    server_->Stop(deadline);
    server_.reset();
  }
}

int QueryExtension::port() const { return server_ != nullptr ? server_->port() : 0; }

absl::StatusOr<storage::StoreReader*> QueryExtension::Store() const {
  const std::string name = config_.storage.ToString();
  if (host_ == nullptr) return absl::UnavailableError("no host to find the storage in");
  absl::StatusOr<Exporter*> exporter = host_->GetExporter(config_.storage);
  if (!exporter.ok()) {
    return absl::UnavailableError(
        absl::StrCat("storage \"", name, "\" is not available: no pipeline uses that exporter (",
                     exporter.status().message(), ")"));
  }
  auto* provider = dynamic_cast<storage::StoreReaderProvider*>(*exporter);
  if (provider == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("storage \"", name, "\" is not available: that exporter keeps no store"));
  }
  storage::StoreReader* reader = provider->store_reader();
  if (reader == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("storage \"", name, "\" is not available: its store is not open yet"));
  }
  return reader;
}

HttpResponse QueryExtension::Answer(const HttpRequest& request) {
  HttpResponse response = Route(request);
  // Store failures are the operator's business; bad queries and a store not yet open are not.
  if (response.status >= 500 && response.status != 503 && response.status != 501) {
    spdlog::warn("{}: {} {} answered {}: {}", id_, request.method, request.path, response.status,
                 response.body.substr(0, 512));
  }
  return response;
}

HttpResponse QueryExtension::Route(const HttpRequest& request) {
  absl::string_view route = request.path;
  const auto not_found = [] {
    return query::JaegerErrorResponse(absl::NotFoundError("404 page not found"));
  };
  if (!absl::ConsumePrefix(&route, base_) || (!route.empty() && route.front() != '/')) {
    return not_found();
  }
  if (request.method != "GET") {
    HttpResponse response = query::JaegerErrorResponse(
        405, absl::StrCat("method ", request.method, " not allowed; use GET"));
    response.headers.emplace_back("Allow", "GET");
    return response;
  }
  query::ApiContext context;
  context.store = [this] { return Store(); };
  context.config = &config_;
  context.now = absl::Now();
  if (absl::StartsWith(route, "/api/v3/")) {
    if (std::optional<HttpResponse> r = query::HandleApiV3(request, route, context)) {
      return std::move(*r);
    }
  } else if (absl::StartsWith(route, "/api/v1/")) {
    if (std::optional<HttpResponse> r = query::HandleApiV1(request, route, context)) {
      return std::move(*r);
    }
  } else if (std::optional<HttpResponse> r = query::HandleJaegerApi(request, route, context)) {
    return std::move(*r);
  }
  return not_found();
}

}  // namespace otlpd
