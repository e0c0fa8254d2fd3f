#include "storage/segment_log.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "storage/crc32c.h"
#include "storage/file_util.h"

namespace otlpd::storage {

namespace fs = std::filesystem;

namespace {

constexpr char kSegmentMagic[8] = {'O', 'T', 'L', 'P', 'D', 'S', 'G', '1'};
constexpr uint64_t kSegmentHeader = 16;         // magic + segment number
constexpr uint32_t kRecordMagic = 0x52444c4fu;  // "OLDR" little-endian
constexpr uint64_t kRecordHeader = 12;          // magic, length, masked crc
constexpr uint32_t kMaxRecord = uint32_t{1} << 30;
constexpr char kSegmentSuffix[] = ".seg";
// Resync reads this much at a time when it looks for the next record's magic.
constexpr size_t kScanChunk = size_t{1} << 20;
// At most this much of a corrupt range is copied into quarantine/.
constexpr uint64_t kQuarantineCopyMax = uint64_t{4} << 20;

uint32_t LoadU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
void PutU32(std::string* out, uint32_t v) { out->append(reinterpret_cast<const char*>(&v), 4); }
void PutU64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), 8); }

uint32_t RecordCrc(uint32_t length, std::string_view payload) {
  uint32_t crc = Crc32c(&length, 4);
  return MaskCrc(Crc32cExtend(crc, payload.data(), payload.size()));
}

std::string SegmentName(uint64_t number) {
  return absl::StrFormat("%020d%s", number, kSegmentSuffix);
}

bool ValidReaderName(std::string_view name) {
  if (name.empty() || name.size() > 200 || name == "." || name == "..") return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<Durability> ParseDurability(std::string_view text) {
  if (text == "fsync") return Durability::kFsync;
  if (text == "batch") return Durability::kBatch;
  if (text == "none") return Durability::kNone;
  return std::nullopt;
}

std::string LogPosition::ToString() const { return absl::StrCat(segment, ":", offset); }

struct SegmentLog::Segment {
  uint64_t number = 0;
  std::string path;
  UniqueFd fd;
  uint64_t size = 0;  // bytes written (guarded by the log's mu_)
};

// What a record at some offset turned out to be.
struct ParsedRecord {
  enum Kind { kValid, kCorrupt, kIncomplete } kind = kCorrupt;
  uint64_t length = 0;  // payload length when kValid
};

namespace {

// Checks the record at `offset` of a file of `size` bytes; fills payload when valid.
ParsedRecord CheckRecord(int fd, uint64_t offset, uint64_t size, std::string* payload) {
  ParsedRecord r;
  if (size - offset < kRecordHeader) {
    r.kind = ParsedRecord::kIncomplete;
    return r;
  }
  char header[kRecordHeader];
  if (!PreadFull(fd, header, kRecordHeader, offset).ok()) return r;
  uint32_t magic = LoadU32(header);
  uint32_t length = LoadU32(header + 4);
  uint32_t crc = LoadU32(header + 8);
  if (magic != kRecordMagic || length > kMaxRecord) return r;
  if (size - offset - kRecordHeader < length) {
    r.kind = ParsedRecord::kIncomplete;
    return r;
  }
  payload->resize(length);
  if (!PreadFull(fd, payload->data(), length, offset + kRecordHeader).ok()) return r;
  if (RecordCrc(length, *payload) != crc) return r;
  r.kind = ParsedRecord::kValid;
  r.length = length;
  return r;
}

// The offset of the first valid record after `offset` (exclusive), or size when none.
uint64_t Resync(int fd, uint64_t offset, uint64_t size) {
  std::string chunk;
  std::string payload;
  uint64_t pos = offset + 1;
  while (pos + kRecordHeader <= size) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kScanChunk, size - pos));
    chunk.resize(n);
    if (!PreadFull(fd, chunk.data(), n, pos).ok()) return size;
    for (size_t i = 0; i + 4 <= n; ++i) {
      if (LoadU32(chunk.data() + i) != kRecordMagic) continue;
      if (CheckRecord(fd, pos + i, size, &payload).kind == ParsedRecord::kValid) return pos + i;
    }
    if (n < 4) break;
    pos += n - 3;  // a magic may straddle chunks
  }
  return size;
}

}  // namespace

