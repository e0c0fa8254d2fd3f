#include "testing/ports.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace otlpd::testing {
namespace {

// Ports are handed out from here, minus the kernel's ephemeral range: the kernel never gives
// these to a client socket or a bind to port 0, so only other FreePort() callers compete.
constexpr int kLowPort = 20000;
constexpr int kHighPort = 32000;  // inclusive
// One lock file per reserved port, shared by every test process on the machine (ctest -j).
constexpr char kReservationDir[] = "/tmp/otlpd-test-ports";

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "FreePort: %s: %s\n", what, std::strerror(errno));
  std::abort();
}

// The candidate ports: [kLowPort, kHighPort] without ip_local_port_range.
std::vector<int> Candidates() {
  int eph_low = 32768, eph_high = 60999;  // the kernel's default
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  if (int lo, hi; range >> lo >> hi) eph_low = lo, eph_high = hi;
  std::vector<int> ports;
  for (int p = kLowPort; p <= kHighPort; ++p) {
    if (p < eph_low || p > eph_high) ports.push_back(p);
  }
  if (ports.empty()) {
    std::fprintf(stderr, "FreePort: ephemeral range %d-%d covers all of %d-%d\n", eph_low, eph_high,
                 kLowPort, kHighPort);
    std::abort();
  }
  return ports;
}

// True if a TCP socket can bind 127.0.0.1:port right now (no SO_REUSEADDR: a port in
// TIME_WAIT counts as taken too).
bool Bindable(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) Die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// The ports this process reserved: each lock file stays open with an exclusive flock until
// exit. The kernel drops the flock when the process dies however it dies, which is what makes
// a file left behind by a killed test stale and free to take over.
class Reservations {
 public:
  static Reservations& Get() {
    static Reservations* instance = new Reservations();  // never destroyed: used at exit
    return *instance;
  }

  int Reserve() {
    absl::MutexLock lock(&mu_);
    if (getpid() != owner_) {
      // A forked child: the parent's lock files stay the parent's. Dropping our copies of
      // their descriptors leaves the parent's flocks in place.
      for (const auto& [port, fd] : held_) close(fd);
      held_.clear();
      owner_ = getpid();
    }
    const size_t n = candidates_.size();
    const size_t start = absl::Uniform<size_t>(rng_, 0, n);
    for (size_t i = 0; i < n; ++i) {
      const int port = candidates_[(start + i) % n];
      if (held_.contains(port)) continue;
      const int fd = TryLock(port);
      if (fd < 0) continue;
      if (!Bindable(port)) {  // someone outside this scheme (or a lingering daemon) has it
        Release(port, fd);
        continue;
      }
      held_[port] = fd;
      return port;
    }
    std::fprintf(stderr, "FreePort: every port in %d-%d is reserved or in use\n", kLowPort,
                 kHighPort);
    std::abort();
  }

  // At exit: remove this process's lock files so the directory does not grow.
  void ReleaseAll() {
    absl::MutexLock lock(&mu_);
    if (getpid() != owner_) return;  // a forked child that called exit()
    for (const auto& [port, fd] : held_) Release(port, fd);
    held_.clear();
  }

 private:
  Reservations() : candidates_(Candidates()), owner_(getpid()) {
    if (mkdir(kReservationDir, 0777) == 0) {
      chmod(kReservationDir, 01777);  // shared like /tmp, whatever the umask
    } else if (errno != EEXIST) {
      Die(kReservationDir);
    }
    std::atexit([] { Get().ReleaseAll(); });
  }

  static std::string PathOf(int port) { return absl::StrCat(kReservationDir, "/", port); }

  // Takes the lock file of `port`: returns its descriptor (flock held, our pid written), or
  // -1 when a live process holds it.
  static int TryLock(int port) {
    const std::string path = PathOf(port);
    for (int attempt = 0; attempt < 3; ++attempt) {
      int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
      if (fd < 0) Die(path.c_str());
      if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        if (errno == EWOULDBLOCK) return -1;
        Die("flock");
      }
      // The previous owner may have unlinked the file between our open and flock: then the
      // lock is on a dead inode and the path may already be someone else's. Start over.
      struct stat held {};
      struct stat now {};
      if (fstat(fd, &held) != 0) Die("fstat");
      if (stat(path.c_str(), &now) != 0 || now.st_ino != held.st_ino || now.st_dev != held.st_dev) {
        close(fd);
        continue;
      }
      const std::string pid = absl::StrCat(getpid(), "\n");
      if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) Die("write");
      return fd;
    }
    return -1;
  }

  static void Release(int port, int fd) {
    unlink(PathOf(port).c_str());  // while the flock is still held: see TryLock
    close(fd);
  }

  absl::Mutex mu_;
  const std::vector<int> candidates_;
  pid_t owner_ ABSL_GUARDED_BY(mu_);
  absl::BitGen rng_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int, int> held_ ABSL_GUARDED_BY(mu_);  // port -> lock file descriptor
};

}  // namespace

int FreePort() { return Reservations::Get().Reserve(); }

int ClosedPort() { return FreePort(); }

std::string PortReservationDir() { return kReservationDir; }

bool PortOpen(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace otlpd::testing
