#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/factory.h"

namespace otlpd {

// One policy of otelcol-contrib's tail_sampling processor (same `type` names and keys), plus
// `not` (ours: not_sub_policy, one policy whose decision is inverted).
struct TailPolicyConfig {
  std::string name;
  std::string type;
  // latency
  int64_t threshold_ms = 0;
  int64_t upper_threshold_ms = 0;
  // numeric_attribute, string_attribute, boolean_attribute, trace_state
  std::string key;
  bool has_min = false, has_max = false;
  int64_t min_value = 0, max_value = 0;
  std::vector<std::string> values;
  bool enabled_regex_matching = false;
  int64_t cache_max_size = 0;  // accepted for compatibility (RE2 needs no match cache)
  bool bool_value = false;
  bool invert_match = false;
  // probabilistic
  double sampling_percentage = 0;
  std::string hash_salt;
  // status_code
  std::vector<std::string> status_codes;
  // rate_limiting
  int64_t spans_per_second = 0;
  // bytes_limiting
  int64_t bytes_per_second = 0;
  int64_t burst_capacity = 0;  // 0 = 2 x bytes_per_second
  // span_count
  int64_t min_spans = 0;
  int64_t max_spans = 0;  // 0 = no upper bound
  // and, drop, not, composite
  std::vector<TailPolicyConfig> sub_policies;
  // composite
  int64_t max_total_spans_per_second = 0;
  std::vector<std::string> policy_order;
  std::vector<std::pair<std::string, int64_t>> rate_allocation;  // policy name, percent
};

// otelcol-contrib's tail_sampling settings (same keys and defaults), and ours for the
// durable buffer: `directory` (the segment log holding pending spans) and
// `max_buffer_bytes` (what pending traces may hold: their span bytes plus the in-memory
// index; over it the oldest traces are decided early and counted).
struct TailSamplingConfig : ComponentConfig {
  absl::Duration decision_wait = absl::Seconds(30);
  int64_t num_traces = 50000;
  int64_t expected_new_traces_per_sec = 0;
  int64_t sampled_cache_size = 0;
  int64_t non_sampled_cache_size = 0;
  bool sample_on_first_match = false;
  // A trace whose buffered spans reach this is decided at once (0: max_buffer_bytes / 16,
  // so that one trace can never hold more than a sixteenth of the buffer).
  uint64_t maximum_trace_size_bytes = 0;
  bool drop_pending_traces_on_shutdown = false;
  std::vector<TailPolicyConfig> policies;

  std::string directory;  // "" = ./data/tail_sampling/<component name>
  uint64_t max_buffer_bytes = uint64_t{256} << 20;
  // When a Consume counts as done: "fsync" (default), "batch" or "none", as file_storage.
  std::string durability = "fsync";
};

}  // namespace otlpd
