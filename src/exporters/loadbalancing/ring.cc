#include "exporters/loadbalancing/ring.h"

#include <xxhash.h>

#include <algorithm>

namespace otlpd {

uint64_t HashRoutingKey(std::string_view bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

HashRing::HashRing(std::vector<std::string> members, int virtual_nodes)
    : members_(std::move(members)) {
  std::sort(members_.begin(), members_.end());
  members_.erase(std::unique(members_.begin(), members_.end()), members_.end());
  points_.reserve(members_.size() * static_cast<size_t>(std::max(1, virtual_nodes)));
  for (uint32_t m = 0; m < members_.size(); ++m) {
    for (int v = 0; v < std::max(1, virtual_nodes); ++v) {
      points_.emplace_back(
          XXH3_64bits_withSeed(members_[m].data(), members_[m].size(), static_cast<uint64_t>(v)),
          m);
    }
  }
  // Members are sorted, so a tie between two points breaks the same way everywhere.
  std::sort(points_.begin(), points_.end());
}

int HashRing::Lookup(uint64_t key_hash) const {
  if (points_.empty()) return -1;
  auto it = std::lower_bound(points_.begin(), points_.end(), std::make_pair(key_hash, uint32_t{0}));
  if (it == points_.end()) it = points_.begin();  // wrap around
  return static_cast<int>(it->second);
}

}  // namespace otlpd
