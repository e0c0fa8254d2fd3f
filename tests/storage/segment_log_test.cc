#include "storage/segment_log.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "storage/crc32c.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace otlpd::storage {
namespace {

namespace fs = std::filesystem;
using otlpd::testing::TempDir;

std::string Payload(uint64_t i, size_t size = 100) {
  std::string s = absl::StrCat("record-", i, "-");
  std::mt19937_64 rng(i);
  while (s.size() < size) s.push_back(static_cast<char>('a' + rng() % 26));
  s.resize(size);
  return s;
}

std::vector<std::string> ReadAll(const SegmentLog& log, LogPosition from) {
  std::vector<std::string> out;
  std::vector<LogRecord> recs;
  LogPosition next;
  while (true) {
    recs.clear();
    EXPECT_TRUE(log.Read(from, 64, 1 << 20, &recs, &next).ok());
    if (recs.empty()) break;
    for (LogRecord& r : recs) out.push_back(std::move(r.payload));
    from = next;
  }
  return out;
}

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".seg") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

SegmentLogOptions SmallSegments(Durability d = Durability::kFsync) {
  SegmentLogOptions o;
  o.segment_bytes = 8192;
  o.durability = d;
  o.group_commit_interval = absl::Milliseconds(1);
  return o;
}

void AppendN(SegmentLog& log, uint64_t from, uint64_t n, size_t size = 100) {
  for (uint64_t i = from; i < from + n; ++i) {
    ASSERT_TRUE(log.AppendAndWait({absl::Cord(Payload(i, size))}).ok()) << i;
  }
}

void FlipByte(const std::string& path, uint64_t offset) {
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char c;
  ASSERT_EQ(::pread(fd, &c, 1, static_cast<off_t>(offset)), 1);
  c = static_cast<char>(c ^ 0x5a);
  ASSERT_EQ(::pwrite(fd, &c, 1, static_cast<off_t>(offset)), 1);
  ::close(fd);
}

TEST(Crc32cTest, KnownValuesAndExtend) {
  // RFC 3720 B.4 test vectors.
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(zeros), 0x8a9136aau);
  std::string ones(32, '\xff');
  EXPECT_EQ(Crc32c(ones), 0x62a8ab43u);
  EXPECT_EQ(Crc32c("123456789"), 0xe3069283u);
  std::string a = Payload(1, 1000), b = Payload(2, 777);
  EXPECT_EQ(Crc32cExtend(Crc32c(a), b.data(), b.size()), Crc32c(a + b));
  EXPECT_EQ(UnmaskCrc(MaskCrc(0x12345678u)), 0x12345678u);
}

TEST(SegmentLogTest, AppendReadAcrossSegmentsAndReopen) {
  TempDir dir;
  {
    auto log = SegmentLog::Open(dir.path(), SmallSegments());
    ASSERT_TRUE(log.ok()) << log.status();
    AppendN(**log, 0, 300);
    EXPECT_GT((*log)->stats().segments, 3u);
    std::vector<std::string> got = ReadAll(**log, (*log)->begin());
    ASSERT_EQ(got.size(), 300u);
    for (uint64_t i = 0; i < 300; ++i) EXPECT_EQ(got[i], Payload(i));
  }
  auto log = SegmentLog::Open(dir.path(), SmallSegments());
  ASSERT_TRUE(log.ok()) << log.status();
  AppendN(**log, 300, 10);
  std::vector<std::string> got = ReadAll(**log, (*log)->begin());
  ASSERT_EQ(got.size(), 310u);
  EXPECT_EQ(got[309], Payload(309));
  EXPECT_EQ((*log)->stats().health.quarantined_records, 0u);
  EXPECT_EQ((*log)->stats().health.torn_bytes, 0u);
}

TEST(SegmentLogTest, OneAppendManyRecordsAndPositions) {
  TempDir dir;
  auto log = SegmentLog::Open(dir.path(), SmallSegments());
  ASSERT_TRUE(log.ok());
  absl::Mutex mu;
  bool done = false;
  LogPosition first, end;
  (*log)->Append({absl::Cord("a"), absl::Cord(""), absl::Cord("ccc")},
                 [&](absl::Status s, LogPosition f, LogPosition e) {
                   EXPECT_TRUE(s.ok());
                   absl::MutexLock l(&mu);
                   first = f;
                   end = e;
                   done = true;
                 });
  {
    absl::MutexLock l(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(10)));
  }
  std::vector<LogRecord> recs;
  LogPosition next;
  ASSERT_TRUE((*log)->Read(first, 10, 1 << 20, &recs, &next).ok());
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].payload, "a");
  EXPECT_EQ(recs[1].payload, "");
  EXPECT_EQ(recs[2].payload, "ccc");
  EXPECT_EQ(recs[1].position, recs[0].next);
  EXPECT_EQ(next, end);
  EXPECT_EQ((*log)->end(), end);
}