std::vector<std::string> SegmentLog::SegmentFiles(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    uint64_t n = 0;
    if (absl::EndsWith(name, kSegmentSuffix) && name.size() == 24 &&
        absl::SimpleAtoi(name.substr(0, 20), &n) && n > 0) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<SegmentFileCheck> SegmentLog::CheckFile(
    const std::string& path,
    const std::function<void(uint64_t offset, std::string_view payload)>& visit) {
  absl::StatusOr<UniqueFd> fd = OpenFile(path, O_RDONLY);
  if (!fd.ok()) return fd.status();
  absl::StatusOr<uint64_t> size = FileSize(fd->get());
  if (!size.ok()) return size.status();
  SegmentFileCheck check;
  check.file_bytes = *size;
  char header[kSegmentHeader];
  check.header_ok = *size >= kSegmentHeader &&
                    PreadFull(fd->get(), header, kSegmentHeader, 0).ok() &&
                    std::memcmp(header, kSegmentMagic, 8) == 0;
  if (!check.header_ok) {
    check.problems.push_back({0, *size, "bad segment header"});
    return check;
  }
  std::string payload;
  uint64_t offset = kSegmentHeader;
  while (offset < *size) {
    ParsedRecord r = CheckRecord(fd->get(), offset, *size, &payload);
    if (r.kind == ParsedRecord::kValid) {
      check.records++;
      check.payload_bytes += r.length;
      if (visit) visit(offset, payload);
      offset += kRecordHeader + r.length;
      continue;
    }
    uint64_t next = Resync(fd->get(), offset, *size);
    if (next == *size) {
      check.torn_tail_offset = offset;
      break;
    }
    check.problems.push_back({offset, next - offset,
                              r.kind == ParsedRecord::kIncomplete
                                  ? "record cut short"
                                  : "record checksum, magic or length wrong"});
    offset = next;
  }
  return check;
}

SegmentLog::SegmentLog(std::string dir, SegmentLogOptions options)
    : dir_(std::move(dir)), options_(options) {}

absl::StatusOr<std::unique_ptr<SegmentLog>> SegmentLog::Open(std::string dir,
                                                             SegmentLogOptions options) {
  if (options.segment_bytes < 4096) options.segment_bytes = 4096;
  std::unique_ptr<SegmentLog> log(new SegmentLog(std::move(dir), options));
  if (absl::Status s = log->Recover(); !s.ok()) return s;
  log->syncer_ = std::thread([l = log.get()] { l->SyncLoop(); });
  return log;
}

SegmentLog::~SegmentLog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    sync_cv_.SignalAll();
  }
  if (syncer_.joinable()) syncer_.join();
  absl::MutexLock lock(&mu_);
  if (!segments_.empty()) {
    const Segment& active = *segments_.rbegin()->second;
    if (::fdatasync(active.fd.get()) != 0) {
      spdlog::warn("segment log {}: fdatasync at close: {}", active.path, std::strerror(errno));
    }
  }
}

