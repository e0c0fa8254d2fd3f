#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
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

}  // namespace otlpd