TEST(SegmentLogTest, RecordLargerThanSegmentGetsItsOwn) {
  TempDir dir;
  auto log = SegmentLog::Open(dir.path(), SmallSegments());
  ASSERT_TRUE(log.ok());
  AppendN(**log, 0, 2);
  AppendN(**log, 2, 1, 100000);
  AppendN(**log, 3, 2);
  std::vector<std::string> got = ReadAll(**log, (*log)->begin());
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[2], Payload(2, 100000));
}

TEST(SegmentLogTest, TornTailIsCutAndAppendsGoOn) {
  TempDir dir;
  {
    auto log = SegmentLog::Open(dir.path(), SmallSegments());
    ASSERT_TRUE(log.ok());
    AppendN(**log, 0, 50);
  }
  std::string last = SegmentFiles(dir.path()).back();
  uint64_t size = fs::file_size(last);
  // The process died inside a write: half a record's bytes at the end.
  fs::resize_file(last, size - 37);
  {
    auto log = SegmentLog::Open(dir.path(), SmallSegments());
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_GT((*log)->stats().health.torn_bytes, 0u);
    EXPECT_EQ((*log)->stats().health.quarantined_records, 0u);
    std::vector<std::string> got = ReadAll(**log, (*log)->begin());
    ASSERT_EQ(got.size(), 49u);
    AppendN(**log, 100, 3);
  }
  // Garbage after the last record (a torn header), then reopen once more.
  {
    std::string tail = SegmentFiles(dir.path()).back();
    int fd = ::open(tail.c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "OLDR\x05", 5), 5);
    ::close(fd);
  }
  auto log = SegmentLog::Open(dir.path(), SmallSegments());
  ASSERT_TRUE(log.ok());
  std::vector<std::string> got = ReadAll(**log, (*log)->begin());
  ASSERT_EQ(got.size(), 52u);
  EXPECT_EQ(got[49], Payload(100));
  EXPECT_EQ(got[51], Payload(102));
}

TEST(SegmentLogTest, CorruptRecordIsQuarantinedAndSkipped) {
  TempDir dir;
  {
    auto log = SegmentLog::Open(dir.path(), SmallSegments());
    ASSERT_TRUE(log.ok());
    AppendN(**log, 0, 200);
  }
  std::vector<std::string> files = SegmentFiles(dir.path());
  ASSERT_GE(files.size(), 3u);
  // Payload byte of the 2nd record of the first segment; length field of one in the 2nd.
  FlipByte(files[0], 16 + 112 + 12 + 5);
  FlipByte(files[1], 16 + 4);
  auto log = SegmentLog::Open(dir.path(), SmallSegments());
  ASSERT_TRUE(log.ok()) << log.status();
  LogHealth h = (*log)->stats().health;
  EXPECT_EQ(h.quarantined_records, 2u);
  EXPECT_NE(h.last_error.find("offset"), std::string::npos);
  std::vector<std::string> got = ReadAll(**log, (*log)->begin());
  ASSERT_EQ(got.size(), 198u);
  std::set<std::string> want;
  for (uint64_t i = 0; i < 200; ++i) want.insert(Payload(i));
  for (const std::string& g : got) EXPECT_EQ(want.count(g), 1u);
  EXPECT_EQ(got[0], Payload(0));
  EXPECT_EQ(got[1], Payload(2));
  size_t copies = 0;
  for (const auto& e : fs::directory_iterator(dir.path() + "/quarantine")) {
    copies += e.path().extension() == ".bad";
  }
  EXPECT_EQ(copies, 2u);
  // Reading again does not count them again.
  ReadAll(**log, (*log)->begin());
  EXPECT_EQ((*log)->stats().health.quarantined_records, 2u);
}

