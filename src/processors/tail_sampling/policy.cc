#include "processors/tail_sampling/policy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "processors/consistent_sampling/threshold.h"
#include "re2/re2.h"

namespace otlpd::tail {

namespace {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::resource::v1::Resource;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;

bool IsSampled(Decision d) { return d == Decision::kSampled || d == Decision::kInvertSampled; }

// Calls f(resource, span) for every span until it returns true; true if one did.
template <class F>
bool AnySpan(const TraceView& trace, F f) {
  for (const TracesRequest* part : trace.parts) {
    for (const auto& rs : part->resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const Span& span : ss.spans()) {
          if (f(rs.resource(), span)) return true;
        }
      }
    }
  }
  return false;
}

const AnyValue* Find(const google::protobuf::RepeatedPtrField<KeyValue>& attrs,
                     std::string_view key) {
  for (const KeyValue& kv : attrs) {
    if (kv.key() == key) return &kv.value();
  }
  return nullptr;
}

// otelcol checks the resource's attributes, then each span's.
template <class Match>
bool AnyAttribute(const TraceView& trace, std::string_view key, Match match) {
  return AnySpan(trace, [&](const Resource& resource, const Span& span) {
    const AnyValue* v = Find(resource.attributes(), key);
    if (v != nullptr && match(*v)) return true;
    v = Find(span.attributes(), key);
    return v != nullptr && match(*v);
  });
}

Verdict Matched(bool matched, bool invert) {
  if (!invert) return {matched ? Decision::kSampled : Decision::kNotSampled, 1.0};
  return {matched ? Decision::kInvertNotSampled : Decision::kInvertSampled, 1.0};
}

class AlwaysSample : public TracePolicy {
 public:
  using TracePolicy::TracePolicy;
  Verdict EvaluateOne(const TraceView&) const override { return {Decision::kSampled, 1.0}; }
};

class Latency : public TracePolicy {
 public:
  Latency(std::string name, int64_t threshold_ms, int64_t upper_ms)
      : TracePolicy(std::move(name)), threshold_ms_(threshold_ms), upper_ms_(upper_ms) {}
  Verdict EvaluateOne(const TraceView& trace) const override {
    uint64_t start = std::numeric_limits<uint64_t>::max(), end = 0;
    AnySpan(trace, [&](const Resource&, const Span& span) {
      start = std::min<uint64_t>(start, span.start_time_unix_nano());
      end = std::max<uint64_t>(end, span.end_time_unix_nano());
      return false;
    });
    if (end < start) return {};
    int64_t duration_ms = static_cast<int64_t>((end - start) / 1000000);
    bool matched = duration_ms >= threshold_ms_ && (upper_ms_ == 0 || duration_ms <= upper_ms_);
    return Matched(matched, false);
  }

 private:
  int64_t threshold_ms_, upper_ms_;
};

class NumericAttribute : public TracePolicy {
 public:
  NumericAttribute(const TailPolicyConfig& c)
      : TracePolicy(c.name),
        key_(c.key),
        min_(c.has_min ? c.min_value : std::numeric_limits<int64_t>::min()),
        max_(c.has_max ? c.max_value : std::numeric_limits<int64_t>::max()),
        invert_(c.invert_match) {}
  Verdict EvaluateOne(const TraceView& trace) const override {
    bool matched = AnyAttribute(trace, key_, [&](const AnyValue& v) {
      if (v.has_int_value()) return v.int_value() >= min_ && v.int_value() <= max_;
      if (v.has_double_value()) {
        return v.double_value() >= static_cast<double>(min_) &&
               v.double_value() <= static_cast<double>(max_);
      }
      return false;
    });
    return Matched(matched, invert_);
  }

 private:
  std::string key_;
  int64_t min_, max_;
  bool invert_;
};

class StringAttribute : public TracePolicy {
 public:
  StringAttribute(const TailPolicyConfig& c, std::vector<std::unique_ptr<RE2>> regexes)
      : TracePolicy(c.name),
        key_(c.key),
        values_(c.values.begin(), c.values.end()),
        regexes_(std::move(regexes)),
        invert_(c.invert_match) {}
  Verdict EvaluateOne(const TraceView& trace) const override {
    bool matched = AnyAttribute(trace, key_, [&](const AnyValue& v) {
      if (!v.has_string_value()) return false;
      if (regexes_.empty()) return values_.contains(v.string_value());
      for (const auto& re : regexes_) {
        if (RE2::PartialMatch(v.string_value(), *re)) return true;
      }
      return false;
    });
    return Matched(matched, invert_);
  }

