#include "receivers/otlp/grpc_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <climits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/grpc_tls.h"
#include "core/status.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "receivers/otlp/export_response.h"
#include "receivers/otlp/request_decoder.h"

namespace otlpd {

// Reactors whose answer has not been fully delivered yet (OnDone not called): shutdown
// waits for them before cancelling what is left, so that no answered client sees its
// answer replaced by CANCELLED.
class ReactorCount {
 public:
  void Add() {
    absl::MutexLock lock(&mu_);
    ++count_;
    last_change_ = absl::Now();
  }
  void Done() {
    absl::MutexLock lock(&mu_);
    --count_;
    last_change_ = absl::Now();
  }
  bool WaitZero(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    auto zero = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count_ == 0; };
    return mu_.AwaitWithDeadline(absl::Condition(&zero), deadline);
  }
  // Waits until no reactor is left and none has been added or finished for `quiet` (a
  // client that has just got its answer may send its next call at once), or until
  // `deadline` (false then).
  bool WaitQuiet(absl::Duration quiet, absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    while (true) {
      auto zero = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count_ == 0; };
      if (!mu_.AwaitWithDeadline(absl::Condition(&zero), deadline)) return false;
      const absl::Time seen = last_change_;
      if (absl::Now() >= seen + quiet) return true;
      if (absl::Now() >= deadline) return false;
      auto changed = [this, seen]()
                         ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return last_change_ != seen; };
      mu_.AwaitWithDeadline(absl::Condition(&changed), std::min(seen + quiet, deadline));
    }
  }

 private:
  absl::Mutex mu_;
  int64_t count_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_change_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

namespace {

using opentelemetry::proto::collector::logs::v1::LogsService;
using opentelemetry::proto::collector::metrics::v1::MetricsService;
using opentelemetry::proto::collector::trace::v1::TraceService;

// One call's reactor: counted from creation until gRPC is done with it.
class ExportReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit ExportReactor(std::shared_ptr<ReactorCount> count) : count_(std::move(count)) {
    count_->Add();
  }
  void OnDone() override {
    count_->Done();
    delete this;
  }
  void OnCancel() override {}

 private:
  std::shared_ptr<ReactorCount> count_;
};

// The request's bytes without copying when gRPC holds them in one slice (the Cord keeps the
// slice referenced); otherwise copied once into one buffer.
absl::Cord ToCord(const grpc::ByteBuffer& buffer) {
  grpc::Slice single;
  if (buffer.TrySingleSlice(&single).ok()) {
    auto* held = new grpc::Slice(single);
    return absl::MakeCordFromExternal(
        absl::string_view(reinterpret_cast<const char*>(held->begin()), held->size()),
        [held](absl::string_view) { delete held; });
  }
  std::vector<grpc::Slice> slices;
  std::string flat;
  if (buffer.Dump(&slices).ok()) {
    flat.reserve(buffer.Length());
    for (const grpc::Slice& s : slices) {
      flat.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  return absl::Cord(std::move(flat));
}

// The call's metadata as the auth extensions and include_metadata see it.
Metadata CallMetadata(const grpc::CallbackServerContext& context) {
  Metadata out;
  out.reserve(context.client_metadata().size());
  for (const auto& [key, value] : context.client_metadata()) {
    out.emplace_back(std::string(key.data(), key.size()), std::string(value.data(), value.size()));
  }
  return out;
}

template <class Svc>
class RawExportService final
    : public Svc::template WithRawCallbackMethod_Export<typename Svc::Service> {
 public:
  RawExportService(Signal signal, OtlpGrpcServer* server) : signal_(signal), server_(server) {}
  grpc::ServerUnaryReactor* Export(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override {
    return server_->Export(signal_, context, request, response);
  }

 private:
  Signal signal_;
  OtlpGrpcServer* server_;
};

}  // namespace

namespace {

// How long no gRPC call must have come or ended before shutdown stops the gRPC server, and how
// long at most shutdown waits for that (clients that ignore RetryInfo never pause).
constexpr absl::Duration kQuietPeriod = absl::Milliseconds(100);
constexpr absl::Duration kMaxQuietWait = absl::Seconds(1);

// Answers one call with the pipeline's result.
void FinishCall(grpc::ServerUnaryReactor* reactor, grpc::ByteBuffer* response, Signal signal,
                const ExportResult& result) {
  if (!result.status.ok()) {
    reactor->Finish(ToGrpcStatus(result.status));
    return;
  }
  // gRPC needs a valid buffer even for the (usual) empty response.
  grpc::Slice slice(ExportResponseBody(signal, result.rejected, /*json=*/false));
  *response = grpc::ByteBuffer(&slice, 1);
  reactor->Finish(grpc::Status::OK);
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  const auto code = static_cast<grpc::StatusCode>(status.code());
  return grpc::Status(code, std::string(status.message()),
                      RetryInfoDetails(status, kDefaultRetryAfter));
}

std::string GrpcListenAddress(const std::string& endpoint) {
  if (!endpoint.empty() && endpoint.front() == ':') return "0.0.0.0" + endpoint;
  return endpoint;
}

OtlpGrpcServer::OtlpGrpcServer(std::shared_ptr<ExportCore> core, const OtlpGrpcConfig& config,
                               const ServerAuthenticator* auth)
    : core_(std::move(core)),
      auth_(auth),
      include_metadata_(config.include_metadata),
      reactors_(std::make_shared<ReactorCount>()) {}

OtlpGrpcServer::~OtlpGrpcServer() { FinishShutdown(absl::Now()); }

absl::StatusOr<std::unique_ptr<OtlpGrpcServer>> OtlpGrpcServer::Start(
    const OtlpGrpcConfig& config, std::shared_ptr<ExportCore> core,
    const ServerAuthenticator* auth) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds =
      MakeGrpcServerCredentials(config.tls);
  if (!creds.ok()) {
    return absl::Status(creds.status().code(),
                        absl::StrCat("otlp receiver ", core->id().ToString(),
                                     ": gRPC tls: ", creds.status().message()));
  }
  std::unique_ptr<OtlpGrpcServer> server(new OtlpGrpcServer(std::move(core), config, auth));
  server->services_.push_back(
      std::make_unique<RawExportService<TraceService>>(Signal::kTraces, server.get()));
  server->services_.push_back(
      std::make_unique<RawExportService<MetricsService>>(Signal::kMetrics, server.get()));
  server->services_.push_back(
      std::make_unique<RawExportService<LogsService>>(Signal::kLogs, server.get()));

  grpc::ServerBuilder builder;
  const std::string address = GrpcListenAddress(config.endpoint);
  builder.AddListeningPort(address, *creds, &server->port_);
  int64_t max_recv =
      config.max_recv_msg_size_mib > 0 ? config.max_recv_msg_size_mib << 20 : int64_t{4} << 20;
  builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<int64_t>(max_recv, INT_MAX)));
  if (config.max_concurrent_streams > 0) {
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONCURRENT_STREAMS,
        static_cast<int>(std::min<int64_t>(config.max_concurrent_streams, INT_MAX)));
  }
  // Requests compressed with any of these are inflated by gRPC before we see them.
  builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_GZIP, true);
  builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_DEFLATE, true);
  for (auto& service : server->services_) builder.RegisterService(service.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    server->server_.reset();
    server->shut_down_ = true;
    return absl::UnavailableError(absl::StrCat("otlp receiver ", server->core_->id().ToString(),
                                               ": cannot listen for gRPC on ", config.endpoint));
  }
  spdlog::info("otlp receiver {}: gRPC{} listening on {} (port {})", server->core_->id().ToString(),
               config.tls.enabled() ? " over TLS" : "", config.endpoint, server->port_);
  return server;
}

