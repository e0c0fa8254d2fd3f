#include "testing/ports.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace otlpd::testing {
namespace {

std::string LockFile(int port) { return absl::StrCat(PortReservationDir(), "/", port); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::pair<int, int> EphemeralRange() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int lo = 0, hi = 0;
  in >> lo >> hi;
  return {lo, hi};
}

bool ReadAll(int fd, void* buf, size_t n) {
  char* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// A child process that reserves `count` ports, reports them on a pipe, holds them until told
// to go (a byte on another pipe) and then exits normally.
struct Child {
  pid_t pid = -1;
  int ports_fd = -1;  // read end: the child's ports
  int go_fd = -1;     // write end: closing it lets the child exit
};

Child StartChild(int count) {
  int ports[2], go[2];
  if (pipe(ports) != 0 || pipe(go) != 0) std::abort();
  pid_t pid = fork();
  if (pid < 0) std::abort();
  if (pid == 0) {
    close(ports[0]);
    close(go[1]);
    for (int i = 0; i < count; ++i) {
      int port = FreePort();
      if (write(ports[1], &port, sizeof(port)) != sizeof(port)) _exit(2);
    }
    char c;
    (void)read(go[0], &c, 1);  // returns 0 once the parent closes its end
    std::exit(0);              // runs the atexit release
  }
  close(ports[1]);
  close(go[0]);
  return Child{pid, ports[0], go[1]};
}

TEST(FreePortTest, DistinctAcrossProcessesOutsideEphemeralRangeAndReleasedAtExit) {
  constexpr int kChildren = 4;
  constexpr int kPerChild = 150;
  std::vector<Child> children;
  for (int i = 0; i < kChildren; ++i) children.push_back(StartChild(kPerChild));
  std::vector<int> mine;
  for (int i = 0; i < 50; ++i) mine.push_back(FreePort());

  std::set<int> all(mine.begin(), mine.end());
  ASSERT_EQ(all.size(), mine.size()) << "FreePort gave a port twice within one process";
  std::vector<std::vector<int>> theirs(kChildren);
  for (int c = 0; c < kChildren; ++c) {
    for (int i = 0; i < kPerChild; ++i) {
      int port = 0;
      ASSERT_TRUE(ReadAll(children[c].ports_fd, &port, sizeof(port))) << "child " << c;
      EXPECT_TRUE(all.insert(port).second) << "port " << port << " given twice";
      theirs[c].push_back(port);
    }
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(50 + kChildren * kPerChild));

  const auto [eph_lo, eph_hi] = EphemeralRange();
  for (int port : all) {
    EXPECT_GE(port, 20000);
    EXPECT_LE(port, 32000);
    EXPECT_TRUE(port < eph_lo || port > eph_hi) << port << " is in the ephemeral range";
  }
  for (int port : mine) {
    EXPECT_EQ(ReadFile(LockFile(port)), absl::StrCat(getpid(), "\n"));
    EXPECT_FALSE(PortOpen(port));
  }
  for (int c = 0; c < kChildren; ++c) {
    EXPECT_EQ(ReadFile(LockFile(theirs[c].front())), absl::StrCat(children[c].pid, "\n"));
  }

  // Later children inherited the earlier ones' pipe ends: let them all go before waiting.
  for (Child& child : children) close(child.go_fd);
  for (Child& child : children) {
    int status = 0;
    ASSERT_EQ(waitpid(child.pid, &status, 0), child.pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    close(child.ports_fd);
  }
  // Released at exit: the children's lock files are gone (unless another process has taken
  // the port since, in which case it holds a fresh file with its own pid).
  for (int c = 0; c < kChildren; ++c) {
    for (int port : theirs[c]) {
      EXPECT_NE(ReadFile(LockFile(port)), absl::StrCat(children[c].pid, "\n")) << port;
    }
  }
  // Ours are still held.
  EXPECT_EQ(ReadFile(LockFile(mine.front())), absl::StrCat(getpid(), "\n"));
}

TEST(FreePortTest, TakesOverLockFilesOfDeadProcesses) {
  // A child reserves ports and is killed: its lock files stay behind, naming a dead pid.
  Child child = StartChild(20);
  std::vector<int> left;
  for (int i = 0; i < 20; ++i) {
    int port = 0;
    ASSERT_TRUE(ReadAll(child.ports_fd, &port, sizeof(port)));
    left.push_back(port);
  }
  kill(child.pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(child.pid, &status, 0), child.pid);
  close(child.ports_fd);
  close(child.go_fd);
  const std::string dead = absl::StrCat(child.pid, "\n");
  for (int port : left) EXPECT_EQ(ReadFile(LockFile(port)), dead) << port;

  // Make every other free candidate port look reserved by that dead process too, so that
  // FreePort() must take over stale files to return anything.
  std::vector<std::string> planted;
  for (int port = 20000; port <= 32000; ++port) {
    const std::string path = LockFile(port);
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) continue;  // reserved by someone (maybe us), or by the dead child
    EXPECT_EQ(write(fd, dead.data(), dead.size()), static_cast<ssize_t>(dead.size()));
    close(fd);
    planted.push_back(path);
  }

  for (int i = 0; i < 5; ++i) {
    int port = FreePort();
    EXPECT_EQ(ReadFile(LockFile(port)), absl::StrCat(getpid(), "\n")) << port;
  }

  // Remove what we planted and the dead child left, where nobody took it over: under flock,
  // like a releasing owner does.
  for (int port : left) planted.push_back(LockFile(port));
  for (const std::string& path : planted) {
    int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) unlink(path.c_str());
    close(fd);
  }
}

TEST(FreePortTest, ClosedPortRefusesConnections) {
  int port = ClosedPort();
  EXPECT_FALSE(PortOpen(port));
}

}  // namespace
}  // namespace otlpd::testing