 private:
  std::string key_;
  absl::flat_hash_set<std::string> values_;
  std::vector<std::unique_ptr<RE2>> regexes_;
  bool invert_;
};

class BooleanAttribute : public TracePolicy {
 public:
  BooleanAttribute(const TailPolicyConfig& c)
      : TracePolicy(c.name), key_(c.key), value_(c.bool_value), invert_(c.invert_match) {}
  Verdict EvaluateOne(const TraceView& trace) const override {
    bool matched = AnyAttribute(trace, key_, [&](const AnyValue& v) {
      return v.has_bool_value() && v.bool_value() == value_;
    });
    return Matched(matched, invert_);
  }

 private:
  std::string key_;
  bool value_;
  bool invert_;
};

class StatusCode : public TracePolicy {
 public:
  StatusCode(std::string name, std::vector<Status::StatusCode> codes)
      : TracePolicy(std::move(name)), codes_(std::move(codes)) {}
  Verdict EvaluateOne(const TraceView& trace) const override {
    bool matched = AnySpan(trace, [&](const Resource&, const Span& span) {
      return std::find(codes_.begin(), codes_.end(), span.status().code()) != codes_.end();
    });
    return Matched(matched, false);
  }

 private:
  std::vector<Status::StatusCode> codes_;
};

class Probabilistic : public TracePolicy {
 public:
  Probabilistic(std::string name, double percentage, std::string salt)
      : TracePolicy(std::move(name)),
        probability_(std::clamp(percentage / 100.0, 0.0, 1.0)),
        salt_(std::move(salt)) {}
  Verdict EvaluateOne(const TraceView& trace) const override {
    if (probability_ <= 0) return {};
    uint64_t r = trace.randomness;
    // With a salt, otelcol's behaviour: a hash of the id decides (still probability p, but
    // no longer consistent with other samplers of the same trace).
    if (!salt_.empty()) r = absl::HashOf(salt_, trace.trace_id) & ((uint64_t{1} << 56) - 1);
    // The threshold `th` will carry, so that the decision and the count agree exactly.
    absl::StatusOr<uint64_t> threshold = consistent_sampling::ThresholdFromProbability(
        std::max(probability_, consistent_sampling::kMinProbability));
    if (!threshold.ok()) return {};
    double p = consistent_sampling::ProbabilityFromThreshold(*threshold);
    if (consistent_sampling::ShouldSample(*threshold, r)) return {Decision::kSampled, p};
    return {Decision::kNotSampled, p};
  }

 private:
  double probability_;
  std::string salt_;
};

class SpanCount : public TracePolicy {
 public:
  SpanCount(std::string name, int64_t min, int64_t max)
      : TracePolicy(std::move(name)), min_(min), max_(max) {}
  Verdict EvaluateOne(const TraceView& trace) const override {
    return Matched(trace.spans >= min_ && (max_ == 0 || trace.spans <= max_), false);
  }

 private:
  int64_t min_, max_;
};

class TraceState : public TracePolicy {
 public:
  TraceState(const TailPolicyConfig& c)
      : TracePolicy(c.name), key_(c.key), values_(c.values.begin(), c.values.end()) {}
  Verdict EvaluateOne(const TraceView& trace) const override {
    bool matched = AnySpan(trace, [&](const Resource&, const Span& span) {
      for (absl::string_view member : absl::StrSplit(span.trace_state(), ',')) {
        member = absl::StripAsciiWhitespace(member);
        size_t eq = member.find('=');
        if (eq == std::string_view::npos || member.substr(0, eq) != key_) continue;
        return values_.contains(member.substr(eq + 1));
      }
      return false;
    });
    return Matched(matched, false);
  }

 private:
  std::string key_;
  absl::flat_hash_set<std::string> values_;
};

// Keeps the traces of `candidates` with the highest randomness while their weight fits in
// `budget` (stopping at the first that does not, so that the kept set is a uniformly random
// share of the candidates, whatever their sizes). Returns the kept weight; `seen` gets the
// candidates' total.
template <class Weight>
double SelectRandomShare(std::span<const TraceView* const> batch, std::vector<size_t> candidates,
                         Weight weight, double budget, std::vector<bool>* keep, double* seen) {
  *seen = 0;
  for (size_t i : candidates) *seen += weight(*batch[i]);
  std::sort(candidates.begin(), candidates.end(), [&](size_t a, size_t b) {
    if (batch[a]->randomness != batch[b]->randomness) {
      return batch[a]->randomness > batch[b]->randomness;
    }
    return batch[a]->trace_id < batch[b]->trace_id;
  });
  double kept = 0;
  for (size_t i : candidates) {
    double w = weight(*batch[i]);
    if (kept + w > budget) break;
    kept += w;
    (*keep)[i] = true;
  }
  return kept;
}

