// The durable sending queue on the segment log: what an Offer acknowledged is there after a
// close, a crash (kill -9) or damage to other records, in order, until committed.
#include "storage/durable_queue.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "core/status.h"
#include "testing/otlp_data.h"
#include "testing/temp_dir.h"

namespace otlpd::storage {
namespace {

namespace fs = std::filesystem;
using otlpd::testing::TempDir;

// A one-span request whose span name carries `n`, so that requests can be told apart.
TelemetryPtr Request(uint64_t n, size_t spans = 1) {
  TracesRequest req;
  auto* ss = req.add_resource_spans()->add_scope_spans();
  for (size_t i = 0; i < spans; ++i) {
    auto* span = ss->add_spans();
    span->set_trace_id(otlpd::testing::CallTraceId(n + 1));
    span->set_span_id(std::string(8, static_cast<char>(i + 1)));
    span->set_name(absl::StrCat("request-", n));
  }
  return Telemetry::FromWire(Signal::kTraces, absl::Cord(req.SerializeAsString()), spans);
}

uint64_t NumberOf(const Telemetry& t) {
  uint64_t n = 0;
  std::string name = t.traces().resource_spans(0).scope_spans(0).spans(0).name();
  EXPECT_TRUE(absl::SimpleAtoi(name.substr(name.find('-') + 1), &n)) << name;
  return n;
}

DurableQueueOptions Options(const std::string& dir, int64_t capacity = 1000) {
  DurableQueueOptions o;
  o.directory = dir;
  o.capacity = capacity;
  o.segment_bytes = 4096;  // many segments, so that deletion is exercised
  return o;
}

std::unique_ptr<DurableQueue> Open(const DurableQueueOptions& o) {
  auto q = DurableQueue::Open(o);
  EXPECT_TRUE(q.ok()) << q.status();
  if (!q.ok()) return nullptr;
  absl::Status s = (*q)->Start();
  EXPECT_TRUE(s.ok()) << s;
  return *std::move(q);
}

absl::Status OfferWait(DurableQueue& q, TelemetryPtr t) {
  absl::Notification done;
  absl::Status result;
  q.Offer(std::move(t), [&](absl::Status s) {
    result = s;
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(absl::Seconds(30))) {
    return absl::DeadlineExceededError("offer did not complete");
  }
  return result;
}

// Reads what is queued (up to `max`), without committing; numbers in order.
std::vector<std::pair<uint64_t, uint64_t>> ReadIds(DurableQueue& q, size_t max = 100000) {
  std::vector<std::pair<uint64_t, uint64_t>> out;  // (queue id, request number)
  while (out.size() < max) {
    std::optional<QueuedRequest> r = q.Read(absl::Now() + absl::Milliseconds(20));
    if (!r) break;
    out.emplace_back(r->id, NumberOf(*r->data));
  }
  return out;
}

std::vector<uint64_t> Numbers(const std::vector<std::pair<uint64_t, uint64_t>>& read) {
  std::vector<uint64_t> out;
  for (const auto& [id, n] : read) out.push_back(n);
  return out;
}

std::vector<uint64_t> Range(uint64_t from, uint64_t to) {
  std::vector<uint64_t> out;
  for (uint64_t i = from; i < to; ++i) out.push_back(i);
  return out;
}

TEST(DurableQueueTest, OfferReadCommitInOrder) {
  TempDir dir;
  auto q = Open(Options(dir.path()));
  ASSERT_NE(q, nullptr);
  for (uint64_t i = 0; i < 5; ++i) ASSERT_TRUE(OfferWait(*q, Request(i, 2)).ok());
  EXPECT_EQ(q->sizes().requests, 5);
  EXPECT_EQ(q->sizes().items, 10);
  EXPECT_GT(q->oldest_age(), absl::ZeroDuration());
  auto read = ReadIds(*q);
  EXPECT_EQ(Numbers(read), Range(0, 5));
  EXPECT_EQ(q->sizes().requests, 5);  // handed out still counts until committed
  for (const auto& [id, n] : read) q->Commit(id, absl::OkStatus());
  EXPECT_EQ(q->sizes().requests, 0);
  EXPECT_EQ(q->oldest_age(), absl::ZeroDuration());
  EXPECT_TRUE(q->durable());
  // A deadline bounds an empty read.
  const absl::Time start = absl::Now();
  EXPECT_FALSE(q->Read(absl::Now() + absl::Milliseconds(50)).has_value());
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(DurableQueueTest, WhatIsNotCommittedOutlivesCloseInOrder) {
  TempDir dir;
  {
    auto q = Open(Options(dir.path()));
    for (uint64_t i = 0; i < 50; ++i) ASSERT_TRUE(OfferWait(*q, Request(i)).ok());
    auto read = ReadIds(*q, 20);
    for (const auto& [id, n] : read) q->Commit(id, absl::OkStatus());
    ReadIds(*q, 5);  // handed out, never committed: sent again after the restart
    q->Close();
    EXPECT_FALSE(OfferWait(*q, Request(99)).ok());
    EXPECT_TRUE(IsRetryable(OfferWait(*q, Request(99))));
  }
  auto q = Open(Options(dir.path()));
  EXPECT_EQ(q->recovered(), 30u);
  EXPECT_EQ(q->sizes().requests, 30);
  EXPECT_EQ(Numbers(ReadIds(*q)), Range(20, 50));
}

TEST(DurableQueueTest, OutOfOrderCommitsResendOnlyFromTheOldestUnsent) {
  TempDir dir;
  {
    auto q = Open(Options(dir.path()));
    for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(OfferWait(*q, Request(i)).ok());
    auto read = ReadIds(*q);
    q->Commit(read[0].first, absl::OkStatus());
    q->Commit(read[2].first, absl::OkStatus());  // 1 is still in flight
  }
  auto q = Open(Options(dir.path()));
  // At least once: 2 was sent, but the queue only knows everything before 1 was.
  EXPECT_EQ(Numbers(ReadIds(*q)), (std::vector<uint64_t>{1, 2, 3}));
}

TEST(DurableQueueTest, NewestFirstHandsOutTheNewestAndResumesAfterRestart) {
  TempDir dir;
  DurableQueueOptions o = Options(dir.path());
  o.order = ReadOrder::kNewestFirst;
  {
    auto q = Open(o);
    for (uint64_t i = 0; i < 6; ++i) ASSERT_TRUE(OfferWait(*q, Request(i)).ok());
    auto read = ReadIds(*q, 2);
    EXPECT_EQ(Numbers(read), (std::vector<uint64_t>{5, 4}));
    for (const auto& [id, n] : read) q->Commit(id, absl::OkStatus());
    ASSERT_TRUE(OfferWait(*q, Request(6)).ok());
    EXPECT_EQ(Numbers(ReadIds(*q, 1)), (std::vector<uint64_t>{6}));  // handed out, not sent
  }
  auto q = Open(o);
  // 4 and 5 were sent after the oldest unsent (0): at least once, they come again.
  EXPECT_EQ(Numbers(ReadIds(*q)), (std::vector<uint64_t>{6, 5, 4, 3, 2, 1, 0}));
}

TEST(DurableQueueTest, PriorityRequestsGoFirstAndKeepTheirClassOnDisk) {
  TempDir dir;
  DurableQueueOptions o = Options(dir.path());
  o.order = ReadOrder::kPriority;
  o.priority = [](const Telemetry& t) { return NumberOf(t) % 3 == 0; };
  {
    auto q = Open(o);
    for (uint64_t i = 1; i <= 7; ++i) ASSERT_TRUE(OfferWait(*q, Request(i)).ok());
    EXPECT_EQ(Numbers(ReadIds(*q, 3)), (std::vector<uint64_t>{3, 6, 1}));
  }
  o.priority = nullptr;  // what was stored as priority stays priority
  auto q = Open(o);
  EXPECT_EQ(Numbers(ReadIds(*q)), (std::vector<uint64_t>{3, 6, 1, 2, 4, 5, 7}));
}

TEST(DurableQueueTest, LiveWindowInterleavesFreshRequestsWithTheBacklog) {
  TempDir dir;
  DurableQueueOptions o = Options(dir.path());
  o.live_window = absl::Seconds(30);
  auto q = Open(o);
  for (uint64_t i = 0; i < 6; ++i) ASSERT_TRUE(OfferWait(*q, Request(i)).ok());
  // Oldest, newest, oldest, newest...
  EXPECT_EQ(Numbers(ReadIds(*q)), (std::vector<uint64_t>{0, 5, 1, 4, 2, 3}));
}

TEST(DurableQueueTest, WhenFullDropOldestMakesRoomAndCounts) {
  TempDir dir;
  DurableQueueOptions o = Options(dir.path(), /*capacity=*/4);
  o.sizer = Sizer::kItems;
  o.when_full = WhenFull::kDropOldest;
  {
    auto q = Open(o);
    for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(OfferWait(*q, Request(i)).ok());
    auto first = ReadIds(*q, 1);  // 0 is being sent: never dropped under the sender
    ASSERT_TRUE(OfferWait(*q, Request(4, 2)).ok());
    EXPECT_EQ(q->counters()->dropped_oldest_requests.load(), 2u);
    EXPECT_EQ(q->counters()->dropped_oldest_items.load(), 2u);
    EXPECT_EQ(q->sizes().items, 4);
    EXPECT_EQ(Numbers(ReadIds(*q)), (std::vector<uint64_t>{3, 4}));
    q->Commit(first[0].first, absl::OkStatus());
  }
  auto q = Open(o);  // the drops are on disk too once nothing before them is unsent
  EXPECT_EQ(Numbers(ReadIds(*q)), (std::vector<uint64_t>{3, 4}));
}

TEST(DurableQueueTest, WhenFullDropNewestAcknowledgesAndCounts) {
  TempDir dir;
  DurableQueueOptions o = Options(dir.path(), /*capacity=*/2);
  o.when_full = WhenFull::kDropNewest;
  auto q = Open(o);
  for (uint64_t i = 0; i < 5; ++i) ASSERT_TRUE(OfferWait(*q, Request(i, 3)).ok());
  EXPECT_EQ(q->counters()->dropped_newest_requests.load(), 3u);
  EXPECT_EQ(q->counters()->dropped_newest_items.load(), 9u);
  EXPECT_EQ(Numbers(ReadIds(*q)), (std::vector<uint64_t>{0, 1}));
}

TEST(DurableQueueTest, DiskCapBoundsTheFilesWhenSentOutOfOrder) {
  TempDir dir;
  DurableQueueOptions o = Options(dir.path(), /*capacity=*/1'000'000);
  o.sizer = Sizer::kBytes;
  o.order = ReadOrder::kNewestFirst;
  o.max_disk_bytes = 64 * 1024;
  auto q = Open(o);
  int refused = 0;
  for (uint64_t i = 0; i < 2000 && refused == 0; ++i) {
    absl::Status s = OfferWait(*q, Request(i, 4));
    if (!s.ok()) {
      EXPECT_TRUE(IsRetryable(s)) << s;
      ++refused;
    }
    // The newest is always sent: the oldest keeps its segments alive.
    auto read = ReadIds(*q, 1);
    for (const auto& [id, n] : read) {
      if (n % 2 == 1) q->Commit(id, absl::OkStatus());
    }
  }
  EXPECT_EQ(refused, 1);
  EXPECT_LE(q->log_stats().bytes, o.max_disk_bytes + o.segment_bytes);
}

TEST(DurableQueueTest, BlockOnOverflowWaitsForRoomInOrderThenRefuses) {
  TempDir dir;
  DurableQueueOptions o = Options(dir.path(), /*capacity=*/2);
  o.max_block = absl::Seconds(20);
  auto q = Open(o);
  ASSERT_TRUE(OfferWait(*q, Request(0)).ok());
  ASSERT_TRUE(OfferWait(*q, Request(1)).ok());
  // Two offers wait for room; neither completes while the queue is full.
  absl::Notification second_done, third_done;
  absl::Status second, third;
  q->Offer(Request(2), [&](absl::Status s) {
    second = s;
    second_done.Notify();
  });
  q->Offer(Request(3), [&](absl::Status s) {
    third = s;
    third_done.Notify();
  });
  EXPECT_FALSE(second_done.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
  // Room for one: the first waiter goes in, the second keeps waiting.
  auto read = ReadIds(*q, 1);
  q->Commit(read[0].first, absl::OkStatus());
  ASSERT_TRUE(second_done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(second.ok()) << second;
  EXPECT_FALSE(third_done.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
  // Close refuses what still waits, retryably.
  q->Close();
  ASSERT_TRUE(third_done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(IsRetryable(third)) << third;
  EXPECT_EQ(Numbers(ReadIds(*q)), (std::vector<uint64_t>{1, 2}));
}

TEST(DurableQueueTest, BlockOnOverflowRefusesOnceItsTimeRunsOut) {
  TempDir dir;
  DurableQueueOptions o = Options(dir.path(), /*capacity=*/1);
  o.max_block = absl::Milliseconds(200);
  auto q = Open(o);
  ASSERT_TRUE(OfferWait(*q, Request(0)).ok());
  const absl::Time start = absl::Now();
  absl::Status s = OfferWait(*q, Request(1));
  EXPECT_TRUE(IsRetryable(s)) << s;
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
}

TEST(DurableQueueTest, FullRefusesRetryablyButNeverForeverAndCommitsMakeRoom) {
  TempDir dir;
  DurableQueueOptions o = Options(dir.path(), /*capacity=*/3);
  o.sizer = Sizer::kItems;
  auto q = Open(o);
  ASSERT_TRUE(OfferWait(*q, Request(0, 2)).ok());
  ASSERT_TRUE(OfferWait(*q, Request(1, 1)).ok());
  absl::Status full = OfferWait(*q, Request(2, 1));
  EXPECT_TRUE(IsRetryable(full)) << full;
  auto read = ReadIds(*q);
  for (const auto& [id, n] : read) q->Commit(id, absl::OkStatus());
  // Larger than the whole capacity: let into the empty queue.
  EXPECT_TRUE(OfferWait(*q, Request(3, 10)).ok());
  EXPECT_TRUE(IsRetryable(OfferWait(*q, Request(4, 1))));
}

TEST(DurableQueueTest, SentSegmentsAreDeleted) {
  TempDir dir;
  auto q = Open(Options(dir.path()));
  for (uint64_t i = 0; i < 300; ++i) ASSERT_TRUE(OfferWait(*q, Request(i, 3)).ok());
  const uint64_t before = q->log_stats().segments;
  EXPECT_GT(before, 10u);
  for (const auto& [id, n] : ReadIds(*q)) q->Commit(id, absl::OkStatus());
  q->Close();  // persists the position now
  EXPECT_LE(q->log_stats().segments, 2u);
}

TEST(DurableQueueTest, DamagedRecordsAreSkippedAndCountedTheRestIsSent) {
  TempDir dir;
  {
    auto q = Open(Options(dir.path()));
    for (uint64_t i = 0; i < 200; ++i) ASSERT_TRUE(OfferWait(*q, Request(i)).ok());
  }
  std::vector<std::string> segments = SegmentLog::SegmentFiles(dir.path());
  ASSERT_GE(segments.size(), 3u);
  {
    // Flip bytes in the middle of the second segment, and tear the last one's tail.
    std::fstream f(segments[1], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(segments[1]) / 2));
    f.write("\xde\xad\xbe\xef\xde\xad\xbe\xef", 8);
  }
  fs::resize_file(segments.back(), fs::file_size(segments.back()) - 5);
  const absl::Time start = absl::Now();
  auto q = Open(Options(dir.path()));
  ASSERT_NE(q, nullptr);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_GE(q->damaged(), 1u);
  std::vector<uint64_t> got = Numbers(ReadIds(*q));
  EXPECT_GT(got.size(), 180u);
  EXPECT_LT(got.size(), 200u);
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
  EXPECT_EQ(got.front(), 0u);
}

// kill -9 at random moments while a child offers: every request whose Offer completed is
// there after the restart, exactly once.
TEST(DurableQueueTest, KillNineLosesNothingAcknowledged) {
  TempDir dir;
  std::mt19937_64 rng(7);
  uint64_t next = 0;
  std::set<uint64_t> acked;
  for (int cycle = 0; cycle < 6; ++cycle) {
    int pipefd[2];
    ASSERT_EQ(::pipe(pipefd), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(pipefd[0]);
      auto q = DurableQueue::Open(Options(dir.path(), 1'000'000));
      if (!q.ok() || !(*q)->Start().ok()) ::_exit(3);
      for (uint64_t i = next;; ++i) {
        if (!OfferWait(**q, Request(i)).ok()) ::_exit(4);
        if (::write(pipefd[1], &i, sizeof i) != sizeof i) ::_exit(5);
      }
    }
    ::close(pipefd[1]);
    absl::SleepFor(absl::Milliseconds(20 + rng() % 150));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    uint64_t id;
    while (::read(pipefd[0], &id, sizeof id) == sizeof id) {
      acked.insert(id);
      next = std::max(next, id + 1);
    }
    ::close(pipefd[0]);
    next += 100000;  // numbers the killed child may have offered without reporting
  }
  auto q = Open(Options(dir.path(), 1'000'000));
  ASSERT_NE(q, nullptr);
  std::vector<uint64_t> got = Numbers(ReadIds(*q));
  std::set<uint64_t> present(got.begin(), got.end());
  EXPECT_EQ(present.size(), got.size()) << "a request is there twice";
  for (uint64_t a : acked) ASSERT_EQ(present.count(a), 1u) << "lost acknowledged request " << a;
  EXPECT_GT(acked.size(), 30u);
}

}  // namespace
}  // namespace otlpd::storage
