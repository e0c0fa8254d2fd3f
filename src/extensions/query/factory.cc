#include "extensions/query/factory.h"

#include <string>

#include "absl/strings/numbers.h"
#include "extensions/query/config.h"
#include "extensions/query/query_extension.h"

namespace otlpd {

namespace {

// host:port with a numeric port (the host may be empty, a name, IPv4 or [IPv6]).
bool ValidEndpoint(const std::string& endpoint) {
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string port = endpoint.substr(colon + 1);
  int n = 0;
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos ||
      !absl::SimpleAtoi(port, &n) || n > 65535) {
    return false;
  }
  const std::string host = endpoint.substr(0, colon);
  if (!host.empty() && host.front() == '[') return host.size() > 2 && host.back() == ']';
  return host.find_first_of(": \t[]/") == std::string::npos;
}

class QueryExtensionFactory : public ExtensionFactory {
 public:
  std::string_view type() const override { return "query"; }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<QueryConfig>();
    if (node.Get("endpoint", &config->endpoint) && !ValidEndpoint(config->endpoint)) {
      node.Error("endpoint", "must be host:port, e.g. \"127.0.0.1:16686\" or \":16686\"");
    }
    if (node.Get("base_path", &config->base_path) &&
        (config->base_path.empty() || config->base_path.front() != '/')) {
      node.Error("base_path", "base_path must start with \"/\"");
    }
    ParseTlsServer(node.Child("tls"), &config->tls);
    std::string storage;
    if (node.Get("storage", &storage) && !ComponentId::Parse(storage, &config->storage)) {
      node.Error("storage",
                 "must be an exporter id, e.g. \"tiered_storage\" or \"tiered_storage/x\"");
    }
    if (node.Get("max_limit", &config->max_limit) && config->max_limit <= 0) {
      node.Error("max_limit", "must be positive");
    }
    if (node.GetDuration("default_lookback", &config->default_lookback) &&
        config->default_lookback <= absl::ZeroDuration()) {
      node.Error("default_lookback", "must be positive");
    }
    if (node.Get("threads", &config->threads) && (config->threads < 1 || config->threads > 64)) {
      node.Error("threads", "must be within 1..64");
    }
    return config;
  }

  absl::StatusOr<std::unique_ptr<Extension>> Create(const CreateSettings& settings,
                                                    const ComponentConfig& config) const override {
    if (settings.host == nullptr) {
      return absl::InvalidArgumentError("query needs a host to find its storage");
    }
    // The storage exporter is not checked here: exporters are created after extensions.
    return std::make_unique<QueryExtension>(settings, ConfigAs<QueryConfig>(config));
  }
};

}  // namespace

std::unique_ptr<ExtensionFactory> NewQueryExtensionFactory() {
  return std::make_unique<QueryExtensionFactory>();
}

}  // namespace otlpd