// A token bucket refilled at `rate` per second up to `capacity`, starting full.
class TokenBucket {
 public:
  TokenBucket(double rate, double capacity) : rate_(rate), capacity_(capacity), tokens_(capacity) {}
  double Available(absl::Time now) {
    if (last_ != absl::InfinitePast() && now > last_) {
      tokens_ = std::min(capacity_, tokens_ + rate_ * absl::ToDoubleSeconds(now - last_));
    }
    if (now > last_) last_ = now;
    return tokens_;
  }
  void Take(double n) { tokens_ = std::max(0.0, tokens_ - n); }

 private:
  double rate_, capacity_, tokens_;
  absl::Time last_ = absl::InfinitePast();
};

double SpanWeight(const TraceView& t) { return static_cast<double>(t.spans); }
double ByteWeight(const TraceView& t) { return static_cast<double>(t.bytes); }

// rate_limiting (spans per second) and bytes_limiting (bytes per second, burst capacity):
// each batch keeps a random share of its traces that fits in the bucket; every kept trace
// carries that share (kept / seen, by weight) as its probability.
class RateLimit : public Policy {
 public:
  RateLimit(std::string name, double rate, double capacity, bool by_bytes)
      : Policy(std::move(name)), bucket_(rate, capacity), by_bytes_(by_bytes) {}
  void Evaluate(std::span<const TraceView* const> batch, absl::Time now,
                std::vector<Verdict>* out) override {
    out->assign(batch.size(), Verdict{});
    std::vector<size_t> all(batch.size());
    std::iota(all.begin(), all.end(), 0);
    std::vector<bool> keep(batch.size());
    double seen = 0;
    double kept =
        by_bytes_ ? SelectRandomShare(batch, all, ByteWeight, bucket_.Available(now), &keep, &seen)
                  : SelectRandomShare(batch, all, SpanWeight, bucket_.Available(now), &keep, &seen);
    bucket_.Take(kept);
    double share = seen > 0 ? std::min(1.0, kept / seen) : 1.0;
    for (size_t i = 0; i < batch.size(); ++i) {
      (*out)[i] = {keep[i] ? Decision::kSampled : Decision::kNotSampled, share};
    }
  }

 private:
  TokenBucket bucket_;
  bool by_bytes_;
};

// Evaluates `policy` on the traces of `batch` at `indices`; returns verdicts by batch index.
std::vector<Verdict> EvaluateSubset(Policy& policy, std::span<const TraceView* const> batch,
                                    const std::vector<size_t>& indices, absl::Time now) {
  std::vector<const TraceView*> subset;
  subset.reserve(indices.size());
  for (size_t i : indices) subset.push_back(batch[i]);
  std::vector<Verdict> sub;
  policy.Evaluate(subset, now, &sub);
  std::vector<Verdict> out(batch.size());
  for (size_t k = 0; k < indices.size(); ++k) out[indices[k]] = sub[k];
  return out;
}

// and: sampled when every sub-policy samples, evaluated in order on what the previous ones
// sampled (so a rate limit inside spends its budget only on traces the others matched).
class And : public Policy {
 public:
  And(std::string name, std::vector<std::unique_ptr<Policy>> subs)
      : Policy(std::move(name)), subs_(std::move(subs)) {}
  void Evaluate(std::span<const TraceView* const> batch, absl::Time now,
                std::vector<Verdict>* out) override {
    std::vector<size_t> alive(batch.size());
    std::iota(alive.begin(), alive.end(), 0);
    std::vector<double> p(batch.size(), 1.0);
    for (auto& sub : subs_) {
      if (alive.empty()) break;
      std::vector<Verdict> v = EvaluateSubset(*sub, batch, alive, now);
      std::vector<size_t> next;
      for (size_t i : alive) {
        if (IsSampled(v[i].decision)) {
          p[i] *= v[i].probability;
          next.push_back(i);
        }
      }
      alive.swap(next);
    }
    out->assign(batch.size(), Verdict{});
    for (size_t i : alive) (*out)[i] = {Decision::kSampled, p[i]};
  }

 private:
  std::vector<std::unique_ptr<Policy>> subs_;
};

