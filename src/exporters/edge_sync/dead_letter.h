#pragma once

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "core/telemetry.h"

namespace otlpd {

// Where edge_sync puts what an upstream rejected for good (HTTP 400, INVALID_ARGUMENT, a
// partial success's rejections): one file per request, <unix ns>-<seq>.<signal>.binpb
// holding the OTLP protobuf request, and beside it a .txt with why. Written to a temporary
// name and renamed, so a crash leaves no half file. Nothing here is ever retried.
class DeadLetterDir {
 public:
  explicit DeadLetterDir(std::string directory) : directory_(std::move(directory)) {}
  absl::Status Write(const Telemetry& data, const absl::Status& why, size_t rejected,
                     const std::string& message);
  const std::string& directory() const { return directory_; }

 private:
  const std::string directory_;
  std::atomic<uint64_t> seq_{0};
};

}  // namespace otlpd
