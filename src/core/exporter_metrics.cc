#include "core/exporter_metrics.h"

#include "absl/strings/str_cat.h"

namespace otlpd {

ExporterMetrics::ExporterMetrics(const std::string& exporter_id, MetricsRegistry* metrics) {
  if (metrics == nullptr) {
    own_metrics_ = std::make_unique<MetricsRegistry>();
    metrics = own_metrics_.get();
  }
  const Labels labels = {{"exporter", exporter_id}};
  for (Signal s : kAllSignals) {
    const std::string item(SignalItemName(s));
    sent_[Index(s)] =
        metrics->GetCounter("otelcol_exporter_sent_" + item, labels,
                            absl::StrCat("Number of ", item, " successfully sent to destination."));
    send_failed_[Index(s)] = metrics->GetCounter(
        "otelcol_exporter_send_failed_" + item, labels,
        absl::StrCat("Number of ", item, " in failed attempts to send to destination."));
  }
}

ExporterMetrics::ExporterMetrics(const CreateSettings& settings)
    : ExporterMetrics(settings.id.ToString(),
                      settings.host != nullptr ? &settings.host->metrics() : nullptr) {}

}  // namespace otlpd