// drop: when every sub-policy samples a trace, it is dropped whatever the others decide.
class Drop : public Policy {
 public:
  Drop(std::string name, std::unique_ptr<Policy> all)
      : Policy(std::move(name)), all_(std::move(all)) {}
  void Evaluate(std::span<const TraceView* const> batch, absl::Time now,
                std::vector<Verdict>* out) override {
    all_->Evaluate(batch, now, out);
    for (Verdict& v : *out) {
      v = {IsSampled(v.decision) ? Decision::kDropped : Decision::kNotSampled, 1.0};
    }
  }

 private:
  std::unique_ptr<Policy> all_;  // an And of the sub-policies
};

// not (ours): sampled exactly when the sub-policy does not sample.
class Not : public Policy {
 public:
  Not(std::string name, std::unique_ptr<Policy> sub)
      : Policy(std::move(name)), sub_(std::move(sub)) {}
  void Evaluate(std::span<const TraceView* const> batch, absl::Time now,
                std::vector<Verdict>* out) override {
    sub_->Evaluate(batch, now, out);
    for (Verdict& v : *out) {
      v = {IsSampled(v.decision) ? Decision::kNotSampled : Decision::kSampled, 1.0};
    }
  }

 private:
  std::unique_ptr<Policy> sub_;
};

// composite: sub-policies in policy_order, each with its share of max_total_spans_per_second
// (rate_allocation percent; the others an equal share, as otelcol). A trace is kept by the
// first sub-policy that matches it and has budget left; its probability is that of being
// kept by one of the sub-policies it matched: 1 - prod(1 - share).
class Composite : public Policy {
 public:
  struct Sub {
    std::unique_ptr<Policy> policy;
    TokenBucket bucket;
  };
  Composite(std::string name, std::vector<Sub> subs)
      : Policy(std::move(name)), subs_(std::move(subs)) {}
  void Evaluate(std::span<const TraceView* const> batch, absl::Time now,
                std::vector<Verdict>* out) override {
    out->assign(batch.size(), Verdict{});
    std::vector<size_t> alive(batch.size());
    std::iota(alive.begin(), alive.end(), 0);
    std::vector<double> miss(batch.size(), 1.0);  // probability no sub-policy so far kept it
    for (Sub& sub : subs_) {
      if (alive.empty()) break;
      std::vector<Verdict> v = EvaluateSubset(*sub.policy, batch, alive, now);
      std::vector<size_t> matched;
      for (size_t i : alive) {
        if (IsSampled(v[i].decision)) matched.push_back(i);
      }
      std::vector<bool> keep(batch.size());
      double seen = 0;
      double kept =
          SelectRandomShare(batch, matched, SpanWeight, sub.bucket.Available(now), &keep, &seen);
      sub.bucket.Take(kept);
      double share = seen > 0 ? std::min(1.0, kept / seen) : 1.0;
      std::vector<size_t> next;
      for (size_t i : alive) {
        if (IsSampled(v[i].decision)) miss[i] *= 1.0 - share * v[i].probability;
        if (keep[i]) {
          (*out)[i] = {Decision::kSampled, 1.0 - miss[i]};
        } else {
          next.push_back(i);
        }
      }
      alive.swap(next);
    }
  }

 private:
  std::vector<Sub> subs_;
};

absl::Status SubError(const TailPolicyConfig& c, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("policy \"", c.name, "\": ", std::string(what)));
}

}  // namespace

void TracePolicy::Evaluate(std::span<const TraceView* const> batch, absl::Time,
                           std::vector<Verdict>* out) {
  out->resize(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) (*out)[i] = EvaluateOne(*batch[i]);
}

Verdict Combine(std::span<const Verdict> verdicts) {
  bool sampled = false, inverted_not = false;
  double p = 0;
  for (const Verdict& v : verdicts) {
    switch (v.decision) {
      case Decision::kDropped:
        return {Decision::kNotSampled, 1.0};
      case Decision::kInvertNotSampled:
        inverted_not = true;
        break;
      case Decision::kSampled:
      case Decision::kInvertSampled:
        sampled = true;
        p = std::max(p, v.probability);
        break;
      case Decision::kNotSampled:
        break;
    }
  }
  if (inverted_not || !sampled) return {Decision::kNotSampled, 1.0};
  return {Decision::kSampled, p};
}

