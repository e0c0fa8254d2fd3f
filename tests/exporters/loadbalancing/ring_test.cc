// The consistent-hash ring: even spread, ~1/N of the keys move on a membership change and
// only to / from the member that changed, and the same member set gives the same ring
// whatever order it is listed in.
#include "exporters/loadbalancing/ring.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace otlpd {
namespace {

constexpr int kKeys = 60000;

std::vector<std::string> Members(int n) {
  std::vector<std::string> m;
  for (int i = 0; i < n; ++i) m.push_back(absl::StrCat("10.0.0.", i + 1, ":4317"));
  return m;
}

// Owner (endpoint) of each of kKeys trace-id-like keys.
std::vector<std::string> Owners(const HashRing& ring) {
  std::vector<std::string> owners;
  owners.reserve(kKeys);
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = absl::StrCat("trace-", k, "-", k * 7919);
    owners.push_back(ring.members()[ring.Lookup(HashRoutingKey(key))]);
  }
  return owners;
}

TEST(HashRingTest, EmptyRingOwnsNothing) {
  HashRing ring;
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.Lookup(12345), -1);
}

TEST(HashRingTest, SpreadsKeysEvenly) {
  for (int n : {2, 3, 5, 8}) {
    HashRing ring(Members(n));
    std::map<std::string, int> count;
    for (const std::string& o : Owners(ring)) ++count[o];
    ASSERT_EQ(count.size(), static_cast<size_t>(n));
    const double mean = static_cast<double>(kKeys) / n;
    for (const auto& [member, c] : count) {
      EXPECT_NEAR(c, mean, mean * 0.2) << n << " members, " << member;
    }
  }
}

TEST(HashRingTest, SameMembersInAnyOrderGiveTheSameRing) {
  std::vector<std::string> forward = Members(4);
  std::vector<std::string> backward(forward.rbegin(), forward.rend());
  backward.push_back(forward[0]);  // duplicates collapse
  HashRing a(forward), b(backward);
  EXPECT_EQ(a.members(), b.members());
  EXPECT_EQ(Owners(a), Owners(b));
}

TEST(HashRingTest, AddingAMemberMovesAboutOneNthAndOnlyToIt) {
  for (int n : {2, 3, 6}) {
    HashRing before(Members(n)), after(Members(n + 1));
    const std::string added = Members(n + 1).back();
    std::vector<std::string> a = Owners(before), b = Owners(after);
    int moved = 0;
    for (int k = 0; k < kKeys; ++k) {
      if (a[k] == b[k]) continue;
      ++moved;
      EXPECT_EQ(b[k], added) << "key " << k << " moved between two old members";
    }
    const double expected = static_cast<double>(kKeys) / (n + 1);
    EXPECT_NEAR(moved, expected, expected * 0.25) << n << " -> " << n + 1;
  }
}

TEST(HashRingTest, RemovingAMemberMovesOnlyItsKeys) {
  HashRing before(Members(3));
  std::vector<std::string> remaining = Members(3);
  const std::string removed = remaining[1];
  remaining.erase(remaining.begin() + 1);
  HashRing after(remaining);
  std::vector<std::string> a = Owners(before), b = Owners(after);
  int moved = 0;
  for (int k = 0; k < kKeys; ++k) {
    if (a[k] == removed) {
      ++moved;
      EXPECT_NE(b[k], removed);
    } else {
      EXPECT_EQ(a[k], b[k]) << "key " << k << " of a remaining member moved";
    }
  }
  EXPECT_NEAR(moved, kKeys / 3.0, kKeys / 3.0 * 0.2);
}

TEST(HashRingTest, KeyHashIsStable) {
  // Pinned: edges in other processes (or a restarted one) must route a key the same way.
  EXPECT_EQ(HashRoutingKey("abc"), HashRoutingKey(std::string("abc")));
  EXPECT_NE(HashRoutingKey("abc"), HashRoutingKey("abd"));
  EXPECT_EQ(HashRoutingKey(""), 0x2D06800538D394C2ull);  // XXH3_64bits of no bytes
}

}  // namespace
}  // namespace otlpd