TEST(SegmentLogTest, CorruptionFoundWhileRunningIsSkippedToo) {
  TempDir dir;
  auto log = SegmentLog::Open(dir.path(), SmallSegments());
  ASSERT_TRUE(log.ok());
  AppendN(**log, 0, 20);
  FlipByte(SegmentFiles(dir.path())[0], 16 + 12 + 50);  // first record's payload
  std::vector<std::string> got = ReadAll(**log, (*log)->begin());
  ASSERT_EQ(got.size(), 19u);
  EXPECT_EQ(got[0], Payload(1));
  EXPECT_EQ((*log)->stats().health.quarantined_records, 1u);
}

TEST(SegmentLogTest, BadSegmentHeaderIsSetAsideNotDeleted) {
  TempDir dir;
  {
    auto log = SegmentLog::Open(dir.path(), SmallSegments());
    ASSERT_TRUE(log.ok());
    AppendN(**log, 0, 200);
  }
  std::vector<std::string> files = SegmentFiles(dir.path());
  FlipByte(files[1], 2);
  auto log = SegmentLog::Open(dir.path(), SmallSegments());
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->stats().health.quarantined_records, 1u);
  EXPECT_TRUE(fs::exists(dir.path() + "/quarantine/" + fs::path(files[1]).filename().string()));
  // Each 8 KiB segment holds (8192 - 16) / 112 = 73 records: exactly those are gone.
  std::vector<std::string> got = ReadAll(**log, (*log)->begin());
  EXPECT_EQ(got.size(), 200u - 73u);
}

TEST(SegmentLogTest, EmptyAndJunkFilesDoNotStopOpen) {
  TempDir dir;
  fs::create_directories(dir.path());
  // A segment created but never written (died right after open), junk names ignored.
  { std::ofstream(dir.path() + "/00000000000000000001.seg"); }
  { std::ofstream(dir.path() + "/notes.txt") << "hello"; }
  { std::ofstream(dir.path() + "/abc.seg") << "x"; }
  auto log = SegmentLog::Open(dir.path(), SmallSegments());
  ASSERT_TRUE(log.ok()) << log.status();
  AppendN(**log, 0, 5);
  EXPECT_EQ(ReadAll(**log, (*log)->begin()).size(), 5u);
}

TEST(SegmentLogTest, CursorsPersistAndGateDeletion) {
  TempDir dir;
  LogPosition mid;
  {
    auto log = SegmentLog::Open(dir.path(), SmallSegments());
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->RegisterReader("fast").ok());
    ASSERT_TRUE((*log)->RegisterReader("slow").ok());
    EXPECT_FALSE((*log)->RegisterReader("../x").ok());
    AppendN(**log, 0, 300);
    uint64_t segments = (*log)->stats().segments;
    // fast reads everything; slow is still at the start: nothing may go.
    ASSERT_TRUE((*log)->CommitCursor("fast", (*log)->end()).ok());
    EXPECT_EQ((*log)->stats().segments, segments);
    // slow reaches the middle: segments before it go.
    std::vector<LogRecord> recs;
    LogPosition next;
    ASSERT_TRUE((*log)->Read((*log)->begin(), 150, 1 << 30, &recs, &next).ok());
    mid = next;
    ASSERT_TRUE((*log)->CommitCursor("slow", mid).ok());
    EXPECT_LT((*log)->stats().segments, segments);
    EXPECT_EQ((*log)->begin().segment, mid.segment);
    EXPECT_EQ(SegmentFiles(dir.path()).size(), (*log)->stats().segments);
    std::vector<std::string> rest = ReadAll(**log, mid);
    ASSERT_EQ(rest.size(), 150u);
    EXPECT_EQ(rest[0], Payload(150));
    // A position in a deleted segment is an error, not a silent jump.
    recs.clear();
    EXPECT_EQ((*log)->Read({1, 16}, 1, 1, &recs, &next).code(), absl::StatusCode::kNotFound);
  }
  auto log = SegmentLog::Open(dir.path(), SmallSegments());
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->Cursor("slow"), mid);
  auto again = (*log)->RegisterReader("slow");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, mid);
}

