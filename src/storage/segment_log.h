#pragma once

#include <atomic>
#include <compare>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace otlpd::storage {

// When an append counts as done.
enum class Durability {
  kFsync,  // after fdatasync; appends within group_commit_interval share one (default)
  kBatch,  // after write(); fdatasync every group_commit_interval (a crash of the machine,
           // not of the process, can lose that much)
  kNone,   // after write(); synced only when a segment is closed
};
// "fsync" | "batch" | "none".
std::optional<Durability> ParseDurability(std::string_view text);

// Where a record starts: its segment's number and the byte offset in that file. Ordered
// like the log.
struct LogPosition {
  uint64_t segment = 0;
  uint64_t offset = 0;
  auto operator<=>(const LogPosition&) const = default;
  std::string ToString() const;
};

struct SegmentLogOptions {
  // A segment is closed and a new one started when the next append would make it larger
  // (a record larger than this gets a segment of its own).
  uint64_t segment_bytes = uint64_t{64} << 20;
  Durability durability = Durability::kFsync;
  absl::Duration group_commit_interval = absl::Milliseconds(2);
  // Appends that would take the log's files past this many bytes are refused with
  // RESOURCE_EXHAUSTED (retryable); 0 = no limit.
  uint64_t max_bytes = 0;
};

struct LogRecord {
  LogPosition position;
  LogPosition next;  // where the record after it starts
  std::string payload;
};

// What recovery and reads found wrong; kept for the process's lifetime.
struct LogHealth {
  uint64_t quarantined_records = 0;  // corrupt ranges skipped (each copied to quarantine/)
  uint64_t quarantined_bytes = 0;
  uint64_t torn_bytes = 0;  // an incomplete last write cut off at recovery
  std::string last_error;   // describes the last corruption or I/O failure ("" if none)
};

struct LogStats {
  uint64_t bytes = 0;  // of all segment files
  uint64_t segments = 0;
  uint64_t appended_records = 0;  // since open
  LogPosition begin;              // oldest position still stored
  LogPosition end;                // where the next record goes
  LogHealth health;
};

// What a read-only check of one segment file found (SegmentLog::CheckFile).
struct SegmentFileCheck {
  uint64_t records = 0;
  uint64_t payload_bytes = 0;
  uint64_t file_bytes = 0;
  bool header_ok = false;
  // Corrupt ranges followed by valid records: (offset, length) with why.
  struct Problem {
    uint64_t offset;
    uint64_t length;
    std::string what;
  };
  std::vector<Problem> problems;
  // > 0: from here to the end nothing is a valid record. In the newest segment that is a
  // torn tail (the write a crash interrupted, never acknowledged); anywhere else, damage.
  uint64_t torn_tail_offset = 0;
};

// A crash-safe, append-only log of opaque records in segment files:
//
//   DIR/<segment number, 20 digits>.seg   16-byte file header, then records
//   DIR/cursors/<reader name>             a reader's persisted position
//   DIR/quarantine/                       copies of corrupt ranges found (for inspection)
//
// A record is [magic u32][length u32][masked CRC32C of length and payload u32][payload].
// Recovery (Open) checks every record: an incomplete or corrupt tail of the newest segment
// (a write the process died in) is cut off; a corrupt range anywhere else is copied to
// quarantine/, counted, and skipped by readers, who find the next record by its magic and
// checksum. Neither stops the log. Open never deletes a segment it cannot read.
//
// Append is thread-safe and ordered; its completion runs once the records are as durable
// as `durability` asks, on the log's sync thread, in the order the records were written
// (so a consumer of completions sees the log in order).
// Segments are deleted once every registered reader's persisted cursor is past them.
class SegmentLog {
 public:
  // `first` is the first record's position, `end` the position after the last.
  using AppendDone = absl::AnyInvocable<void(absl::Status, LogPosition first, LogPosition end) &&>;

