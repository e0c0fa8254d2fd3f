#include "core/metrics.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace otlpd {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double cur = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}
double Histogram::sum() const { return sum_.load(std::memory_order_relaxed); }
uint64_t Histogram::count() const { return count_.load(std::memory_order_relaxed); }

MetricsRegistry::Family& MetricsRegistry::GetFamily(const std::string& name, Kind kind,
                                                    const std::string& help) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.kind = kind;
    it->second.help = help;
  }
  return it->second;
}

Counter* MetricsRegistry::GetCounter(const std::string& name, const Labels& labels,
                                     const std::string& help) {
  absl::MutexLock lock(&mu_);
  auto& slot = GetFamily(name, Kind::kCounter, help).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return slot.get();
}

Gauge* MetricsRegistry::GetGauge(const std::string& name, const Labels& labels,
                                 const std::string& help) {
  absl::MutexLock lock(&mu_);
  auto& slot = GetFamily(name, Kind::kGauge, help).gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return slot.get();
}

Histogram* MetricsRegistry::GetHistogram(const std::string& name, const Labels& labels,
                                         std::vector<double> bounds, const std::string& help) {
  absl::MutexLock lock(&mu_);
  auto& slot = GetFamily(name, Kind::kHistogram, help).histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(std::move(bounds));
  return slot.get();
}

void MetricsRegistry::AddCallbackGauge(const std::string& name, const Labels& labels,
                                       std::function<double()> fn, const std::string& help) {
  absl::MutexLock lock(&mu_);
  GetFamily(name, Kind::kGauge, help).callbacks[labels] = std::move(fn);
}

namespace {

std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string RenderLabels(const Labels& labels, const std::string& extra_key = "",
                         const std::string& extra_value = "") {
  if (labels.empty() && extra_key.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    first = false;
    absl::StrAppend(&out, k, "=\"", EscapeLabel(v), "\"");
  }
  if (!extra_key.empty()) {
    if (!first) out += ",";
    absl::StrAppend(&out, extra_key, "=\"", extra_value, "\"");
  }
  out += "}";
  return out;
}

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return absl::StrFormat("%.0f", v);
  return absl::StrFormat("%.17g", v);
}

}  // namespace

std::string MetricsRegistry::RenderPrometheus() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, fam] : families_) {
    if (!fam.help.empty()) absl::StrAppend(&out, "# HELP ", name, " ", fam.help, "\n");
    const char* type = fam.kind == Kind::kCounter ? "counter"
                       : fam.kind == Kind::kGauge ? "gauge"
                                                  : "histogram";
    absl::StrAppend(&out, "# TYPE ", name, " ", type, "\n");
    for (const auto& [labels, c] : fam.counters) {
      absl::StrAppend(&out, name, RenderLabels(labels), " ", c->value(), "\n");
    }
    for (const auto& [labels, g] : fam.gauges) {
      absl::StrAppend(&out, name, RenderLabels(labels), " ", g->value(), "\n");
    }
    for (const auto& [labels, fn] : fam.callbacks) {
      absl::StrAppend(&out, name, RenderLabels(labels), " ", FormatValue(fn()), "\n");
    }
    for (const auto& [labels, h] : fam.histograms) {
      std::vector<uint64_t> counts = h->BucketCounts();
      uint64_t cumulative = 0;
      for (size_t i = 0; i < counts.size(); ++i) {
        cumulative += counts[i];
        std::string le = i < h->bounds().size() ? FormatValue(h->bounds()[i]) : "+Inf";
        absl::StrAppend(&out, name, "_bucket", RenderLabels(labels, "le", le), " ", cumulative,
                        "\n");
      }
      absl::StrAppend(&out, name, "_sum", RenderLabels(labels), " ", FormatValue(h->sum()), "\n");
      absl::StrAppend(&out, name, "_count", RenderLabels(labels), " ", h->count(), "\n");
    }
  }
  return out;
}

}  // namespace otlpd
