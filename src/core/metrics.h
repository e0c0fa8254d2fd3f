#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace otlpd {

// Label set of a series, e.g. {{"receiver", "otlp"}, {"transport", "grpc"}}.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Add(uint64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Fixed-bucket histogram (cumulative buckets are computed when rendered).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Per-bucket (non-cumulative) counts, the last one is +Inf.
  std::vector<uint64_t> BucketCounts() const;
  double sum() const;
  uint64_t count() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Process-wide registry of self-metrics, rendered in Prometheus text format at
// service.telemetry.metrics.address (otelcol names: otelcol_receiver_accepted_spans, ...).
// Get* returns the same object for the same (name, labels); pointers stay valid for the
// registry's life, so components look their series up once and keep the pointer.
class MetricsRegistry {
 public:
  Counter* GetCounter(const std::string& name, const Labels& labels, const std::string& help = "");
  Gauge* GetGauge(const std::string& name, const Labels& labels, const std::string& help = "");
  Histogram* GetHistogram(const std::string& name, const Labels& labels, std::vector<double> bounds,
                          const std::string& help = "");
  // A gauge whose value is read when rendered (queue sizes, RSS).
  void AddCallbackGauge(const std::string& name, const Labels& labels, std::function<double()> fn,
                        const std::string& help = "");

  std::string RenderPrometheus() const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Family {
    Kind kind;
    std::string help;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
    std::map<Labels, std::function<double()>> callbacks;
  };
  Family& GetFamily(const std::string& name, Kind kind, const std::string& help)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
};

}  // namespace otlpd
