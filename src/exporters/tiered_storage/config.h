#pragma once

#include "core/factory.h"
#include "storage/tiered_store.h"

namespace otlpd {

// exporters: tiered_storage: everything the store needs (directory and the hot tier).
struct TieredStorageExporterConfig : ComponentConfig {
  storage::TieredStoreOptions store;
};

}  // namespace otlpd
