#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// Type "otlp": OTLP/gRPC exporter for traces, metrics and logs.
std::unique_ptr<ExporterFactory> NewOtlpExporterFactory();

}  // namespace otlpd
