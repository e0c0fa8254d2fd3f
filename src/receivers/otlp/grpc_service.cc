#include "receivers/otlp/grpc_service.h"

#include <google/protobuf/duration.pb.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <spdlog/spdlog.h>

#include <climits>
#include <mutex>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/id_validation.h"
#include "core/status.h"
#include "google/rpc/retry_info.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace otlpd {

namespace {

using opentelemetry::proto::collector::logs::v1::ExportLogsServiceResponse;
using opentelemetry::proto::collector::logs::v1::LogsService;
using opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceResponse;
using opentelemetry::proto::collector::metrics::v1::MetricsService;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using opentelemetry::proto::collector::trace::v1::TraceService;

// One Export call waiting for its pipeline.
struct GrpcCall {
  GrpcCall(Signal s, grpc::ServerUnaryReactor* r, grpc::ByteBuffer* out)
      : signal(s), reactor(r), response(out) {}
  Signal signal;
  grpc::ServerUnaryReactor* reactor;  // valid until Finish
  grpc::ByteBuffer* response;         // valid until Finish
  std::atomic<bool> finished{false};
};

template <class Response>
void SerializeResponse(Response& response, grpc::ByteBuffer* out) {
  bool own_buffer = false;
  grpc::SerializationTraits<Response>::Serialize(response, out, &own_buffer);
}

void SerializeExportResponse(Signal signal, size_t rejected, grpc::ByteBuffer* out) {
  switch (signal) {
    case Signal::kTraces: {
      ExportTraceServiceResponse response;
      if (rejected > 0) {
        response.mutable_partial_success()->set_rejected_spans(static_cast<int64_t>(rejected));
        response.mutable_partial_success()->set_error_message(
            RejectedItemsMessage(signal, rejected));
      }
      return SerializeResponse(response, out);
    }
    case Signal::kMetrics: {
      ExportMetricsServiceResponse response;
      if (rejected > 0) {
        response.mutable_partial_success()->set_rejected_data_points(
            static_cast<int64_t>(rejected));
        response.mutable_partial_success()->set_error_message(
            RejectedItemsMessage(signal, rejected));
      }
      return SerializeResponse(response, out);
    }
    case Signal::kLogs: {
      ExportLogsServiceResponse response;
      if (rejected > 0) {
        response.mutable_partial_success()->set_rejected_log_records(
            static_cast<int64_t>(rejected));
        response.mutable_partial_success()->set_error_message(
            RejectedItemsMessage(signal, rejected));
      }
      return SerializeResponse(response, out);
    }
  }
}

bool ParseByteBuffer(const grpc::ByteBuffer& buffer, google::protobuf::Message* message) {
  grpc::Slice slice;
  if (buffer.TrySingleSlice(&slice).ok()) {
    return message->ParseFromArray(slice.begin(), static_cast<int>(slice.size()));
  }
  // The reader only reads; its constructor just wants a non-const pointer.
  grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(&buffer));
  return message->ParseFromZeroCopyStream(&reader);
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

// Calls waiting for their pipeline, so that Shutdown can answer them: gRPC's Shutdown waits
// for every callback call to finish, however long the pipeline takes.
class PendingGrpcCalls {
 public:
  // False once closed: the caller answers UNAVAILABLE itself.
  bool Add(const std::shared_ptr<GrpcCall>& call) {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    calls_.emplace(call.get(), call);
    return true;
  }

  void Finish(const std::shared_ptr<GrpcCall>& call, const ExportResult& result) {
    if (call->finished.exchange(true, std::memory_order_acq_rel)) return;
    {
      std::lock_guard lock(mu_);
      calls_.erase(call.get());
    }
    if (result.status.ok()) {
      SerializeExportResponse(call->signal, result.rejected, call->response);
      call->reactor->Finish(grpc::Status::OK);
    } else {
      call->reactor->Finish(ToGrpcStatus(result.status));
    }
  }

  void FinishAll(const absl::Status& status) {
    absl::flat_hash_map<GrpcCall*, std::shared_ptr<GrpcCall>> calls;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      calls.swap(calls_);
    }
    for (auto& [raw, call] : calls) Finish(call, ExportResult{status, 0});
  }

 private:
  std::mutex mu_;
  bool closed_ = false;
  absl::flat_hash_map<GrpcCall*, std::shared_ptr<GrpcCall>> calls_;
};

