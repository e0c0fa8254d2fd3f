#include "processors/rule_sampler/rule_sampler.h"

#include <re2/re2.h>
#include <spdlog/spdlog.h>

#include <utility>

#include "absl/strings/numbers.h"
#include "core/span_index.h"
#include "processors/attraction/actions.h"

namespace otlpd {

using attraction::Scratch;
using attraction::Value;
using attraction::ValueType;
using sampling_wire::ItemVerdict;
using sampling_wire::ItemView;
namespace cs = consistent_sampling;

namespace {

// RE2's partial match, ruled out first by the literal prefix every match starts with: for a
// `^literal...` pattern, most texts fail on their first bytes, and RE2's set-up per call costs
// more than the whole comparison.
[[gnu::noinline]] bool PartialMatch(const RE2& regex, std::string_view text) {
  return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), regex);
}

inline bool RegexMatches(const RE2& regex, std::string_view prefix, std::string_view text) {
  return attraction::StartsWithPrefix(text, prefix) && PartialMatch(regex, text);
}

// A service or span name condition, inlined: every rule asks it of every span, and most are
// unset or fail on the regex's literal prefix.
[[gnu::always_inline]] inline bool TextMatches(const TextCondition& c, std::string_view text) {
  if (!c.set) return true;
  return c.regex ? RegexMatches(*c.regex, c.regex_prefix, text) : text == c.exact;
}

// A numeric attribute value: ints, doubles, and strings that parse as numbers.
bool NumericValue(const Value& v, double* out) {
  switch (v.type) {
    case ValueType::kInt:
      *out = static_cast<double>(v.int_value);
      return true;
    case ValueType::kDouble:
      *out = v.double_value;
      return true;
    case ValueType::kStr:
      return absl::SimpleAtod(std::string(v.bytes), out);
    default:
      return false;
  }
}

}  // namespace

RuleSampler::RuleSampler(const CreateSettings& settings, const RuleSamplerConfig& config,
                         ConsumerPtr next)
    : id_(settings.id.ToString()),
      next_(std::move(next)),
      rules_(config.rules),
      fail_closed_(config.fail_closed) {
  RequestSpanIndex();  // decisions read the receiver's span index when it is there
  for (const SamplingRule& rule : rules_) {
    required_key_bits_.emplace_back();
    for (const AttributeCondition& c : rule.attributes) {
      keys_.Add(c.key);
      // Every kind but "exists: false" fails on an absent attribute.
      if (c.kind != AttributeCondition::Kind::kExists || c.exists) {
        required_key_bits_.back().push_back(AttributeKeyBits(c.key));
      }
    }
    stages_.push_back(rule.drop ? cs::Stage::WithThreshold(cs::kNeverSampleThreshold)
                                : cs::Stage::Equalizing(rule.sampling_percentage / 100,
                                                        config.sampling_precision));
  }
  stages_.push_back(
      cs::Stage::Equalizing(config.default_sampling_percentage / 100, config.sampling_precision));
  MetricsRegistry* metrics = settings.host != nullptr ? &settings.host->metrics() : nullptr;
  if (metrics == nullptr) {
    own_metrics_ = std::make_unique<MetricsRegistry>();
    metrics = own_metrics_.get();
  }
  const std::string name = "otlpd_processor_rule_sampler_spans";
  const std::string help = "Spans decided by each rule (rule=\"default\": none matched).";
  for (size_t i = 0; i <= rules_.size(); ++i) {
    const std::string rule = i < rules_.size() ? rules_[i].name : "default";
    kept_.push_back(
        metrics->GetCounter(name, {{"processor", id_}, {"rule", rule}, {"sampled", "true"}}, help));
    dropped_.push_back(metrics->GetCounter(
        name, {{"processor", id_}, {"rule", rule}, {"sampled", "false"}}, help));
  }
}

