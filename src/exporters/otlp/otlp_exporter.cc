#include "exporters/otlp/otlp_exporter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/compression.h"
#include "core/grpc_tls.h"
#include "core/status.h"
#include "google/rpc/retry_info.pb.h"
#include "google/rpc/status.pb.h"

// gRPC's ByteBuffer befriends this name (gRPC's own tests define it); it is the one way to
// give gRPC C++ a byte buffer made with the core API, here an already compressed one.
namespace grpc::internal {
class GrpcByteBufferPeer {
 public:
  explicit GrpcByteBufferPeer(ByteBuffer* buffer) : buffer_(buffer) {}
  void set_buffer(grpc_byte_buffer* raw) { buffer_->set_buffer(raw); }

 private:
  ByteBuffer* buffer_;
};
}  // namespace grpc::internal

namespace otlpd {

namespace {

namespace trace_v1 = opentelemetry::proto::collector::trace::v1;
namespace metrics_v1 = opentelemetry::proto::collector::metrics::v1;
namespace logs_v1 = opentelemetry::proto::collector::logs::v1;

std::optional<absl::Duration> RetryInfoDelay(const grpc::Status& status) {
  if (status.error_details().empty()) return std::nullopt;
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return std::nullopt;
  for (const google::protobuf::Any& any : details.details()) {
    if (!absl::EndsWith(any.type_url(), "google.rpc.RetryInfo")) continue;
    google::rpc::RetryInfo info;
    if (!info.ParseFromString(any.value())) continue;
    return absl::Seconds(info.retry_delay().seconds()) +
           absl::Nanoseconds(info.retry_delay().nanos());
  }
  return std::nullopt;
}

const char* MethodFor(Signal signal) {
  switch (signal) {
    case Signal::kTraces:
      return "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    case Signal::kMetrics:
      return "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    case Signal::kLogs:
      return "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
  }
  return "";
}

// A gzip-compressed message body, as gRPC would send it with GRPC_COMPRESS_GZIP: a byte
// buffer of the compressed type, which gRPC's compression filter sends as it is (with the
// message's compressed flag) instead of compressing again. gRPC compresses with zlib; this
// one is compressed once per batch with the faster library Compress() uses.
grpc::ByteBuffer ToCompressedByteBuffer(std::shared_ptr<const std::string> compressed);

// The request's encoding as gRPC slices, without copying: each slice keeps a reference to
// the Cord's data until gRPC lets go of it.
grpc::ByteBuffer ToByteBuffer(const absl::Cord& wire) {
  std::vector<grpc::Slice> slices;
  for (absl::string_view chunk : wire.Chunks()) {
    auto* ref = new absl::Cord(wire);
    slices.emplace_back(
        const_cast<char*>(chunk.data()), chunk.size(),
        [](void* p) { delete static_cast<absl::Cord*>(p); }, ref);
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

grpc::ByteBuffer ToCompressedByteBuffer(std::shared_ptr<const std::string> compressed) {
  auto* ref = new std::shared_ptr<const std::string>(std::move(compressed));
  grpc_slice slice = grpc_slice_new_with_user_data(
      const_cast<char*>((*ref)->data()), (*ref)->size(),
      [](void* p) { delete static_cast<std::shared_ptr<const std::string>*>(p); }, ref);
  grpc_byte_buffer* raw = grpc_raw_compressed_byte_buffer_create(&slice, 1, GRPC_COMPRESS_GZIP);
  grpc_slice_unref(slice);
  grpc::ByteBuffer buffer;
  grpc::internal::GrpcByteBufferPeer(&buffer).set_buffer(raw);
  return buffer;
}

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// partial_success of an Export response.
template <class Response>
void ReadPartialSuccess(const std::string& body, SendResult* result,
                        int64_t (*rejected)(const Response&)) {
  Response response;
  if (body.empty() || !response.ParseFromString(body) || !response.has_partial_success()) return;
  result->rejected = static_cast<size_t>(std::max<int64_t>(0, rejected(response)));
  result->rejection_message = response.partial_success().error_message();
}

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return FromGrpcCode(static_cast<absl::StatusCode>(status.error_code()), status.error_message(),
                      RetryInfoDelay(status));
}

OtlpGrpcSender::OtlpGrpcSender(std::string id, const OtlpExporterConfig& config)
    : id_(std::move(id)), config_(config) {}

OtlpGrpcSender::~OtlpGrpcSender() = default;

absl::Status OtlpGrpcSender::Start(Host* host) {
  if (config_.authenticator) {
    if (host == nullptr) return absl::FailedPreconditionError("auth needs a host");
    absl::StatusOr<ClientAuthenticator*> auth = GetExtensionAs<ClientAuthenticator>(
        *host, *config_.authenticator, "a client authenticator");
    if (!auth.ok()) return auth.status();
    auth_ = *auth;
    if (auth_->RequiresTransportSecurity() && config_.tls.insecure && !config_.https_scheme) {
      return absl::FailedPreconditionError(
          absl::StrCat("auth: extension \"", config_.authenticator->ToString(),
                       "\" sends credentials, which need a TLS connection; the channel is insecure "
                       "(tls::insecure: true)"));
    }
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds =
      MakeGrpcChannelCredentials(config_.tls, config_.https_scheme);
  if (!creds.ok()) return creds.status();

  grpc::ChannelArguments args;
  args.SetUserAgentPrefix("otlpd/" OTLPD_VERSION);
  // gRPC's reconnect back-off grows to 120 s while an upstream is down, so data would wait
  // up to that long after it is back; the retry settings' pace is the one asked for.
  const RetrySettings& retry = config_.helper.retry;
  if (retry.enabled && retry.max_interval > absl::ZeroDuration()) {
    const int max_ms = static_cast<int>(
        std::clamp<int64_t>(absl::ToInt64Milliseconds(retry.max_interval), 100, 120'000));
    const int initial_ms =
        std::min(max_ms, static_cast<int>(std::clamp<int64_t>(
                             absl::ToInt64Milliseconds(retry.initial_interval), 100, 1000)));
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, initial_ms);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, initial_ms);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_ms);
  }
  switch (config_.compression) {
    case Compression::kGzip:
      args.SetCompressionAlgorithm(GRPC_COMPRESS_GZIP);
      break;
    case Compression::kDeflate:
      args.SetCompressionAlgorithm(GRPC_COMPRESS_DEFLATE);
      break;
    default:
      break;  // ParseConfig refuses the ones gRPC C++ cannot do
  }
  if (!config_.balancer_name.empty()) args.SetLoadBalancingPolicyName(config_.balancer_name);
  if (config_.keepalive.time > absl::ZeroDuration()) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
                static_cast<int>(absl::ToInt64Milliseconds(config_.keepalive.time)));
    if (config_.keepalive.timeout > absl::ZeroDuration()) {
      args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                  static_cast<int>(absl::ToInt64Milliseconds(config_.keepalive.timeout)));
    }
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
                config_.keepalive.permit_without_stream ? 1 : 0);
  }
  ApplyGrpcChannelTlsArgs(config_.tls, &args);
  // RPCs fail fast while the channel waits to reconnect, so a long reconnect backoff
  // (gRPC's default grows to 120s) would delay recovery well past the upstream's return.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  // Requests are often larger than gRPC's 4 MiB default receive limit on our side too.
  args.SetMaxSendMessageSize(-1);

  channel_ = grpc::CreateCustomChannel(config_.endpoint, *creds, args);
  stub_ = std::make_unique<grpc::GenericStub>(channel_);
  return absl::OkStatus();
}