absl::Status SegmentLog::Recover() {
  for (const char* sub : {"", "/cursors", "/quarantine"}) {
    if (absl::Status s = MakeDirs(dir_ + sub); !s.ok()) return s;
  }
  std::vector<uint64_t> numbers;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir_, ec)) {
    std::string name = e.path().filename().string();
    if (!absl::EndsWith(name, kSegmentSuffix)) continue;
    uint64_t n = 0;
    if (name.size() != 20 + 4 || !absl::SimpleAtoi(name.substr(0, 20), &n) || n == 0) continue;
    numbers.push_back(n);
  }
  if (ec) return absl::UnavailableError(absl::StrCat("list ", dir_, ": ", ec.message()));
  std::sort(numbers.begin(), numbers.end());

  absl::MutexLock lock(&mu_);
  std::string payload;
  for (size_t i = 0; i < numbers.size(); ++i) {
    const bool last = i + 1 == numbers.size();
    auto seg = std::make_shared<Segment>();
    seg->number = numbers[i];
    seg->path = absl::StrCat(dir_, "/", SegmentName(seg->number));
    absl::StatusOr<UniqueFd> fd = OpenFile(seg->path, O_RDWR);
    if (!fd.ok()) return fd.status();
    seg->fd = std::move(*fd);
    absl::StatusOr<uint64_t> size = FileSize(seg->fd.get());
    if (!size.ok()) return size.status();
    char header[kSegmentHeader];
    bool header_ok = *size >= kSegmentHeader &&
                     PreadFull(seg->fd.get(), header, kSegmentHeader, 0).ok() &&
                     std::memcmp(header, kSegmentMagic, 8) == 0;
    if (!header_ok) {
      if (*size < kSegmentHeader && last) {
        // Died while creating it: nothing was ever acknowledged from it.
        health_.torn_bytes += *size;
        seg->fd.reset();
        fs::remove(seg->path, ec);
        continue;
      }
      // Not ours or damaged beyond reading: keep it aside, never delete it.
      std::string to = absl::StrCat(dir_, "/quarantine/", SegmentName(seg->number));
      fs::rename(seg->path, to, ec);
      health_.quarantined_records++;
      health_.quarantined_bytes += *size;
      health_.last_error = absl::StrCat(seg->path, ": bad segment header; moved to ", to);
      spdlog::error("segment log: {}", health_.last_error);
      continue;
    }
    uint64_t offset = kSegmentHeader;
    while (offset < *size) {
      ParsedRecord r = CheckRecord(seg->fd.get(), offset, *size, &payload);
      if (r.kind == ParsedRecord::kValid) {
        offset += kRecordHeader + r.length;
        continue;
      }
      uint64_t next = Resync(seg->fd.get(), offset, *size);
      if (next == *size && last) {
        // A torn tail: the write the process died in. Never acknowledged; cut it off.
        health_.torn_bytes += *size - offset;
        if (::ftruncate(seg->fd.get(), static_cast<off_t>(offset)) != 0 ||
            ::fdatasync(seg->fd.get()) != 0) {
          return absl::UnavailableError(
              absl::StrCat("truncate torn tail of ", seg->path, ": ", std::strerror(errno)));
        }
        spdlog::warn("segment log {}: cut off a torn tail of {} bytes at offset {}", seg->path,
                     *size - offset, offset);
        *size = offset;
        break;
      }
      seg->size = *size;
      QuarantineLocked(*seg, offset, next - offset, "corrupt record");
      offset = next;
    }
    seg->size = *size;
    total_bytes_ += seg->size;
    segments_.emplace(seg->number, std::move(seg));
  }
  if (segments_.empty() || segments_.rbegin()->second->size >= options_.segment_bytes) {
    if (absl::Status s = OpenNewSegment(); !s.ok()) return s;
  }

  // Cursors: a damaged one is dropped (its reader starts over: duplicates, never a loss).
  for (const fs::directory_entry& e : fs::directory_iterator(dir_ + "/cursors", ec)) {
    std::string name = e.path().filename().string();
    if (absl::EndsWith(name, ".tmp")) {
      fs::remove(e.path(), ec);
      continue;
    }
    absl::StatusOr<std::string> data = ReadWholeFile(e.path().string());
    LogPosition pos;
    if (data.ok() && data->size() == 20 &&
        LoadU32(data->data() + 16) == MaskCrc(Crc32c(data->data(), 16))) {
      std::memcpy(&pos.segment, data->data(), 8);
      std::memcpy(&pos.offset, data->data() + 8, 8);
      cursors_[name] = pos;
    } else {
      health_.last_error = absl::StrCat("cursor ", e.path().string(), " is damaged; reset");
      spdlog::error("segment log: {}", health_.last_error);
    }
  }
  return absl::OkStatus();
}

absl::Status SegmentLog::OpenNewSegment() {
  uint64_t number = segments_.empty() ? 1 : segments_.rbegin()->first + 1;
  auto seg = std::make_shared<Segment>();
  seg->number = number;
  seg->path = absl::StrCat(dir_, "/", SegmentName(number));
  absl::StatusOr<UniqueFd> fd = OpenFile(seg->path, O_RDWR | O_CREAT | O_TRUNC);
  if (!fd.ok()) return fd.status();
  seg->fd = std::move(*fd);
  std::string header(kSegmentMagic, 8);
  PutU64(&header, number);
  if (absl::Status s = PwriteFull(seg->fd.get(), header.data(), header.size(), 0); !s.ok()) {
    seg->fd.reset();
    std::error_code ec;
    fs::remove(seg->path, ec);
    return s;
  }
  // The file and its directory entry must survive a crash before records go in.
  if (::fdatasync(seg->fd.get()) != 0) return ErrnoStatus("fdatasync", seg->path, errno);
  if (absl::Status s = SyncDir(dir_); !s.ok()) return s;
  seg->size = kSegmentHeader;
  total_bytes_ += kSegmentHeader;
  segments_.emplace(number, std::move(seg));
  return absl::OkStatus();
}

