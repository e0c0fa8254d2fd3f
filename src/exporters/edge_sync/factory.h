#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

std::unique_ptr<ExporterFactory> NewEdgeSyncExporterFactory();

}  // namespace otlpd
