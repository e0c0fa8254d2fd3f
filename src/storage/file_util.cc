#include "storage/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace otlpd::storage {

void UniqueFd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

absl::Status ErrnoStatus(std::string_view what, std::string_view path, int err) {
  std::string msg =
      absl::StrCat(std::string(what), " ", std::string(path), ": ", std::strerror(err));
  if (err == ENOSPC || err == EDQUOT || err == EFBIG) {
    return absl::ResourceExhaustedError(absl::StrCat("storage full: ", msg));
  }
  if (err == ENOENT) return absl::NotFoundError(msg);
  return absl::UnavailableError(msg);
}

absl::StatusOr<UniqueFd> OpenFile(const std::string& path, int flags, int mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  return UniqueFd(fd);
}

absl::StatusOr<uint64_t> FileSize(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus("fstat", "", errno);
  return static_cast<uint64_t>(st.st_size);
}

absl::Status PreadFull(int fd, void* buf, size_t n, uint64_t offset) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("pread", "", errno);
    }
    if (r == 0) return absl::OutOfRangeError("read past end of file");
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return absl::OkStatus();
}

absl::Status PwriteFull(int fd, const void* buf, size_t n, uint64_t offset) {
  const auto* p = static_cast<const char*>(buf);
  while (n > 0) {
    ssize_t r = ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", "", errno);
    }
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return absl::OkStatus();
}

absl::Status MakeDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec)
    return absl::UnavailableError(absl::StrCat("create directory ", path, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status SyncDir(const std::string& path) {
  absl::StatusOr<UniqueFd> fd = OpenFile(path, O_RDONLY | O_DIRECTORY);
  if (!fd.ok()) return fd.status();
  if (::fsync(fd->get()) != 0) return ErrnoStatus("fsync", path, errno);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  absl::StatusOr<UniqueFd> fd = OpenFile(path, O_RDONLY);
  if (!fd.ok()) return fd.status();
  absl::StatusOr<uint64_t> size = FileSize(fd->get());
  if (!size.ok()) return size.status();
  std::string data(static_cast<size_t>(*size), '\0');
  if (absl::Status s = PreadFull(fd->get(), data.data(), data.size(), 0); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  }
  return data;
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view data, bool sync) {
  const std::string tmp = path + ".tmp";
  {
    absl::StatusOr<UniqueFd> fd = OpenFile(tmp, O_WRONLY | O_CREAT | O_TRUNC);
    if (!fd.ok()) return fd.status();
    if (absl::Status s = PwriteFull(fd->get(), data.data(), data.size(), 0); !s.ok()) {
      ::unlink(tmp.c_str());
      return absl::Status(s.code(), absl::StrCat(tmp, ": ", s.message()));
    }
    if (sync && ::fdatasync(fd->get()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return ErrnoStatus("fdatasync", tmp, err);
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus("rename", tmp, err);
  }
  if (sync) return SyncDir(std::filesystem::path(path).parent_path().string());
  return absl::OkStatus();
}

}  // namespace otlpd::storage
