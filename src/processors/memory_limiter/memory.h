#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "processors/memory_limiter/config.h"

namespace otlpd {

// Resident set size of this process, from /proc/self/statm.
absl::StatusOr<uint64_t> ReadProcessRss();

// MemTotal of a /proc/meminfo style file, in bytes.
absl::StatusOr<uint64_t> ReadMemTotal(const std::string& meminfo_path = "/proc/meminfo");

// The memory limit of this process's cgroup (v2 memory.max, else v1 memory.limit_in_bytes),
// or nullopt when there is none.
std::optional<uint64_t> ReadCgroupMemoryLimit(const std::string& cgroup_root = "/sys/fs/cgroup");

// Memory the process may use: the cgroup limit when set and below MemTotal, else MemTotal.
absl::StatusOr<uint64_t> AvailableMemory(const std::string& meminfo_path = "/proc/meminfo",
                                         const std::string& cgroup_root = "/sys/fs/cgroup");

struct MemoryLimits {
  uint64_t limit = 0;  // hard limit, bytes
  uint64_t spike = 0;  // headroom kept below the hard limit, bytes
  uint64_t soft() const { return limit - spike; }
};

// The limits `config` describes; `total_memory` is used by the percentage form only.
MemoryLimits ComputeLimits(const MemoryLimiterConfig& config, uint64_t total_memory);

// Returns freed heap pages to the OS: purges jemalloc's dirty pages in every arena when the
// process runs on jemalloc (the daemon does; malloc_trim does nothing there), and
// malloc_trim for glibc's heap.
void ReleaseFreeHeap();

// While on, jemalloc returns pages to the OS as soon as they are freed (dirty and muzzy decay
// 0) instead of keeping them for reuse; off restores the configured decay. Costs a syscall
// per freed run, so it is meant for while memory is short. Reference-counted, as every
// memory_limiter instance may ask for it. No-op without jemalloc.
void HoldEagerRelease(bool on);
bool EagerReleaseHeld();

// What the process is estimated to use, shared by every memory_limiter instance (there is one
// per pipeline, and all of them fill the same process): the last RSS reading, plus the
// estimated size of the data let in since that reading (RSS may not show it yet), plus the
// data let in and not yet completed downstream. Reading RSS is a syscall, so it is done when
// the estimate gets near a limit, not per request; between readings the estimate only grows
// with what is let in, which is what bounds the overshoot.
class MemoryAccount {
 public:
  // The process's account; never destroyed, so late completions may still use it.
  static MemoryAccount& Process();

  // Last RSS reading + admitted since + in flight.
  uint64_t Estimate() const {
    return rss_.load(std::memory_order_relaxed) + NonNegative(admitted_) + NonNegative(in_flight_);
  }
  // Last RSS reading + in flight: the estimate just after a reading.
  uint64_t Measured() const {
    return rss_.load(std::memory_order_relaxed) + NonNegative(in_flight_);
  }
  // Re-reads RSS and forgets what was admitted before the reading, unless another thread
  // read it at or after `decided_ns` (GetCurrentTimeNanos when the caller chose to measure).
  void Measure(int64_t decided_ns);

  // Data of estimated size `bytes` let in; `Release` it once downstream has completed it.
  void Admit(int64_t bytes) {
    admitted_.fetch_add(bytes, std::memory_order_relaxed);
    in_flight_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void Release(int64_t bytes) { in_flight_.fetch_sub(bytes, std::memory_order_relaxed); }

  uint64_t rss() const { return rss_.load(std::memory_order_relaxed); }
  int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  int64_t last_measure_ns() const { return last_measure_ns_.load(std::memory_order_relaxed); }
  // RSS readings so far.
  uint64_t measurements() const { return measurements_.load(std::memory_order_relaxed); }

 private:
  static uint64_t NonNegative(const std::atomic<int64_t>& v) {
    const int64_t x = v.load(std::memory_order_relaxed);
    return x > 0 ? static_cast<uint64_t>(x) : 0;
  }

  std::atomic<uint64_t> rss_{0};
  std::atomic<int64_t> admitted_{0};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> last_measure_ns_{0};
  std::atomic<uint64_t> measurements_{0};
  absl::Mutex measure_mu_;  // one reading at a time; the others use it
};

}  // namespace otlpd
