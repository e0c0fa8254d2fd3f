// rule_sampler: its configuration, each condition, first-match order, drop and default,
// consistent decisions written as th, per-rule counts, and Σ 1/p per service within ±2 %.
#include "processors/rule_sampler/rule_sampler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "core/otlp_wire.h"
#include "core/span_index.h"
#include "processors/rule_sampler/factory.h"
#include "processors/sampling_wire/sampling_test_util.h"

namespace otlpd::samplingtest {
namespace {

namespace cs = consistent_sampling;
using ::testing::HasSubstr;

const ProcessorFactory& Factory() {
  static const auto* factory = NewRuleSamplerFactory().release();
  return *factory;
}

constexpr char kRules[] = R"(
default_sampling_percentage: 10
rules:
  - name: health
    span_name: {regex: "^GET /health"}
    drop: true
  - name: errors
    status_code: ERROR
    sampling_percentage: 100
  - name: slow
    min_duration: 500ms
    sampling_percentage: 50
  - name: checkout-server
    service_name: checkout
    span_kind: [SERVER]
    attributes:
      - {key: http.route, value: /pay}
      - {key: http.status_code, min: 200, max: 299}
      - {key: user.id, regex: "^u-"}
      - {key: debug, exists: false}
    sampling_percentage: 25
)";

TEST(RuleSamplerConfigTest, ParsesRulesAndRefusesBadOnes) {
  EXPECT_EQ(ConfigErrors(Factory(), kRules), "");
  EXPECT_THAT(ConfigErrors(Factory(), "rules: [{name: a}]"),
              HasSubstr("needs \"sampling_percentage\" or \"drop: true\""));
  EXPECT_THAT(ConfigErrors(Factory(), "rules: [{sampling_percentage: 5}]"),
              HasSubstr("missing required field \"name\""));
  EXPECT_THAT(ConfigErrors(Factory(), "rules: [{name: a, drop: true, sampling_percentage: 5}]"),
              HasSubstr("not both"));
  EXPECT_THAT(ConfigErrors(Factory(), "rules: [{name: a, sampling_percentage: 101}]"),
              HasSubstr("between 0 and 100"));
  EXPECT_THAT(ConfigErrors(Factory(), "rules: [{name: a, drop: true}, {name: a, drop: true}]"),
              HasSubstr("duplicate rule name"));
  EXPECT_THAT(ConfigErrors(Factory(), "rules: [{name: a, drop: true, span_name: {regex: \"(\"}}]"),
              HasSubstr("invalid regex"));
  EXPECT_THAT(ConfigErrors(Factory(), "rules: [{name: a, drop: true, span_kind: SERVR}]"),
              HasSubstr("unknown span kind"));
  EXPECT_THAT(ConfigErrors(Factory(), "rules: [{name: a, drop: true, status_code: BAD}]"),
              HasSubstr("unknown status code"));
  EXPECT_THAT(
      ConfigErrors(Factory(),
                   "rules: [{name: a, drop: true, attributes: [{key: k, min: 5, max: 1}]}]"),
      HasSubstr("greater than"));
  EXPECT_THAT(ConfigErrors(Factory(),
                           "rules: [{name: a, drop: true, attributes: [{key: k, value: 1, "
                           "regex: x}]}]"),
              HasSubstr("give one of"));
  EXPECT_THAT(ConfigErrors(Factory(), "rules: [{name: a, drop: true, colour: red}]"),
              HasSubstr("colour"));
  EXPECT_THAT(ConfigErrors(Factory(), "rules: {name: a}"), HasSubstr("expected a list"));
  // Where: the rule's own path.
  EXPECT_THAT(ConfigErrors(Factory(), "rules: [{name: a, drop: true}, {name: b}]"),
              HasSubstr("rules[1]"));
}

Span CheckoutSpan() {
  Span s;
  s.set_trace_id(std::string(16, '\x7f'));
  s.set_name("POST /pay");
  s.set_kind(Span::SPAN_KIND_SERVER);
  s.set_start_time_unix_nano(1000);
  s.set_end_time_unix_nano(1000 + 2'000'000);  // 2 ms
  *s.add_attributes() = Str("http.route", "/pay");
  *s.add_attributes() = Int("http.status_code", 201);
  *s.add_attributes() = Str("user.id", "u-17");
  return s;
}

// Which rule each variation of a span matches.
TEST(RuleSamplerTest, ConditionsAndFirstMatch) {
  Harness h(Factory(), kRules, Signal::kTraces);
  auto& sampler = static_cast<RuleSampler&>(*h.processor);
  auto rule_of = [&](const Span& span, const std::string& service) {
    TracesRequest r;
    auto* rs = r.add_resource_spans();
    *rs->mutable_resource()->add_attributes() = Str("service.name", service);
    *rs->add_scope_spans()->add_spans() = span;
    // Matched on the span's own bytes, and on the receiver's span index (its key filter rules
    // attribute conditions out before any lookup): both must give the same rule.
    auto match = [&](TelemetryPtr data) {
      size_t rule = 99;
      sampling_wire::Walk(std::move(data),
                          [&](const sampling_wire::ItemView& v, attraction::Scratch* s) {
                            rule = sampler.Match(v, s);
                            return sampling_wire::ItemVerdict{};
                          });
      return rule;
    };
    const std::string bytes = r.SerializeAsString();
    auto index = std::make_shared<SpanIndex>();
    EXPECT_TRUE(ScanOtlpRequest(Signal::kTraces, bytes, index.get()).ok());
    auto indexed = Telemetry::FromWire(Signal::kTraces, absl::Cord(bytes), 1);
    indexed->set_span_index(std::move(index));
    const size_t rule = match(ToTelemetry(Signal::kTraces, r));
    EXPECT_EQ(match(std::move(indexed)), rule) << "with the span index";
    return rule == sampler.rules().size() ? std::string("default") : sampler.rules()[rule].name;
  };
  Span s = CheckoutSpan();
  EXPECT_EQ(rule_of(s, "checkout"), "checkout-server");
  EXPECT_EQ(rule_of(s, "cart"), "default");  // service
  Span t = s;
  t.set_kind(Span::SPAN_KIND_CLIENT);
  EXPECT_EQ(rule_of(t, "checkout"), "default");  // kind
  t = s;
  t.mutable_attributes(0)->mutable_value()->set_string_value("/cart");
  EXPECT_EQ(rule_of(t, "checkout"), "default");  // equals
  t = s;
  t.mutable_attributes(1)->mutable_value()->set_int_value(500);
  EXPECT_EQ(rule_of(t, "checkout"), "default");  // range
  t = s;
  t.mutable_attributes(1)->mutable_value()->set_string_value("250");
  EXPECT_EQ(rule_of(t, "checkout"), "checkout-server");  // numeric string in range
  t = s;
  t.mutable_attributes(2)->mutable_value()->set_string_value("admin");
  EXPECT_EQ(rule_of(t, "checkout"), "default");  // regex
  t = s;
  *t.add_attributes() = Str("debug", "1");
  EXPECT_EQ(rule_of(t, "checkout"), "default");  // exists: false
  t = s;
  t.set_end_time_unix_nano(1000 + 600'000'000);
  EXPECT_EQ(rule_of(t, "checkout"), "slow");  // duration, before checkout-server
  t.mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(rule_of(t, "checkout"), "errors");  // earlier rule wins
  t.set_name("GET /healthz");
  EXPECT_EQ(rule_of(t, "checkout"), "health");
}

// The regex conditions rule texts out by their literal prefix before running RE2: the answer
// must be RE2's own for anchored, quantified, escaped, alternated and unanchored patterns.
TEST(RuleSamplerTest, RegexConditionsMatchAsRe2Does) {
  const std::vector<std::string> patterns = {
      "^GET /health", "^GET /healthz?$", "^a|b", "^x\\.y",         "^ab*c",
      "^(?i)get",     "health",          "^$",   "^GET /h[e]alth", "^é+"};
  const std::vector<std::string> texts = {"GET /health",
                                          "GET /healthz",
                                          "GET /health/live",
                                          "get /health",
                                          "GET /healt",
                                          "POST /health",
                                          "b",
                                          "xb",
                                          "a",
                                          "x.y",
                                          "xzy",
                                          "ac",
                                          "abbbc",
                                          "",
                                          "éé",
                                          "GET /hXalth"};
  // The pattern as a YAML double-quoted scalar.
  auto quoted = [](const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
      if (c == '\\' || c == '"') out.push_back('\\');
      out.push_back(c);
    }
    return out + "\"";
  };
  for (const std::string& pattern : patterns) {
    const std::string config = absl::StrCat(
        "rules:\n  - name: by-name\n    span_name: {regex: ", quoted(pattern),
        "}\n    sampling_percentage: 100\n  - name: by-attribute\n    attributes: [{key: k, "
        "regex: ",
        quoted(pattern), "}]\n    sampling_percentage: 100\n");
    Harness h(Factory(), config, Signal::kTraces);
    auto& sampler = static_cast<RuleSampler&>(*h.processor);
    const re2::RE2 re(pattern);
    ASSERT_TRUE(re.ok()) << pattern;
    for (const std::string& text : texts) {
      for (bool in_name : {true, false}) {
        Span span;
        span.set_trace_id(std::string(16, '\x7f'));
        if (in_name) {
          span.set_name(text);
        } else {
          span.set_name("\x01");  // matches none of the patterns
          *span.add_attributes() = Str("k", text);
        }
        TracesRequest r;
        *r.add_resource_spans()->add_scope_spans()->add_spans() = span;
        size_t rule = 99;
        sampling_wire::Walk(ToTelemetry(Signal::kTraces, r),
                            [&](const sampling_wire::ItemView& v, attraction::Scratch* s) {
                              rule = sampler.Match(v, s);
                              return sampling_wire::ItemVerdict{};
                            });
        const size_t expected = RE2::PartialMatch(text, re) ? (in_name ? 0 : 1) : 2;
        EXPECT_EQ(rule, expected) << "pattern " << pattern << ", text \"" << text << "\" in "
                                  << (in_name ? "the name" : "an attribute");
      }
    }
  }
}

