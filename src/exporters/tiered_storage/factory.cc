#include "exporters/tiered_storage/factory.h"

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
  // Segments smaller than the tier, so that it can hand back space piece by piece.
  hot->segment_bytes = std::clamp<uint64_t>(hot->max_size / 8, 1 << 20, 64 << 20);
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
    ParseHot(node.Child("hot"), &o.hot);
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
