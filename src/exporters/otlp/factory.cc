#include "exporters/otlp/factory.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "exporters/otlp/config.h"
#include "exporters/otlp/otlp_exporter.h"

namespace otlpd {

namespace {

// True for "host:port" / "[v6]:port" with a port in 1..65535.
bool ValidHostPort(absl::string_view endpoint) {
  size_t colon = endpoint.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  absl::string_view host = endpoint.substr(0, colon);
  if (host.front() == '[' && host.back() != ']') return false;
  if (host.find_first_of("/ ") != absl::string_view::npos) return false;
  int port = 0;
  return absl::SimpleAtoi(endpoint.substr(colon + 1), &port) && port > 0 && port <= 65535;
}

void ParseEndpoint(ConfigNode& node, OtlpExporterConfig* cfg) {
  std::string endpoint;
  if (!node.Get("endpoint", &endpoint) || endpoint.empty()) {
    node.Error("endpoint", "requires a non-empty \"endpoint\"");
    return;
  }
  absl::string_view target = endpoint;
  if (absl::ConsumePrefix(&target, "https://")) {
    cfg->https_scheme = true;
  } else {
    absl::ConsumePrefix(&target, "http://");
  }
  // gRPC's own target syntax (dns:///host:port, unix:///path) goes through as is.
  if (target == endpoint &&
      (absl::StartsWith(target, "dns:") || absl::StartsWith(target, "unix:") ||
       absl::StartsWith(target, "ipv4:") || absl::StartsWith(target, "ipv6:"))) {
    cfg->endpoint = endpoint;
    return;
  }
  absl::ConsumeSuffix(&target, "/");
  if (!ValidHostPort(target)) {
    node.Error("endpoint", absl::StrCat("invalid endpoint \"", endpoint, "\": expected host:port"));
    return;
  }
  cfg->endpoint = std::string(target);
}

void ParseCompressionKey(ConfigNode& node, OtlpExporterConfig* cfg) {
  std::string name;
  if (!node.Get("compression", &name)) return;
  std::optional<Compression> c = ParseCompression(name);
  if (!c) {
    node.Error("compression",
               absl::StrCat("unsupported compression \"", name, "\"; expected one of: gzip, none"));
    return;
  }
  if (*c == Compression::kZstd || *c == Compression::kSnappy || *c == Compression::kLz4) {
    // gRPC C++ only has gzip and deflate message compression.
    node.Error("compression",
               absl::StrCat(name,
                            " compression is not supported by the gRPC exporter; use gzip "
                            "or none"));
    return;
  }
  cfg->compression = *c;
}

class OtlpExporterFactory final : public ExporterFactory {
 public:
  std::string_view type() const override { return "otlp"; }
  SignalSet signals() const override { return SignalSet::All(); }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto cfg = std::make_unique<OtlpExporterConfig>();
    ParseEndpoint(node, cfg.get());
    ParseTlsClient(node.Child("tls"), &cfg->tls);
    ParseCompressionKey(node, cfg.get());
    std::vector<std::pair<std::string, std::string>> headers;
    if (node.Get("headers", &headers)) {
      for (auto& [key, value] : headers) {
        // gRPC metadata keys are lower case; binary values would need a "-bin" key.
        std::string lower = absl::AsciiStrToLower(key);
        if (lower.empty() || absl::StartsWith(lower, "grpc-") || absl::EndsWith(lower, "-bin")) {
          node.Error("headers", absl::StrCat("header \"", key, "\" cannot be sent as metadata"));
          continue;
        }
        cfg->headers.emplace_back(std::move(lower), std::move(value));
      }
    }
    node.GetEnum("balancer_name", &cfg->balancer_name, {"pick_first", "round_robin"});
    ConfigNode keepalive = node.Child("keepalive");
    keepalive.GetDuration("time", &cfg->keepalive.time);
    keepalive.GetDuration("timeout", &cfg->keepalive.timeout);
    keepalive.Get("permit_without_stream", &cfg->keepalive.permit_without_stream);
    node.Get("wait_for_ready", &cfg->wait_for_ready);
    ComponentId authenticator;
    if (node.Child("auth").GetExtensionRef("authenticator", &authenticator)) {
      cfg->authenticator = authenticator;
    }
    ParseExporterHelperSettings(node, &cfg->helper);
    return cfg;
  }

  absl::StatusOr<std::unique_ptr<Exporter>> Create(const CreateSettings& settings,
                                                   const ComponentConfig& config) const override {
    const auto& cfg = ConfigAs<OtlpExporterConfig>(config);
    return std::unique_ptr<Exporter>(new ExporterHelper(
        settings, cfg.helper, std::make_unique<OtlpGrpcSender>(settings.id.ToString(), cfg)));
  }
};

}  // namespace

std::unique_ptr<ExporterFactory> NewOtlpExporterFactory() {
  return std::make_unique<OtlpExporterFactory>();
}

}  // namespace otlpd
