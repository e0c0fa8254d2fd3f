// Fixed-memory log-linear latency histogram (HDR-style): 64 linear sub-buckets per power of
// two, so any recorded value is reported within ~1.6 % of its true value.
#ifndef OTLPD_BENCH_LOADGEN_LATENCY_HISTOGRAM_H_
#define OTLPD_BENCH_LOADGEN_LATENCY_HISTOGRAM_H_

#include <cstdint>
#include <vector>

namespace otlpd::loadgen {

class LatencyHistogram {
 public:
  LatencyHistogram();

  void Record(int64_t nanos);
  void Merge(const LatencyHistogram& other);

  int64_t count() const { return count_; }
  int64_t min_nanos() const { return count_ == 0 ? 0 : min_; }
  int64_t max_nanos() const { return max_; }
  double mean_nanos() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / count_; }
  // Value at `quantile` in [0, 1] (midpoint of its bucket, clamped to [min, max]).
  int64_t ValueAtQuantile(double quantile) const;

 private:
  static int BucketOf(uint64_t value);
  static uint64_t BucketLow(int bucket);
  static uint64_t BucketHigh(int bucket);

  std::vector<int64_t> buckets_;
  int64_t count_ = 0;
  int64_t sum_ = 0;
  int64_t min_ = INT64_MAX;
  int64_t max_ = 0;
};

}  // namespace otlpd::loadgen

#endif  // OTLPD_BENCH_LOADGEN_LATENCY_HISTOGRAM_H_
