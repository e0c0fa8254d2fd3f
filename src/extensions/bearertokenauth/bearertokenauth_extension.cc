#include "extensions/bearertokenauth/bearertokenauth_extension.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace otlpd {

namespace {

// Token files are a few lines; anything bigger is a wrong path, not a token.
constexpr off_t kMaxTokenFileBytes = 1 << 20;

int64_t Nanos(const struct timespec& t) { return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec; }

std::string Errno(int err) { return std::strerror(err); }

}  // namespace

BearerTokenAuthExtension::BearerTokenAuthExtension(const CreateSettings& settings,
                                                   const BearerTokenAuthConfig& config)
    : id_(settings.id.ToString()),
      scheme_(config.scheme),
      header_(config.header),
      header_lower_(absl::AsciiStrToLower(config.header)),
      filename_(config.filename) {
  if (!filename_.empty()) {
    // As otelcol-contrib: the file wins over inline tokens.
    if (!config.token.empty() || !config.tokens.empty()) {
      spdlog::warn("{}: a filename is specified; the configured token(s) are ignored", id_);
    }
    return;
  }
  SetTokens(config.tokens.empty() ? std::vector<std::string>{config.token} : config.tokens);
}

BearerTokenAuthExtension::~BearerTokenAuthExtension() { Shutdown(absl::Now()); }

absl::Status BearerTokenAuthExtension::Start() {
  if (filename_.empty() || watcher_.joinable()) return absl::OkStatus();
  if (absl::Status s = LoadFile(); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
  }
  watcher_ = std::thread([this] { WatchFile(); });
  return absl::OkStatus();
}

void BearerTokenAuthExtension::Shutdown(absl::Time /*deadline*/) {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (watcher_.joinable()) watcher_.join();
}

absl::Status BearerTokenAuthExtension::Authenticate(const Metadata& headers) const {
  const std::string* got = FindMetadata(headers, header_lower_);
  if (got == nullptr || got->empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("missing or empty authorization header: ", header_));
  }
  std::shared_ptr<const Values> expected = values();
  bool match = false;
  // Every candidate is compared, so the time taken does not tell which one was close.
  for (const std::string& value : *expected) {
    match |=
        value.size() == got->size() && CRYPTO_memcmp(value.data(), got->data(), value.size()) == 0;
  }
  if (!match) return absl::UnauthenticatedError("scheme or token does not match");
  return absl::OkStatus();
}

absl::StatusOr<Metadata> BearerTokenAuthExtension::Headers(
    const Metadata* /*client_metadata*/) const {
  std::shared_ptr<const Values> current = values();
  if (current->empty()) {
    return absl::FailedPreconditionError(absl::StrCat(id_, ": no token loaded (not started)"));
  }
  return Metadata{{header_lower_, current->front()}};
}

void BearerTokenAuthExtension::SetTokens(const std::vector<std::string>& tokens) {
  auto values = std::make_shared<Values>();
  values->reserve(tokens.size());
  for (const std::string& token : tokens) {
    values->push_back(scheme_.empty() ? token : absl::StrCat(scheme_, " ", token));
  }
  absl::MutexLock lock(&mu_);
  values_ = std::move(values);
}

std::shared_ptr<const BearerTokenAuthExtension::Values> BearerTokenAuthExtension::values() const {
  absl::MutexLock lock(&mu_);
  return values_;
}

absl::Status BearerTokenAuthExtension::LoadFile() {
  const int fd = open(filename_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open token file ", filename_, ": ", Errno(errno)));
  }
  // The stamp comes from the descriptor that is read, so a file replaced meanwhile shows up
  // as a change at the next poll.
  struct stat st;
  std::string content;
  absl::Status status;
  if (fstat(fd, &st) != 0) {
    status = absl::FailedPreconditionError(
        absl::StrCat("cannot stat token file ", filename_, ": ", Errno(errno)));
  } else if (st.st_size > kMaxTokenFileBytes) {
    status = absl::FailedPreconditionError(
        absl::StrCat("token file ", filename_, " is larger than 1 MiB"));
  } else {
    char buf[4096];
    while (true) {
      const ssize_t n = read(fd, buf, sizeof(buf));
      if (n > 0) {
        content.append(buf, static_cast<size_t>(n));
        if (content.size() > static_cast<size_t>(kMaxTokenFileBytes)) break;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = absl::FailedPreconditionError(
            absl::StrCat("cannot read token file ", filename_, ": ", Errno(errno)));
      }
      break;
    }
  }
  close(fd);
  if (!status.ok()) return status;

  std::vector<std::string> tokens;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) tokens.emplace_back(line);
  }
  if (tokens.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("token file ", filename_, " has no token"));
  }
  SetTokens(tokens);
  stamp_ = FileStamp{st.st_dev, st.st_ino, st.st_size, Nanos(st.st_mtim), Nanos(st.st_ctim)};
  return absl::OkStatus();
}

void BearerTokenAuthExtension::WatchFile() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), kFilePollInterval);
      if (stopping_) return;
    }
    // stat follows symlinks, so a swapped Kubernetes secret link is a new inode here.
    struct stat st;
    absl::Status status;
    if (stat(filename_.c_str(), &st) != 0) {
      status = absl::FailedPreconditionError(
          absl::StrCat("cannot stat token file ", filename_, ": ", Errno(errno)));
    } else if (FileStamp{st.st_dev, st.st_ino, st.st_size, Nanos(st.st_mtim), Nanos(st.st_ctim)} ==
               stamp_) {
      continue;
    } else {
      status = LoadFile();
    }
    if (status.ok()) {
      spdlog::info("{}: reloaded the token(s) from {}", id_, filename_);
      warned_ = false;
    } else if (!warned_) {
      spdlog::warn("{}: {}; keeping the previous token(s)", id_, std::string(status.message()));
      warned_ = true;
    }
  }
}

}  // namespace otlpd
