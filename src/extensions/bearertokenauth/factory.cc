#include "extensions/bearertokenauth/factory.h"

#include "absl/strings/str_cat.h"
#include "extensions/bearertokenauth/bearertokenauth_extension.h"
#include "extensions/bearertokenauth/config.h"

namespace otlpd {

namespace {

class BearerTokenAuthExtensionFactory : public ExtensionFactory {
 public:
  std::string_view type() const override { return "bearertokenauth"; }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<BearerTokenAuthConfig>();
    node.Get("scheme", &config->scheme);
    if (node.Get("header", &config->header) && config->header.empty()) {
      node.Error("header", "header must not be empty");
    }
    node.Get("token", &config->token);
    if (node.Get("tokens", &config->tokens)) {
      for (size_t i = 0; i < config->tokens.size(); ++i) {
        // An empty token would let "<scheme> " in.
        if (config->tokens[i].empty()) {
          node.Error("tokens", absl::StrCat("tokens[", i, "] must not be empty"));
        }
      }
    }
    node.Get("filename", &config->filename);
    // otelcol-contrib's validation messages.
    if (config->token.empty() && config->tokens.empty() && config->filename.empty()) {
      node.Error("", "no bearer token provided");
    }
    if (!config->token.empty() && !config->tokens.empty()) {
      node.Error("", "either tokens or token should be provided, not both");
    }
    return config;
  }

  absl::StatusOr<std::unique_ptr<Extension>> Create(const CreateSettings& settings,
                                                    const ComponentConfig& config) const override {
    return std::make_unique<BearerTokenAuthExtension>(settings,
                                                      ConfigAs<BearerTokenAuthConfig>(config));
  }
};

}  // namespace

std::unique_ptr<ExtensionFactory> NewBearerTokenAuthExtensionFactory() {
  return std::make_unique<BearerTokenAuthExtensionFactory>();
}

}  // namespace otlpd
