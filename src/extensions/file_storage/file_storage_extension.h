#pragma once

#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/component.h"
#include "core/sending_queue.h"
#include "extensions/file_storage/config.h"

namespace otlpd {

// otelcol's file_storage extension as a SendingQueueProvider: each exporter that names it
// in `sending_queue.storage` gets a durable queue (storage/durable_queue.h, a crash-safe
// segment log) in DIRECTORY/exporter_<type>_<name>/. Queued data outlives shutdowns and
// crashes and is sent after the restart; nothing expires by time on its own.
class FileStorageExtension final : public Extension, public SendingQueueProvider {
 public:
  FileStorageExtension(const CreateSettings& settings, const FileStorageConfig& config);

  absl::Status Start() override;
  void Shutdown(absl::Time deadline) override;

  absl::StatusOr<std::unique_ptr<SendingQueue>> CreateQueue(const ComponentId& owner,
                                                            const QueueSettings& settings) override;

  // The queue directory of exporter `owner`.
  std::string QueueDirectory(const ComponentId& owner) const;

 private:
  const CreateSettings settings_;
  const FileStorageConfig config_;
  absl::Mutex mu_;
  std::set<std::string> owners_ ABSL_GUARDED_BY(mu_);  // one queue per exporter
};

}  // namespace otlpd
