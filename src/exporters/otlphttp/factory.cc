#include "exporters/otlphttp/factory.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "exporters/otlphttp/config.h"
#include "exporters/otlphttp/otlphttp_exporter.h"

namespace otlpd {

namespace {

// "http(s)://host[:port][/path]" with a non-empty host and a valid port.
bool ValidUrl(absl::string_view url) {
  if (!absl::ConsumePrefix(&url, "http://") && !absl::ConsumePrefix(&url, "https://")) {
    return false;
  }
  absl::string_view authority = url.substr(0, url.find_first_of("/?#"));
  if (authority.empty() || authority.find('@') != absl::string_view::npos) return false;
  size_t colon = authority.rfind(':');
  if (colon != absl::string_view::npos && authority.find(']', colon) == absl::string_view::npos) {
    int port = 0;
    if (colon == 0 || !absl::SimpleAtoi(authority.substr(colon + 1), &port) || port <= 0 ||
        port > 65535) {
      return false;
    }
  }
  return true;
}

// Reads an URL key; true if present and valid.
bool GetUrl(ConfigNode& node, std::string_view key, std::string* out) {
  std::string url;
  if (!node.Get(key, &url) || url.empty()) return false;
  if (!ValidUrl(url)) {
    node.Error(key, absl::StrCat("invalid URL \"", url,
                                 "\": expected http://host:port or https://host:port"));
    return false;
  }
  *out = std::move(url);
  return true;
}

// For HTTP the URL's scheme decides whether TLS is used; `insecure: true` next to an
// https:// URL would be silently ignored (as otelcol does), so it is an error here.
void CheckInsecure(ConfigNode& node, const OtlpHttpExporterConfig& cfg) {
  if (!cfg.tls.insecure) return;
  for (const std::string& url : cfg.signal_urls) {
    if (absl::StartsWith(url, "https://")) {
      node.Child("tls").Error(
          "insecure",
          "insecure: true cannot turn off TLS for an https:// endpoint (the URL's scheme "
          "decides): use an http:// endpoint for plaintext, or insecure_skip_verify: true "
          "to skip the certificate check");
      return;
    }
  }
}

class OtlpHttpExporterFactory final : public ExporterFactory {
 public:
  std::string_view type() const override { return "otlphttp"; }
  SignalSet signals() const override { return SignalSet::All(); }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto cfg = std::make_unique<OtlpHttpExporterConfig>();
    bool any_endpoint = node.Has("endpoint");
    GetUrl(node, "endpoint", &cfg->endpoint);
    for (Signal s : kAllSignals) {
      const std::string key = absl::StrCat(std::string(SignalName(s)), "_endpoint");
      any_endpoint |= node.Has(key);
      std::string& url = cfg->signal_urls[static_cast<int>(s)];
      if (!GetUrl(node, key, &url) && !cfg->endpoint.empty()) {
        // As otelcol: the base URL plus the signal's path.
        url =
            absl::StrCat(absl::StripSuffix(cfg->endpoint, "/"), "/v1/", std::string(SignalName(s)));
      }
    }
    if (!any_endpoint) {
      node.Error("endpoint",
                 "at least one endpoint must be specified (endpoint, traces_endpoint, "
                 "metrics_endpoint or logs_endpoint)");
    }

    std::string encoding;
    if (node.GetEnum("encoding", &encoding, {"proto", "json"})) {
      cfg->encoding = encoding == "json" ? OtlpHttpEncoding::kJson : OtlpHttpEncoding::kProto;
    }
    std::string compression;
    if (node.Get("compression", &compression)) {
      if (std::optional<Compression> c = ParseCompression(compression)) {
        cfg->compression = *c;
      } else {
        node.Error("compression",
                   absl::StrCat("unsupported compression \"", compression,
                                "\"; expected one of: gzip, zstd, deflate, snappy, none"));
      }
    }
    node.Get("headers", &cfg->headers);
    for (const auto& [name, value] : cfg->headers) {
      if (name.empty() || name.find_first_of(": \r\n") != std::string::npos ||
          value.find_first_of("\r\n") != std::string::npos) {
        node.Error("headers", absl::StrCat("invalid header \"", name, "\""));
      }
    }
    ParseTlsClient(node.Child("tls"), &cfg->tls);
    CheckInsecure(node, *cfg);
    ComponentId authenticator;
    if (node.Child("auth").GetExtensionRef("authenticator", &authenticator)) {
      cfg->authenticator = authenticator;
    }
    cfg->helper.timeout = absl::Seconds(30);  // otlphttp's default, as otelcol
    ParseExporterHelperSettings(node, &cfg->helper);
    return cfg;
  }

  absl::StatusOr<std::unique_ptr<Exporter>> Create(const CreateSettings& settings,
                                                   const ComponentConfig& config) const override {
    const auto& cfg = ConfigAs<OtlpHttpExporterConfig>(config);
    return std::unique_ptr<Exporter>(new ExporterHelper(
        settings, cfg.helper, std::make_unique<OtlpHttpSender>(settings.id.ToString(), cfg)));
  }
};

}  // namespace

std::unique_ptr<ExporterFactory> NewOtlpHttpExporterFactory() {
  return std::make_unique<OtlpHttpExporterFactory>();
}

}  // namespace otlpd
