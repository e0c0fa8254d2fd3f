#pragma once

#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/compression.h"

namespace otlpd {

// compression: auto. Every `sample_interval` one payload is compressed with each candidate,
// measuring ratio (output/input) and CPU time per input byte (smoothed over samples). The
// choice minimises the time a byte of payload costs: compressing it plus sending what is
// left, at `wire_bytes_per_second` — the uplink we pretend to have: max_bandwidth when set,
// else 1 MB/s with prefer: bandwidth (a slow uplink; the best ratio wins unless it is very
// slow) or 1 GB/s with prefer: cpu (a LAN; the cheapest to compute wins).
class CompressionChooser {
 public:
  struct Candidate {
    Compression compression;
    double ratio = 1.0;           // smoothed output/input
    double seconds_per_byte = 0;  // smoothed compression time
    bool measured = false;
  };

  CompressionChooser(std::vector<Compression> candidates, double wire_bytes_per_second,
                     absl::Duration sample_interval = absl::Seconds(5));

  // Measures `payload` if a sample is due (cheap check otherwise).
  void MaybeSample(std::string_view payload, absl::Time now);
  Compression current() const;
  // The smoothed ratio of `c` (1 when never measured).
  double ratio(Compression c) const;
  std::vector<Candidate> candidates() const;

 private:
  void ChooseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const double seconds_per_wire_byte_;
  const absl::Duration sample_interval_;
  mutable absl::Mutex mu_;
  std::vector<Candidate> candidates_ ABSL_GUARDED_BY(mu_);
  Compression current_ ABSL_GUARDED_BY(mu_);
  absl::Time next_sample_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool sampling_ ABSL_GUARDED_BY(mu_) = false;
};

// A token bucket over bytes per second (max_bandwidth), one second of burst. A send larger
// than the bucket goes once the bucket is full and leaves it in debt, so nothing waits
// forever.
class BandwidthLimiter {
 public:
  explicit BandwidthLimiter(uint64_t bytes_per_second);
  // Waits until `bytes` may go (or until `deadline`); returns at once when unlimited.
  void Acquire(uint64_t bytes, absl::Time deadline);

 private:
  const double rate_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_) = absl::Now();
};

}  // namespace otlpd
