#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/http_server.h"
#include "core/signal.h"
#include "testing/otlp_data.h"

namespace otlpd::testing {

// One Export request as an in-test upstream saw it.
struct UpstreamRequest {
  absl::Time time;
  Signal signal = Signal::kTraces;
  bool decoded = false;          // the body decoded as the signal's Export request
  std::string payload;           // that request re-serialized as protobuf (canonical form)
  std::string content_type;      // HTTP only
  std::string content_encoding;  // HTTP only
  int answer = 0;                // HTTP status, or gRPC status code, answered
  // HTTP request headers / gRPC metadata, names lower-cased, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;

  // The first value of header `lower_name`, or nullptr.
  const std::string* Header(std::string_view lower_name) const;
};

// Requests of one signal decoded from the upstream's successful (or all) requests.
std::vector<TracesRequest> DecodeTraces(const std::vector<UpstreamRequest>& requests,
                                        bool only_accepted);

// A real OTLP/HTTP server in the test (core/http_server.h) that records every request and
// answers as `policy` says. `policy(index, request)` gets the 0-based index of the request
// among all requests received so far; returning std::nullopt answers 200 with an empty
// Export response in the request's encoding.
class HttpUpstream {
 public:
  struct Answer {
    int status = 200;
    int retry_after_seconds = -1;  // sets Retry-After when >= 0
    absl::Duration delay;          // wait this long before answering (slow upstream)
  };
  using Policy = std::function<Answer(int index, const UpstreamRequest& request)>;

  explicit HttpUpstream(Policy policy = nullptr);
  ~HttpUpstream();
  int port() const;
  std::vector<UpstreamRequest> requests() const;
  int accepted_count() const;  // requests answered 2xx

 private:
  Policy policy_;
  std::unique_ptr<HttpServer> server_;
  mutable absl::Mutex mu_;
  std::vector<UpstreamRequest> requests_ ABSL_GUARDED_BY(mu_);
};

// A real OTLP/gRPC server in the test (all three services) that records every request and
// answers with `policy(index, request)` (default OK). Listens on 127.0.0.1:`port` (0 picks
// a free one).
class GrpcUpstream {
 public:
  using Policy = std::function<grpc::Status(int index, const UpstreamRequest& request)>;

  explicit GrpcUpstream(Policy policy = nullptr, int port = 0);
  ~GrpcUpstream();
  int port() const { return port_; }
  std::vector<UpstreamRequest> requests() const;
  int accepted_count() const;

  // Used by the service implementations.
  grpc::Status Handle(Signal signal, const grpc::ServerContext& context,
                      const google::protobuf::Message& request);

 private:
  class Services;
  Policy policy_;
  std::unique_ptr<Services> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  mutable absl::Mutex mu_;
  std::vector<UpstreamRequest> requests_ ABSL_GUARDED_BY(mu_);
};

}  // namespace otlpd::testing
