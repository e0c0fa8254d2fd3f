#include "processors/memory_limiter/memory_limiter_processor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace otlpd {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

// A re-reading of RSS that says usage is over the soft limit is trusted for this long, so
// that a stream of refused requests does not make a syscall each.
constexpr int64_t kOverLimitRereadNs = 1'000'000;

// Decoded protobuf takes about this many times its wire size.
constexpr int64_t kDecodedPerWireByte = 3;

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
  account_.Measure(absl::GetCurrentTimeNanos());
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
  if (eager_release_) {
    HoldEagerRelease(false);
    eager_release_ = false;
  }
}

int64_t MemoryLimiterProcessor::EstimateSize(const Telemetry& data) {
  // Data built in memory has no wire size: measure it.
  return data.has_wire() ? static_cast<int64_t>(data.ByteSize()) * kDecodedPerWireByte
                         : static_cast<int64_t>(data.message().SpaceUsedLong());
}

uint64_t MemoryLimiterProcessor::RecheckUsage() {
  const int64_t now = absl::GetCurrentTimeNanos();
  // A fresh reading already over the limit: only memory being freed could change the
  // answer, and that is not worth a syscall per refused request.
  if (account_.Measured() >= limits_.soft() &&
      now - account_.last_measure_ns() < kOverLimitRereadNs) {
    return account_.Estimate();
  }
  // Otherwise what was let in since the last reading decides, and a new reading tells how
  // much of it is really there.
  account_.Measure(now);
  return account_.Estimate();
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
  // Far from the limit this is a few relaxed atomic loads; syscalls only near it.
  uint64_t usage = account_.Estimate();
  if (usage >= limits_.soft()) usage = RecheckUsage();
  if (usage >= limits_.soft()) {
    UpdateRefusing(true, usage);
    refused_->Add(items);
    std::move(done)(RetryableError(absl::StatusCode::kUnavailable,
                                   "data refused due to high memory usage", retry_after_));
    return;
  }
  UpdateRefusing(false, usage);
  const int64_t size = EstimateSize(*data);
  account_.Admit(size);
  accepted_->Add(items);
  next_->Consume(std::move(data),
                 [done = std::move(done), account = &account_, size](absl::Status status) mutable {
                   account->Release(size);
                   std::move(done)(std::move(status));
                 });
}

void MemoryLimiterProcessor::CheckLoop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    cv_.WaitWithTimeout(&mu_, check_interval_);
    if (stopping_) break;
    mu_.Unlock();
    account_.Measure(absl::GetCurrentTimeNanos());
    const uint64_t rss = account_.rss();
    // Requests refused while over the limit are decoded and freed all the time; with the
    // allocator keeping what they freed, RSS would climb between checks.
    const bool over_soft = account_.Measured() >= limits_.soft();
    if (over_soft != eager_release_) {
      HoldEagerRelease(over_soft);
      eager_release_ = over_soft;
      spdlog::debug("{}: {} freed memory to the OS at once", id_,
                    over_soft ? "returning" : "no longer returning");
    }
    if (rss >= limits_.soft()) {
      const absl::Time now = absl::Now();
      const bool hard = rss >= limits_.limit;
      if (now - last_trim_ >= (hard ? trim_interval_hard_ : trim_interval_soft_)) {
        ReleaseFreeHeap();
        last_trim_ = now;
        account_.Measure(absl::GetCurrentTimeNanos());
        spdlog::debug("{}: returned freed heap to the OS, RSS {:.1f} -> {:.1f} MiB", id_,
                      rss / kMiB, account_.rss() / kMiB);
      }
    }
    const uint64_t usage = account_.Estimate();
    UpdateRefusing(usage >= limits_.soft(), usage);
    mu_.Lock();
  }
}

}  // namespace otlpd