absl::StatusOr<std::unique_ptr<Policy>> BuildPolicy(const TailPolicyConfig& c, bool inside) {
  (void)inside;
  const std::string& t = c.type;
  if (t == "always_sample") return std::make_unique<AlwaysSample>(c.name);
  if (t == "latency")
    return std::make_unique<Latency>(c.name, c.threshold_ms, c.upper_threshold_ms);
  if (t == "numeric_attribute") return std::make_unique<NumericAttribute>(c);
  if (t == "string_attribute") {
    std::vector<std::unique_ptr<RE2>> regexes;
    if (c.enabled_regex_matching) {
      for (const std::string& v : c.values) {
        auto re = std::make_unique<RE2>(v, RE2::Quiet);
        if (!re->ok()) return SubError(c, absl::StrCat("bad regex \"", v, "\": ", re->error()));
        regexes.push_back(std::move(re));
      }
    }
    return std::make_unique<StringAttribute>(c, std::move(regexes));
  }
  if (t == "boolean_attribute") return std::make_unique<BooleanAttribute>(c);
  if (t == "status_code") {
    std::vector<Status::StatusCode> codes;
    for (const std::string& s : c.status_codes) {
      if (s == "OK") {
        codes.push_back(Status::STATUS_CODE_OK);
      } else if (s == "ERROR") {
        codes.push_back(Status::STATUS_CODE_ERROR);
      } else if (s == "UNSET") {
        codes.push_back(Status::STATUS_CODE_UNSET);
      } else {
        return SubError(c, absl::StrCat("unknown status code \"", s, "\""));
      }
    }
    return std::make_unique<StatusCode>(c.name, std::move(codes));
  }
  if (t == "probabilistic") {
    return std::make_unique<Probabilistic>(c.name, c.sampling_percentage, c.hash_salt);
  }
  if (t == "span_count") return std::make_unique<SpanCount>(c.name, c.min_spans, c.max_spans);
  if (t == "trace_state") return std::make_unique<TraceState>(c);
  if (t == "rate_limiting") {
    double rate = static_cast<double>(c.spans_per_second);
    return std::make_unique<RateLimit>(c.name, rate, rate, false);
  }
  if (t == "bytes_limiting") {
    double rate = static_cast<double>(c.bytes_per_second);
    double burst = c.burst_capacity > 0 ? static_cast<double>(c.burst_capacity) : 2 * rate;
    return std::make_unique<RateLimit>(c.name, rate, burst, true);
  }
  if (t == "and" || t == "drop" || t == "not") {
    std::vector<std::unique_ptr<Policy>> subs;
    for (const TailPolicyConfig& sc : c.sub_policies) {
      absl::StatusOr<std::unique_ptr<Policy>> sub = BuildPolicy(sc, true);
      if (!sub.ok()) return sub.status();
      subs.push_back(*std::move(sub));
    }
    if (subs.empty()) return SubError(c, absl::StrCat(t, " needs sub-policies"));
    if (t == "not") {
      if (subs.size() != 1) return SubError(c, "not takes exactly one sub-policy");
      return std::make_unique<Not>(c.name, std::move(subs[0]));
    }
    auto all = std::make_unique<And>(c.name, std::move(subs));
    if (t == "and") return all;
    return std::make_unique<Drop>(c.name, std::move(all));
  }
  if (t == "composite") {
    std::map<std::string, const TailPolicyConfig*> by_name;
    for (const TailPolicyConfig& sc : c.sub_policies) by_name[sc.name] = &sc;
    std::vector<std::string> order = c.policy_order;
    if (order.empty()) {
      for (const TailPolicyConfig& sc : c.sub_policies) order.push_back(sc.name);
    }
    double total = static_cast<double>(c.max_total_spans_per_second);
    std::vector<Composite::Sub> subs;
    for (const std::string& name : order) {
      auto it = by_name.find(name);
      if (it == by_name.end()) {
        return SubError(c, absl::StrCat("policy_order names \"", name, "\", not a sub-policy"));
      }
      absl::StatusOr<std::unique_ptr<Policy>> sub = BuildPolicy(*it->second, true);
      if (!sub.ok()) return sub.status();
      double rate = total / static_cast<double>(order.size());
      for (const auto& [policy, percent] : c.rate_allocation) {
        if (policy == name) rate = total * static_cast<double>(percent) / 100.0;
      }
      subs.push_back({*std::move(sub), TokenBucket(rate, rate)});
    }
    if (subs.empty()) return SubError(c, "composite needs sub-policies");
    return std::make_unique<Composite>(c.name, std::move(subs));
  }
  return SubError(c, absl::StrCat("unknown policy type \"", t, "\""));
}

}  // namespace otlpd::tail
