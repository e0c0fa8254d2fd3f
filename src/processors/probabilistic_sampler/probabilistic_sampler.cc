#include "processors/probabilistic_sampler/probabilistic_sampler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace otlpd {

using attraction::Scratch;
using attraction::Value;
using attraction::ValueType;
using sampling_wire::ItemVerdict;
using sampling_wire::ItemView;
namespace cs = consistent_sampling;

namespace {

constexpr uint32_t kNumHashBuckets = 0x4000;  // otelcol's 14-bit hash buckets
constexpr std::string_view kLogThresholdKey = "sampling.threshold";
constexpr std::string_view kLogRandomnessKey = "sampling.randomness";
constexpr std::string_view kSpanPriorityKey = "sampling.priority";

enum class Priority { kDefer, kMustSample, kDoNotSample };

// otelcol's parseSpanSamplingPriority: "sampling.priority" as an int, double or numeric string.
Priority SpanPriority(const ItemView& span, Scratch* scratch) {
  std::optional<Value> v = span.Attribute(kSpanPriorityKey, scratch);
  if (!v) return Priority::kDefer;
  double value = 0;
  switch (v->type) {
    case ValueType::kInt:
      value = static_cast<double>(v->int_value);
      break;
    case ValueType::kDouble:
      value = v->double_value;
      break;
    case ValueType::kStr:
      if (!absl::SimpleAtod(std::string(v->bytes), &value)) return Priority::kDefer;
      break;
    default:
      return Priority::kDefer;
  }
  if (value == 0) return Priority::kDoNotSample;
  return value > 0 ? Priority::kMustSample : Priority::kDefer;
}

// The bytes otelcol hashes for a log attribute (getBytesFromValue): bytes as they are,
// anything else as its string form.
std::string_view AttributeBytes(const Value& v, Scratch* scratch) {
  if (v.type == ValueType::kBytes || v.type == ValueType::kStr) return v.bytes;
  return scratch->Copy(attraction::AsString(v, scratch));
}

std::string_view EncodeInScratch(uint64_t value, bool randomness, Scratch* scratch) {
  std::string text;
  if (randomness) {
    cs::AppendRandomness(value, &text);
  } else {
    cs::AppendThreshold(value, &text);
  }
  return scratch->Copy(text);
}

}  // namespace

uint64_t ProbabilisticSampler::HashRandomness(std::string_view bytes, uint32_t seed) {
  // FNV-1a, 32 bits, over the seed's little-endian bytes and then `bytes`.
  uint32_t hash = 2166136261u;
  auto add = [&hash](uint8_t b) {
    hash ^= b;
    hash *= 16777619u;
  };
  for (int i = 0; i < 4; ++i) add(static_cast<uint8_t>(seed >> (8 * i)));
  for (char c : bytes) add(static_cast<uint8_t>(c));
  const uint64_t hashed = hash & (kNumHashBuckets - 1);
  // The legacy test is hashed < rate; with R' = buckets - 1 - hashed in the top 14 bits and
  // T = (buckets - rate) << 42 it is R' >= T. The other bits mix the hash's unused 18.
  const uint64_t rprime14 = kNumHashBuckets - 1 - hashed;
  const uint64_t unused18 = hash >> 14;
  const uint64_t mixed28 = unused18 ^ (unused18 << 10);
  return (rprime14 << 42) | (mixed28 << 14) | hashed;
}

