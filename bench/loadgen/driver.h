// What the transport drivers share: run options, and the pacer that spaces sends to a
// target rate across all connections and threads.
#ifndef OTLPD_BENCH_LOADGEN_DRIVER_H_
#define OTLPD_BENCH_LOADGEN_DRIVER_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "run_stats.h"

namespace otlpd::loadgen {

class Pacer {
 public:
  // requests_per_second <= 0 means unpaced (send as fast as the concurrency allows).
  Pacer(double requests_per_second, Clock::time_point start)
      : interval_ns_(requests_per_second > 0
                         ? std::max<int64_t>(1, static_cast<int64_t>(1e9 / requests_per_second))
                         : 0),
        next_ns_(ToNanos(start)) {}

  bool paced() const { return interval_ns_ > 0; }

  // Claims the next send slot. A sender that fell behind gets slots at most kMaxLag in the
  // past, so a stall is followed by a short catch-up, not an unbounded burst.
  Clock::time_point NextSlot(Clock::time_point now) {
    const int64_t floor_ns = ToNanos(now) - kMaxLag.count();
    int64_t current = next_ns_.load(std::memory_order_relaxed);
    while (true) {
      const int64_t slot = std::max(current, floor_ns);
      if (next_ns_.compare_exchange_weak(current, slot + interval_ns_, std::memory_order_relaxed)) {
        return Clock::time_point(std::chrono::nanoseconds(slot));
      }
    }
  }

 private:
  static constexpr std::chrono::nanoseconds kMaxLag = std::chrono::milliseconds(20);

  static int64_t ToNanos(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  }

  const int64_t interval_ns_;
  std::atomic<int64_t> next_ns_;
};

struct DriverOptions {
  std::string host;  // host name or address
  int port = 0;
  std::string path = "/v1/traces";  // HTTP only
  bool json = false;                // HTTP only: body is OTLP/JSON, not protobuf
  bool gzip = false;
  int concurrency = 32;  // in-flight requests in total
  int threads = 1;       // event-loop threads the concurrency is spread over
  int channels = 2;      // gRPC only: connections (HTTP/2) in total
  int64_t spans_per_request = 100;
  std::chrono::milliseconds request_timeout{10000};
  RunWindow window;
  // No request is started at or after this point (= window.measure_end).
  Clock::time_point stop_sending;
  // Everything still outstanding is abandoned here.
  Clock::time_point hard_deadline;
};

// Each returns the merged stats of all its threads. `bodies` are the pre-encoded request
// bodies (uncompressed; the driver compresses as configured), used round-robin.
RunStats RunGrpc(const DriverOptions& options, const std::vector<std::string>& bodies,
                 Pacer& pacer);
RunStats RunHttp(const DriverOptions& options, const std::vector<std::string>& bodies,
                 Pacer& pacer);

}  // namespace otlpd::loadgen

#endif  // OTLPD_BENCH_LOADGEN_DRIVER_H_
