#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace otlpd {

// 64-bit hash of a routing key (XXH3: stable across processes and machines, so every
// edge with the same backends routes a key the same way).
uint64_t HashRoutingKey(std::string_view bytes);

// A consistent-hash ring (ketama style): each member owns `virtual_nodes` points, placed by
// hashing its name, and a key belongs to the member of the first point at or after the
// key's hash. Adding or removing one of N members moves only the keys of that member's
// arcs, about 1/N of them; where a member's points sit depends only on its own name, so
// the same member set gives the same ring in every process. Immutable.
class HashRing {
 public:
  static constexpr int kDefaultVirtualNodes = 256;

  explicit HashRing(std::vector<std::string> members = {},
                    int virtual_nodes = kDefaultVirtualNodes);

  // Index into members() of the owner of `key_hash`; -1 when the ring is empty.
  int Lookup(uint64_t key_hash) const;
  // Sorted and without duplicates.
  const std::vector<std::string>& members() const { return members_; }
  bool empty() const { return members_.empty(); }

 private:
  std::vector<std::string> members_;
  std::vector<std::pair<uint64_t, uint32_t>> points_;  // (position, member index), sorted
};

}  // namespace otlpd