TEST(SegmentLogTest, DamagedCursorStartsOverInsteadOfFailing) {
  TempDir dir;
  {
    auto log = SegmentLog::Open(dir.path(), SmallSegments());
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->RegisterReader("r").ok());
    AppendN(**log, 0, 10);
    ASSERT_TRUE((*log)->CommitCursor("r", (*log)->end()).ok());
  }
  FlipByte(dir.path() + "/cursors/r", 3);
  auto log = SegmentLog::Open(dir.path(), SmallSegments());
  ASSERT_TRUE(log.ok());
  EXPECT_FALSE((*log)->Cursor("r").has_value());
  EXPECT_NE((*log)->stats().health.last_error.find("cursor"), std::string::npos);
  auto pos = (*log)->RegisterReader("r");
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(*pos, (*log)->begin());
}

TEST(SegmentLogTest, MaxBytesRefusesRetryablyAndKeepsNothingOfTheRefused) {
  TempDir dir;
  SegmentLogOptions o = SmallSegments();
  o.max_bytes = 4000;
  auto log = SegmentLog::Open(dir.path(), o);
  ASSERT_TRUE(log.ok());
  size_t ok = 0;
  absl::Status last;
  for (uint64_t i = 0; i < 100; ++i) {
    auto r = (*log)->AppendAndWait({absl::Cord(Payload(i))});
    if (r.ok()) {
      ++ok;
    } else {
      last = r.status();
    }
  }
  EXPECT_EQ(last.code(), absl::StatusCode::kResourceExhausted) << last;
  EXPECT_GT(ok, 20u);
  EXPECT_LE((*log)->stats().bytes, 4000u);
  EXPECT_EQ(ReadAll(**log, (*log)->begin()).size(), ok);
}

TEST(SegmentLogTest, FullFileSystemIsRetryableAndLeavesNoPartialRecord) {
  // RLIMIT_FSIZE makes writes past the limit fail with EFBIG, as a full disk fails with
  // ENOSPC: both take the same path.
  TempDir dir;
  auto log = SegmentLog::Open(dir.path(), [] {
    SegmentLogOptions o = SmallSegments();
    o.segment_bytes = 1 << 20;
    return o;
  }());
  ASSERT_TRUE(log.ok());
  AppendN(**log, 0, 10);
  struct sigaction ign {
  }, old{};
  ign.sa_handler = SIG_IGN;
  sigaction(SIGXFSZ, &ign, &old);
  struct rlimit saved;
  getrlimit(RLIMIT_FSIZE, &saved);
  struct rlimit small = saved;
  small.rlim_cur = 16 + 10 * 112 + 150;  // room for one more record, not two
  setrlimit(RLIMIT_FSIZE, &small);
  auto one = (*log)->AppendAndWait({absl::Cord(Payload(10))});
  auto two = (*log)->AppendAndWait({absl::Cord(Payload(11))});
  setrlimit(RLIMIT_FSIZE, &saved);
  sigaction(SIGXFSZ, &old, nullptr);
  EXPECT_TRUE(one.ok()) << one.status();
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.status().code(), absl::StatusCode::kResourceExhausted) << two.status();
  // Space back: appends go on, and a reopen sees exactly the accepted records.
  AppendN(**log, 12, 2);
  log->reset();
  auto reopened = SegmentLog::Open(dir.path(), SmallSegments());
  ASSERT_TRUE(reopened.ok());
  std::vector<std::string> got = ReadAll(**reopened, (*reopened)->begin());
  ASSERT_EQ(got.size(), 13u);
  EXPECT_EQ(got[10], Payload(10));
  EXPECT_EQ(got[11], Payload(12));
  EXPECT_EQ((*reopened)->stats().health.torn_bytes, 0u);
}

TEST(SegmentLogTest, RealFullTmpfs) {
  TempDir dir;
  std::string mnt = dir.File("mnt");
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (needs CAP_SYS_ADMIN): " << std::strerror(errno);
  }
  size_t ok = 0;
  {
    auto log = SegmentLog::Open(mnt + "/log", SmallSegments());
    ASSERT_TRUE(log.ok());
    absl::Status last;
    for (uint64_t i = 0; i < 1000 && last.ok(); ++i) {
      auto r = (*log)->AppendAndWait({absl::Cord(Payload(i, 1000))});
      if (r.ok()) {
        ++ok;
      } else {
        last = r.status();
      }
    }
    EXPECT_EQ(last.code(), absl::StatusCode::kResourceExhausted) << last;
    EXPECT_GT(ok, 100u);
    EXPECT_EQ(ReadAll(**log, (*log)->begin()).size(), ok);
  }
  auto log = SegmentLog::Open(mnt + "/log", SmallSegments());
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(ReadAll(**log, (*log)->begin()).size(), ok);
  log->reset();
  ::umount2(mnt.c_str(), MNT_DETACH);
}

