#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// The `otlp` receiver (traces, metrics, logs over OTLP/gRPC and OTLP/HTTP).
std::unique_ptr<ReceiverFactory> NewOtlpReceiverFactory();

}  // namespace otlpd
