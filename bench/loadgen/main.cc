// otlpd-loadgen: drives an OTLP receiver with the standard benchmark workload over
// OTLP/gRPC or OTLP/HTTP and reports accepted spans/s and ack latency.
//
//   otlpd-loadgen --transport=grpc --endpoint=127.0.0.1:4317 --concurrency=32 --duration=20
//
// Ends with one machine-readable line starting with "RESULT ". Exits 1 if no request in
// the measurement window was acknowledged OK, 2 on bad flags.
#include <sys/resource.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "driver.h"
#include "workload.h"

ABSL_FLAG(std::string, transport, "grpc", "grpc or http");
ABSL_FLAG(std::string, endpoint, "",
          "host:port of the receiver (default 127.0.0.1:4317 for grpc, 127.0.0.1:4318 for http)");
ABSL_FLAG(std::string, path, "/v1/traces", "HTTP request path");
ABSL_FLAG(std::string, encoding, "proto", "HTTP body encoding: proto or json");
ABSL_FLAG(std::string, compression, "none", "none or gzip");
ABSL_FLAG(double, rate, 0, "target spans/s in total (0 = as fast as the concurrency allows)");
ABSL_FLAG(int, concurrency, 32, "requests in flight (HTTP: keep-alive connections)");
ABSL_FLAG(int, threads, 1, "client event-loop threads the concurrency is spread over");
ABSL_FLAG(int, channels, 2, "gRPC: number of channels (HTTP/2 connections)");
ABSL_FLAG(double, duration, 20, "measured seconds");
ABSL_FLAG(double, warmup, 3, "seconds of load before measuring starts");
ABSL_FLAG(int, spans_per_request, 100, "spans per export request");
ABSL_FLAG(int, spans_per_trace, 1, "consecutive spans sharing one trace id");
ABSL_FLAG(int, pool, 64, "distinct pre-generated requests, sent round-robin");
ABSL_FLAG(int, timeout_ms, 10000, "per-request timeout");
ABSL_FLAG(uint64_t, seed, 0, "workload random seed (0 = random)");
ABSL_FLAG(std::string, dump_request, "",
          "write the first pre-generated request body (as encoded, before compression) to this "
          "file and exit without sending");

namespace otlpd::loadgen {
namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "otlpd-loadgen: %s\n", message.c_str());
  return 2;
}

double Millis(int64_t nanos) { return static_cast<double>(nanos) / 1e6; }

