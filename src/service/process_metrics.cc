#include "service/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>

#include "absl/time/clock.h"

namespace otlpd {

namespace {

double ProcessRssBytes() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_rss = 0;
  statm >> pages_total >> pages_rss;
  return static_cast<double>(pages_rss) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

void RegisterProcessMetrics(MetricsRegistry* metrics) {
  const absl::Time start = absl::Now();
  metrics->AddCallbackGauge("otelcol_process_memory_rss", {}, ProcessRssBytes,
                            "Total physical memory (resident set size) [bytes]");
  metrics->AddCallbackGauge("otelcol_process_cpu_seconds", {}, ProcessCpuSeconds,
                            "Total CPU user and system time in seconds");
  metrics->AddCallbackGauge(
      "otelcol_process_uptime", {}, [start] { return absl::ToDoubleSeconds(absl::Now() - start); },
      "Uptime of the process [seconds]");
}

}  // namespace otlpd
