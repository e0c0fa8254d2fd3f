#include "core/metrics.h"

#include <gtest/gtest.h>

namespace otlpd {
namespace {

TEST(MetricsRegistryTest, SameSeriesSameObject) {
  MetricsRegistry r;
  Counter* a = r.GetCounter("otelcol_receiver_accepted_spans", {{"receiver", "otlp"}});
  Counter* b = r.GetCounter("otelcol_receiver_accepted_spans", {{"receiver", "otlp"}});
  Counter* c = r.GetCounter("otelcol_receiver_accepted_spans", {{"receiver", "otlp/2"}});
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(MetricsRegistryTest, RendersPrometheusText) {
  MetricsRegistry r;
  r.GetCounter("otelcol_receiver_accepted_spans", {{"receiver", "otlp"}, {"transport", "grpc"}},
               "Spans accepted")
      ->Add(42);
  r.GetGauge("otelcol_exporter_queue_capacity", {{"exporter", "otlp"}})->Set(1000);
  r.AddCallbackGauge("otelcol_exporter_queue_size", {{"exporter", "otlp"}}, [] { return 7.0; });
  Histogram* h = r.GetHistogram("otelcol_processor_batch_batch_send_size", {{"processor", "batch"}},
                                {10, 100});
  h->Observe(5);
  h->Observe(50);
  h->Observe(500);
  std::string text = r.RenderPrometheus();
  EXPECT_NE(text.find("# HELP otelcol_receiver_accepted_spans Spans accepted\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE otelcol_receiver_accepted_spans counter\n"), std::string::npos);
  EXPECT_NE(text.find("otelcol_receiver_accepted_spans{receiver=\"otlp\",transport=\"grpc\"} 42\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("otelcol_exporter_queue_capacity{exporter=\"otlp\"} 1000\n"),
            std::string::npos);
  EXPECT_NE(text.find("otelcol_exporter_queue_size{exporter=\"otlp\"} 7\n"), std::string::npos);
  EXPECT_NE(
      text.find(
          "otelcol_processor_batch_batch_send_size_bucket{processor=\"batch\",le=\"10\"} 1\n"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          "otelcol_processor_batch_batch_send_size_bucket{processor=\"batch\",le=\"100\"} 2\n"),
      std::string::npos);
  EXPECT_NE(
      text.find(
          "otelcol_processor_batch_batch_send_size_bucket{processor=\"batch\",le=\"+Inf\"} 3\n"),
      std::string::npos);
  EXPECT_NE(text.find("otelcol_processor_batch_batch_send_size_sum{processor=\"batch\"} 555\n"),
            std::string::npos);
  EXPECT_NE(text.find("otelcol_processor_batch_batch_send_size_count{processor=\"batch\"} 3\n"),
            std::string::npos);
}

TEST(MetricsRegistryTest, EscapesLabelValues) {
  MetricsRegistry r;
  r.GetCounter("c", {{"l", "a\"b\\c\nd"}})->Add(1);
  EXPECT_NE(r.RenderPrometheus().find("c{l=\"a\\\"b\\\\c\\nd\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace otlpd
