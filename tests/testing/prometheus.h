#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace otlpd::testing {

// One sample line of the Prometheus text format.
struct PromSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

std::vector<PromSample> ParsePrometheus(std::string_view text);

// Sum of the values of every sample named `name` whose labels include all of `labels`;
// nullopt if no sample matches.
std::optional<double> PromValue(
    std::string_view text, std::string_view name,
    const std::vector<std::pair<std::string, std::string>>& labels = {});

// PromValue under an otelcol self-metric name, with or without the "_total" suffix that
// Prometheus exporters may add to counters.
std::optional<double> SelfMetric(
    std::string_view text, const std::string& name,
    const std::vector<std::pair<std::string, std::string>>& labels = {});

// GETs http://127.0.0.1:port/metrics and returns the body ("" on failure).
std::string ScrapeMetrics(int port);

}  // namespace otlpd::testing
