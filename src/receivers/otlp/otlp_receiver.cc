#include "receivers/otlp/otlp_receiver.h"

#include <sched.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/time/clock.h"
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
    : config_(config), core_(std::make_shared<ExportCore>(settings, consumers)) {}

OtlpReceiver::~OtlpReceiver() { Shutdown(absl::Now()); }

absl::Status OtlpReceiver::Start() {
  if (config_.grpc) {
    absl::StatusOr<std::unique_ptr<OtlpGrpcServer>> grpc =
        OtlpGrpcServer::Start(*config_.grpc, core_);
    if (!grpc.ok()) return grpc.status();
    grpc_ = std::move(*grpc);
  }
  if (config_.http) {
    http_handler_ = std::make_shared<OtlpHttpHandler>(*config_.http, core_);
    HttpServerOptions options;
    options.endpoint = config_.http->endpoint;
    options.max_body_bytes = static_cast<size_t>(config_.http->max_request_body_size);
    options.threads = HttpThreads();
    absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(
        options, [handler = http_handler_](HttpRequest&& request, HttpRespond respond) {
          handler->Handle(std::move(request), std::move(respond));
        });
    if (!http.ok()) {
      if (grpc_) grpc_->FinishShutdown();
      return absl::Status(http.status().code(),
                          absl::StrCat("otlp receiver ", core_->id().ToString(),
                                       ": cannot listen for HTTP: ", http.status().message()));
    }
    http_ = std::move(*http);
    spdlog::info("otlp receiver {}: HTTP listening on {} (port {})", core_->id().ToString(),
                 config_.http->endpoint, http_->port());
  }
  return absl::OkStatus();
}

void OtlpReceiver::StopAccepting(absl::Time deadline) {
  if (stopped_accepting_) return;
  stopped_accepting_ = true;
  // HTTP keeps its listener until the end but answers 503 from now on.
  core_->BeginShutdown();
  if (grpc_) grpc_->BeginShutdown(deadline);
}

void OtlpReceiver::Shutdown(absl::Time deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  StopAccepting(deadline);
  if (!core_->WaitIdle(deadline)) {
    spdlog::warn("otlp receiver {}: requests still in the pipeline at the shutdown deadline",
                 core_->id().ToString());
  }
  if (grpc_) grpc_->FinishShutdown();
  // Requests the pipeline answered by now get their responses written; later ones are
  // dropped at the deadline.
  if (http_) http_->Stop(deadline);
}

int OtlpReceiver::grpc_port() const { return grpc_ ? grpc_->port() : 0; }
int OtlpReceiver::http_port() const { return http_ ? http_->port() : 0; }

}  // namespace otlpd
