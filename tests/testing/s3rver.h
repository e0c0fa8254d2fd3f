#pragma once

#include <string>

#include "absl/status/status.h"
#include "testing/daemon.h"

namespace otlpd::testing {

// One s3rver process (npm s3rver 3.7.1 from $OTLPD_SDK_DIR, which ctest's sdk_npm_install
// fixture fills) on a free port with a fresh data directory; killed on destruction.
// Credentials: access key "S3RVER", secret key "S3RVER".
class S3rver {
 public:
  // verify: through a wrapper that checks every request's SigV4 signature and
  // x-amz-content-sha256 as S3 does (s3rver 3.7.1 does not) and answers 503 to requests
  // for keys containing "flaky-" `fail_times` times each; else the plain s3rver CLI.
  absl::Status Start(bool verify = true, int fail_times = 0);
  std::string endpoint() const;
  DaemonProcess& process() { return process_; }
  // $OTLPD_SDK_DIR ("" when unset: a test needing s3rver must fail, not skip).
  static std::string SdkDir();

 private:
  DaemonProcess process_{"s3rver"};
  int port_ = 0;
};

}  // namespace otlpd::testing