void SegmentLog::Append(const std::vector<absl::Cord>& records, AppendDone done) {
  std::string buf;
  size_t total = 0;
  for (const absl::Cord& r : records) total += kRecordHeader + r.size();
  buf.reserve(total);
  for (const absl::Cord& r : records) {
    if (r.size() > kMaxRecord) {
      std::move(done)(absl::InvalidArgumentError("record larger than 1 GiB"), {}, {});
      return;
    }
    uint32_t length = static_cast<uint32_t>(r.size());
    size_t header_at = buf.size();
    PutU32(&buf, kRecordMagic);
    PutU32(&buf, length);
    PutU32(&buf, 0);
    uint32_t crc = Crc32c(&length, 4);
    for (absl::string_view chunk : r.Chunks()) {
      crc = Crc32cExtend(crc, chunk.data(), chunk.size());
      buf.append(chunk.data(), chunk.size());
    }
    uint32_t masked = MaskCrc(crc);
    std::memcpy(buf.data() + header_at + 8, &masked, 4);
  }

  absl::Status status;
  LogPosition first, end;
  {
    absl::MutexLock lock(&mu_);
    if (!failed_.ok()) {
      status = failed_;
    } else if (options_.max_bytes > 0 && total_bytes_ + buf.size() > options_.max_bytes) {
      status = absl::ResourceExhaustedError(absl::StrCat("storage full: log ", dir_, " holds ",
                                                         total_bytes_, " of max ",
                                                         options_.max_bytes, " bytes"));
    } else {
      Segment* seg = segments_.rbegin()->second.get();
      if (seg->size > kSegmentHeader && seg->size + buf.size() > options_.segment_bytes) {
        // Closing a segment syncs it, so the sync thread only ever syncs the newest.
        if (::fdatasync(seg->fd.get()) != 0) {
          failed_ = ErrnoStatus("fdatasync", seg->path, errno);
          status = failed_;
        } else {
          status = OpenNewSegment();
          seg = segments_.rbegin()->second.get();
        }
      }
      if (status.ok()) {
        status = PwriteFull(seg->fd.get(), buf.data(), buf.size(), seg->size);
        if (!status.ok()) {
          status = absl::Status(status.code(), absl::StrCat(seg->path, ": ", status.message()));
          // Undo a partial write so the segment ends on a record boundary.
          if (::ftruncate(seg->fd.get(), static_cast<off_t>(seg->size)) != 0) {
            failed_ = status;
          }
        }
      }
      if (status.ok()) {
        first = {seg->number, seg->size};
        seg->size += buf.size();
        total_bytes_ += buf.size();
        appended_records_ += records.size();
        end = {seg->number, seg->size};
        if (waiters_.empty()) sync_cv_.Signal();
        waiters_.push_back(Waiter{first, end, std::move(done)});
        return;
      }
    }
  }
  std::move(done)(status, first, end);
}

absl::StatusOr<LogPosition> SegmentLog::AppendAndWait(const std::vector<absl::Cord>& records) {
  absl::Mutex m;
  bool finished = false;
  absl::Status result;
  LogPosition at;
  Append(records, [&](absl::Status s, LogPosition first, LogPosition) {
    absl::MutexLock lock(&m);
    result = std::move(s);
    at = first;
    finished = true;
  });
  absl::MutexLock lock(&m);
  m.Await(absl::Condition(&finished));
  if (!result.ok()) return result;
  return at;
}

