// The test binaries' assumptions about Abseil synchronization: lock-order cycles abort (see
// test_main.cc) and, in a ThreadSanitizer build, absl::Mutex is seen as a lock (see
// tsan_absl.cc); without that every guarded access below would be reported as a race.
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace {

// Takes two mutexes in one order, then in the other.
void LockBothWays() {
  absl::Mutex a;
  absl::Mutex b;
  {
    absl::MutexLock la(&a);
    absl::MutexLock lb(&b);
  }
  {
    absl::MutexLock lb(&b);
    absl::MutexLock la(&a);
  }
}

TEST(AbslSyncDeathTest, LockOrderCycleAborts) {
  // Abseil's detector says "Potential Mutex deadlock"; under TSan its own lock-order checker
  // may report the same cycle first.
  EXPECT_DEATH(LockBothWays(), "Potential Mutex deadlock|lock-order-inversion");
}

TEST(AbslSyncTest, GuardedDataAcrossThreads) {
  absl::Mutex mu;
  absl::CondVar cv;
  int counter = 0;  // guarded by mu
  bool done = false;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (i % 2 == 0) {
          absl::MutexLock lock(&mu);
          ++counter;
        } else if (mu.TryLock()) {
          ++counter;
          mu.Unlock();
        } else {
          absl::MutexLock lock(&mu);
          ++counter;
        }
      }
    });
  }
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* c) { return *c == 2000; }, &counter));
    done = true;
    cv.SignalAll();
  });
  {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    absl::MutexLock lock(&mu);
    while (!done && absl::Now() < deadline) cv.WaitWithDeadline(&mu, deadline);
    EXPECT_TRUE(done);
  }
  {
    absl::ReaderMutexLock lock(&mu);
    EXPECT_EQ(counter, 2000);
  }
  EXPECT_TRUE(mu.LockWhenWithTimeout(absl::Condition(
                                         +[](bool* d) { return *d; }, &done),
                                     absl::Seconds(10)));
  counter = 0;
  mu.Unlock();
  for (std::thread& t : threads) t.join();
  waiter.join();
}

TEST(AbslSyncTest, NotificationPublishesWrites) {
  int plain = 0;  // written before Notify, read after the wait returns
  absl::Notification notified;
  std::thread writer([&] {
    plain = 42;
    notified.Notify();
  });
  ASSERT_TRUE(notified.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(plain, 42);
  writer.join();

  int later = 0;
  absl::Notification flag;
  std::thread writer2([&] {
    later = 7;
    flag.Notify();
  });
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!flag.HasBeenNotified() && absl::Now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(flag.HasBeenNotified());
  EXPECT_EQ(later, 7);
  writer2.join();
}

}  // namespace
