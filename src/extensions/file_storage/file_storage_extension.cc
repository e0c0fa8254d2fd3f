#include "extensions/file_storage/file_storage_extension.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "core/metrics.h"
#include "spdlog/spdlog.h"
#include "storage/durable_queue.h"

namespace otlpd {

namespace {

// Ids may hold '/' (otlp/backend); directory names may not.
std::string SafeName(std::string_view text) {
  std::string out;
  for (char c : text) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '.';
    out.push_back(plain ? c : '_');
  }
  return out;
}

}  // namespace

FileStorageExtension::FileStorageExtension(const CreateSettings& settings,
                                           const FileStorageConfig& config)
    : settings_(settings), config_(config) {}

absl::Status FileStorageExtension::Start() {
  std::error_code ec;
  if (!std::filesystem::is_directory(config_.directory, ec)) {
    if (!config_.create_directory) {
      return absl::FailedPreconditionError(
          absl::StrCat(settings_.id.ToString(), ": directory ", config_.directory,
                       " does not exist (create it, or set create_directory: true)"));
    }
    std::filesystem::create_directories(config_.directory, ec);
    if (ec) {
      return absl::FailedPreconditionError(absl::StrCat(settings_.id.ToString(), ": cannot create ",
                                                        config_.directory, ": ", ec.message()));
    }
  }
  return absl::OkStatus();
}

void FileStorageExtension::Shutdown(absl::Time) {}

std::string FileStorageExtension::QueueDirectory(const ComponentId& owner) const {
  return (std::filesystem::path(config_.directory) /
          absl::StrCat("exporter_", SafeName(owner.ToString())))
      .string();
}

absl::StatusOr<std::unique_ptr<SendingQueue>> FileStorageExtension::CreateQueue(
    const ComponentId& owner, const QueueSettings& settings) {
  {
    absl::MutexLock lock(&mu_);
    if (!owners_.insert(owner.ToString()).second) {
      return absl::FailedPreconditionError(absl::StrCat(
          settings_.id.ToString(), ": exporter ", owner.ToString(), " already has a queue here"));
    }
  }
  storage::DurableQueueOptions o;
  o.directory = QueueDirectory(owner);
  o.sizer = settings.sizer;
  o.capacity = settings.queue_size;
  o.durability = config_.fsync ? storage::Durability::kFsync : storage::Durability::kBatch;
  if (settings.block_on_overflow) {
    // A timeout of 0 (none) still bounds the wait: a blocked receiver thread is not free.
    o.max_block =
        settings.block_timeout > absl::ZeroDuration() ? settings.block_timeout : absl::Seconds(30);
  }
  absl::StatusOr<std::unique_ptr<storage::DurableQueue>> q = storage::DurableQueue::Open(o);
  if (!q.ok()) {
    return absl::Status(q.status().code(),
                        absl::StrCat(settings_.id.ToString(), ": queue of ", owner.ToString(), ": ",
                                     q.status().message()));
  }
  if (settings_.host != nullptr) {
    std::shared_ptr<const storage::DurableQueueCounters> c = (*q)->counters();
    const Labels labels = {{"extension", settings_.id.ToString()}, {"exporter", owner.ToString()}};
    MetricsRegistry& metrics = settings_.host->metrics();
    metrics.AddCallbackGauge(
        "otlpd_file_storage_recovered_requests", labels,
        [c] { return static_cast<double>(c->recovered_requests.load()); },
        "Requests found in the exporter's queue at start (sent after a restart)");
    metrics.AddCallbackGauge(
        "otlpd_file_storage_damaged_records", labels,
        [c] { return static_cast<double>(c->damaged_records.load()); },
        "Records of the exporter's queue that could not be read back from disk (skipped)");
  }
  return std::unique_ptr<SendingQueue>(*std::move(q));
}

}  // namespace otlpd
