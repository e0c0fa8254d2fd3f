#include "testing/upstream.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/otlp_json.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "testing/http_client.h"

namespace otlpd::testing {
namespace {

namespace trace_v1 = opentelemetry::proto::collector::trace::v1;
namespace metrics_v1 = opentelemetry::proto::collector::metrics::v1;
namespace logs_v1 = opentelemetry::proto::collector::logs::v1;

std::unique_ptr<google::protobuf::Message> NewRequest(Signal s) {
  switch (s) {
    case Signal::kTraces:
      return std::make_unique<TracesRequest>();
    case Signal::kMetrics:
      return std::make_unique<MetricsRequest>();
    case Signal::kLogs:
      return std::make_unique<LogsRequest>();
  }
  return nullptr;
}

}  // namespace

const std::string* UpstreamRequest::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

std::vector<TracesRequest> DecodeTraces(const std::vector<UpstreamRequest>& requests,
                                        bool only_accepted) {
  std::vector<TracesRequest> out;
  for (const auto& r : requests) {
    if (r.signal != Signal::kTraces || !r.decoded) continue;
    bool accepted = r.answer >= 200 && r.answer < 300;
    if (only_accepted && !accepted) continue;
    TracesRequest t;
    t.ParseFromString(r.payload);
    out.push_back(std::move(t));
  }
  return out;
}

HttpUpstream::HttpUpstream(Policy policy) : policy_(std::move(policy)) {
  HttpServerOptions options;
  options.endpoint = "127.0.0.1:0";
  options.threads = 4;
  options.max_body_bytes = 64 << 20;
  auto server = HttpServer::Start(options, [this](HttpRequest&& request, HttpRespond respond) {
    UpstreamRequest rec;
    rec.time = absl::Now();
    std::optional<Signal> signal;
    if (request.path == "/v1/traces") signal = Signal::kTraces;
    if (request.path == "/v1/metrics") signal = Signal::kMetrics;
    if (request.path == "/v1/logs") signal = Signal::kLogs;
    rec.headers = request.headers;
    if (const std::string* v = request.Header("content-type")) rec.content_type = *v;
    if (const std::string* v = request.Header("content-encoding")) rec.content_encoding = *v;
    const bool json = absl::StartsWith(rec.content_type, "application/json");
    if (signal.has_value()) {
      rec.signal = *signal;
      const std::string raw(request.body);
      std::optional<std::string> body = raw;
      if (rec.content_encoding == "gzip") body = Gunzip(raw);
      auto message = NewRequest(*signal);
      if (body.has_value()) {
        rec.decoded =
            json ? DecodeOtlpJson(*body, message.get()).ok() : message->ParseFromString(*body);
      }
      if (rec.decoded) rec.payload = message->SerializeAsString();
    }
    Answer answer;
    int index;
    {
      absl::MutexLock lock(&mu_);
      index = static_cast<int>(requests_.size());
      requests_.push_back(rec);
    }
    if (!signal.has_value()) {
      answer.status = 404;
    } else if (policy_) {
      answer = policy_(index, rec);
    }
    {
      absl::MutexLock lock(&mu_);
      requests_[index].answer = answer.status;
    }
    if (answer.delay > absl::ZeroDuration()) absl::SleepFor(answer.delay);
    HttpResponse response;
    response.status = answer.status;
    if (answer.retry_after_seconds >= 0) {
      response.headers.emplace_back("Retry-After", absl::StrCat(answer.retry_after_seconds));
    }
    if (answer.status == 200) {
      response.headers.emplace_back("Content-Type",
                                    json ? "application/json" : "application/x-protobuf");
      response.body = json ? "{}" : "";
    }
    std::move(respond)(std::move(response));
  });
  if (!server.ok()) {
    std::fprintf(stderr, "HttpUpstream: %s\n", server.status().ToString().c_str());
    std::abort();
  }
  server_ = std::move(*server);
}

HttpUpstream::~HttpUpstream() { server_->Stop(); }

int HttpUpstream::port() const { return server_->port(); }

std::vector<UpstreamRequest> HttpUpstream::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

int HttpUpstream::accepted_count() const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const auto& r : requests_) n += (r.answer >= 200 && r.answer < 300);
  return n;
}

class GrpcUpstream::Services {
 public:
  explicit Services(GrpcUpstream* owner) : traces(owner), metrics(owner), logs(owner) {}

  class Traces : public trace_v1::TraceService::Service {
   public:
    explicit Traces(GrpcUpstream* o) : owner_(o) {}
    grpc::Status Export(grpc::ServerContext* context, const TracesRequest* request,
                        TracesResponse*) override {
      return owner_->Handle(Signal::kTraces, *context, *request);
    }

   private:
    GrpcUpstream* owner_;
  };
  class Metrics : public metrics_v1::MetricsService::Service {
   public:
    explicit Metrics(GrpcUpstream* o) : owner_(o) {}
    grpc::Status Export(grpc::ServerContext* context, const MetricsRequest* request,
                        MetricsResponse*) override {
      return owner_->Handle(Signal::kMetrics, *context, *request);
    }

   private:
    GrpcUpstream* owner_;
  };
  class Logs : public logs_v1::LogsService::Service {
   public:
    explicit Logs(GrpcUpstream* o) : owner_(o) {}
    grpc::Status Export(grpc::ServerContext* context, const LogsRequest* request,
                        LogsResponse*) override {
      return owner_->Handle(Signal::kLogs, *context, *request);
    }

   private:
    GrpcUpstream* owner_;
  };

  Traces traces;
  Metrics metrics;
  Logs logs;
};

GrpcUpstream::GrpcUpstream(Policy policy, int port)
    : policy_(std::move(policy)), services_(std::make_unique<Services>(this)) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("127.0.0.1:", port), grpc::InsecureServerCredentials(),
                           &port_);
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.RegisterService(&services_->traces);
  builder.RegisterService(&services_->metrics);
  builder.RegisterService(&services_->logs);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    std::fprintf(stderr, "GrpcUpstream: cannot start\n");
    std::abort();
  }
}

GrpcUpstream::~GrpcUpstream() {
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
}

grpc::Status GrpcUpstream::Handle(Signal signal, const grpc::ServerContext& context,
                                  const google::protobuf::Message& request) {
  UpstreamRequest rec;
  for (const auto& [key, value] : context.client_metadata()) {
    rec.headers.emplace_back(std::string(key.data(), key.size()),
                             std::string(value.data(), value.size()));
  }
  rec.time = absl::Now();
  rec.signal = signal;
  rec.decoded = true;
  rec.payload = request.SerializeAsString();
  int index;
  {
    absl::MutexLock lock(&mu_);
    index = static_cast<int>(requests_.size());
    requests_.push_back(rec);
  }
  grpc::Status status = policy_ ? policy_(index, rec) : grpc::Status::OK;
  absl::MutexLock lock(&mu_);
  requests_[index].answer = status.error_code() == grpc::StatusCode::OK ? 200 : status.error_code();
  return status;
}

std::vector<UpstreamRequest> GrpcUpstream::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

int GrpcUpstream::accepted_count() const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const auto& r : requests_) n += (r.answer == 200);
  return n;
}

}  // namespace otlpd::testing
