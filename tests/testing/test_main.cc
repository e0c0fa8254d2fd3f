// main() of every test executable (instead of GTest::gtest_main).
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

int main(int argc, char** argv) {
  // A lock-order cycle between absl::Mutexes fails the test on the spot. Debian's Abseil is
  // built without NDEBUG, so the detector is compiled in (and aborting is already its default
  // there); saying so here keeps that true whatever the build of Abseil defaults to.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kAbort);
  testing::InitGoogleMock(&argc, argv);
  return RUN_ALL_TESTS();
}
