#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// Type "otlphttp": OTLP/HTTP (protobuf or JSON) exporter for traces, metrics and logs.
std::unique_ptr<ExporterFactory> NewOtlpHttpExporterFactory();

}  // namespace otlpd