namespace {

// A rule's conditions on the span's own fields, inlined into the loop over the rules (every
// rule is asked of every span until one matches).
[[gnu::always_inline]] inline bool MatchesFields(const SamplingRule& rule, const ItemView& span) {
  if (!TextMatches(rule.service_name, span.service_name)) return false;
  if (!TextMatches(rule.span_name, span.name)) return false;
  if (!rule.span_kinds.empty()) {
    bool any = false;
    for (int32_t kind : rule.span_kinds) any |= kind == span.kind;
    if (!any) return false;
  }
  if (rule.status_code && *rule.status_code != span.status_code) return false;
  if (rule.min_duration || rule.max_duration) {
    const int64_t nanos = span.end_unix_nano >= span.start_unix_nano
                              ? static_cast<int64_t>(span.end_unix_nano - span.start_unix_nano)
                              : 0;
    const absl::Duration duration = absl::Nanoseconds(nanos);
    if (rule.min_duration && duration < *rule.min_duration) return false;
    if (rule.max_duration && duration > *rule.max_duration) return false;
  }
  return true;
}

}  // namespace

bool RuleSampler::MatchesAttributes(size_t i, const ItemView& span, Scratch* scratch) const {
  for (const AttributeCondition& c : rules_[i].attributes) {
    std::optional<Value> v = span.Attribute(c.key, scratch);
    switch (c.kind) {
      case AttributeCondition::Kind::kExists:
        if (v.has_value() != c.exists) return false;
        break;
      case AttributeCondition::Kind::kEquals: {
        std::string text;
        if (!v || !attraction::MatcherString(*v, &text) || text != c.value) return false;
        break;
      }
      case AttributeCondition::Kind::kRegex: {
        std::string text;
        if (!v || !attraction::MatcherString(*v, &text) ||
            !RegexMatches(*c.regex, c.regex_prefix, text)) {
          return false;
        }
        break;
      }
      case AttributeCondition::Kind::kRange: {
        double number = 0;
        if (!v || !NumericValue(*v, &number) || number < c.min || number > c.max) return false;
        break;
      }
    }
  }
  return true;
}

size_t RuleSampler::Match(const ItemView& span, Scratch* scratch) const {
  for (size_t i = 0; i < rules_.size(); ++i) {
    const SamplingRule& rule = rules_[i];
    if (!MatchesFields(rule, span)) continue;
    if (rule.attributes.empty()) return i;
    // An attribute the rule needs that the span's key filter rules out: no lookups at all
    // (attribute_keys has every bit set when the view has no key filter).
    bool may_match = true;
    for (uint64_t bits : required_key_bits_[i]) may_match &= (span.attribute_keys & bits) == bits;
    if (may_match && MatchesAttributes(i, span, scratch)) return i;
  }
  return rules_.size();
}

sampling_wire::WalkResult RuleSampler::Process(TelemetryPtr data) const {
  thread_local std::vector<uint64_t> kept;
  thread_local std::vector<uint64_t> dropped;
  kept.assign(stages_.size(), 0);
  dropped.assign(stages_.size(), 0);
  sampling_wire::WalkResult result = sampling_wire::Walk(
      std::move(data),
      [this](const ItemView& span, Scratch* scratch) {
        const size_t rule = Match(span, scratch);
        ItemVerdict verdict = sampling_wire::DecideSpan(stages_[rule], span, fail_closed_, scratch);
        ++(verdict.keep ? kept : dropped)[rule];
        return verdict;
      },
      &keys_);
  if (result.malformed) {
    if (uint64_t n = malformed_log_.Add(1)) {
      spdlog::warn("{}: {} malformed request(s) passed on unsampled", id_, n);
    }
    return result;
  }
  for (size_t i = 0; i < stages_.size(); ++i) {
    if (kept[i] != 0) kept_[i]->Add(kept[i]);
    if (dropped[i] != 0) dropped_[i]->Add(dropped[i]);
  }
  return result;
}

void RuleSampler::Consume(TelemetryPtr data, Completion done) {
  sampling_wire::WalkResult result = Process(std::move(data));
  if (result.data == nullptr) {
    std::move(done)(absl::OkStatus());
    return;
  }
  next_->Consume(std::move(result.data), std::move(done));
}

}  // namespace otlpd
