#include "latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace otlpd::loadgen {
namespace {

constexpr int kSubBucketBits = 6;                 // 64 sub-buckets per octave
constexpr int kSubBuckets = 1 << kSubBucketBits;  // 64
constexpr int kLinearLimit = 2 * kSubBuckets;     // values below are exact
constexpr int kBucketCount = (64 - kSubBucketBits) * kSubBuckets + kSubBuckets;

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBucketCount, 0) {}

int LatencyHistogram::BucketOf(uint64_t value) {
  if (value < kLinearLimit) return static_cast<int>(value);
  const int msb = 63 - std::countl_zero(value);
  const int shift = msb - kSubBucketBits;
  return (msb - kSubBucketBits + 1) * kSubBuckets +
         static_cast<int>((value >> shift) - kSubBuckets);
}

uint64_t LatencyHistogram::BucketLow(int bucket) {
  if (bucket < kLinearLimit) return static_cast<uint64_t>(bucket);
  const int shift = bucket / kSubBuckets - 1;
  const uint64_t sub = static_cast<uint64_t>(bucket % kSubBuckets) + kSubBuckets;
  return sub << shift;
}

uint64_t LatencyHistogram::BucketHigh(int bucket) {
  if (bucket < kLinearLimit) return static_cast<uint64_t>(bucket);
  const int shift = bucket / kSubBuckets - 1;
  return BucketLow(bucket) + ((uint64_t{1} << shift) - 1);
}

void LatencyHistogram::Record(int64_t nanos) {
  if (nanos < 0) nanos = 0;
  ++buckets_[BucketOf(static_cast<uint64_t>(nanos))];
  ++count_;
  sum_ += nanos;
  min_ = std::min(min_, nanos);
  max_ = std::max(max_, nanos);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

int64_t LatencyHistogram::ValueAtQuantile(double quantile) const {
  if (count_ == 0) return 0;
  quantile = std::clamp(quantile, 0.0, 1.0);
  // Rank of the sample, 1-based: the smallest value with at least this many at or below.
  const int64_t rank =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(quantile * static_cast<double>(count_))));
  int64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const int bucket = static_cast<int>(i);
      const int64_t mid = static_cast<int64_t>((BucketLow(bucket) + BucketHigh(bucket)) / 2);
      return std::clamp(mid, min_nanos(), max_);
    }
  }
  return max_;
}

}  // namespace otlpd::loadgen
