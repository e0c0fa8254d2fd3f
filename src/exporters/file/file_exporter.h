#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/component.h"
#include "core/exporter_metrics.h"
#include "exporters/file/config.h"
#include "exporters/file/rotating_file.h"

namespace otlpd {

// otelcol's file exporter: every request becomes one line of OTLP/JSON in one file (all
// signals share it). A request completes once its line has been written to the file (to
// the OS: a killed daemon loses nothing acknowledged), or with the write's error.
//
// flush_interval 0 writes each request's line as it comes, on the caller's thread. With
// flush_interval > 0 lines are group-committed: they collect in a buffer that a writer
// thread writes in one go flush_interval after its first line, as soon as it holds
// kFlushBytes, or at Shutdown; the requests in it complete after that write.
class FileExporter : public Exporter {
 public:
  // A buffer this full is written without waiting for flush_interval. Rotated files hold
  // at least 1 MiB, so group commit keeps them within max_megabytes like single lines do.
  static constexpr size_t kFlushBytes = size_t{1} << 20;

  FileExporter(const CreateSettings& settings, const FileExporterConfig& config);
  ~FileExporter() override;

  absl::Status Start() override;
  void Shutdown(absl::Time deadline) override;
  void Consume(TelemetryPtr data, Completion done) override;

  const RotatingFile& file() const { return file_; }

 private:
  struct Waiter {
    Signal signal;
    size_t items;
    Completion done;
  };
  // Lines written together, and the requests they complete.
  struct Batch {
    std::string data;
    std::vector<Waiter> waiters;
    absl::Time flush_at;  // flush_interval after its first line
  };

  absl::Status WriteLine(const std::string& line);
  bool FrontDue() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void WriterLoop();

  const std::string path_;
  const absl::Duration flush_interval_;
  RotatingFile file_;
  ExporterMetrics metrics_;

  absl::Mutex mu_;
  absl::CondVar cv_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Only front() can be due: the ones behind it are later (or still filling).
  std::deque<Batch> batches_ ABSL_GUARDED_BY(mu_);
  std::thread writer_;
};

}  // namespace otlpd