void SegmentLog::SyncLoop() {
  const bool fsync_each = options_.durability == Durability::kFsync;
  const absl::Duration interval = std::max(options_.group_commit_interval, absl::Milliseconds(1));
  absl::Time next_periodic_sync = absl::Now() + interval;  // kBatch
  absl::MutexLock lock(&mu_);
  while (true) {
    if (fsync_each) {
      while (waiters_.empty() && !stopping_) sync_cv_.Wait(&mu_);
      if (waiters_.empty()) return;
      // Group commit: let appends arriving within the interval share this sync.
      if (options_.group_commit_interval > absl::ZeroDuration() && !stopping_) {
        sync_cv_.WaitWithTimeout(&mu_, options_.group_commit_interval);
      }
    } else {
      while (waiters_.empty() && !stopping_) {
        if (options_.durability == Durability::kBatch) {
          if (sync_cv_.WaitWithDeadline(&mu_, next_periodic_sync)) break;
        } else {
          sync_cv_.Wait(&mu_);
        }
      }
      if (waiters_.empty() && stopping_) return;
    }
    std::deque<Waiter> batch;
    batch.swap(waiters_);
    const bool sync_now = fsync_each || (options_.durability == Durability::kBatch &&
                                         absl::Now() >= next_periodic_sync);
    absl::Status status = failed_;
    if (status.ok() && sync_now) {
      std::shared_ptr<Segment> active = segments_.rbegin()->second;
      mu_.Unlock();
      int rc = ::fdatasync(active->fd.get());
      int err = errno;
      mu_.Lock();
      next_periodic_sync = absl::Now() + interval;
      if (rc != 0) {
        // After a failed fsync the kernel may have dropped the dirty pages: nothing written
        // since the last good sync can be trusted, so refuse until reopened (recovery).
        failed_ = ErrnoStatus("fdatasync", active->path, err);
        health_.last_error = failed_.ToString();
        status = failed_;
      }
    }
    if (batch.empty()) continue;
    // Completions run here, one after another, in the order the records were written.
    mu_.Unlock();
    for (Waiter& w : batch) std::move(w.done)(status, w.first, w.end);
    mu_.Lock();
  }
}

LogPosition SegmentLog::begin() const {
  absl::MutexLock lock(&mu_);
  return {segments_.begin()->first, kSegmentHeader};
}

LogPosition SegmentLog::end() const {
  absl::MutexLock lock(&mu_);
  const Segment& s = *segments_.rbegin()->second;
  return {s.number, s.size};
}

LogStats SegmentLog::stats() const {
  absl::MutexLock lock(&mu_);
  LogStats st;
  st.bytes = total_bytes_;
  st.segments = segments_.size();
  st.appended_records = appended_records_;
  st.begin = {segments_.begin()->first, kSegmentHeader};
  st.end = {segments_.rbegin()->first, segments_.rbegin()->second->size};
  st.health = health_;
  return st;
}

std::shared_ptr<SegmentLog::Segment> SegmentLog::FindSegment(uint64_t number) const {
  auto it = segments_.find(number);
  return it == segments_.end() ? nullptr : it->second;
}

absl::Status SegmentLog::Read(LogPosition from, size_t max_records, size_t max_bytes,
                              std::vector<LogRecord>* out, LogPosition* next) const {
  size_t bytes = 0;
  size_t count = 0;
  LogPosition pos = from;
  std::string payload;
  while (count < std::max<size_t>(max_records, 1) && (count == 0 || bytes < max_bytes)) {
    std::shared_ptr<Segment> seg;
    uint64_t size = 0;
    bool has_next_segment = false;
    uint64_t next_number = 0;
    {
      absl::MutexLock lock(&mu_);
      if (pos.segment < segments_.begin()->first) {
        return absl::NotFoundError(
            absl::StrCat("log position ", pos.ToString(), " is in a deleted segment"));
      }
      seg = FindSegment(pos.segment);
      auto after = segments_.upper_bound(pos.segment);
      has_next_segment = after != segments_.end();
      if (has_next_segment) next_number = after->first;
      if (seg != nullptr) size = seg->size;
    }
    if (seg == nullptr || pos.offset >= size) {
      if (!has_next_segment) break;
      pos = {next_number, kSegmentHeader};
      continue;
    }
    if (pos.offset < kSegmentHeader) pos.offset = kSegmentHeader;
    ParsedRecord r = CheckRecord(seg->fd.get(), pos.offset, size, &payload);
    if (r.kind != ParsedRecord::kValid) {
      uint64_t skip_to = Resync(seg->fd.get(), pos.offset, size);
      Quarantine(*seg, pos.offset, skip_to - pos.offset, "corrupt record");
      pos.offset = skip_to;
      continue;
    }
    LogRecord rec;
    rec.position = pos;
    pos.offset += kRecordHeader + r.length;
    rec.next = pos;
    rec.payload = std::move(payload);
    payload.clear();
    bytes += rec.payload.size();
    out->push_back(std::move(rec));
    ++count;
  }
  *next = pos;
  return absl::OkStatus();
}

