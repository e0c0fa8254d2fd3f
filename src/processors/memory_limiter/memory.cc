#include "processors/memory_limiter/memory.h"

#include <fcntl.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

// jemalloc's control interface, when the process runs on jemalloc.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace otlpd {

namespace {

std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A cgroup limit file: a byte count, or "max" / a huge value for "no limit".
std::optional<uint64_t> ParseLimitFile(const std::string& path) {
  std::optional<std::string> text = ReadSmallFile(path);
  if (!text) return std::nullopt;
  uint64_t value = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &value)) return std::nullopt;
  // cgroup v1 reports "unlimited" as a page-rounded INT64_MAX.
  if (value >= (uint64_t{1} << 60)) return std::nullopt;
  return value;
}

}  // namespace

absl::StatusOr<uint64_t> ReadProcessRss() {
  // open/read/close beats keeping a stream: statm is regenerated on every open anyway.
  int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("open /proc/self/statm: ", strerror(errno)));
  char buf[128];
  ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return absl::InternalError("read /proc/self/statm failed");
  buf[n] = '\0';
  // "size resident shared text lib data dt", in pages.
  std::vector<absl::string_view> fields = absl::StrSplit(buf, ' ', absl::SkipEmpty());
  uint64_t pages = 0;
  if (fields.size() < 2 || !absl::SimpleAtoi(fields[1], &pages)) {
    return absl::InternalError("cannot parse /proc/self/statm");
  }
  static const uint64_t kPageSize = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return pages * kPageSize;
}

absl::StatusOr<uint64_t> ReadMemTotal(const std::string& meminfo_path) {
  std::ifstream in(meminfo_path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", meminfo_path));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "MemTotal:")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    bool kb = absl::ConsumeSuffix(&rest, "kB");
    uint64_t value = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &value)) break;
    return kb ? value * 1024 : value;
  }
  return absl::NotFoundError(absl::StrCat("no MemTotal in ", meminfo_path));
}

std::optional<uint64_t> ReadCgroupMemoryLimit(const std::string& cgroup_root) {
  std::string v2_path = "/";
  std::string v1_path;
  bool v1 = false;
  if (std::optional<std::string> self = ReadSmallFile("/proc/self/cgroup")) {
    for (absl::string_view line : absl::StrSplit(*self, '\n', absl::SkipEmpty())) {
      // "hierarchy-id:controllers:path"
      std::vector<absl::string_view> parts = absl::StrSplit(line, absl::MaxSplits(':', 2));
      if (parts.size() != 3) continue;
      if (parts[0] == "0" && parts[1].empty()) v2_path = std::string(parts[2]);
      for (absl::string_view c : absl::StrSplit(parts[1], ',')) {
        if (c == "memory") {
          v1 = true;
          v1_path = std::string(parts[2]);
        }
      }
    }
  }
  // Hybrid hosts have both hierarchies; the v1 memory controller, when listed, is the one
  // that limits us.
  std::vector<std::string> candidates;
  if (v1) {
    candidates.push_back(absl::StrCat(cgroup_root, "/memory", v1_path, "/memory.limit_in_bytes"));
    candidates.push_back(absl::StrCat(cgroup_root, "/memory/memory.limit_in_bytes"));
  }
  if (v2_path != "/") candidates.push_back(absl::StrCat(cgroup_root, v2_path, "/memory.max"));
  candidates.push_back(absl::StrCat(cgroup_root, "/memory.max"));
  for (const std::string& path : candidates) {
    if (std::optional<uint64_t> limit = ParseLimitFile(path)) return limit;
  }
  return std::nullopt;
}

absl::StatusOr<uint64_t> AvailableMemory(const std::string& meminfo_path,
                                         const std::string& cgroup_root) {
  absl::StatusOr<uint64_t> total = ReadMemTotal(meminfo_path);
  std::optional<uint64_t> cgroup = ReadCgroupMemoryLimit(cgroup_root);
  if (!total.ok()) {
    if (cgroup) return *cgroup;
    return total.status();
  }
  if (cgroup && *cgroup < *total) return *cgroup;
  return *total;
}