TEST(RuleSamplerTest, DecisionsFollowTheTraceIdAndCarryTheRulesThreshold) {
  Harness h(Factory(), kRules, Signal::kTraces);
  std::mt19937_64 rng(8);
  TracesRequest in;
  auto* rs = in.add_resource_spans();
  *rs->mutable_resource()->add_attributes() = Str("service.name", "checkout");
  auto* spans = rs->add_scope_spans()->mutable_spans();
  for (int i = 0; i < 4000; ++i) {
    Span s = CheckoutSpan();
    s.set_trace_id(RandomId(rng, 16));
    s.set_span_id(RandomId(rng, 8));
    if (i % 4 == 1) s.set_name("GET /health");
    if (i % 4 == 2)
      s.mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
    if (i % 4 == 3) s.set_kind(Span::SPAN_KIND_INTERNAL);  // default 10 %
    *spans->Add() = s;
  }
  ASSERT_TRUE(h.Send(ToTelemetry(Signal::kTraces, in)).ok());
  ASSERT_EQ(h.sink->received.size(), 1u);
  std::map<std::string, int> by_th;
  for (const Span& s : h.sink->received[0]->traces().resource_spans(0).scope_spans(0).spans()) {
    EXPECT_NE(s.name(), "GET /health");
    std::optional<uint64_t> th = SpanThreshold(s);
    ASSERT_TRUE(th.has_value());
    EXPECT_GE(cs::RandomnessFromTraceId(s.trace_id()), *th);
    ++by_th[cs::EncodeThreshold(*th)];
  }
  EXPECT_EQ(by_th["0"], 1000);  // errors: 100 %
  EXPECT_NEAR(by_th["c"], 250, 5 * std::sqrt(1000 * 0.25 * 0.75));
  EXPECT_NEAR(by_th["e666"], 100, 5 * std::sqrt(1000 * 0.1 * 0.9));
  EXPECT_EQ(by_th.size(), 3u);
  auto counter = [&](const std::string& rule, const std::string& sampled) {
    return h.host.registry
        .GetCounter("otlpd_processor_rule_sampler_spans",
                    {{"processor", "rule_sampler"}, {"rule", rule}, {"sampled", sampled}})
        ->value();
  };
  EXPECT_EQ(counter("health", "false"), 1000u);
  EXPECT_EQ(counter("errors", "true"), 1000u);
  EXPECT_EQ(counter("checkout-server", "true") + counter("checkout-server", "false"), 1000u);
  EXPECT_EQ(counter("default", "true") + counter("default", "false"), 1000u);

  // The same input decides the same way in another instance.
  Harness again(Factory(), kRules, Signal::kTraces);
  ASSERT_TRUE(again.Send(ToTelemetry(Signal::kTraces, in)).ok());
  EXPECT_EQ(again.sink->received[0]->wire(), h.sink->received[0]->wire());
}

TEST(RuleSamplerTest, AdjustedCountsEstimateTheInputPerService) {
  Harness h(Factory(), R"(
default_sampling_percentage: 10
rules:
  - {name: front-op0, service_name: frontend, span_name: op0, sampling_percentage: 50}
  - {name: low-index, attributes: [{key: index, max: 99}], sampling_percentage: 20}
  - {name: cart, service_name: {regex: "^ca"}, sampling_percentage: 12.5}
)",
            Signal::kTraces);
  const std::vector<std::string> services = {"frontend", "cart", "db"};
  std::mt19937_64 rng(4);
  std::map<std::string, Estimate> estimates;
  constexpr int kRequests = 200;
  constexpr int kPerService = 1000;
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_TRUE(h.Send(ToTelemetry(Signal::kTraces, MakeSpans(rng, services, kPerService))).ok());
    AddEstimates(h.sink->received.back()->traces(), &estimates);
  }
  for (const std::string& service : services) {
    EXPECT_EQ(estimates[service].without_th, 0);
    EXPECT_NEAR(estimates[service].weighted / (kRequests * kPerService), 1.0, 0.02) << service;
  }
}

}  // namespace
}  // namespace otlpd::samplingtest