void OtlpGrpcSender::CancelAll() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  for (grpc::ClientContext* ctx : in_flight_) ctx->TryCancel();
}

SendResult OtlpGrpcSender::Send(const Telemetry& data, SendContext* context, absl::Time deadline) {
  SendResult result;
  grpc::ClientContext ctx;
  if (deadline != absl::InfiniteFuture()) ctx.set_deadline(absl::ToChronoTime(deadline));
  if (config_.wait_for_ready) ctx.set_wait_for_ready(true);
  for (const auto& [key, value] : config_.headers) ctx.AddMetadata(key, value);
  if (auth_ != nullptr) {
    absl::StatusOr<Metadata> headers = auth_->Headers(data.metadata().get());
    if (!headers.ok()) {
      result.status = absl::UnavailableError(
          absl::StrCat("client authenticator: ", headers.status().message()));
      return result;
    }
    for (auto& [key, value] : *headers) ctx.AddMetadata(key, value);
  }
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) {
      result.status = absl::CancelledError("exporter is shutting down");
      return result;
    }
    in_flight_.insert(&ctx);
  }
  grpc::ByteBuffer request;
  if (config_.compression == Compression::kGzip) {
    if (context->prepared == nullptr) {
      std::string flat;
      absl::string_view input;
      if (absl::optional<absl::string_view> f = data.wire().TryFlat()) {
        input = *f;
      } else {
        absl::CopyCordToString(data.wire(), &flat);
        input = flat;
      }
      absl::StatusOr<std::string> compressed =
          Compress(Compression::kGzip, std::string_view(input.data(), input.size()));
      if (!compressed.ok()) {
        absl::MutexLock lock(&mu_);
        in_flight_.erase(&ctx);
        result.status = absl::InternalError(
            absl::StrCat("compression failed: ", compressed.status().message()));
        return result;
      }
      context->prepared = std::make_shared<std::string>(*std::move(compressed));
    }
    request =
        ToCompressedByteBuffer(std::static_pointer_cast<const std::string>(context->prepared));
  } else {
    request = ToByteBuffer(data.wire());
  }
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification finished;
  stub_->UnaryCall(&ctx, MethodFor(data.signal()), grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) {
                     status = std::move(s);
                     finished.Notify();
                   });
  finished.WaitForNotification();
  {
    absl::MutexLock lock(&mu_);
    in_flight_.erase(&ctx);
  }
  result.status = FromGrpcStatus(status);
  if (status.ok()) {
    const std::string body = Flatten(response);
    switch (data.signal()) {
      case Signal::kTraces:
        ReadPartialSuccess<trace_v1::ExportTraceServiceResponse>(
            body, &result, [](const auto& r) { return r.partial_success().rejected_spans(); });
        break;
      case Signal::kMetrics:
        ReadPartialSuccess<metrics_v1::ExportMetricsServiceResponse>(
            body, &result,
            [](const auto& r) { return r.partial_success().rejected_data_points(); });
        break;
      case Signal::kLogs:
        ReadPartialSuccess<logs_v1::ExportLogsServiceResponse>(body, &result, [](const auto& r) {
          return r.partial_success().rejected_log_records();
        });
        break;
    }
  }
  return result;
}

}  // namespace otlpd