grpc::Status ToGrpcStatus(const absl::Status& status) {
  const auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message(status.message());
  if (status.code() != absl::StatusCode::kUnavailable &&
      status.code() != absl::StatusCode::kResourceExhausted) {
    return grpc::Status(code, message);
  }
  const absl::Duration delay = RetryAfter(status).value_or(kDefaultRetryAfter);
  google::rpc::RetryInfo retry_info;
  const int64_t seconds = absl::ToInt64Seconds(delay);  // truncates toward zero
  retry_info.mutable_retry_delay()->set_seconds(seconds);
  retry_info.mutable_retry_delay()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(delay - absl::Seconds(seconds))));
  google::rpc::Status details;
  details.set_code(static_cast<int32_t>(code));
  details.set_message(message);
  details.add_details()->PackFrom(retry_info);
  return grpc::Status(code, message, details.SerializeAsString());
}

std::string GrpcListenAddress(const std::string& endpoint) {
  if (!endpoint.empty() && endpoint.front() == ':') return "0.0.0.0" + endpoint;
  return endpoint;
}

OtlpGrpcServer::OtlpGrpcServer(std::shared_ptr<ExportCore> core)
    : core_(std::move(core)), pending_(std::make_shared<PendingGrpcCalls>()) {}

OtlpGrpcServer::~OtlpGrpcServer() { FinishShutdown(); }

absl::StatusOr<std::unique_ptr<OtlpGrpcServer>> OtlpGrpcServer::Start(
    const OtlpGrpcConfig& config, std::shared_ptr<ExportCore> core) {
  std::unique_ptr<OtlpGrpcServer> server(new OtlpGrpcServer(std::move(core)));
  server->services_.push_back(
      std::make_unique<RawExportService<TraceService>>(Signal::kTraces, server.get()));
  server->services_.push_back(
      std::make_unique<RawExportService<MetricsService>>(Signal::kMetrics, server.get()));
  server->services_.push_back(
      std::make_unique<RawExportService<LogsService>>(Signal::kLogs, server.get()));

  grpc::ServerBuilder builder;
  const std::string address = GrpcListenAddress(config.endpoint);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &server->port_);
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
    server->shutdown_begun_ = true;
    server->shut_down_ = true;
    return absl::UnavailableError(absl::StrCat("otlp receiver ", server->core_->id().ToString(),
                                               ": cannot listen for gRPC on ", config.endpoint));
  }
  spdlog::info("otlp receiver {}: gRPC listening on {} (port {})", server->core_->id().ToString(),
               config.endpoint, server->port_);
  return server;
}

grpc::ServerUnaryReactor* OtlpGrpcServer::Export(Signal signal,
                                                 grpc::CallbackServerContext* context,
                                                 const grpc::ByteBuffer* request,
                                                 grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!core_->HasConsumer(signal)) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                     absl::StrCat("no pipeline takes ", std::string(SignalName(signal)))));
    return reactor;
  }
  const size_t wire_size = request->Length();
  auto data = std::make_unique<Telemetry>(signal, std::max<size_t>(2 * wire_size, 1024));
  if (!ParseByteBuffer(*request, data->mutable_message())) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "cannot decode the request as an OTLP protobuf message"));
    return reactor;
  }
  auto call = std::make_shared<GrpcCall>(signal, reactor, response);
  if (!pending_->Add(call)) {
    reactor->Finish(ToGrpcStatus(RetryableError(absl::StatusCode::kUnavailable,
                                                "receiver is shutting down", kDefaultRetryAfter)));
    return reactor;
  }
  core_->Export(OtlpTransport::kGrpc, std::move(data),
                [pending = pending_, call = std::move(call)](ExportResult result) {
                  pending->Finish(call, result);
                });
  return reactor;
}

void OtlpGrpcServer::BeginShutdown(absl::Time deadline) {
  if (shutdown_begun_) return;
  shutdown_begun_ = true;
  stopper_ = std::thread(
      [server = server_.get(), deadline] { server->Shutdown(absl::ToChronoTime(deadline)); });
}

void OtlpGrpcServer::FinishShutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  BeginShutdown(absl::Now());
  pending_->FinishAll(RetryableError(absl::StatusCode::kUnavailable, "receiver is shutting down",
                                     kDefaultRetryAfter));
  // Nothing of ours is in flight any more; without this, Server::Shutdown sits out its whole
  // deadline while a client keeps an idle channel open.
  if (server_ != nullptr) grpc_server_cancel_all_calls(server_->c_server());
  stopper_.join();
}

}  // namespace otlpd