ProbabilisticSampler::ProbabilisticSampler(const CreateSettings& settings,
                                           const ProbabilisticSamplerConfig& config, Signal signal,
                                           ConsumerPtr next)
    : id_(settings.id.ToString()),
      signal_(signal),
      next_(std::move(next)),
      fail_closed_(config.fail_closed),
      precision_(config.sampling_precision),
      hash_seed_(config.hash_seed),
      logs_trace_id_(config.attribute_source == "traceID"),
      from_attribute_(config.from_attribute),
      sampling_priority_(config.sampling_priority) {
  if (config.mode == "hash_seed") {
    mode_ = Mode::kHashSeed;
  } else if (config.mode == "equalizing") {
    mode_ = Mode::kEqualizing;
  } else if (config.mode == "proportional") {
    mode_ = Mode::kProportional;
  } else {
    // Unset: otelcol keeps its legacy hashing where it was configured for it.
    const bool legacy = config.hash_seed != 0 || (signal == Signal::kLogs && !logs_trace_id_);
    mode_ = legacy ? Mode::kHashSeed : Mode::kProportional;
  }
  const float percent = std::min(config.sampling_percentage, 100.0f);
  ratio_ = percent <= 0 ? 0 : std::max(static_cast<double>(percent) / 100, cs::kMinProbability);
  stage_ = mode_ == Mode::kProportional ? cs::Stage::Proportional(ratio_, precision_)
                                        : cs::Stage::Equalizing(ratio_, precision_);
  // otelcol: uint32(pct * percentageScaleFactor), in float32, truncated.
  const uint32_t rate =
      static_cast<uint32_t>(percent * (static_cast<float>(kNumHashBuckets) / 100.0f));
  if (percent > 0 && rate > 0) {
    hash_threshold_ = static_cast<uint64_t>(kNumHashBuckets - std::min(rate, kNumHashBuckets))
                      << 42;
  }
  if (percent <= 0) stage_ = cs::Stage::WithThreshold(cs::kNeverSampleThreshold);
  RequestSpanIndex();  // decisions read the receiver's span index when it is there
  if (signal == Signal::kLogs) {
    keys_ = sampling_wire::AttributeKeys(
        {kLogThresholdKey, kLogRandomnessKey, from_attribute_, sampling_priority_});
  } else {
    keys_ = sampling_wire::AttributeKeys({kSpanPriorityKey});
  }

  MetricsRegistry* metrics = settings.host != nullptr ? &settings.host->metrics() : nullptr;
  if (metrics == nullptr) {
    own_metrics_ = std::make_unique<MetricsRegistry>();
    metrics = own_metrics_.get();
  }
  const std::string name = signal == Signal::kLogs
                               ? "otelcol_processor_probabilistic_sampler_count_logs_sampled"
                               : "otelcol_processor_probabilistic_sampler_count_traces_sampled";
  const std::string help = "Count of items that were sampled (sampled=true) or not.";
  sampled_true_ = metrics->GetCounter(name, {{"processor", id_}, {"sampled", "true"}}, help);
  sampled_false_ = metrics->GetCounter(name, {{"processor", id_}, {"sampled", "false"}}, help);
}

ItemVerdict ProbabilisticSampler::DecideSpan(const ItemView& span, Scratch* scratch) const {
  const Priority priority = SpanPriority(span, scratch);
  ItemVerdict verdict;
  if (priority == Priority::kDoNotSample) {
    verdict.keep = false;
    return verdict;
  }
  if (mode_ != Mode::kHashSeed) {
    // Priority > 0 keeps the span with the threshold it came with (or th:0).
    static const cs::Stage kAlways = cs::Stage::WithThreshold(cs::kAlwaysSampleThreshold);
    return sampling_wire::DecideSpan(priority == Priority::kMustSample ? kAlways : stage_, span,
                                     fail_closed_ && priority != Priority::kMustSample, scratch);
  }
  // hash_seed: the FNV randomness is written as `rv`, so an item that already carries
  // OpenTelemetry sampling information (rv or th) is an error for this mode, as in otelcol.
  std::string_view trace_id = span.trace_id;
  char zeros[16] = {};
  if (trace_id.size() != 16) trace_id = std::string_view(zeros, 16);
  const uint64_t randomness = HashRandomness(trace_id, hash_seed_);
  absl::StatusOr<cs::TraceState> ts = cs::ParseTraceState(span.trace_state);
  if (!ts.ok() || ts->ot.randomness || ts->ot.threshold) {
    verdict.keep = priority == Priority::kMustSample || !fail_closed_;
    return verdict;
  }
  const uint64_t threshold =
      priority == Priority::kMustSample ? cs::kAlwaysSampleThreshold : hash_threshold_;
  verdict.keep = cs::ShouldSample(threshold, randomness);
  if (!verdict.keep) return verdict;
  ts->ot.randomness = randomness;
  ts->ot.threshold = threshold;
  std::string text;
  if (!cs::AppendTraceState(*ts, &text).ok()) return verdict;  // kept, as it came
  verdict.replace_trace_state = true;
  verdict.trace_state = scratch->Copy(text);
  return verdict;
}

