#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace otlpd {

// What a Jaeger client is told to do for one service: Jaeger's SamplingStrategyResponse.
struct SamplingStrategy {
  enum class Type { kProbabilistic, kRateLimiting };
  Type type = Type::kProbabilistic;
  double probability = 0.001;         // kProbabilistic: samplingRate
  int64_t max_traces_per_second = 0;  // kRateLimiting
  // operationSampling, sent when present.
  struct Operations {
    double default_probability = 0.001;
    double default_lower_bound_traces_per_second = 0;
    std::vector<std::pair<std::string, double>> probabilities;  // operation -> samplingRate
  };
  std::optional<Operations> operations;
};

// A Jaeger strategies file (the format of jaeger's --sampling.strategies-file):
//   {"default_strategy": {"type": "probabilistic", "param": 0.5,
//                         "operation_strategies": [{"operation": "op", "type": ..., "param":
//                         ...}]},
//    "service_strategies": [{"service": "foo", "type": "ratelimiting", "param": 5,
//                            "operation_strategies": [...]}, ...]}
// resolved as Jaeger's static strategy store does: without default_strategy the default is
// probabilistic 0.001; per-operation strategies must be probabilistic; a service's
// operation strategies are merged with the default's (the service's win), and a
// probabilistic service without its own gets the default's with its own rate as default.
struct SamplingStrategies {
  SamplingStrategy default_strategy;
  absl::flat_hash_map<std::string, SamplingStrategy> services;

  const SamplingStrategy& For(std::string_view service) const;
};

// Parses and checks a strategies file's text; errors name the offending entry.
absl::StatusOr<SamplingStrategies> ParseSamplingStrategies(std::string_view json);

// Jaeger's JSON (as its api_v2 HTTP endpoint writes it, enum names as strings):
// {"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.5},
//  "operationSampling":{"defaultSamplingProbability":0.5,"defaultLowerBoundTracesPerSecond":0,
//                       "perOperationStrategies":[{"operation":"op",
//                                                  "probabilisticSampling":{"samplingRate":1}}]}}
std::string SamplingStrategyJson(const SamplingStrategy& strategy);

}  // namespace otlpd
