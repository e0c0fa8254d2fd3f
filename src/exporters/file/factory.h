#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "file": writes every request as one OTLP/JSON line to a file, with optional rotation.
std::unique_ptr<ExporterFactory> NewFileExporterFactory();

}  // namespace otlpd