TEST(SegmentLogTest, ConcurrentAppendersShareSyncsAndAllComplete) {
  TempDir dir;
  SegmentLogOptions o = SmallSegments();
  o.segment_bytes = 1 << 20;
  o.group_commit_interval = absl::Milliseconds(2);
  auto log = SegmentLog::Open(dir.path(), o);
  ASSERT_TRUE(log.ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::vector<LogRecord> recs;
  std::atomic<bool> stop{false};
  // A reader runs alongside the writers.
  std::thread reader([&] {
    LogPosition pos = (*log)->begin();
    while (!stop.load()) {
      std::vector<LogRecord> batch;
      LogPosition next;
      if (!(*log)->Read(pos, 100, 1 << 20, &batch, &next).ok()) failures++;
      pos = next;
    }
  });
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < 200; ++i) {
        if (!(*log)->AppendAndWait({absl::Cord(Payload(t * 1000 + i))}).ok()) failures++;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  stop = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(ReadAll(**log, (*log)->begin()).size(), 1600u);
}

TEST(SegmentLogTest, CompletionsRunInLogOrderInEveryMode) {
  for (Durability d : {Durability::kFsync, Durability::kBatch, Durability::kNone}) {
    TempDir dir;
    auto log = SegmentLog::Open(dir.path(), SmallSegments(d));
    ASSERT_TRUE(log.ok());
    absl::Mutex mu;
    std::vector<LogPosition> order;
    std::atomic<int> pending{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (uint64_t i = 0; i < 100; ++i) {
          pending++;
          (*log)->Append({absl::Cord(Payload(t * 1000 + i))},
                         [&](absl::Status s, LogPosition first, LogPosition) {
                           EXPECT_TRUE(s.ok());
                           absl::MutexLock l(&mu);
                           order.push_back(first);
                           pending--;
                         });
        }
      });
    }
    for (std::thread& t : threads) t.join();
    ASSERT_TRUE(otlpd::testing::WaitUntil([&] { return pending.load() == 0; }, absl::Seconds(10)));
    absl::MutexLock l(&mu);
    ASSERT_EQ(order.size(), 400u);
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end())) << static_cast<int>(d);
  }
}

// kill -9 at random moments while a child appends: every record whose append completed
// before the kill is there after recovery, intact, in order.
TEST(SegmentLogTest, KillNineLosesNothingAcknowledged) {
  TempDir dir;
  std::mt19937_64 rng(42);
  uint64_t next_id = 0;
  std::set<std::string> acked_all;
  for (int cycle = 0; cycle < 10; ++cycle) {
    int pipefd[2];
    ASSERT_EQ(::pipe(pipefd), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(pipefd[0]);
      auto log = SegmentLog::Open(dir.path(), SmallSegments());
      if (!log.ok()) ::_exit(3);
      for (uint64_t i = next_id;; ++i) {
        if (!(*log)->AppendAndWait({absl::Cord(Payload(i, 50 + i % 300))}).ok()) ::_exit(4);
        // Reported only once durable.
        if (::write(pipefd[1], &i, sizeof i) != sizeof i) ::_exit(5);
      }
    }
    ::close(pipefd[1]);
    absl::SleepFor(absl::Milliseconds(20 + rng() % 200));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    uint64_t id;
    while (::read(pipefd[0], &id, sizeof id) == sizeof id) {
      acked_all.insert(Payload(id, 50 + id % 300));
      next_id = std::max(next_id, id + 1);
    }
    ::close(pipefd[0]);
    next_id += 1000;  // ids the killed child may have written without reporting

    auto log = SegmentLog::Open(dir.path(), SmallSegments());
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->stats().health.quarantined_records, 0u);
    std::vector<std::string> got = ReadAll(**log, (*log)->begin());
    std::set<std::string> present(got.begin(), got.end());
    EXPECT_EQ(present.size(), got.size()) << "a record is there twice";
    for (const std::string& a : acked_all) {
      ASSERT_EQ(present.count(a), 1u) << "cycle " << cycle << ": lost an acknowledged record";
    }
  }
  EXPECT_GT(acked_all.size(), 50u);
}

}  // namespace
}  // namespace otlpd::storage
