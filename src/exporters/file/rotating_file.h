#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "exporters/file/config.h"

namespace otlpd {

// An append-only file that rotates like lumberjack (what otelcol's file exporter uses):
// when a write would take it past max_megabytes, the file is renamed to
// "<name>-<timestamp>.<ext>" (e.g. traces-2026-11-24T10-00-00.000.json) and a new one is
// opened. A background thread then compresses backups (otlpd extension) and removes those
// beyond max_backups or older than max_days.
class RotatingFile {
 public:
  RotatingFile(std::string path, FileRotationConfig rotation, bool append);
  ~RotatingFile();
  RotatingFile(const RotatingFile&) = delete;
  RotatingFile& operator=(const RotatingFile&) = delete;

  // Creates the parent directories and opens the file.
  absl::Status Open();
  // Appends `data` with one write(2) (the file is O_APPEND, so concurrent writers never
  // interleave), rotating first when needed.
  absl::Status Write(std::string_view data);
  // Closes the file and waits (until `deadline`) for backup compression and cleanup.
  void Close(absl::Time deadline);

  // How many write(2) calls succeeded so far (lets tests see that lines share writes).
  uint64_t write_calls() const { return write_calls_.load(std::memory_order_relaxed); }

  // The backup name for a rotation at `t`.
  std::string BackupName(absl::Time t) const;

 private:
  struct Backup {
    std::string path;
    absl::Time time;
    bool compressed;
  };
  absl::Status OpenLocked(bool truncate) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RotateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<Backup> ListBackups() const;
  // Compresses and prunes backups; runs on the mill thread.
  void Mill();
  void MillLoop();
  absl::Status CompressFile(const std::string& from, const std::string& to);
  bool MillStopping();

  const std::string path_;
  const FileRotationConfig rotation_;
  const bool append_;
  std::string dir_;
  std::string prefix_;  // file name without extension, plus "-"
  std::string ext_;     // ".json"

  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_backup_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::atomic<uint64_t> write_calls_{0};

  absl::Mutex mill_mu_;
  absl::CondVar mill_cv_;
  bool mill_requested_ ABSL_GUARDED_BY(mill_mu_) = false;
  bool mill_busy_ ABSL_GUARDED_BY(mill_mu_) = false;
  bool mill_stop_ ABSL_GUARDED_BY(mill_mu_) = false;
  std::thread mill_;
};

}  // namespace otlpd
