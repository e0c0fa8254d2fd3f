#include "exporters/edge_sync/compression_chooser.h"

#include <algorithm>
#include <chrono>

namespace otlpd {

namespace {
constexpr double kSmoothing = 0.3;           // weight of a new sample
constexpr size_t kMaxSampleBytes = 1 << 20;  // of the payload, per sample
}  // namespace

CompressionChooser::CompressionChooser(std::vector<Compression> candidates,
                                       double wire_bytes_per_second, absl::Duration sample_interval)
    : seconds_per_wire_byte_(1.0 / std::max(1.0, wire_bytes_per_second)),
      sample_interval_(sample_interval) {
  for (Compression c : candidates) candidates_.push_back(Candidate{c});
  // Until measured: the first candidate that compresses (gzip is everywhere).
  current_ = candidates.empty() ? Compression::kNone : candidates.front();
  for (Compression c : candidates) {
    if (c == Compression::kGzip) current_ = c;
  }
}

void CompressionChooser::MaybeSample(std::string_view payload, absl::Time now) {
  std::vector<Compression> todo;
  {
    absl::MutexLock lock(&mu_);
    if (sampling_ || now < next_sample_ || candidates_.size() < 2 || payload.empty()) return;
    sampling_ = true;
    next_sample_ = now + sample_interval_;
    for (const Candidate& c : candidates_) todo.push_back(c.compression);
  }
  payload = payload.substr(0, kMaxSampleBytes);
  std::vector<std::pair<double, double>> measured;  // ratio, seconds per byte
  for (Compression c : todo) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::string> out = Compress(c, payload);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double ratio =
        out.ok() ? static_cast<double>(out->size()) / static_cast<double>(payload.size()) : 10.0;
    measured.emplace_back(
        ratio, c == Compression::kNone ? 0.0 : seconds / static_cast<double>(payload.size()));
  }
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < candidates_.size() && i < measured.size(); ++i) {
    Candidate& c = candidates_[i];
    if (!c.measured) {
      c.ratio = measured[i].first;
      c.seconds_per_byte = measured[i].second;
      c.measured = true;
    } else {
      c.ratio += kSmoothing * (measured[i].first - c.ratio);
      c.seconds_per_byte += kSmoothing * (measured[i].second - c.seconds_per_byte);
    }
  }
  ChooseLocked();
  sampling_ = false;
}

void CompressionChooser::ChooseLocked() {
  double best = 0;
  bool any = false;
  for (const Candidate& c : candidates_) {
    if (!c.measured) continue;
    const double cost = c.seconds_per_byte + c.ratio * seconds_per_wire_byte_;
    if (!any || cost < best) {
      best = cost;
      current_ = c.compression;
      any = true;
    }
  }
}

Compression CompressionChooser::current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

double CompressionChooser::ratio(Compression c) const {
  absl::MutexLock lock(&mu_);
  for (const Candidate& k : candidates_) {
    if (k.compression == c && k.measured) return k.ratio;
  }
  return 1.0;
}

std::vector<CompressionChooser::Candidate> CompressionChooser::candidates() const {
  absl::MutexLock lock(&mu_);
  return candidates_;
}

BandwidthLimiter::BandwidthLimiter(uint64_t bytes_per_second)
    : rate_(static_cast<double>(bytes_per_second)), tokens_(rate_) {}

void BandwidthLimiter::Acquire(uint64_t bytes, absl::Time deadline) {
  if (rate_ <= 0) return;
  absl::MutexLock lock(&mu_);
  while (true) {
    const absl::Time now = absl::Now();
    tokens_ = std::min(rate_, tokens_ + absl::ToDoubleSeconds(now - last_) * rate_);
    last_ = now;
    // A full bucket lets any send go (in debt); otherwise wait for enough tokens.
    if (tokens_ >= static_cast<double>(bytes) || tokens_ >= rate_) {
      tokens_ -= static_cast<double>(bytes);
      return;
    }
    const double missing = std::min(static_cast<double>(bytes), rate_) - tokens_;
    const absl::Time wake = std::min(now + absl::Seconds(missing / rate_), deadline);
    if (now >= deadline) {
      tokens_ -= static_cast<double>(bytes);
      return;
    }
    mu_.Unlock();
    absl::SleepFor(wake - now);
    mu_.Lock();
  }
}

}  // namespace otlpd
