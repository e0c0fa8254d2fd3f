#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "redaction": deletes attributes not on an allow list and masks sensitive values (card
// numbers, e-mail addresses, configured patterns) in attributes and log bodies
// (otelcol-contrib's redaction processor, plus built-in masks).
std::unique_ptr<ProcessorFactory> NewRedactionProcessorFactory();

}  // namespace otlpd
