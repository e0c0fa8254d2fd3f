#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace otlpd::query {

// The math behind /api/v1/metrics: points of a series are put into step buckets
// [k·step, (k+1)·step) counted from the Unix epoch (so that every series and every query
// with the same step shares bucket edges), and each bucket gets one value. Times are Unix
// nanoseconds; samples are in time order. Only the buckets from the one holding `from` up to
// the one holding `to` are returned; earlier samples still serve as the baseline of a rate
// or histogram.

int64_t StepBucket(int64_t time_ns, int64_t step_ns);  // floor to a multiple of step

struct StepValue {
  int64_t bucket_ns = 0;
  double value = 0;
  bool operator==(const StepValue&) const = default;
};

struct CounterSample {
  int64_t time_ns = 0;
  int64_t start_ns = 0;  // OTLP start_time_unix_nano; 0 when unknown
  double value = 0;
};

// Gauges and non-monotonic sums: the last value in each bucket.
std::vector<StepValue> LastPerStep(const std::vector<CounterSample>& samples, int64_t step_ns,
                                   int64_t from_ns, int64_t to_ns);

// Monotonic sums: the per-second rate in each bucket, = Σ increases / Σ their intervals of
// the samples that fall in it (so irregular or sparse reports give their true average rate,
// and a bucket without a sample has no value rather than a made-up zero).
//  - cumulative: a sample's increase is its value minus the previous sample's, over the time
//    between them. A value below the previous one or a changed start time is a counter
//    reset: the increase is the whole new value, over the time since its start when known.
//    The first sample is only a baseline, unless its start time is at or after
//    `fresh_after_ns` — the counter began inside the queried window, from zero.
//  - delta: a sample's value is its increase over (start, time], or since the previous
//    sample when the start is unknown, or over one step for a lone sample.
std::vector<StepValue> RatePerStep(const std::vector<CounterSample>& samples, bool cumulative,
                                   int64_t step_ns, int64_t from_ns, int64_t to_ns,
                                   int64_t fresh_after_ns);

// Part of a distribution: `count` observations spread evenly over [lower, upper] (a single
// value when lower == upper).
struct Range {
  double lower = 0;
  double upper = 0;
  double count = 0;
};

// The q-quantile (0 ≤ q ≤ 1) of a distribution made of ranges, by linear interpolation
// within the range where the rank q·total falls (Prometheus' histogram_quantile). Ranges
// may come from several histograms with different layouts: equal ranges are added up, and
// overlapping ones are treated as the mixture of their uniform spreads. nullopt when there
// are no observations.
std::optional<double> Quantile(double q, std::vector<Range> ranges);

// The ranges of an explicit-bounds histogram: counts[i] lies in (bounds[i-1], bounds[i]],
// counts[0] in (-inf, bounds[0]], the last in (bounds[n-1], +inf). The open ends become
// finite as Prometheus does — the first range starts at 0 when its bound is positive, else
// it is the point bounds[0]; the overflow range is the point bounds[n-1] — unless `min` /
// `max` (of exactly these observations) are known, which then close them. No bounds: one
// range [min, max] (or the point `fallback` when they are unknown).
std::vector<Range> ExplicitRanges(const std::vector<double>& bounds,
                                  const std::vector<double>& counts, std::optional<double> min,
                                  std::optional<double> max, double fallback = 0);

// An exponential histogram (OTLP ExponentialHistogramDataPoint) as index → count maps:
// positive bucket i holds (base^i, base^(i+1)], negative bucket i holds [-base^(i+1),
// -base^i), base = 2^(2^-scale); the zero bucket holds [-zero_threshold, zero_threshold].
struct ExpoHistogram {
  int32_t scale = 0;
  double zero_count = 0;
  double zero_threshold = 0;
  std::map<int32_t, double> positive;
  std::map<int32_t, double> negative;

  static ExpoHistogram FromBuckets(int32_t scale, double zero_count, double zero_threshold,
                                   int32_t positive_offset,
                                   const std::vector<double>& positive_counts,
                                   int32_t negative_offset,
                                   const std::vector<double>& negative_counts);
  // Merges buckets down to the coarser `scale` (≤ this->scale): index i → i >> (diff).
  void Downscale(int32_t to_scale);
  // Adds `other` (after bringing both to the coarser scale).
  void Add(ExpoHistogram other);
  double Total() const;
};

// a − b bucket by bucket at the coarser of both scales; nullopt when any count went down (the
// histogram was reset between them).
std::optional<ExpoHistogram> Subtract(ExpoHistogram a, ExpoHistogram b);

// The ranges of an exponential histogram, with min/max (when known) tightening the outermost
// buckets.
std::vector<Range> ExpoRanges(const ExpoHistogram& h, std::optional<double> min = std::nullopt,
                              std::optional<double> max = std::nullopt);

// One sample of a histogram series: explicit (bounds + counts) or exponential.
struct HistogramSample {
  int64_t time_ns = 0;
  int64_t start_ns = 0;
  double count = 0;
  double sum = 0;
  std::optional<double> min;  // used only for delta samples (cumulative min/max span all time)
  std::optional<double> max;
  std::vector<double> bounds;
  std::vector<double> bucket_counts;
  std::optional<ExpoHistogram> expo;
};

// What one step bucket holds: the observations that arrived during it.
struct HistogramStep {
  int64_t bucket_ns = 0;
  double count = 0;
  double sum = 0;
  std::vector<Range> ranges;
};

// The observations per step bucket: for cumulative histograms the difference to the previous
// sample (with resets and the first sample as for RatePerStep), for delta ones the samples
// themselves, merged per bucket.
std::vector<HistogramStep> HistogramPerStep(const std::vector<HistogramSample>& samples,
                                            bool cumulative, int64_t step_ns, int64_t from_ns,
                                            int64_t to_ns, int64_t fresh_after_ns);

}  // namespace otlpd::query