void SegmentLog::Quarantine(const Segment& segment, uint64_t offset, uint64_t length,
                            std::string_view why) const {
  absl::MutexLock lock(&mu_);
  QuarantineLocked(segment, offset, length, why);
}

void SegmentLog::QuarantineLocked(const Segment& segment, uint64_t offset, uint64_t length,
                                  std::string_view why) const {
  if (!quarantined_.emplace(LogPosition{segment.number, offset}, length).second) return;
  health_.quarantined_records++;
  health_.quarantined_bytes += length;
  health_.last_error = absl::StrCat(std::string(why), " in ", segment.path, " at offset ", offset,
                                    " (", length, " bytes skipped)");
  spdlog::error("segment log: {}", health_.last_error);
  // A copy for whoever investigates; the segment itself is left as it is. Rare enough that
  // doing it under the lock does not matter.
  std::string copy(static_cast<size_t>(std::min(length, kQuarantineCopyMax)), '\0');
  if (PreadFull(segment.fd.get(), copy.data(), copy.size(), offset).ok()) {
    std::string to = absl::StrCat(dir_, "/quarantine/", segment.number, "-", offset, ".bad");
    (void)WriteFileAtomically(to, copy, /*sync=*/false);
  }
}

absl::StatusOr<LogPosition> SegmentLog::RegisterReader(std::string_view name) {
  if (!ValidReaderName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("bad reader name \"", std::string(name), "\""));
  }
  LogPosition start;
  {
    absl::MutexLock lock(&mu_);
    LogPosition begin{segments_.begin()->first, kSegmentHeader};
    auto it = cursors_.find(name);
    if (it != cursors_.end()) return std::max(it->second, begin);
    start = begin;
  }
  if (absl::Status s = CommitCursor(name, start); !s.ok()) return s;
  return start;
}

absl::Status SegmentLog::CommitCursor(std::string_view name, LogPosition position) {
  if (!ValidReaderName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("bad reader name \"", std::string(name), "\""));
  }
  std::string data;
  PutU64(&data, position.segment);
  PutU64(&data, position.offset);
  PutU32(&data, MaskCrc(Crc32c(data.data(), 16)));
  {
    absl::MutexLock io(&cursor_io_mu_);
    if (absl::Status s = WriteFileAtomically(absl::StrCat(dir_, "/cursors/", std::string(name)),
                                             data, /*sync=*/true);
        !s.ok()) {
      return s;
    }
    absl::MutexLock lock(&mu_);
    cursors_[std::string(name)] = position;
  }
  return DeletePassedSegments();
}

std::optional<LogPosition> SegmentLog::Cursor(std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = cursors_.find(name);
  if (it == cursors_.end()) return std::nullopt;
  return it->second;
}

absl::Status SegmentLog::DeletePassedSegments() {
  std::vector<std::shared_ptr<Segment>> doomed;
  {
    absl::MutexLock lock(&mu_);
    if (cursors_.empty()) return absl::OkStatus();
    LogPosition min = cursors_.begin()->second;
    for (const auto& [name, pos] : cursors_) min = std::min(min, pos);
    const uint64_t active = segments_.rbegin()->first;
    for (auto it = segments_.begin();
         it != segments_.end() && it->first < min.segment && it->first != active;) {
      total_bytes_ -= it->second->size;
      doomed.push_back(std::move(it->second));
      it = segments_.erase(it);
    }
  }
  for (const std::shared_ptr<Segment>& s : doomed) {
    if (::unlink(s->path.c_str()) != 0 && errno != ENOENT) {
      spdlog::warn("segment log: delete {}: {}", s->path, std::strerror(errno));
    }
  }
  return absl::OkStatus();
}

}  // namespace otlpd::storage