MemoryLimits ComputeLimits(const MemoryLimiterConfig& config, uint64_t total_memory) {
  constexpr uint64_t kMiB = 1024 * 1024;
  MemoryLimits limits;
  if (config.limit_mib > 0) {
    limits.limit = static_cast<uint64_t>(config.limit_mib) * kMiB;
    limits.spike = static_cast<uint64_t>(config.spike_limit_mib) * kMiB;
  } else {
    limits.limit = total_memory / 100 * static_cast<uint64_t>(config.limit_percentage);
    limits.spike = total_memory / 100 * static_cast<uint64_t>(config.spike_limit_percentage);
  }
  // As otelcol: an unset spike limit is 20% of the limit.
  if (limits.spike == 0) limits.spike = limits.limit / 5;
  if (limits.spike >= limits.limit) limits.spike = 0;  // rejected by validation already
  return limits;
}

namespace {

// jemalloc's configured decay, restored when eager release ends.
struct JemallocDecay {
  ssize_t dirty_ms = 10000;
  ssize_t muzzy_ms = 0;
};

JemallocDecay ConfiguredDecay() {
  static const JemallocDecay decay = [] {
    JemallocDecay d;
    size_t len = sizeof(ssize_t);
    mallctl("arenas.dirty_decay_ms", &d.dirty_ms, &len, nullptr, 0);
    len = sizeof(ssize_t);
    mallctl("arenas.muzzy_decay_ms", &d.muzzy_ms, &len, nullptr, 0);
    return d;
  }();
  return decay;
}

// Sets the decay of every arena, and of arenas created later.
void SetJemallocDecay(JemallocDecay decay) {
  mallctl("arenas.dirty_decay_ms", nullptr, nullptr, &decay.dirty_ms, sizeof(ssize_t));
  mallctl("arenas.muzzy_decay_ms", nullptr, nullptr, &decay.muzzy_ms, sizeof(ssize_t));
  unsigned narenas = 0;
  size_t len = sizeof(narenas);
  if (mallctl("arenas.narenas", &narenas, &len, nullptr, 0) != 0) return;
  for (unsigned i = 0; i < narenas; ++i) {
    // Fails for arena slots not in use; nothing to set there.
    const std::string dirty = absl::StrCat("arena.", i, ".dirty_decay_ms");
    const std::string muzzy = absl::StrCat("arena.", i, ".muzzy_decay_ms");
    mallctl(dirty.c_str(), nullptr, nullptr, &decay.dirty_ms, sizeof(ssize_t));
    mallctl(muzzy.c_str(), nullptr, nullptr, &decay.muzzy_ms, sizeof(ssize_t));
  }
}

absl::Mutex eager_mu(absl::kConstInit);
int eager_holders ABSL_GUARDED_BY(eager_mu) = 0;

}  // namespace

void ReleaseFreeHeap() {
  if (mallctl != nullptr) {
    constexpr const char* kPurgeAllArenas = "arena.4096.purge";  // 4096: MALLCTL_ARENAS_ALL
    mallctl(kPurgeAllArenas, nullptr, nullptr, nullptr, 0);
  }
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

void HoldEagerRelease(bool on) {
  absl::MutexLock lock(&eager_mu);
  const int before = eager_holders;
  eager_holders = std::max(0, eager_holders + (on ? 1 : -1));
  if (mallctl == nullptr || (before > 0) == (eager_holders > 0)) return;
  const JemallocDecay configured = ConfiguredDecay();
  SetJemallocDecay(eager_holders > 0 ? JemallocDecay{0, 0} : configured);
}

bool EagerReleaseHeld() {
  absl::MutexLock lock(&eager_mu);
  return eager_holders > 0;
}

MemoryAccount& MemoryAccount::Process() {
  static MemoryAccount* const account = new MemoryAccount();
  return *account;
}

void MemoryAccount::Measure(int64_t decided_ns) {
  absl::MutexLock lock(&measure_mu_);
  if (last_measure_ns_.load(std::memory_order_relaxed) >= decided_ns) return;  // just done
  // What was admitted before the reading is in it (or freed); what is admitted while
  // reading stays counted, possibly twice, which errs on the safe side.
  const int64_t admitted_before = admitted_.load(std::memory_order_relaxed);
  absl::StatusOr<uint64_t> rss = ReadProcessRss();
  // Without a reading, keep the last one rather than refusing forever.
  if (rss.ok()) rss_.store(*rss, std::memory_order_relaxed);
  admitted_.fetch_sub(admitted_before, std::memory_order_relaxed);
  measurements_.fetch_add(1, std::memory_order_relaxed);
  last_measure_ns_.store(absl::GetCurrentTimeNanos(), std::memory_order_relaxed);
}

}  // namespace otlpd
