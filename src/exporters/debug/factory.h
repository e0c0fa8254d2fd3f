#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "debug": logs a summary (or every item, or the full request) of what it receives.
std::unique_ptr<ExporterFactory> NewDebugExporterFactory();

}  // namespace otlpd
