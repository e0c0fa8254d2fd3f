#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "rule_sampler": ordered rules (first match wins) giving each span a sampling percentage
// or a drop, decided consistently by trace id and written as `th`.
std::unique_ptr<ProcessorFactory> NewRuleSamplerFactory();

}  // namespace otlpd