  static absl::StatusOr<std::unique_ptr<SegmentLog>> Open(std::string dir,
                                                          SegmentLogOptions options);
  // Checks every record of a segment file without changing anything; `visit` (optional)
  // sees each valid record's offset and payload. Errors only when the file can't be read.
  static absl::StatusOr<SegmentFileCheck> CheckFile(
      const std::string& path,
      const std::function<void(uint64_t offset, std::string_view payload)>& visit = nullptr);
  // The segment files of a log directory, oldest first.
  static std::vector<std::string> SegmentFiles(const std::string& dir);
  // Syncs and completes every pending append, closes the files.
  ~SegmentLog();
  SegmentLog(const SegmentLog&) = delete;
  SegmentLog& operator=(const SegmentLog&) = delete;

  // Appends the records together (one write). Errors: RESOURCE_EXHAUSTED when max_bytes or
  // the disk is full (nothing of it is kept), UNAVAILABLE after an fsync failure (the log
  // refuses appends until reopened: the kernel may have dropped the unsynced pages).
  void Append(const std::vector<absl::Cord>& records, AppendDone done);
  // Append, waiting for the completion.
  absl::StatusOr<LogPosition> AppendAndWait(const std::vector<absl::Cord>& records);

  LogPosition begin() const;
  LogPosition end() const;
  LogStats stats() const;
  const std::string& dir() const { return dir_; }

  // Up to max_records records (and about max_bytes of payload; at least one) from `from`
  // on, skipping corrupt ranges (quarantined and counted the first time). `from` must be
  // a record's position, a `next` from an earlier read, begin() or end(). Returns fewer
  // (none at end()) when the log ends; *next is where to continue. Reads only what
  // appends have written, durable or not. NOT_FOUND if `from` is in a deleted segment.
  absl::Status Read(LogPosition from, size_t max_records, size_t max_bytes,
                    std::vector<LogRecord>* out, LogPosition* next) const;

  // Readers: each named reader has a persisted cursor (where it will read next). A new
  // reader starts at begin(). Names are [A-Za-z0-9_.-]+.
  absl::StatusOr<LogPosition> RegisterReader(std::string_view name);
  // Persists the reader's cursor (fsync'd, atomic) and deletes the segments every reader
  // has passed.
  absl::Status CommitCursor(std::string_view name, LogPosition position);
  std::optional<LogPosition> Cursor(std::string_view name) const;

 private:
  struct Segment;
  struct Waiter {
    LogPosition first;
    LogPosition end;
    AppendDone done;
  };

  SegmentLog(std::string dir, SegmentLogOptions options);
  absl::Status Recover();
  absl::Status OpenNewSegment() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SyncLoop();
  absl::Status DeletePassedSegments();
  void Quarantine(const Segment& segment, uint64_t offset, uint64_t length,
                  std::string_view why) const;
  void QuarantineLocked(const Segment& segment, uint64_t offset, uint64_t length,
                        std::string_view why) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<Segment> FindSegment(uint64_t number) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  const SegmentLogOptions options_;

  mutable absl::Mutex mu_;
  // Ordered by number; the last one is written to.
  std::map<uint64_t, std::shared_ptr<Segment>> segments_ ABSL_GUARDED_BY(mu_);
  uint64_t total_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t appended_records_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, LogPosition, std::less<>> cursors_ ABSL_GUARDED_BY(mu_);
  mutable LogHealth health_ ABSL_GUARDED_BY(mu_);
  // Corrupt ranges already quarantined, by (segment, offset): reported once.
  mutable std::map<LogPosition, uint64_t> quarantined_ ABSL_GUARDED_BY(mu_);

  // Appends waiting for the sync thread to complete them (after a sync for kFsync).
  std::deque<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  absl::CondVar sync_cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread syncer_;

  absl::Mutex cursor_io_mu_;  // one cursor file write at a time
};

}  // namespace otlpd::storage
