#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace otlpd {

// The three OTLP signals. Every pipeline carries exactly one of them.
enum class Signal : uint8_t { kTraces = 0, kMetrics = 1, kLogs = 2 };

inline constexpr Signal kAllSignals[] = {Signal::kTraces, Signal::kMetrics, Signal::kLogs};

// "traces", "metrics", "logs": the names used in service.pipelines ids.
std::string_view SignalName(Signal s);
std::optional<Signal> ParseSignal(std::string_view name);

// What one item of a signal is called in otelcol's self-metrics:
// "spans", "metric_points", "log_records".
std::string_view SignalItemName(Signal s);

// A small set of signals, for "which signals does this component support".
class SignalSet {
 public:
  constexpr SignalSet() = default;
  constexpr SignalSet(std::initializer_list<Signal> signals) {
    for (Signal s : signals) bits_ |= Bit(s);
  }
  static constexpr SignalSet All() { return {Signal::kTraces, Signal::kMetrics, Signal::kLogs}; }
  constexpr bool Has(Signal s) const { return (bits_ & Bit(s)) != 0; }
  constexpr void Add(Signal s) { bits_ |= Bit(s); }

 private:
  static constexpr uint8_t Bit(Signal s) { return uint8_t{1} << static_cast<uint8_t>(s); }
  uint8_t bits_ = 0;
};

}  // namespace otlpd
