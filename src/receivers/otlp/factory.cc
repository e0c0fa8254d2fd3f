#include "receivers/otlp/factory.h"

#include <cstdint>

#include "absl/strings/numbers.h"
#include "receivers/otlp/config.h"
#include "receivers/otlp/otlp_receiver.h"

namespace otlpd {

bool IsValidEndpoint(const std::string& endpoint) {
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string host = endpoint.substr(0, colon);
  const std::string port = endpoint.substr(colon + 1);
  int port_number = 0;
  if (port.empty() || !absl::SimpleAtoi(port, &port_number) || port_number < 0 ||
      port_number > 65535 || port.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  if (!host.empty() && host.front() == '[') return host.size() > 2 && host.back() == ']';
  // A bare IPv6 address needs brackets; hostnames and IPv4 addresses have no ':' or space.
  return host.find_first_of(": \t[]/") == std::string::npos;
}

namespace {

void ParseEndpoint(ConfigNode& node, std::string* endpoint) {
  if (node.Get("endpoint", endpoint) && !IsValidEndpoint(*endpoint)) {
    node.Error("endpoint", "must be host:port, e.g. \"127.0.0.1:4317\" or \":4317\"");
  }
}

void ParseNonNegative(ConfigNode& node, std::string_view key, int64_t max, int64_t* out) {
  if (node.Get(key, out) && (*out < 0 || *out > max)) {
    node.Error(key, "out of range");
  }
}

// `auth: {authenticator: <extension id>}`.
void ParseAuth(ConfigNode& node, std::optional<ComponentId>* out) {
  bool present = false;
  ConfigNode auth = node.Child("auth", &present);
  if (!present) return;
  ComponentId id;
  if (auth.GetExtensionRef("authenticator", &id)) {
    *out = id;
  } else if (auth.IsDefined() || present) {
    auth.Error("authenticator", "auth needs an authenticator (an extension id)");
  }
}

// otelcol prefixes a url path without a leading '/' with one.
void ParseUrlPath(ConfigNode& node, std::string_view key, std::string* path) {
  if (!node.Get(key, path)) return;
  if (path->empty() || path->front() != '/') path->insert(path->begin(), '/');
}

class OtlpReceiverFactory final : public ReceiverFactory {
 public:
  std::string_view type() const override { return "otlp"; }
  SignalSet signals() const override { return SignalSet::All(); }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<OtlpReceiverConfig>();
    ConfigNode protocols = node.Child("protocols");
    bool has_grpc = false;
    bool has_http = false;
    ConfigNode grpc = protocols.Child("grpc", &has_grpc);
    ConfigNode http = protocols.Child("http", &has_http);
    if (has_grpc) {
      OtlpGrpcConfig& g = config->grpc.emplace();
      ParseEndpoint(grpc, &g.endpoint);
      ParseNonNegative(grpc, "max_recv_msg_size_mib", 2047, &g.max_recv_msg_size_mib);
      ParseNonNegative(grpc, "max_concurrent_streams", UINT32_MAX, &g.max_concurrent_streams);
      grpc.GetEnum("transport", &g.transport, {"tcp"});
      ParseTlsServer(grpc.Child("tls"), &g.tls);
      ParseAuth(grpc, &g.authenticator);
      grpc.Get("include_metadata", &g.include_metadata);
    }
    if (has_http) {
      OtlpHttpConfig& h = config->http.emplace();
      ParseEndpoint(http, &h.endpoint);
      ParseUrlPath(http, "traces_url_path", &h.traces_url_path);
      ParseUrlPath(http, "metrics_url_path", &h.metrics_url_path);
      ParseUrlPath(http, "logs_url_path", &h.logs_url_path);
      if (http.Get("max_request_body_size", &h.max_request_body_size) &&
          h.max_request_body_size <= 0) {
        http.Error("max_request_body_size", "must be positive");
      }
      ParseTlsServer(http.Child("tls"), &h.tls);
      ParseCors(http.Child("cors"), &h.cors);
      ParseAuth(http, &h.authenticator);
      http.Get("include_metadata", &h.include_metadata);
    }
    if (!has_grpc && !has_http) {
      node.Error("protocols", "must specify at least one protocol when using the OTLP receiver");
    }
    return config;
  }

  absl::StatusOr<std::unique_ptr<Receiver>> Create(const CreateSettings& settings,
                                                   const ComponentConfig& config,
                                                   const ReceiverConsumers& next) const override {
    if (settings.host == nullptr) return absl::InvalidArgumentError("otlp receiver needs a host");
    return std::make_unique<OtlpReceiver>(settings, ConfigAs<OtlpReceiverConfig>(config), next);
  }
};

}  // namespace

std::unique_ptr<ReceiverFactory> NewOtlpReceiverFactory() {
  return std::make_unique<OtlpReceiverFactory>();
}

}  // namespace otlpd
