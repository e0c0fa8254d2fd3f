#include "processors/memory_limiter/memory_limiter_processor.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace otlpd {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

// Returns freed heap pages to the OS; RSS does not drop without it after a burst.
void TrimHeap() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

absl::Duration RetryAfterFor(absl::Duration check_interval) {
  return std::max(absl::Seconds(1), absl::Ceil(check_interval, absl::Seconds(1)));
}

}  // namespace

MemoryLimiterProcessor::MemoryLimiterProcessor(const CreateSettings& settings,
                                               const MemoryLimiterConfig& config,
                                               MemoryLimits limits, Signal signal, ConsumerPtr next)
    : id_(settings.id.ToString()),
      limits_(limits),
      check_interval_(config.check_interval),
      retry_after_(RetryAfterFor(config.check_interval)),
      refresh_interval_ns_(
          absl::ToInt64Nanoseconds(std::min(config.check_interval, absl::Milliseconds(100)))),
      trim_interval_soft_(config.min_gc_interval_when_soft_limited),
      trim_interval_hard_(config.min_gc_interval_when_hard_limited),
      next_(std::move(next)) {
  MetricsRegistry* metrics = settings.host != nullptr ? &settings.host->metrics() : nullptr;
  if (metrics == nullptr) {
    own_metrics_ = std::make_unique<MetricsRegistry>();
    metrics = own_metrics_.get();
  }
  const Labels labels = {{"processor", id_}};
  const std::string item(SignalItemName(signal));
  accepted_ = metrics->GetCounter(
      "otelcol_processor_accepted_" + item, labels,
      absl::StrCat("Number of ", item,
                   " successfully pushed into the next component in the pipeline."));
  refused_ = metrics->GetCounter(
      "otelcol_processor_refused_" + item, labels,
      absl::StrCat("Number of ", item,
                   " that were rejected by the next component in the pipeline."));
  Measure();
  last_measure_ns_.store(absl::GetCurrentTimeNanos(), std::memory_order_relaxed);
}

MemoryLimiterProcessor::~MemoryLimiterProcessor() { Shutdown(absl::Now()); }

absl::Status MemoryLimiterProcessor::Start() {
  if (!checker_.joinable()) checker_ = std::thread([this] { CheckLoop(); });
  return absl::OkStatus();
}

void MemoryLimiterProcessor::Shutdown(absl::Time /*deadline*/) {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    cv_.SignalAll();
  }
  if (checker_.joinable()) checker_.join();
}

uint64_t MemoryLimiterProcessor::Measure() {
  absl::StatusOr<uint64_t> rss = ReadProcessRss();
  if (!rss.ok()) return rss_.load(std::memory_order_relaxed);  // keep the last reading
  rss_.store(*rss, std::memory_order_relaxed);
  return *rss;
}

uint64_t MemoryLimiterProcessor::CurrentRss() {
  const int64_t now = absl::GetCurrentTimeNanos();
  int64_t last = last_measure_ns_.load(std::memory_order_relaxed);
  // One caller refreshes a stale reading; the others use the last one.
  if (now - last >= refresh_interval_ns_ &&
      last_measure_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    return Measure();
  }
  return rss_.load(std::memory_order_relaxed);
}

void MemoryLimiterProcessor::UpdateRefusing(bool refusing, uint64_t usage) {
  if (refusing_.load(std::memory_order_relaxed) == refusing) return;
  if (refusing_.exchange(refusing) == refusing) return;
  if (refusing) {
    spdlog::warn("{}: memory usage {:.1f} MiB is above the soft limit {:.1f} MiB; refusing data",
                 id_, usage / kMiB, limits_.soft() / kMiB);
  } else {
    spdlog::info("{}: memory usage {:.1f} MiB is back within limits; resuming normal operation",
                 id_, usage / kMiB);
  }
}

void MemoryLimiterProcessor::Consume(TelemetryPtr data, Completion done) {
  const size_t items = data->ItemCount();
  const uint64_t rss = CurrentRss();
  const int64_t in_flight = std::max<int64_t>(0, in_flight_->load(std::memory_order_relaxed));
  const uint64_t usage = rss + static_cast<uint64_t>(in_flight);
  if (usage >= limits_.soft()) {
    UpdateRefusing(true, usage);
    refused_->Add(items);
    std::move(done)(RetryableError(absl::StatusCode::kUnavailable,
                                   "data refused due to high memory usage", retry_after_));
    return;
  }
  UpdateRefusing(false, usage);
  // Decoded protobuf takes about three times its wire size; data built in memory has no
  // wire size, so measure it.
  const int64_t estimate = data->wire_size() > 0
                               ? static_cast<int64_t>(data->wire_size()) * 3
                               : static_cast<int64_t>(data->message().SpaceUsedLong());
  in_flight_->fetch_add(estimate, std::memory_order_relaxed);
  accepted_->Add(items);
  next_->Consume(std::move(data), [done = std::move(done), in_flight = in_flight_,
                                   estimate](absl::Status status) mutable {
    in_flight->fetch_sub(estimate, std::memory_order_relaxed);
    std::move(done)(std::move(status));
  });
}

void MemoryLimiterProcessor::CheckLoop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    cv_.WaitWithTimeout(&mu_, check_interval_);
    if (stopping_) break;
    mu_.Unlock();
    uint64_t rss = Measure();
    last_measure_ns_.store(absl::GetCurrentTimeNanos(), std::memory_order_relaxed);
    if (rss >= limits_.soft()) {
      const absl::Time now = absl::Now();
      const bool hard = rss >= limits_.limit;
      if (now - last_trim_ >= (hard ? trim_interval_hard_ : trim_interval_soft_)) {
        TrimHeap();
        last_trim_ = now;
        const uint64_t before = rss;
        rss = Measure();
        spdlog::debug("{}: returned freed heap to the OS, RSS {:.1f} -> {:.1f} MiB", id_,
                      before / kMiB, rss / kMiB);
      }
    }
    const uint64_t usage = rss + static_cast<uint64_t>(std::max<int64_t>(
                                     0, in_flight_->load(std::memory_order_relaxed)));
    UpdateRefusing(usage >= limits_.soft(), usage);
    mu_.Lock();
  }
}

}  // namespace otlpd
