#include "extensions/basicauth/basicauth_extension.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace otlpd {

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("open htpasswd file ", path, ": ", std::strerror(errno)));
  }
  std::string content;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat("read htpasswd file ", path, ": ", std::strerror(err)));
    }
    content.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return content;
}

}  // namespace

std::string BasicAuthHeaderValue(absl::string_view username, absl::string_view password) {
  return absl::StrCat("Basic ", absl::Base64Escape(absl::StrCat(username, ":", password)));
}

BasicAuthServer::BasicAuthServer(BasicAuthConfig::Htpasswd config) : config_(std::move(config)) {}

absl::Status BasicAuthServer::Start() {
  auto users = std::make_shared<HtpasswdUsers>();
  if (!config_.file.empty()) {
    absl::StatusOr<std::string> content = ReadFile(config_.file);
    if (!content.ok()) return content.status();
    absl::Status s =
        ParseHtpasswd(*content, absl::StrCat("htpasswd file ", config_.file), users.get());
    if (!s.ok()) return s;
  }
  absl::Status s = ParseHtpasswd(config_.inline_text, "htpasswd inline", users.get());
  if (!s.ok()) return s;
  absl::MutexLock lock(&mu_);
  users_ = std::move(users);
  return absl::OkStatus();
}

absl::Status BasicAuthServer::Authenticate(const Metadata& headers) const {
  const std::string* auth = FindMetadata(headers, "authorization");
  if (auth == nullptr || auth->empty()) return absl::UnauthenticatedError("no basic auth provided");
  constexpr absl::string_view kPrefix = "Basic ";
  if (auth->size() < kPrefix.size() ||
      !absl::EqualsIgnoreCase(absl::string_view(*auth).substr(0, kPrefix.size()), kPrefix)) {
    return absl::UnauthenticatedError("invalid authorization scheme prefix");
  }
  std::string decoded;
  if (!absl::Base64Unescape(absl::string_view(*auth).substr(kPrefix.size()), &decoded)) {
    return absl::UnauthenticatedError("invalid authorization format");
  }
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos) return absl::UnauthenticatedError("invalid authorization format");
  std::shared_ptr<const HtpasswdUsers> users;
  {
    absl::MutexLock lock(&mu_);
    users = users_;
  }
  auto it = users->find(absl::string_view(decoded).substr(0, colon));
  if (it == users->end() || !it->second.Matches(absl::string_view(decoded).substr(colon + 1))) {
    return absl::UnauthenticatedError("invalid credentials");
  }
  return absl::OkStatus();
}

BasicAuthClient::BasicAuthClient(const BasicAuthConfig::ClientAuth& config)
    : value_(BasicAuthHeaderValue(config.username, config.password)) {}

absl::StatusOr<Metadata> BasicAuthClient::Headers(const Metadata* /*client_metadata*/) const {
  return Metadata{{"authorization", value_}};
}

}  // namespace otlpd
