#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/auth.h"
#include "core/component.h"
#include "extensions/basicauth/config.h"
#include "extensions/basicauth/htpasswd.h"

namespace otlpd {

// otelcol-contrib's basicauth configured with `htpasswd`: a ServerAuthenticator that
// lets a request in when its "authorization: Basic base64(user:password)" names an
// htpasswd user with that password. The file is read at Start (a missing file or a
// malformed line fails Start), then the `inline` entries, which override the file's.
// Errors (contrib's messages): "no basic auth provided", "invalid authorization scheme
// prefix", "invalid authorization format", "invalid credentials".
class BasicAuthServer : public Extension, public ServerAuthenticator {
 public:
  explicit BasicAuthServer(BasicAuthConfig::Htpasswd config);

  absl::Status Start() override;
  absl::Status Authenticate(const Metadata& headers) const override;

 private:
  const BasicAuthConfig::Htpasswd config_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const HtpasswdUsers> users_ ABSL_GUARDED_BY(mu_) =
      std::make_shared<const HtpasswdUsers>();
};

// otelcol-contrib's basicauth configured with `client_auth`: a ClientAuthenticator adding
// "authorization: Basic base64(username:password)" to every request.
class BasicAuthClient : public Extension, public ClientAuthenticator {
 public:
  explicit BasicAuthClient(const BasicAuthConfig::ClientAuth& config);

  absl::StatusOr<Metadata> Headers(const Metadata* client_metadata) const override;
  bool RequiresTransportSecurity() const override { return true; }

 private:
  const std::string value_;
};

// "Basic " + base64(username ":" password).
std::string BasicAuthHeaderValue(absl::string_view username, absl::string_view password);

}  // namespace otlpd
