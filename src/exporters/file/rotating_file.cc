#include "exporters/file/rotating_file.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace otlpd {

namespace fs = std::filesystem;

namespace {

constexpr char kTimeFormat[] = "%Y-%m-%dT%H-%M-%E3S";
constexpr size_t kChunk = 1 << 20;

std::string_view CompressedSuffix(BackupCompression c) {
  switch (c) {
    case BackupCompression::kGzip:
      return ".gz";
    case BackupCompression::kZstd:
      return ".zst";
    case BackupCompression::kNone:
      break;
  }
  return "";
}

absl::Status Errno(absl::string_view what, const std::string& path) {
  int e = errno;
  return absl::ErrnoToStatus(e, absl::StrCat(what, " ", path, ": ", strerror(e)));
}

// Reads `fd` in chunks, handing each to `sink`; stops early when `stop` says so.
template <class Sink, class Stop>
absl::Status ForEachChunk(int fd, const std::string& path, Sink sink, Stop stop) {
  std::unique_ptr<char[]> buf(new char[kChunk]);
  while (true) {
    if (stop()) return absl::CancelledError("shutting down");
    ssize_t n = ::read(fd, buf.get(), kChunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("read", path);
    }
    if (n == 0) return absl::OkStatus();
    absl::Status s = sink(std::string_view(buf.get(), static_cast<size_t>(n)));
    if (!s.ok()) return s;
  }
}

// `calls`, when given, counts the write(2) calls that succeeded.
absl::Status WriteAll(int fd, std::string_view data, const std::string& path,
                      std::atomic<uint64_t>* calls = nullptr) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path);
    }
    if (calls != nullptr) calls->fetch_add(1, std::memory_order_relaxed);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

RotatingFile::RotatingFile(std::string path, FileRotationConfig rotation, bool append)
    : path_(std::move(path)), rotation_(rotation), append_(append) {
  fs::path p(path_);
  std::error_code ec;
  dir_ = p.has_parent_path() ? p.parent_path().string() : fs::current_path(ec).string();
  ext_ = p.extension().string();
  prefix_ = p.stem().string() + "-";
}

RotatingFile::~RotatingFile() { Close(absl::Now()); }

absl::Status RotatingFile::Open() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create directory ", dir_, " for ", path_, ": ", ec.message()));
  }
  {
    absl::MutexLock lock(&mu_);
    absl::Status s = OpenLocked(/*truncate=*/!rotation_.enabled && !append_);
    if (!s.ok()) return s;
  }
  if (rotation_.enabled && !mill_.joinable()) {
    {
      absl::MutexLock lock(&mill_mu_);
      mill_stop_ = false;
      mill_requested_ = true;  // apply max_backups / max_days to what is there already
    }
    mill_ = std::thread([this] { MillLoop(); });
  }
  return absl::OkStatus();
}

absl::Status RotatingFile::OpenLocked(bool truncate) {
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0);
  int fd = ::open(path_.c_str(), flags, 0644);
  if (fd < 0) return Errno("cannot open", path_);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    absl::Status s = Errno("cannot stat", path_);
    ::close(fd);
    return s;
  }
  fd_ = fd;
  size_ = static_cast<uint64_t>(st.st_size);
  return absl::OkStatus();
}

absl::Status RotatingFile::Write(std::string_view data) {
  absl::MutexLock lock(&mu_);
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, " is not open"));
  const uint64_t max_bytes = static_cast<uint64_t>(rotation_.max_megabytes) << 20;
  if (rotation_.enabled && size_ > 0 && size_ + data.size() > max_bytes) {
    absl::Status s = RotateLocked();
    if (!s.ok()) return s;
  }
  absl::Status s = WriteAll(fd_, data, path_, &write_calls_);
  if (s.ok()) size_ += data.size();
  return s;
}

std::string RotatingFile::BackupName(absl::Time t) const {
  absl::TimeZone tz = rotation_.localtime ? absl::LocalTimeZone() : absl::UTCTimeZone();
  return (fs::path(dir_) / absl::StrCat(prefix_, absl::FormatTime(kTimeFormat, t, tz), ext_))
      .string();
}

absl::Status RotatingFile::RotateLocked() {
  ::close(fd_);
  fd_ = -1;
  // Backup names must be unique and ordered even for rotations within one millisecond.
  absl::Time t = std::max(absl::Now(), last_backup_ + absl::Milliseconds(1));
  std::string backup = BackupName(t);
  for (int i = 0; i < 1000; ++i) {
    std::error_code ec;
    const std::string suffix(CompressedSuffix(rotation_.compression));
    if (!fs::exists(backup, ec) && (suffix.empty() || !fs::exists(backup + suffix, ec))) break;
    t += absl::Milliseconds(1);
    backup = BackupName(t);
  }
  last_backup_ = t;
  bool rotated = ::rename(path_.c_str(), backup.c_str()) == 0;
  if (!rotated) {
    // Keep writing to the full file rather than losing data.
    spdlog::warn("file exporter: cannot rotate {} to {}: {}", path_, backup, strerror(errno));
  }
  absl::Status s = OpenLocked(/*truncate=*/false);
  if (!s.ok()) return s;
  if (rotated) {
    absl::MutexLock lock(&mill_mu_);
    mill_requested_ = true;
    mill_cv_.SignalAll();
  }
  return absl::OkStatus();
}

void RotatingFile::Close(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  {
    absl::MutexLock lock(&mill_mu_);
    while ((mill_requested_ || mill_busy_) && mill_.joinable()) {
      if (mill_cv_.WaitWithDeadline(&mill_mu_, deadline)) break;
    }
    mill_stop_ = true;
    mill_cv_.SignalAll();
  }
  if (mill_.joinable()) mill_.join();
}

