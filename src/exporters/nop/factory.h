#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "nop": accepts and discards everything.
std::unique_ptr<ExporterFactory> NewNopExporterFactory();

}  // namespace otlpd
