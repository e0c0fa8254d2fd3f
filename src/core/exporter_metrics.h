#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "core/component.h"
#include "core/metrics.h"
#include "core/signal.h"

namespace otlpd {

// otelcol's per-exporter outcome counters, for every signal:
// otelcol_exporter_sent_<items> and otelcol_exporter_send_failed_<items>, labelled
// {exporter=<id>}. The series are looked up once, so Record is two atomic adds at most.
class ExporterMetrics {
 public:
  // `metrics` may be null (a component built without a host, as in some tests): the counts
  // then go to a registry of this object's own.
  ExporterMetrics(const std::string& exporter_id, MetricsRegistry* metrics);
  explicit ExporterMetrics(const CreateSettings& settings);

  // Counts `items` of `signal` as sent when `status` is OK, else as failed to send.
  void Record(Signal signal, size_t items, const absl::Status& status) {
    (status.ok() ? sent_ : send_failed_)[Index(signal)]->Add(items);
  }

  const Counter& sent(Signal signal) const { return *sent_[Index(signal)]; }
  const Counter& send_failed(Signal signal) const { return *send_failed_[Index(signal)]; }

 private:
  static size_t Index(Signal signal) { return static_cast<size_t>(signal); }

  std::unique_ptr<MetricsRegistry> own_metrics_;
  std::array<Counter*, 3> sent_{};
  std::array<Counter*, 3> send_failed_{};
};

}  // namespace otlpd
