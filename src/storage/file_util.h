#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace otlpd::storage {

// An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset();

 private:
  int fd_ = -1;
};

// Errors name the path and errno's text. A full disk (ENOSPC, EDQUOT, EFBIG) is
// RESOURCE_EXHAUSTED, other I/O failures UNAVAILABLE, a missing file NOT_FOUND.
absl::Status ErrnoStatus(std::string_view what, std::string_view path, int err);

absl::StatusOr<UniqueFd> OpenFile(const std::string& path, int flags, int mode = 0644);
absl::StatusOr<uint64_t> FileSize(int fd);
// Reads exactly n bytes at offset; OUT_OF_RANGE at end of file.
absl::Status PreadFull(int fd, void* buf, size_t n, uint64_t offset);
absl::Status PwriteFull(int fd, const void* buf, size_t n, uint64_t offset);
absl::Status MakeDirs(const std::string& path);
// fsync of a directory, so that entries created, renamed or deleted in it survive a crash.
absl::Status SyncDir(const std::string& path);
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);
// Writes path.tmp, (fsyncs it when sync), renames it over path (and fsyncs the directory
// when sync): a reader sees the old or the new content, never a mix.
absl::Status WriteFileAtomically(const std::string& path, std::string_view data, bool sync);

}  // namespace otlpd::storage
