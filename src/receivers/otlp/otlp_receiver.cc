#include "receivers/otlp/otlp_receiver.h"

#include <sched.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/status.h"
#include "receivers/otlp/grpc_service.h"
#include "receivers/otlp/http_handler.h"

namespace otlpd {

namespace {

// One HTTP io thread per CPU we may run on, at most 4: parsing runs on these threads.
int HttpThreads() {
  cpu_set_t set;
  CPU_ZERO(&set);
  int cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
  return std::clamp(cpus, 1, 4);
}

}  // namespace

OtlpReceiver::OtlpReceiver(const CreateSettings& settings, const OtlpReceiverConfig& config,
                           const ReceiverConsumers& consumers)
    : config_(config),
      host_(settings.host),
      core_(std::make_shared<ExportCore>(settings, consumers)) {}

absl::StatusOr<const ServerAuthenticator*> OtlpReceiver::Authenticator(
    const std::optional<ComponentId>& id) const {
  if (!id) return nullptr;
  absl::StatusOr<ServerAuthenticator*> auth =
      GetExtensionAs<ServerAuthenticator>(*host_, *id, "a server authenticator");
  if (!auth.ok()) {
    return absl::Status(auth.status().code(), absl::StrCat("otlp receiver ", core_->id().ToString(),
                                                           ": auth: ", auth.status().message()));
  }
  return *auth;
}

OtlpReceiver::~OtlpReceiver() { Shutdown(absl::Now()); }

absl::Status OtlpReceiver::Start() {
  if (config_.grpc) {
    absl::StatusOr<const ServerAuthenticator*> auth = Authenticator(config_.grpc->authenticator);
    if (!auth.ok()) return auth.status();
    absl::StatusOr<std::unique_ptr<OtlpGrpcServer>> grpc =
        OtlpGrpcServer::Start(*config_.grpc, core_, *auth);
    if (!grpc.ok()) return grpc.status();
    grpc_ = std::move(*grpc);
  }
  if (config_.http) {
    absl::StatusOr<const ServerAuthenticator*> auth = Authenticator(config_.http->authenticator);
    if (!auth.ok()) {
      if (grpc_) grpc_->FinishShutdown(absl::Now());
      return auth.status();
    }
    http_handler_ = std::make_shared<OtlpHttpHandler>(*config_.http, core_, *auth);
    HttpServerOptions options;
    options.endpoint = config_.http->endpoint;
    options.max_body_bytes = static_cast<size_t>(config_.http->max_request_body_size);
    options.threads = HttpThreads();
    options.tls = config_.http->tls;
    absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(
        options, [handler = http_handler_](HttpRequest&& request, HttpRespond respond) {
          handler->Handle(std::move(request), std::move(respond));
        });
    if (!http.ok()) {
      if (grpc_) grpc_->FinishShutdown(absl::Now());
      return absl::Status(http.status().code(),
                          absl::StrCat("otlp receiver ", core_->id().ToString(),
                                       ": cannot listen for HTTP: ", http.status().message()));
    }
    http_ = std::move(*http);
    spdlog::info("otlp receiver {}: HTTP{} listening on {} (port {})", core_->id().ToString(),
                 config_.http->tls.enabled() ? "S" : "", config_.http->endpoint, http_->port());
  }
  return absl::OkStatus();
}

void OtlpReceiver::StopAccepting(absl::Time /*deadline*/) {
  if (stopped_accepting_) return;
  stopped_accepting_ = true;
  // Both transports keep their listeners until the end but answer 503 / UNAVAILABLE from
  // now on, so that no client sees a closed connection while the pipeline drains.
  core_->BeginShutdown();
}

void OtlpReceiver::Shutdown(absl::Time deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  StopAccepting(deadline);
  if (!core_->WaitIdle(deadline)) {
    spdlog::warn("otlp receiver {}: requests still in the pipeline at the shutdown deadline",
                 core_->id().ToString());
  }
  // No client is left without an answer: what the pipeline has not answered by now is
  // told to retry (the data may still arrive: at-least-once, never lost).
  core_->AnswerPending(RetryableError(absl::StatusCode::kUnavailable,
                                      "receiver shut down before the pipeline answered",
                                      kDefaultRetryAfter));
  // The answers still need writing: a short grace past the deadline for that.
  const absl::Time write_by = std::max(deadline, absl::Now() + absl::Milliseconds(500));
  if (grpc_) grpc_->FinishShutdown(write_by);
  if (http_) http_->Stop(write_by);
}

int OtlpReceiver::grpc_port() const { return grpc_ ? grpc_->port() : 0; }
int OtlpReceiver::http_port() const { return http_ ? http_->port() : 0; }

}  // namespace otlpd