grpc::ServerUnaryReactor* OtlpGrpcServer::Export(Signal signal,
                                                 grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) {
  auto* reactor = new ExportReactor(reactors_);
  if (!core_->HasConsumer(signal)) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                     absl::StrCat("no pipeline takes ", std::string(SignalName(signal)))));
    return reactor;
  }
  std::shared_ptr<const Metadata> metadata;
  if (auth_ != nullptr || include_metadata_) {
    auto m = std::make_shared<Metadata>(CallMetadata(*context));
    if (auth_ != nullptr) {
      absl::Status allowed = auth_->Authenticate(*m);
      if (!allowed.ok()) {
        core_->CountRefused(OtlpTransport::kGrpc, signal, 0);
        reactor->Finish(
            grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(allowed.message())));
        return reactor;
      }
    }
    if (include_metadata_) metadata = std::move(m);
  }
  absl::StatusOr<DecodedRequest> decoded = DecodeProtobufRequest(signal, ToCord(*request));
  if (!decoded.ok()) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(decoded.status().message())));
    return reactor;
  }
  if (metadata) decoded->data->set_metadata(std::move(metadata));
  // ExportCore answers every call exactly once, also at shutdown (AnswerPending).
  core_->Export(OtlpTransport::kGrpc, std::move(decoded->data), decoded->rejected,
                [reactor, response, signal](ExportResult result) {
                  FinishCall(reactor, response, signal, result);
                });
  return reactor;
}

void OtlpGrpcServer::FinishShutdown(absl::Time deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  if (server_ == nullptr) return;
  // The server kept serving until now, so calls that arrived during the drain were
  // answered UNAVAILABLE (by ExportCore) rather than cancelled by a closing server. Once
  // gRPC's own shutdown begins, gRPC cancels every call that still arrives (a client that
  // has not yet seen the GOAWAY gets CANCELLED). So it begins only when the calls have
  // stopped: every answer delivered and, for kQuietPeriod, no new call and no answer (a
  // client that just got OK sends its next request at once and gets UNAVAILABLE with
  // RetryInfo, which SDKs wait for), for at most kMaxQuietWait and not past the deadline.
  if (!reactors_->WaitQuiet(kQuietPeriod, std::min(deadline, absl::Now() + kMaxQuietWait))) {
    spdlog::warn("otlp receiver {}: gRPC calls still arriving; stopping the gRPC server anyway",
                 core_->id().ToString());
  }
  // From here no call is admitted (GOAWAY, listener closed).
  grpc_completion_queue* shutdown_cq = grpc_completion_queue_create_for_next(nullptr);
  int shutdown_tag = 0;
  grpc_server_shutdown_and_notify(server_->c_server(), shutdown_cq, &shutdown_tag);
  // A call admitted just before has its UNAVAILABLE; let it reach its client before
  // cancelling what gRPC still holds, or the client could see CANCELLED instead.
  reactors_->WaitZero(deadline);
  // Server::Shutdown blocks until every connection is gone; without the cancel (which also
  // closes them) it would sit out its whole deadline while a client keeps an idle channel
  // open.
  grpc_server_cancel_all_calls(server_->c_server());
  server_->Shutdown(absl::ToChronoTime(deadline));
  // The server is shut down, so our tag is in the queue: drain it and free the queue.
  grpc_completion_queue_shutdown(shutdown_cq);
  while (
      grpc_completion_queue_next(shutdown_cq, gpr_inf_future(GPR_CLOCK_REALTIME), nullptr).type !=
      GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(shutdown_cq);
}

}  // namespace otlpd