ItemVerdict ProbabilisticSampler::DecideLog(const ItemView& record, Scratch* scratch) const {
  ItemVerdict verdict;
  bool error = false;
  // The record's own sampling attributes (strings), as otelcol's recordCarrier reads them.
  std::optional<uint64_t> arriving;
  std::optional<uint64_t> explicit_randomness;
  if (std::optional<Value> th = record.Attribute(kLogThresholdKey, scratch);
      th && th->type == ValueType::kStr && !th->bytes.empty()) {
    arriving = cs::ParseThreshold(th->bytes);
    error |= !arriving;
  }
  if (std::optional<Value> rv = record.Attribute(kLogRandomnessKey, scratch);
      rv && rv->type == ValueType::kStr && !rv->bytes.empty()) {
    explicit_randomness = cs::ParseRandomness(rv->bytes);
    error |= !explicit_randomness;
  }
  const bool carrier_ok = !error;

  std::optional<uint64_t> randomness;
  bool write_randomness = false;
  std::optional<Value> source;
  if (!from_attribute_.empty()) source = record.Attribute(from_attribute_, scratch);
  if (mode_ == Mode::kHashSeed) {
    if (logs_trace_id_) {
      // otelcol admits the empty trace id here (16 zero bytes).
      char zeros[16] = {};
      std::string_view id =
          record.trace_id.size() == 16 ? record.trace_id : std::string_view(zeros, 16);
      randomness = HashRandomness(id, hash_seed_);
    } else if (source) {
      randomness = HashRandomness(AttributeBytes(*source, scratch), hash_seed_);
    }
    if (carrier_ok && (explicit_randomness || arriving)) {
      error = true;  // sampling information in use: hash_seed would contradict it
    } else if (carrier_ok && randomness) {
      write_randomness = true;
    }
  } else if (carrier_ok && explicit_randomness) {
    randomness = explicit_randomness;
  } else if (!cs::IsInvalidTraceId(record.trace_id)) {
    randomness = cs::RandomnessFromTraceId(record.trace_id);
  } else if (source) {
    randomness = HashRandomness(AttributeBytes(*source, scratch), hash_seed_);
  }
  if (!error) {
    if (!randomness) {
      error = true;
    } else if (arriving && !cs::ShouldSample(*arriving, *randomness)) {
      error = true;  // inconsistent arriving threshold
      arriving.reset();
    }
  }

  uint64_t threshold;
  if (error) {
    threshold = fail_closed_ ? cs::kNeverSampleThreshold : cs::kAlwaysSampleThreshold;
  } else if (mode_ == Mode::kHashSeed) {
    threshold = hash_threshold_;
  } else {
    threshold = stage_.Outgoing(arriving);
  }
  // Logs: the priority attribute is a minimum percentage.
  if (!sampling_priority_.empty()) {
    if (std::optional<Value> p = record.Attribute(sampling_priority_, scratch)) {
      double percent = 0;
      if (p->type == ValueType::kDouble) percent = p->double_value;
      if (p->type == ValueType::kInt) percent = static_cast<double>(p->int_value);
      if (percent != 0) {
        absl::StatusOr<uint64_t> priority_threshold =
            cs::ThresholdFromProbability(std::min(percent / 100, 1.0), precision_);
        if (priority_threshold.ok() && *priority_threshold < threshold) {
          threshold = *priority_threshold;
        }
      }
    }
  }
  // Without randomness (fail open) the item passes every threshold but never-sample.
  const uint64_t r = randomness.value_or(cs::kMaxAdjustedCount - 1);
  verdict.keep = cs::ShouldSample(threshold, r);
  if (!verdict.keep || !carrier_ok) return verdict;
  // A threshold is never lowered: an arriving higher one stays.
  if (!arriving || threshold >= *arriving) {
    verdict.set_keys[verdict.set_count] = kLogThresholdKey;
    verdict.set_values[verdict.set_count++] = EncodeInScratch(threshold, false, scratch);
  }
  if (write_randomness) {
    verdict.set_keys[verdict.set_count] = kLogRandomnessKey;
    verdict.set_values[verdict.set_count++] = EncodeInScratch(*randomness, true, scratch);
  }
  return verdict;
}

sampling_wire::WalkResult ProbabilisticSampler::Process(TelemetryPtr data) const {
  sampling_wire::WalkResult result;
  if (signal_ == Signal::kLogs) {
    result = sampling_wire::Walk(
        std::move(data), [this](const ItemView& v, Scratch* s) { return DecideLog(v, s); }, &keys_);
  } else {
    result = sampling_wire::Walk(
        std::move(data), [this](const ItemView& v, Scratch* s) { return DecideSpan(v, s); },
        &keys_);
  }
  if (result.malformed) {
    if (uint64_t n = error_log_.Add(1)) {
      spdlog::warn("{}: {} malformed request(s) passed on unsampled", id_, n);
    }
  }
  sampled_true_->Add(result.items_kept);
  sampled_false_->Add(result.items_in - result.items_kept);
  return result;
}

void ProbabilisticSampler::Consume(TelemetryPtr data, Completion done) {
  sampling_wire::WalkResult result = Process(std::move(data));
  // Nothing kept: the items were dropped on purpose (counted above); the request is done.
  if (result.data == nullptr) {
    std::move(done)(absl::OkStatus());
    return;
  }
  next_->Consume(std::move(result.data), std::move(done));
}

}  // namespace otlpd
