#include "extensions/file_storage/factory.h"

#include "extensions/file_storage/config.h"
#include "extensions/file_storage/file_storage_extension.h"
#include "spdlog/spdlog.h"

namespace otlpd {

namespace {

class FileStorageExtensionFactory : public ExtensionFactory {
 public:
  std::string_view type() const override { return "file_storage"; }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<FileStorageConfig>();
    if (node.Get("directory", &config->directory) && config->directory.empty()) {
      node.Error("directory", "directory must not be empty");
    }
    node.Get("create_directory", &config->create_directory);
    node.Get("fsync", &config->fsync);
    node.GetDuration("timeout", &config->timeout);
    // otelcol's bbolt file needs compacting; segments are deleted as soon as everything
    // in them is sent, so these settings are accepted and have nothing to do.
    if (node.Has("compaction")) {
      ConfigNode compaction = node.Child("compaction");
      for (const std::string& key : compaction.Keys()) compaction.MarkKnown(key);
      spdlog::info("{}: compaction settings are not needed (sent segments are deleted)",
                   node.path());
    }
    return config;
  }

  absl::StatusOr<std::unique_ptr<Extension>> Create(const CreateSettings& settings,
                                                    const ComponentConfig& config) const override {
    return std::make_unique<FileStorageExtension>(settings, ConfigAs<FileStorageConfig>(config));
  }
};

}  // namespace

std::unique_ptr<ExtensionFactory> NewFileStorageExtensionFactory() {
  return std::make_unique<FileStorageExtensionFactory>();
}

}  // namespace otlpd