// CPU seconds (user + system, all threads) this process has used so far.
double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "OTLP trace load generator: otlpd-loadgen --transport=grpc|http [--endpoint=host:port] "
      "[--rate=spans/s] [--concurrency=N] [--duration=s]");
  absl::ParseCommandLine(argc, argv);
  // Debian builds abseil without NDEBUG, which leaves absl::Mutex deadlock detection on:
  // a lock-order graph update on every gRPC-internal lock. It is a debugging aid, and
  // costs the client CPU the measurement needs.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  const std::string transport = absl::GetFlag(FLAGS_transport);
  const std::string encoding = absl::GetFlag(FLAGS_encoding);
  const std::string compression = absl::GetFlag(FLAGS_compression);
  if (transport != "grpc" && transport != "http") return Fail("--transport must be grpc or http");
  if (encoding != "proto" && encoding != "json") return Fail("--encoding must be proto or json");
  if (transport == "grpc" && encoding == "json") return Fail("gRPC carries protobuf only");
  if (compression != "none" && compression != "gzip") {
    return Fail("--compression must be none or gzip");
  }
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const int spans_per_request = absl::GetFlag(FLAGS_spans_per_request);
  const double duration_s = absl::GetFlag(FLAGS_duration);
  const double warmup_s = absl::GetFlag(FLAGS_warmup);
  const double rate = absl::GetFlag(FLAGS_rate);
  const int pool_size = absl::GetFlag(FLAGS_pool);
  if (concurrency < 1) return Fail("--concurrency must be >= 1");
  if (spans_per_request < 1) return Fail("--spans_per_request must be >= 1");
  if (!(duration_s > 0) || !(warmup_s >= 0)) return Fail("--duration must be > 0, --warmup >= 0");
  if (rate < 0) return Fail("--rate must be >= 0");
  if (pool_size < 1) return Fail("--pool must be >= 1");

  DriverOptions options;
  std::string endpoint = absl::GetFlag(FLAGS_endpoint);
  if (endpoint.empty()) endpoint = transport == "grpc" ? "127.0.0.1:4317" : "127.0.0.1:4318";
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos || !absl::SimpleAtoi(endpoint.substr(colon + 1), &options.port) ||
      options.port <= 0 || options.port > 65535) {
    return Fail("--endpoint must be host:port");
  }
  options.host = endpoint.substr(0, colon);
  if (options.host.size() > 2 && options.host.front() == '[') {
    options.host = options.host.substr(1, options.host.size() - 2);  // [::1]
  }
  options.path = absl::GetFlag(FLAGS_path);
  options.json = encoding == "json";
  options.gzip = compression == "gzip";
  options.concurrency = concurrency;
  options.threads = std::max(1, absl::GetFlag(FLAGS_threads));
  options.channels = std::max(1, absl::GetFlag(FLAGS_channels));
  options.spans_per_request = spans_per_request;
  options.request_timeout = std::chrono::milliseconds(std::max(1, absl::GetFlag(FLAGS_timeout_ms)));

  // Generate the pool up front so that building requests costs nothing during the run.
  WorkloadOptions workload;
  workload.spans_per_request = spans_per_request;
  workload.spans_per_trace = std::max(1, absl::GetFlag(FLAGS_spans_per_trace));
  uint64_t seed = absl::GetFlag(FLAGS_seed);
  if (seed == 0) seed = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  std::vector<std::string> bodies;
  bodies.reserve(pool_size);
  size_t body_bytes = 0;
  for (int i = 0; i < pool_size; ++i) {
    const TraceRequest request = BuildTraceRequest(workload, seed + i * 0x9E3779B97F4A7C15ULL);
    bodies.push_back(options.json ? EncodeOtlpJson(request) : request.SerializeAsString());
    body_bytes += bodies.back().size();
  }
  if (const std::string dump_path = absl::GetFlag(FLAGS_dump_request); !dump_path.empty()) {
    std::FILE* file = std::fopen(dump_path.c_str(), "wb");
    if (file == nullptr) return Fail("cannot open " + dump_path);
    const bool written =
        std::fwrite(bodies[0].data(), 1, bodies[0].size(), file) == bodies[0].size();
    if (std::fclose(file) != 0 || !written) return Fail("cannot write " + dump_path);
    return 0;
  }
  size_t wire_bytes = body_bytes;
  if (options.gzip) {
    wire_bytes = 0;
    for (const std::string& body : bodies) {
      auto compressed = GzipCompress(body);
      if (!compressed.ok()) return Fail(compressed.status().ToString());
      wire_bytes += compressed->size();
    }
  }

  const Clock::time_point start = Clock::now();
  const double cpu_at_start = ProcessCpuSeconds();
  const auto to_duration = [](double seconds) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  };
  options.window.measure_start = start + to_duration(warmup_s);
  options.window.measure_end = options.window.measure_start + to_duration(duration_s);
  options.stop_sending = options.window.measure_end;
  options.hard_deadline = options.stop_sending + options.request_timeout + std::chrono::seconds(1);
  Pacer pacer(rate / spans_per_request, start);

  const RunStats stats =
      transport == "grpc" ? RunGrpc(options, bodies, pacer) : RunHttp(options, bodies, pacer);

  // Busy cores of the load generator over the whole run: near 1.0 on one pinned core
  // means the client, not the server, may be the limit.
  const double loadgen_cpu_util = (ProcessCpuSeconds() - cpu_at_start) /
                                  std::chrono::duration<double>(Clock::now() - start).count();
  const double spans_per_sec = static_cast<double>(stats.ok_spans) / duration_s;
  const double requests_per_sec = static_cast<double>(stats.ok_requests) / duration_s;
  const LatencyHistogram& latency = stats.latency;
  std::vector<std::string> error_parts;
  for (const auto& [status, count] : stats.errors) {
    error_parts.push_back(absl::StrCat(status, "=", count));
  }
  std::vector<std::string> unmeasured_error_parts;
  for (const auto& [status, count] : stats.unmeasured_errors) {
    unmeasured_error_parts.push_back(absl::StrCat(status, "=", count));
  }
  const std::string mode =
      transport == "grpc" ? "grpc (protobuf)" : absl::StrCat("http (", encoding, ")");

  absl::PrintF(
      "otlpd-loadgen: %s -> %s:%d, compression %s, concurrency %d, threads %d, "
      "target %s\n",
      mode, options.host, options.port, compression, concurrency, options.threads,
      rate > 0 ? absl::StrFormat("%.0f spans/s", rate) : std::string("max"));
  absl::PrintF(
      "  workload:   %d spans/request, %d distinct requests, %.0f bytes/request "
      "(%.0f on the wire)\n",
      spans_per_request, pool_size, static_cast<double>(body_bytes) / pool_size,
      static_cast<double>(wire_bytes) / pool_size);
  absl::PrintF("  measured:   %.2f s after %.2f s warm-up\n", duration_s, warmup_s);
  absl::PrintF(
      "  accepted:   %d requests (%.0f req/s), %d spans (%.0f spans/s), "
      "%d spans rejected in partial successes\n",
      stats.ok_requests, requests_per_sec, stats.ok_spans, spans_per_sec, stats.rejected_spans);
  absl::PrintF("  errors:     %d%s%s\n", stats.error_requests, error_parts.empty() ? "" : "  ",
               absl::StrJoin(error_parts, ", "));
  absl::PrintF("  unmeasured: %d ok, %d errors%s%s (warm-up / drain)\n",
               stats.unmeasured_ok_requests, stats.unmeasured_error_requests,
               unmeasured_error_parts.empty() ? "" : "  ",
               absl::StrJoin(unmeasured_error_parts, ", "));
  absl::PrintF("  client CPU: %.2f cores busy\n", loadgen_cpu_util);
  absl::PrintF(
      "  latency ms: min %.3f  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  "
      "mean %.3f\n",
      Millis(latency.min_nanos()), Millis(latency.ValueAtQuantile(0.5)),
      Millis(latency.ValueAtQuantile(0.9)), Millis(latency.ValueAtQuantile(0.99)),
      Millis(latency.ValueAtQuantile(0.999)), Millis(latency.max_nanos()),
      latency.mean_nanos() / 1e6);
  absl::PrintF(
      "RESULT transport=%s encoding=%s compression=%s concurrency=%d target_spans_per_sec=%.0f "
      "spans_per_sec=%.0f requests_per_sec=%.0f requests=%d spans=%d rejected_spans=%d "
      "errors=%d p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f mean_ms=%.3f "
      "duration_s=%.3f loadgen_cpu_util=%.3f\n",
      transport, transport == "grpc" ? "proto" : encoding, compression, concurrency, rate,
      spans_per_sec, requests_per_sec, stats.ok_requests, stats.ok_spans, stats.rejected_spans,
      stats.error_requests, Millis(latency.ValueAtQuantile(0.5)),
      Millis(latency.ValueAtQuantile(0.9)), Millis(latency.ValueAtQuantile(0.99)),
      Millis(latency.ValueAtQuantile(0.999)), Millis(latency.max_nanos()),
      latency.mean_nanos() / 1e6, duration_s, loadgen_cpu_util);
  std::fflush(stdout);
  if (stats.ok_requests == 0) {
    std::fprintf(stderr, "otlpd-loadgen: no request was acknowledged OK in the measured window\n");
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace otlpd::loadgen

int main(int argc, char** argv) { return otlpd::loadgen::Main(argc, argv); }
