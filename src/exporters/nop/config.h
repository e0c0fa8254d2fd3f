#pragma once

#include "core/factory.h"

namespace otlpd {

// The nop exporter takes no settings.
struct NopExporterConfig : ComponentConfig {};

}  // namespace otlpd
