#include "exporters/tiered_storage/factory.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "exporters/tiered_storage/config.h"
#include "exporters/tiered_storage/tiered_storage_exporter.h"

namespace otlpd {

namespace {

void ParseHot(ConfigNode node, storage::HotTierOptions* hot) {
  if (node.GetDuration("max_age", &hot->max_age) && hot->max_age <= absl::ZeroDuration()) {
    node.Error("max_age", "max_age must be positive");
  }
  if (node.GetBytes("max_size", &hot->max_size) && hot->max_size < (uint64_t{1} << 20)) {
    node.Error("max_size", "max_size must be at least 1MiB");
  }
  std::string durability;
  if (node.GetEnum("durability", &durability, {"fsync", "batch", "none"})) {
    hot->durability = *storage::ParseDurability(durability);
  }
  node.GetDuration("group_commit_interval", &hot->group_commit_interval);
  if (hot->group_commit_interval > absl::Seconds(10)) {
    node.Error("group_commit_interval", "group_commit_interval must be at most 10s");
  }
  // Segments well below the tier's size, so that migration hands space back piece by piece.
  hot->segment_bytes = std::clamp<uint64_t>(hot->max_size / 8, 1 << 20, 64 << 20);
}

void ParseWarm(ConfigNode node, storage::TieredStoreOptions* o) {
  storage::WarmTierOptions& warm = o->warm;
  // warm.after is when data enters warm: the same moment hot.max_age says it leaves hot.
  absl::Duration after;
  if (node.GetDuration("after", &after)) {
    if (after <= absl::ZeroDuration()) {
      node.Error("after", "after must be positive");
    } else {
      o->hot.max_age = after;
    }
  }
  if (node.GetDuration("block_window", &warm.block_window) &&
      warm.block_window < absl::Seconds(1)) {
    node.Error("block_window", "block_window must be at least 1s");
  }
  int64_t level = warm.compression_level;
  if (node.Get("compression_level", &level)) {
    if (level < 1 || level > 22) {
      node.Error("compression_level", "compression_level must be within 1..22 (zstd levels)");
    } else {
      warm.compression_level = static_cast<int>(level);
    }
  }
  node.GetBytes("max_size", &warm.max_size);
  node.GetDuration("retention", &warm.retention);
}

void ParseCold(ConfigNode node, storage::ColdTierOptions* cold) {
  cold->enabled = true;
  if (node.GetDuration("after", &cold->after) && cold->after <= absl::ZeroDuration()) {
    node.Error("after", "after must be positive");
  }
  node.Get("path", &cold->path);
  bool has_s3 = false;
  ConfigNode s3 = node.Child("s3", &has_s3);
  if (has_s3) {
    if (!cold->path.empty()) node.Error("path", "cold takes either path or s3, not both");
    storage::S3Config c;
    for (auto [key, out] : {std::pair{"endpoint", &c.endpoint},
                            {"bucket", &c.bucket},
                            {"access_key", &c.access_key},
                            {"secret_key", &c.secret_key}}) {
      if (!s3.Get(key, out) || out->empty()) {
        s3.Error(key, absl::StrCat(key, " must be set"));
      }
    }
    s3.Get("region", &c.region);
    s3.Get("prefix", &c.prefix);
    if (!c.endpoint.empty() && !absl::StartsWith(c.endpoint, "http://") &&
        !absl::StartsWith(c.endpoint, "https://")) {
      s3.Error("endpoint", "endpoint must start with http:// or https://");
    }
    cold->s3 = c;
  }
  int64_t level = cold->compression_level;
  if (node.Get("compression_level", &level)) {
    if (level < 1 || level > 22) {
      node.Error("compression_level", "compression_level must be within 1..22 (zstd levels)");
    } else {
      cold->compression_level = static_cast<int>(level);
    }
  }
  node.GetDuration("retention", &cold->retention);
}

class TieredStorageExporterFactory : public ExporterFactory {
 public:
  std::string_view type() const override { return "tiered_storage"; }
  SignalSet signals() const override { return SignalSet::All(); }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<TieredStorageExporterConfig>();
    storage::TieredStoreOptions& o = config->store;
    if (!node.Get("directory", &o.directory) || o.directory.empty()) {
      node.Error("directory", "directory must be non-empty");
    }
    ConfigNode hot = node.Child("hot");
    ConfigNode warm = node.Child("warm");
    ParseHot(hot, &o.hot);
    const absl::Duration hot_max_age = o.hot.max_age;
    ParseWarm(warm, &o);
    if (warm.Has("after") && hot.Has("max_age") && o.hot.max_age != hot_max_age) {
      warm.Error("after", "warm.after and hot.max_age say the same thing and differ");
    }
    bool has_cold = false;
    ConfigNode cold = node.Child("cold", &has_cold);
    if (has_cold) ParseCold(cold, &o.cold);
    ConfigNode lifecycle = node.Child("lifecycle");
    if (lifecycle.GetDuration("check_interval", &o.lifecycle_interval) &&
        o.lifecycle_interval < absl::Milliseconds(10)) {
      lifecycle.Error("check_interval", "check_interval must be at least 10ms");
    }
    lifecycle.GetBytes("max_io_rate", &o.lifecycle_io_rate);
    // Per-signal overrides: retention of each signal's warm and cold blocks.
    for (Signal signal : kAllSignals) {
      ConfigNode per = node.Child(SignalName(signal));
      const size_t i = static_cast<size_t>(signal);
      absl::Duration d;
      ConfigNode warm_per = per.Child("warm");
      if (warm_per.GetDuration("retention", &d)) o.warm.signal_retention[i] = d;
      ConfigNode cold_per = per.Child("cold");
      if (cold_per.GetDuration("retention", &d)) {
        if (!has_cold) cold_per.Error("retention", "there is no cold tier (no cold: section)");
        o.cold.signal_retention[i] = d;
      }
    }
    return config;
  }

  absl::StatusOr<std::unique_ptr<Exporter>> Create(const CreateSettings& settings,
                                                   const ComponentConfig& config) const override {
    return std::make_unique<TieredStorageExporter>(settings,
                                                   ConfigAs<TieredStorageExporterConfig>(config));
  }
};

}  // namespace

std::unique_ptr<ExporterFactory> NewTieredStorageExporterFactory() {
  return std::make_unique<TieredStorageExporterFactory>();
}

}  // namespace otlpd
