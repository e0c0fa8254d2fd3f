#include "extensions/query/metrics_math.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace otlpd::query {

int64_t StepBucket(int64_t time_ns, int64_t step_ns) {
  int64_t q = time_ns / step_ns;
  if (time_ns % step_ns != 0 && time_ns < 0) --q;
  return q * step_ns;
}

namespace {

// Whether bucket `b` is reported for the window [from, to].
bool InWindow(int64_t b, int64_t step_ns, int64_t from_ns, int64_t to_ns) {
  return b >= StepBucket(from_ns, step_ns) && b <= StepBucket(to_ns, step_ns);
}

}  // namespace

std::vector<StepValue> LastPerStep(const std::vector<CounterSample>& samples, int64_t step_ns,
                                   int64_t from_ns, int64_t to_ns) {
  std::vector<StepValue> out;
  for (const CounterSample& s : samples) {
    const int64_t b = StepBucket(s.time_ns, step_ns);
    if (!InWindow(b, step_ns, from_ns, to_ns)) continue;
    if (!out.empty() && out.back().bucket_ns == b) {
      out.back().value = s.value;
    } else {
      out.push_back({b, s.value});
    }
  }
  return out;
}

std::vector<StepValue> RatePerStep(const std::vector<CounterSample>& samples, bool cumulative,
                                   int64_t step_ns, int64_t from_ns, int64_t to_ns,
                                   int64_t fresh_after_ns) {
  std::map<int64_t, std::pair<double, int64_t>> acc;  // bucket → (increase, interval ns)
  const auto credit = [&](int64_t time_ns, double increase, int64_t interval_ns) {
    const int64_t b = StepBucket(time_ns, step_ns);
    if (interval_ns <= 0 || !InWindow(b, step_ns, from_ns, to_ns)) return;
    acc[b].first += increase;
    acc[b].second += interval_ns;
  };
  const CounterSample* prev = nullptr;
  for (const CounterSample& s : samples) {
    if (cumulative) {
      if (prev == nullptr) {
        if (s.start_ns > 0 && s.start_ns >= fresh_after_ns) {
          credit(s.time_ns, s.value, s.time_ns - s.start_ns);
        }
        prev = &s;
        continue;
      }
      if (s.time_ns <= prev->time_ns) {
        if (s.time_ns == prev->time_ns) prev = &s;  // a repeated report: keep the latest
        continue;
      }
      const bool restarted = s.start_ns != 0 && prev->start_ns != 0 && s.start_ns != prev->start_ns;
      if (s.value < prev->value || restarted) {
        const bool start_known = s.start_ns > 0 && s.start_ns >= prev->time_ns;
        credit(s.time_ns, s.value, s.time_ns - (start_known ? s.start_ns : prev->time_ns));
      } else {
        credit(s.time_ns, s.value - prev->value, s.time_ns - prev->time_ns);
      }
    } else {
      int64_t interval = step_ns;
      if (s.start_ns > 0 && s.start_ns < s.time_ns) {
        interval = s.time_ns - s.start_ns;
      } else if (prev != nullptr && prev->time_ns < s.time_ns) {
        interval = s.time_ns - prev->time_ns;
      }
      credit(s.time_ns, s.value, interval);
    }
    prev = &s;
  }
  std::vector<StepValue> out;
  out.reserve(acc.size());
  for (const auto& [b, v] : acc) {
    out.push_back({b, v.first / (static_cast<double>(v.second) / 1e9)});
  }
  return out;
}

std::optional<double> Quantile(double q, std::vector<Range> ranges) {
  std::erase_if(ranges, [](const Range& r) { return !(r.count > 0); });
  if (ranges.empty()) return std::nullopt;
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
    return a.lower != b.lower ? a.lower < b.lower : a.upper < b.upper;
  });
  // Equal ranges (the same bucket of several samples) add up.
  std::vector<Range> merged;
  for (const Range& r : ranges) {
    if (!merged.empty() && merged.back().lower == r.lower && merged.back().upper == r.upper) {
      merged.back().count += r.count;
    } else {
      merged.push_back(r);
    }
  }
  double total = 0;
  bool disjoint = true;
  for (size_t i = 0; i < merged.size(); ++i) {
    total += merged[i].count;
    if (i > 0 && merged[i].lower < merged[i - 1].upper) disjoint = false;
  }
  q = std::clamp(q, 0.0, 1.0);
  const double rank = q * total;
  if (rank <= 0) return merged.front().lower;
  if (disjoint) {
    double cum = 0;
    for (const Range& r : merged) {
      if (cum + r.count >= rank) {
        if (r.upper == r.lower) return r.lower;
        return r.lower + (r.upper - r.lower) * (rank - cum) / r.count;
      }
      cum += r.count;
    }
    return merged.back().upper;
  }
  // Overlapping layouts: the smallest x whose mixture CDF reaches the rank, by bisection.
  const auto cdf = [&](double x) {
    double c = 0;
    for (const Range& r : merged) {
      if (x >= r.upper) {
        c += r.count;
      } else if (x > r.lower) {
        c += r.count * (x - r.lower) / (r.upper - r.lower);
      }
    }
    return c;
  };
  double lo = merged.front().lower;
  double hi = lo;
  for (const Range& r : merged) hi = std::max(hi, r.upper);
  if (cdf(lo) >= rank) return lo;
  for (int i = 0; i < 200 && hi - lo > 0; ++i) {
    const double mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    if (cdf(mid) >= rank) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return hi;
}