void RotatingFile::MillLoop() {
  absl::MutexLock lock(&mill_mu_);
  while (true) {
    while (!mill_requested_ && !mill_stop_) mill_cv_.Wait(&mill_mu_);
    if (mill_stop_) break;
    mill_requested_ = false;
    mill_busy_ = true;
    mill_mu_.Unlock();
    Mill();
    mill_mu_.Lock();
    mill_busy_ = false;
    mill_cv_.SignalAll();
  }
}

bool RotatingFile::MillStopping() {
  absl::MutexLock lock(&mill_mu_);
  return mill_stop_;
}

std::vector<RotatingFile::Backup> RotatingFile::ListBackups() const {
  std::vector<Backup> out;
  absl::TimeZone tz = rotation_.localtime ? absl::LocalTimeZone() : absl::UTCTimeZone();
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string name = it->path().filename().string();
    absl::string_view rest = name;
    if (!absl::ConsumePrefix(&rest, prefix_)) continue;
    bool compressed = absl::ConsumeSuffix(&rest, ".gz") || absl::ConsumeSuffix(&rest, ".zst");
    if (!absl::ConsumeSuffix(&rest, ext_)) continue;
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(kTimeFormat, rest, tz, &t, &err)) continue;
    out.push_back(Backup{it->path().string(), t, compressed});
  }
  return out;
}

void RotatingFile::Mill() {
  std::vector<Backup> backups = ListBackups();
  // Newest first; a backup and its compressed copy count as one.
  std::sort(backups.begin(), backups.end(),
            [](const Backup& a, const Backup& b) { return a.time > b.time; });
  std::map<absl::Time, int> rank;
  for (const Backup& b : backups) rank.emplace(b.time, 0);
  int i = static_cast<int>(rank.size());
  for (auto& [t, r] : rank) r = --i;  // 0 = newest
  const absl::Time cutoff = absl::Now() - absl::Hours(24) * rotation_.max_days;
  std::vector<const Backup*> keep;
  for (const Backup& b : backups) {
    bool too_many = rotation_.max_backups > 0 && rank[b.time] >= rotation_.max_backups;
    bool too_old = rotation_.max_days > 0 && b.time < cutoff;
    if (too_many || too_old) {
      std::error_code ec;
      if (!fs::remove(b.path, ec) && ec) {
        spdlog::warn("file exporter: cannot remove old backup {}: {}", b.path, ec.message());
      }
    } else {
      keep.push_back(&b);
    }
  }
  if (rotation_.compression == BackupCompression::kNone) return;
  const std::string suffix(CompressedSuffix(rotation_.compression));
  for (const Backup* b : keep) {
    if (b->compressed) continue;
    if (MillStopping()) return;
    const std::string target = b->path + suffix;
    absl::Status s = CompressFile(b->path, target);
    std::error_code ec;
    if (s.ok()) {
      fs::remove(b->path, ec);
    } else if (!absl::IsCancelled(s)) {
      spdlog::warn("file exporter: cannot compress {}: {}", b->path, s.ToString());
    }
  }
}

absl::Status RotatingFile::CompressFile(const std::string& from, const std::string& to) {
  const std::string tmp = to + ".tmp";
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Errno("cannot open", from);
  auto stop = [this] { return MillStopping(); };
  absl::Status status;
  if (rotation_.compression == BackupCompression::kGzip) {
    gzFile out = gzopen(tmp.c_str(), "wb");
    if (out == nullptr) {
      status = Errno("cannot create", tmp);
    } else {
      status = ForEachChunk(
          in, from,
          [&](std::string_view chunk) {
            if (gzwrite(out, chunk.data(), static_cast<unsigned>(chunk.size())) !=
                static_cast<int>(chunk.size())) {
              return absl::InternalError(absl::StrCat("gzip write to ", tmp, " failed"));
            }
            return absl::OkStatus();
          },
          stop);
      if (gzclose(out) != Z_OK && status.ok()) {
        status = absl::InternalError(absl::StrCat("gzip close of ", tmp, " failed"));
      }
    }
  } else {
    int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
      status = Errno("cannot create", tmp);
    } else {
      std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
      std::string buf(ZSTD_CStreamOutSize(), '\0');
      // Feeds `chunk` (or finishes the frame when `end`) and writes what comes out.
      auto pump = [&](std::string_view chunk, ZSTD_EndDirective mode) -> absl::Status {
        ZSTD_inBuffer input{chunk.data(), chunk.size(), 0};
        while (true) {
          ZSTD_outBuffer output{buf.data(), buf.size(), 0};
          size_t left = ZSTD_compressStream2(cctx.get(), &output, &input, mode);
          if (ZSTD_isError(left)) {
            return absl::InternalError(absl::StrCat("zstd: ", ZSTD_getErrorName(left)));
          }
          absl::Status w = WriteAll(out, std::string_view(buf.data(), output.pos), tmp);
          if (!w.ok()) return w;
          bool finished = mode == ZSTD_e_end ? left == 0 : input.pos == input.size;
          if (finished) return absl::OkStatus();
        }
      };
      status = ForEachChunk(
          in, from, [&](std::string_view chunk) { return pump(chunk, ZSTD_e_continue); }, stop);
      if (status.ok()) status = pump({}, ZSTD_e_end);
      if (::close(out) != 0 && status.ok()) status = Errno("close", tmp);
    }
  }
  ::close(in);
  if (status.ok() && ::rename(tmp.c_str(), to.c_str()) != 0) status = Errno("rename", tmp);
  if (!status.ok()) ::unlink(tmp.c_str());
  return status;
}

}  // namespace otlpd
