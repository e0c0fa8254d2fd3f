#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/auth.h"
#include "core/component.h"
#include "extensions/bearertokenauth/config.h"

namespace otlpd {

// otelcol-contrib's bearertokenauth extension, usable both ways:
//  - as a ServerAuthenticator (receivers' `auth: {authenticator: bearertokenauth}`): a
//    request passes when its `header` is exactly "<scheme> <token>" for one of the
//    configured tokens (case-sensitive, compared in constant time);
//  - as a ClientAuthenticator (exporters'): every request carries "<scheme> <token>" with
//    the first token.
// With `filename`, the tokens are the file's non-empty lines (whitespace trimmed). Start
// fails if the file cannot be read; afterwards a thread polls the file and swaps in new
// tokens when it changes (also when it is replaced, as with a Kubernetes secret). A file
// that becomes unreadable or empty keeps the last tokens and logs one warning.
class BearerTokenAuthExtension : public Extension,
                                 public ServerAuthenticator,
                                 public ClientAuthenticator {
 public:
  // How often the token file is checked for changes.
  static constexpr absl::Duration kFilePollInterval = absl::Seconds(1);

  BearerTokenAuthExtension(const CreateSettings& settings, const BearerTokenAuthConfig& config);
  ~BearerTokenAuthExtension() override;

  absl::Status Start() override;
  void Shutdown(absl::Time deadline) override;

  absl::Status Authenticate(const Metadata& headers) const override;
  absl::StatusOr<Metadata> Headers(const Metadata* client_metadata) const override;
  bool RequiresTransportSecurity() const override { return true; }

 private:
  // What identifies one version of the token file.
  struct FileStamp {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    bool operator==(const FileStamp&) const = default;
  };
  using Values = std::vector<std::string>;  // "<scheme> <token>" per accepted token

  // Reads the token file; on success stores its tokens and stamp.
  absl::Status LoadFile();
  void WatchFile();
  void SetTokens(const std::vector<std::string>& tokens);
  std::shared_ptr<const Values> values() const;

  const std::string id_;
  const std::string scheme_;
  const std::string header_;        // as configured, for messages
  const std::string header_lower_;  // metadata names are lower-case
  const std::string filename_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const Values> values_ ABSL_GUARDED_BY(mu_) = std::make_shared<const Values>();
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // Only touched by Start (before the watcher runs) and the watcher thread.
  FileStamp stamp_;
  bool warned_ = false;
  std::thread watcher_;
};

}  // namespace otlpd