namespace {

// No observation lies below min or above max: narrow the range to them.
Range Clamp(Range r, std::optional<double> min, std::optional<double> max) {
  if (min.has_value() && *min > r.lower) r.lower = std::min(*min, r.upper);
  if (max.has_value() && *max < r.upper) r.upper = std::max(*max, r.lower);
  return r;
}

}  // namespace

std::vector<Range> ExplicitRanges(const std::vector<double>& bounds,
                                  const std::vector<double>& counts, std::optional<double> min,
                                  std::optional<double> max, double fallback) {
  std::vector<Range> out;
  const size_t n = bounds.size();
  if (n == 0) {
    double total = 0;
    for (double c : counts) total += c;
    if (total > 0) {
      out.push_back({min.value_or(fallback),
                     std::max(max.value_or(fallback), min.value_or(fallback)), total});
    }
    return out;
  }
  for (size_t i = 0; i < counts.size() && i <= n; ++i) {
    Range r;
    r.count = counts[i];
    if (i == 0) {
      r.upper = bounds[0];
      r.lower = min.has_value() ? std::min(*min, r.upper) : (r.upper > 0 ? 0 : r.upper);
    } else if (i == n) {
      r.lower = bounds[n - 1];
      r.upper = max.has_value() ? std::max(*max, r.lower) : r.lower;
    } else {
      r.lower = bounds[i - 1];
      r.upper = bounds[i];
    }
    out.push_back(Clamp(r, min, max));
  }
  return out;
}

ExpoHistogram ExpoHistogram::FromBuckets(int32_t scale, double zero_count, double zero_threshold,
                                         int32_t positive_offset,
                                         const std::vector<double>& positive_counts,
                                         int32_t negative_offset,
                                         const std::vector<double>& negative_counts) {
  ExpoHistogram h;
  h.scale = scale;
  h.zero_count = zero_count;
  h.zero_threshold = zero_threshold;
  for (size_t k = 0; k < positive_counts.size(); ++k) {
    if (positive_counts[k] != 0) {
      h.positive[positive_offset + static_cast<int32_t>(k)] += positive_counts[k];
    }
  }
  for (size_t k = 0; k < negative_counts.size(); ++k) {
    if (negative_counts[k] != 0) {
      h.negative[negative_offset + static_cast<int32_t>(k)] += negative_counts[k];
    }
  }
  return h;
}

void ExpoHistogram::Downscale(int32_t to_scale) {
  if (to_scale >= scale) return;
  const int32_t shift = std::min(scale - to_scale, 31);
  for (std::map<int32_t, double>* side : {&positive, &negative}) {
    std::map<int32_t, double> coarser;
    for (const auto& [i, c] : *side) coarser[i >> shift] += c;  // floor for negative indexes
    *side = std::move(coarser);
  }
  scale = to_scale;
}

void ExpoHistogram::Add(ExpoHistogram other) {
  const int32_t to = std::min(scale, other.scale);
  Downscale(to);
  other.Downscale(to);
  zero_count += other.zero_count;
  zero_threshold = std::max(zero_threshold, other.zero_threshold);
  for (const auto& [i, c] : other.positive) positive[i] += c;
  for (const auto& [i, c] : other.negative) negative[i] += c;
}

double ExpoHistogram::Total() const {
  double total = zero_count;
  for (const auto& [i, c] : positive) total += c;
  for (const auto& [i, c] : negative) total += c;
  return total;
}

std::optional<ExpoHistogram> Subtract(ExpoHistogram a, ExpoHistogram b) {
  const int32_t to = std::min(a.scale, b.scale);
  a.Downscale(to);
  b.Downscale(to);
  a.zero_count -= b.zero_count;
  if (a.zero_count < 0) return std::nullopt;
  for (auto [side_a, side_b] : {std::pair{&a.positive, &b.positive}, {&a.negative, &b.negative}}) {
    for (const auto& [i, c] : *side_b) {
      double& mine = (*side_a)[i];
      mine -= c;
      if (mine < 0) return std::nullopt;
    }
    std::erase_if(*side_a, [](const auto& kv) { return kv.second == 0; });
  }
  return a;
}

