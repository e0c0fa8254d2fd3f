#include "exporters/tiered_storage/tiered_storage_exporter.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"

namespace otlpd {

TieredStorageExporter::TieredStorageExporter(const CreateSettings& settings,
                                             const TieredStorageExporterConfig& config)
    : id_(settings.id.ToString()), config_(config), metrics_(settings) {
  if (settings.host != nullptr) RegisterMetrics(&settings.host->metrics());
}

TieredStorageExporter::~TieredStorageExporter() {
  Shutdown(absl::Now() + absl::Seconds(30));
  {
    absl::MutexLock lock(&view_->mu);
    view_->store = nullptr;
  }
  absl::MutexLock lock(&mu_);
  store_.reset();
}

void TieredStorageExporter::RegisterMetrics(MetricsRegistry* metrics) {
  using Read = double (*)(const storage::TierStats&);
  struct Series {
    const char* name;
    const char* help;
    Read read;
  };
  static const Series kSeries[] = {
      {"otlpd_storage_tier_bytes", "Bytes the tier holds on disk",
       [](const storage::TierStats& s) { return static_cast<double>(s.bytes); }},
      {"otlpd_storage_tier_spans", "Spans the tier holds",
       [](const storage::TierStats& s) { return static_cast<double>(s.spans); }},
      {"otlpd_storage_tier_log_records", "Log records the tier holds",
       [](const storage::TierStats& s) { return static_cast<double>(s.log_records); }},
      {"otlpd_storage_tier_metric_points", "Metric data points the tier holds",
       [](const storage::TierStats& s) { return static_cast<double>(s.metric_points); }},
      {"otlpd_storage_tier_quarantined_records",
       "Corrupt records found, set aside and skipped in the tier's files",
       [](const storage::TierStats& s) { return static_cast<double>(s.quarantined); }},
      {"otlpd_storage_tier_blocks", "Files of the tier: hot log segments, warm blocks",
       [](const storage::TierStats& s) { return static_cast<double>(s.blocks); }},
      {"otlpd_storage_tier_expired_items",
       "Items the tier deleted by its retention or size budget (counter)",
       [](const storage::TierStats& s) { return static_cast<double>(s.expired_items); }},
      {"otlpd_storage_tier_migration_lag_seconds",
       "How long past its time the tier's oldest data is still waiting to move on [s]",
       [](const storage::TierStats& s) { return absl::ToDoubleSeconds(s.migration_lag); }},
      {"otlpd_storage_tier_oldest_item_age_seconds",
       "Age of the oldest data the tier holds [s] (0 when empty)",
       [](const storage::TierStats& s) {
         return s.oldest == absl::InfiniteFuture() ? 0.0
                                                   : absl::ToDoubleSeconds(absl::Now() - s.oldest);
       }},
  };
  for (const char* tier : {"hot", "warm", "cold"}) {
    for (const Series& series : kSeries) {
      std::shared_ptr<StoreView> view = view_;
      Read read = series.read;
      const std::string_view which = tier;
      metrics->AddCallbackGauge(
          series.name, {{"exporter", id_}, {"tier", tier}},
          [view, read, which] {
            absl::MutexLock lock(&view->mu);
            if (view->store == nullptr) return 0.0;
            return read(which == "hot"    ? view->store->hot_stats()
                        : which == "warm" ? view->store->warm_stats()
                                          : view->store->cold_stats());
          },
          series.help);
    }
  }
}

absl::Status TieredStorageExporter::Start() {
  absl::StatusOr<std::unique_ptr<storage::TieredStore>> store =
      storage::TieredStore::Open(config_.store);
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("tiered_storage: ", store.status().message()));
  }
  absl::MutexLock lock(&mu_);
  store_ = std::move(*store);
  absl::MutexLock view_lock(&view_->mu);
  view_->store = store_.get();
  return absl::OkStatus();
}

void TieredStorageExporter::Shutdown(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
  if (!mu_.AwaitWithDeadline(absl::Condition(&idle), deadline)) {
    spdlog::warn("{}: {} appends still in flight at the shutdown deadline", id_, in_flight_);
  }
}

void TieredStorageExporter::Consume(TelemetryPtr data, Completion done) {
  storage::TieredStore* store = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (store_ != nullptr && !stopping_) {
      store = store_.get();
      ++in_flight_;
    }
  }
  const Signal signal = data->signal();
  const size_t items = data->ItemCount();
  if (store == nullptr) {
    absl::Status s = absl::UnavailableError(absl::StrCat(id_, " is not running"));
    metrics_.Record(signal, items, s);
    std::move(done)(std::move(s));
    return;
  }
  store->Append(
      signal, data->wire(),
      [this, signal, items, data, done = std::move(done)](absl::Status s) mutable {
        if (!s.ok()) s = absl::Status(s.code(), absl::StrCat(id_, ": ", s.message()));
        metrics_.Record(signal, items, s);
        std::move(done)(std::move(s));
        absl::MutexLock lock(&mu_);
        --in_flight_;
      },
      /*checked=*/true);
}

storage::StoreReader* TieredStorageExporter::store_reader() { return store(); }

storage::TieredStore* TieredStorageExporter::store() {
  absl::MutexLock lock(&mu_);
  return store_.get();
}

}  // namespace otlpd
