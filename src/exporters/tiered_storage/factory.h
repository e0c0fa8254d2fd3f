#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "tiered_storage": keeps traces, metrics and logs in the tiered store (src/storage), where
// the query extension reads them.
std::unique_ptr<ExporterFactory> NewTieredStorageExporterFactory();

}  // namespace otlpd