std::vector<Range> ExpoRanges(const ExpoHistogram& h, std::optional<double> min,
                              std::optional<double> max) {
  const double step = std::exp2(-static_cast<double>(h.scale));
  const auto bound = [&](int64_t i) { return std::exp2(static_cast<double>(i) * step); };
  std::vector<Range> out;
  for (const auto& [i, c] : h.negative) {
    out.push_back(Clamp({-bound(int64_t{i} + 1), -bound(i), c}, min, max));
  }
  if (h.zero_count > 0) {
    out.push_back(Clamp({-h.zero_threshold, h.zero_threshold, h.zero_count}, min, max));
  }
  for (const auto& [i, c] : h.positive) {
    out.push_back(Clamp({bound(i), bound(int64_t{i} + 1), c}, min, max));
  }
  return out;
}

namespace {

// The observations of `s` as ranges (min/max apply only when `use_min_max`).
std::vector<Range> SampleRanges(const HistogramSample& s, bool use_min_max) {
  const std::optional<double> min = use_min_max ? s.min : std::nullopt;
  const std::optional<double> max = use_min_max ? s.max : std::nullopt;
  if (s.expo.has_value()) return ExpoRanges(*s.expo, min, max);
  return ExplicitRanges(s.bounds, s.bucket_counts, min, max, s.count > 0 ? s.sum / s.count : 0);
}

// s − prev, or nullopt when the histogram was reset or changed its layout in between.
std::optional<HistogramSample> Difference(const HistogramSample& s, const HistogramSample& prev) {
  if (s.count < prev.count) return std::nullopt;
  if (s.start_ns != 0 && prev.start_ns != 0 && s.start_ns != prev.start_ns) return std::nullopt;
  HistogramSample d;
  d.time_ns = s.time_ns;
  d.count = s.count - prev.count;
  d.sum = s.sum - prev.sum;
  if (s.expo.has_value() != prev.expo.has_value()) return std::nullopt;
  if (s.expo.has_value()) {
    d.expo = Subtract(*s.expo, *prev.expo);
    if (!d.expo.has_value()) return std::nullopt;
    return d;
  }
  if (s.bounds != prev.bounds || s.bucket_counts.size() != prev.bucket_counts.size()) {
    return std::nullopt;
  }
  d.bounds = s.bounds;
  d.bucket_counts.resize(s.bucket_counts.size());
  for (size_t i = 0; i < s.bucket_counts.size(); ++i) {
    d.bucket_counts[i] = s.bucket_counts[i] - prev.bucket_counts[i];
    if (d.bucket_counts[i] < 0) return std::nullopt;
  }
  return d;
}

}  // namespace

std::vector<HistogramStep> HistogramPerStep(const std::vector<HistogramSample>& samples,
                                            bool cumulative, int64_t step_ns, int64_t from_ns,
                                            int64_t to_ns, int64_t fresh_after_ns) {
  std::map<int64_t, HistogramStep> acc;
  const auto credit = [&](const HistogramSample& s, bool use_min_max) {
    const int64_t b = StepBucket(s.time_ns, step_ns);
    if (!InWindow(b, step_ns, from_ns, to_ns)) return;
    HistogramStep& step = acc[b];
    step.bucket_ns = b;
    step.count += s.count;
    step.sum += s.sum;
    std::vector<Range> ranges = SampleRanges(s, use_min_max);
    step.ranges.insert(step.ranges.end(), ranges.begin(), ranges.end());
  };
  const HistogramSample* prev = nullptr;
  for (const HistogramSample& s : samples) {
    if (!cumulative) {
      credit(s, /*use_min_max=*/true);
      continue;
    }
    if (prev == nullptr) {
      // A histogram that started inside the window holds only what arrived since: min and
      // max are of exactly those observations.
      if (s.start_ns > 0 && s.start_ns >= fresh_after_ns) credit(s, /*use_min_max=*/true);
      prev = &s;
      continue;
    }
    if (s.time_ns <= prev->time_ns) {
      if (s.time_ns == prev->time_ns) prev = &s;
      continue;
    }
    std::optional<HistogramSample> d = Difference(s, *prev);
    if (d.has_value()) {
      credit(*d, /*use_min_max=*/false);
    } else {
      credit(s, /*use_min_max=*/true);  // reset: everything since the restart is new
    }
    prev = &s;
  }
  std::vector<HistogramStep> out;
  out.reserve(acc.size());
  for (auto& [b, step] : acc) out.push_back(std::move(step));
  return out;
}

}  // namespace otlpd::query
