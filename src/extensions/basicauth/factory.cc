#include "extensions/basicauth/factory.h"

#include "absl/strings/match.h"
#include "extensions/basicauth/basicauth_extension.h"
#include "extensions/basicauth/config.h"
#include "extensions/basicauth/htpasswd.h"

namespace otlpd {

namespace {

class BasicAuthExtensionFactory : public ExtensionFactory {
 public:
  std::string_view type() const override { return "basicauth"; }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<BasicAuthConfig>();
    bool has_htpasswd = false;
    ConfigNode htpasswd = node.Child("htpasswd", &has_htpasswd);
    if (has_htpasswd) {
      auto& h = config->htpasswd.emplace();
      htpasswd.Get("file", &h.file);
      if (htpasswd.Get("inline", &h.inline_text)) {
        // Inline entries can be checked now; the file is only read at Start.
        HtpasswdUsers users;
        absl::Status s = ParseHtpasswd(h.inline_text, "htpasswd inline", &users);
        if (!s.ok()) htpasswd.Error("inline", std::string(s.message()));
      }
    }
    bool has_client = false;
    ConfigNode client = node.Child("client_auth", &has_client);
    if (has_client) {
      auto& c = config->client_auth.emplace();
      if (client.Get("username", &c.username) && absl::StrContains(c.username, ':')) {
        client.Error("username", "username must not contain ':'");
      }
      client.Get("password", &c.password);
    }
    // otelcol-contrib's validation messages.
    if (has_htpasswd && has_client) {
      node.Error("", "only one of `htpasswd` or `client_auth` can be specified");
    } else if (!has_htpasswd && !has_client) {
      node.Error("", "no credential source provided");
    } else if (has_htpasswd && config->htpasswd->file.empty() &&
               config->htpasswd->inline_text.empty()) {
      node.Error("htpasswd", "no credential source provided");
    }
    return config;
  }

  absl::StatusOr<std::unique_ptr<Extension>> Create(const CreateSettings& /*settings*/,
                                                    const ComponentConfig& config) const override {
    const auto& c = ConfigAs<BasicAuthConfig>(config);
    if (c.htpasswd.has_value()) return std::make_unique<BasicAuthServer>(*c.htpasswd);
    if (c.client_auth.has_value()) return std::make_unique<BasicAuthClient>(*c.client_auth);
    return absl::InvalidArgumentError("basicauth needs htpasswd or client_auth");
  }
};

}  // namespace

std::unique_ptr<ExtensionFactory> NewBasicAuthExtensionFactory() {
  return std::make_unique<BasicAuthExtensionFactory>();
}

}  // namespace otlpd
