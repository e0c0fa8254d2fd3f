// edge_sync's pieces that decide without a network: the circuit breaker's states, the
// compression chooser's pick from measured samples, and the bandwidth limiter's rate.
#include "exporters/edge_sync/circuit_breaker.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "exporters/edge_sync/compression_chooser.h"

namespace otlpd {
namespace {

using State = CircuitBreaker::State;

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresProbesAndCloses) {
  CircuitBreakerSettings s;
  s.failure_threshold = 3;
  s.open_duration = absl::Seconds(10);
  s.half_open_requests = 1;
  CircuitBreaker b(s);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(b.Allow(t0));
  b.Record(false, t0);
  b.Record(false, t0);
  b.Record(true, t0);  // a success resets the count
  b.Record(false, t0);
  b.Record(false, t0);
  EXPECT_EQ(b.state(), State::kClosed);
  b.Record(false, t0);
  EXPECT_EQ(b.state(), State::kOpen);
  EXPECT_FALSE(b.Allow(t0 + absl::Seconds(9)));
  EXPECT_EQ(b.reopens_at(), t0 + absl::Seconds(10));
  // Half-open: one probe at a time.
  EXPECT_TRUE(b.Allow(t0 + absl::Seconds(10)));
  EXPECT_EQ(b.state(), State::kHalfOpen);
  EXPECT_FALSE(b.Allow(t0 + absl::Seconds(10)));
  // The probe fails: open again for another open_duration.
  b.Record(false, t0 + absl::Seconds(11));
  EXPECT_EQ(b.state(), State::kOpen);
  EXPECT_FALSE(b.Allow(t0 + absl::Seconds(20)));
  EXPECT_TRUE(b.Allow(t0 + absl::Seconds(21)));
  b.Record(true, t0 + absl::Seconds(21));
  EXPECT_EQ(b.state(), State::kClosed);
  EXPECT_TRUE(b.Allow(t0 + absl::Seconds(21)));
  EXPECT_TRUE(b.Allow(t0 + absl::Seconds(21)));
}

std::string Compressible(size_t n) {
  std::string out;
  std::mt19937 rng(7);
  const char* words[] = {"service.name", "checkout", "GET /api/v1/cart", "http.method", "200"};
  while (out.size() < n) out += words[rng() % 5];
  return out;
}

std::string Random(size_t n) {
  std::string out(n, '\0');
  std::mt19937 rng(7);
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

TEST(CompressionChooserTest, BandwidthPreferencePicksTheBestRatioCpuPreferenceTheCheapest) {
  const std::vector<Compression> all = {Compression::kNone, Compression::kGzip, Compression::kZstd,
                                        Compression::kLz4, Compression::kSnappy};
  const std::string text = Compressible(256 * 1024);
  CompressionChooser slow_link(all, /*wire_bytes_per_second=*/1e6);
  slow_link.MaybeSample(text, absl::Now());
  EXPECT_NE(slow_link.current(), Compression::kNone);
  // Whatever it picked compresses at least as well as anything cheap (lz4, snappy).
  EXPECT_LE(slow_link.ratio(slow_link.current()), slow_link.ratio(Compression::kLz4));
  EXPECT_LE(slow_link.ratio(slow_link.current()), slow_link.ratio(Compression::kSnappy));
  EXPECT_LT(slow_link.ratio(Compression::kZstd), 0.5);

  // On random bytes nothing helps: a fast link sends them as they are.
  CompressionChooser fast_link(all, /*wire_bytes_per_second=*/1e10);
  fast_link.MaybeSample(Random(256 * 1024), absl::Now());
  EXPECT_EQ(fast_link.current(), Compression::kNone);
  // Samples are taken once per interval only.
  const absl::Time t = absl::Now();
  fast_link.MaybeSample(text, t);
  EXPECT_EQ(fast_link.current(), Compression::kNone);
}

TEST(CompressionChooserTest, AFixedCompressionIsNeverSampled) {
  CompressionChooser fixed({Compression::kGzip}, 1e6);
  fixed.MaybeSample(Compressible(4096), absl::Now());
  EXPECT_EQ(fixed.current(), Compression::kGzip);
  EXPECT_FALSE(fixed.candidates()[0].measured);
}

TEST(BandwidthLimiterTest, HoldsTheRateAfterTheFirstSecondsBurst) {
  BandwidthLimiter limiter(200'000);  // bytes/s
  const absl::Time start = absl::Now();
  // 1 s of burst, then 100 kB more must take about half a second.
  for (int i = 0; i < 30; ++i) limiter.Acquire(10'000, absl::InfiniteFuture());
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(400));
  EXPECT_LT(took, absl::Seconds(5));
  BandwidthLimiter unlimited(0);
  const absl::Time s2 = absl::Now();
  for (int i = 0; i < 1000; ++i) unlimited.Acquire(1 << 20, absl::InfiniteFuture());
  EXPECT_LT(absl::Now() - s2, absl::Seconds(1));
}

}  // namespace
}  // namespace otlpd
