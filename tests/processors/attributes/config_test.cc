// Configuration of the attributes processor: otelcol's keys, and its validation errors
// (wording as otelcol's, placed at their key with line and column).
#include "processors/attributes/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "processors/attributes/attributes_test_util.h"

namespace otlpd::attrtest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// "LINE:COL: PATH: MESSAGE" of every error.
std::vector<std::string> Errors(const std::string& yaml) {
  Diagnostics diag;
  ParseWith(Factory(), yaml, &diag, "processors::attributes");
  std::vector<std::string> out;
  for (const ConfigError& e : diag.errors()) {
    out.push_back(absl::StrCat(e.line, ":", e.column, ": ", e.path, ": ", e.message));
  }
  return out;
}

std::string OnlyError(const std::string& yaml) {
  std::vector<std::string> errors = Errors(yaml);
  EXPECT_EQ(errors.size(), 1u) << absl::StrJoin(errors, "\n");
  return errors.empty() ? "" : errors[0];
}

TEST(AttributesConfigTest, OtelcolExamplesAreValid) {
  // From otelcol-contrib's processor/attributesprocessor/testdata/config.yaml.
  for (const char* yaml : {
           R"(
actions:
  - key: "attribute1"
    value: 123
    action: insert
  - key: "string key"
    from_attribute: "anotherkey"
    action: insert
)",
           R"(
exclude:
  match_type: strict
  services: ["svcA", "svcB"]
  attributes:
    - {key: env, value: "dev"}
    - {key: test_request}
actions:
  - key: credit_card
    action: delete
  - key: duplicate_key
    action: delete
)",
           R"(
include:
  match_type: regexp
  services: ["auth.*"]
  regexp:
    cacheenabled: true
    cachemaxnumentries: 10
exclude:
  match_type: regexp
  span_names: ["login.*"]
actions:
  - key: password
    action: update
    value: "obfuscated"
  - key: token
    action: delete
)",
           R"(
exclude:
  match_type: strict
  libraries:
    - {name: "mongo-java-driver", version: "3.8.0"}
actions:
  - {key: db.statement, action: hash}
  - {key: http.status_code, action: convert, converted_type: int}
  - {key: origin, from_context: metadata.origin, action: insert}
  - {key: enduser.id, from_context: auth.subject, action: insert}
)",
       }) {
    EXPECT_THAT(Errors(yaml), ElementsAre()) << yaml;
  }
}

TEST(AttributesConfigTest, MissingActions) {
  EXPECT_EQ(OnlyError("include: {match_type: strict, services: [a]}\n"),
            "1:1: processors::attributes: missing required field \"actions\"");
  EXPECT_EQ(OnlyError("actions: []\n"),
            "1:10: processors::attributes::actions: missing required field \"actions\"");
  EXPECT_EQ(OnlyError("actions: {key: a}\n"),
            "1:10: processors::attributes::actions: expected a list");
}

TEST(AttributesConfigTest, UnknownAction) {
  EXPECT_EQ(OnlyError(R"(actions:
  - key: a
    action: rename
)"),
            "3:13: processors::attributes::actions[0]::action: unsupported action \"rename\"; "
            "expected one of: insert, update, upsert, delete, hash, extract, convert");
  // No action at all is an unsupported action "" (its key is checked first).
  EXPECT_THAT(OnlyError("actions:\n  - {key: a, value: 1}\n"),
              HasSubstr("actions[0]: unsupported action \"\""));
}

TEST(AttributesConfigTest, MissingKey) {
  EXPECT_EQ(OnlyError("actions:\n  - {value: 1, action: insert}\n"),
            "2:5: processors::attributes::actions[0]: missing required field \"key\"");
  EXPECT_EQ(OnlyError("actions:\n  - {pattern: x, action: extract}\n"),
            "2:5: processors::attributes::actions[0]: missing required field \"key\"");
  EXPECT_EQ(OnlyError("actions:\n  - {action: delete}\n"),
            "2:5: processors::attributes::actions[0]: missing required field (at least one of "
            "\"key\" and \"pattern\" have to be used)");
  EXPECT_EQ(OnlyError("actions:\n  - {action: hash}\n"),
            "2:5: processors::attributes::actions[0]: missing required field (at least one of "
            "\"key\" and \"pattern\" have to be used)");
  EXPECT_THAT(OnlyError("actions:\n  -\n"), HasSubstr("missing required field \"key\""));
}

TEST(AttributesConfigTest, BadRegex) {
  EXPECT_THAT(OnlyError("actions:\n  - {pattern: \"a(b\", action: delete}\n"),
              HasSubstr("2:15: processors::attributes::actions[0]::pattern: field \"pattern\" has "
                        "invalid pattern: \"a(b\": missing )"));
  EXPECT_THAT(OnlyError("actions:\n  - {key: k, pattern: \"[z-a]\", action: hash}\n"),
              HasSubstr("actions[0]::pattern: field \"pattern\" has invalid pattern: \"[z-a]\""));
  EXPECT_THAT(OnlyError("actions:\n  - {key: k, pattern: \"(?P<x>\", action: extract}\n"),
              HasSubstr("field \"pattern\" has invalid pattern"));
}

TEST(AttributesConfigTest, ExtractNeedsNamedGroups) {
  EXPECT_EQ(OnlyError("actions:\n  - {key: k, action: extract}\n"),
            "2:5: processors::attributes::actions[0]: missing required field \"pattern\" for "
            "action \"extract\"");
  EXPECT_EQ(OnlyError("actions:\n  - {key: k, pattern: \"^a.*\", action: extract}\n"),
            "2:23: processors::attributes::actions[0]::pattern: field \"pattern\" contains no "
            "named matcher groups");
  // otelcol's own example pattern has an unnamed group, which its AttrProc refuses.
  EXPECT_THAT(OnlyError(R"(actions:
  - key: "http.url"
    pattern: ^(?P<http_protocol>.*):\/\/(?P<http_domain>.*)\/(?P<http_path>.*)(\?|\&)(?P<http_query_params>.*)
    action: extract
)"),
              HasSubstr("field \"pattern\" contains at least one unnamed matcher group"));
  EXPECT_THAT(OnlyError("actions:\n  - {key: k, value: v, pattern: \"(?P<a>.)\", action: "
                        "extract}\n"),
              HasSubstr("action \"extract\" does not use a value source field. These must not "
                        "be specified"));
}

TEST(AttributesConfigTest, ValueSources) {
  EXPECT_EQ(OnlyError("actions:\n  - {key: k, action: insert}\n"),
            "2:5: processors::attributes::actions[0]: either field \"value\", \"from_attribute\" "
            "or \"from_context\" setting must be specified");
  EXPECT_EQ(OnlyError("actions:\n  - {key: k, value: ~, action: upsert}\n"),
            "2:5: processors::attributes::actions[0]: either field \"value\", \"from_attribute\" "
            "or \"from_context\" setting must be specified");
  EXPECT_EQ(OnlyError("actions:\n  - {key: k, value: 1, from_attribute: b, action: update}\n"),
            "2:5: processors::attributes::actions[0]: multiple value sources being set");
  EXPECT_EQ(OnlyError("actions:\n  - {key: k, from_context: a, from_attribute: b, action: "
                      "insert}\n"),
            "2:5: processors::attributes::actions[0]: multiple value sources being set");
  EXPECT_EQ(OnlyError("actions:\n  - {key: k, value: 1, action: delete}\n"),
            "2:21: processors::attributes::actions[0]::value: action \"delete\" does not use "
            "\"value\" or \"from_attribute\" field. These must not be specified");
  EXPECT_EQ(OnlyError("actions:\n  - {key: k, from_attribute: b, action: hash}\n"),
            "2:30: processors::attributes::actions[0]::from_attribute: action \"hash\" does not "
            "use \"value\" or \"from_attribute\" field. These must not be specified");
}

TEST(AttributesConfigTest, PatternWhereNotUsed) {
  EXPECT_EQ(OnlyError("actions:\n  - {key: k, value: 1, pattern: x, action: insert}\n"),
            "2:33: processors::attributes::actions[0]::pattern: action \"insert\" does not use "
            "the \"pattern\" field. This must not be specified");
  EXPECT_EQ(OnlyError("actions:\n  - {key: k, pattern: x, action: convert, converted_type: "
                      "int}\n"),
            "2:5: processors::attributes::actions[0]: action \"convert\" does not use value "
            "sources or \"pattern\" field. These must not be specified");
}

TEST(AttributesConfigTest, ConvertedType) {
  EXPECT_EQ(OnlyError("actions:\n  - {key: k, action: convert}\n"),
            "2:5: processors::attributes::actions[0]: missing required field \"converted_type\" "
            "for action \"convert\"");
  EXPECT_EQ(OnlyError("actions:\n  - {key: k, action: convert, converted_type: bool}\n"),
            "2:47: processors::attributes::actions[0]::converted_type: invalid value \"bool\" in "
            "field \"converted_type\" for action \"convert\"; expected one of: int, double, "
            "string");
  EXPECT_EQ(OnlyError("actions:\n  - {key: k, value: 1, action: upsert, converted_type: int}\n"),
            "2:56: processors::attributes::actions[0]::converted_type: action \"upsert\" does not "
            "use the \"converted_type\" field. This must not be specified");
  EXPECT_THAT(OnlyError("actions:\n  - {key: k, action: delete, converted_type: int}\n"),
              HasSubstr("action \"delete\" does not use the \"converted_type\" field"));
}

TEST(AttributesConfigTest, UnknownKeys) {
  EXPECT_EQ(OnlyError("actions:\n  - {key: k, action: delete, vaule: 1}\n"),
            "2:30: processors::attributes::actions[0]::vaule: unknown key");
  EXPECT_THAT(Errors("action:\n  - {key: k, action: delete}\n"),
              ElementsAre("1:1: processors::attributes: missing required field \"actions\"",
                          "1:1: processors::attributes::action: unknown key"));
  // A misspelt property leaves nothing to match on: both are said.
  EXPECT_THAT(Errors(R"(include:
  match_type: strict
  service: [a]
actions: [{key: k, action: delete}]
)"),
              ElementsAre("2:3: processors::attributes::include: at least one of \"services\", "
                          "\"span_names\", \"span_kinds\", \"attributes\", \"resources\", "
                          "\"libraries\", \"log_bodies\", \"log_severity_texts\", "
                          "\"log_severity_number\" or \"metric_names\" field must be specified",
                          "3:3: processors::attributes::include::service: unknown key"));
  EXPECT_EQ(OnlyError(R"(include:
  match_type: strict
  attributes: [{key: a, vlaue: 1}]
actions: [{key: k, action: delete}]
)"),
            "3:25: processors::attributes::include::attributes[0]::vlaue: unknown key");
  EXPECT_EQ(OnlyError(R"(exclude:
  match_type: strict
  log_severity_number: {min: 9, undefined: true}
actions: [{key: k, action: delete}]
)"),
            "3:33: processors::attributes::exclude::log_severity_number::undefined: unknown key");
}

TEST(AttributesConfigTest, MatchProperties) {
  EXPECT_EQ(OnlyError("include: {services: [a]}\nactions: [{key: k, action: delete}]\n"),
            "1:10: processors::attributes::include: unrecognized match_type: '', valid types "
            "are: [regexp strict]");
  EXPECT_EQ(OnlyError("include: {match_type: glob, services: [a]}\nactions: [{key: k, action: "
                      "delete}]\n"),
            "1:23: processors::attributes::include::match_type: unrecognized match_type: 'glob', "
            "valid types are: [regexp strict]");
  EXPECT_EQ(OnlyError("include: {match_type: regexp, attributes: [{key: a, value: 1}]}\n"
                      "actions: [{key: k, action: delete}]\n"),
            "1:60: processors::attributes::include::attributes[0]::value: match_type=regexp for "
            "\"a\" only supports Str, but found Int");
  EXPECT_EQ(OnlyError("include: {match_type: strict, attributes: [{value: 1}]}\n"
                      "actions: [{key: k, action: delete}]\n"),
            "1:44: processors::attributes::include::attributes[0]: can't have empty key in the "
            "list of attributes");
  EXPECT_THAT(OnlyError("include: {match_type: regexp, services: [\"a(\"]}\n"
                        "actions: [{key: k, action: delete}]\n"),
              HasSubstr("processors::attributes::include::services: invalid regular expression "
                        "\"a(\": missing )"));
  // Properties of spans and of logs at once fit no signal.
  EXPECT_THAT(OnlyError("include: {match_type: strict, span_names: [a], log_bodies: [b]}\n"
                        "actions: [{key: k, action: delete}]\n"),
              HasSubstr("1:10: processors::attributes::include: not valid for any signal: "
                        "traces: log_bodies should not be specified for trace spans"));
}

// The properties that fit depend on the pipeline's signal: checked when it is created.
absl::Status CreateFor(const std::string& yaml, Signal signal) {
  Diagnostics diag;
  auto config = ParseWith(Factory(), yaml, &diag, "processors::attributes");
  EXPECT_TRUE(diag.ok()) << diag.Format();
  testing::TestHost host;
  auto created = Factory().Create(CreateSettings{{"attributes", ""}, &host}, *config, signal,
                                  std::make_shared<Sink>());
  return created.status();
}

TEST(AttributesConfigTest, PropertiesPerSignal) {
  const std::string actions = "actions: [{key: k, action: delete}]\n";
  const std::string spans = "include: {match_type: strict, services: [a]}\n" + actions;
  EXPECT_TRUE(CreateFor(spans, Signal::kTraces).ok());
  EXPECT_THAT(CreateFor(spans, Signal::kLogs).message(),
              HasSubstr("include: services, span_names, span_kinds and metric_names are not valid "
                        "for log records (logs pipeline)"));
  EXPECT_THAT(CreateFor(spans, Signal::kMetrics).message(),
              HasSubstr("include: \"span_names\", \"span_kinds\", \"log_bodies\", "
                        "\"log_severity_texts\", \"log_severity_number\", \"services\", "
                        "\"attributes\" and \"libraries\" are not valid for metrics"));

  const std::string logs = "exclude: {match_type: regexp, log_bodies: [a]}\n" + actions;
  EXPECT_TRUE(CreateFor(logs, Signal::kLogs).ok());
  EXPECT_THAT(CreateFor(logs, Signal::kTraces).message(),
              HasSubstr("exclude: log_bodies should not be specified for trace spans"));

  const std::string metrics = "include: {match_type: strict, metric_names: [a]}\n" + actions;
  EXPECT_TRUE(CreateFor(metrics, Signal::kMetrics).ok());
  EXPECT_THAT(CreateFor(metrics, Signal::kTraces).message(),
              HasSubstr("metric_names should not be specified for trace spans"));

  const std::string attributes =
      "include: {match_type: strict, attributes: [{key: a}]}\n" + actions;
  EXPECT_TRUE(CreateFor(attributes, Signal::kTraces).ok());
  EXPECT_TRUE(CreateFor(attributes, Signal::kLogs).ok());
  EXPECT_FALSE(CreateFor(attributes, Signal::kMetrics).ok());

  const std::string resources = "include: {match_type: strict, resources: [{key: a}]}\n" + actions;
  for (Signal s : kAllSignals) EXPECT_TRUE(CreateFor(resources, s).ok()) << SignalName(s);

  // Strict span kinds must be the standard names: wrong for spans, the only signal span kinds
  // are for, so refused when the config is read.
  EXPECT_THAT(OnlyError("include: {match_type: strict, span_kinds: [server]}\n" + actions),
              HasSubstr("1:10: processors::attributes::include: not valid for any signal: "
                        "traces: span_kinds string must match one of the standard span kinds when "
                        "match_type=strict: [SPAN_KIND_CLIENT SPAN_KIND_CONSUMER "
                        "SPAN_KIND_INTERNAL SPAN_KIND_PRODUCER SPAN_KIND_SERVER]"));
  EXPECT_TRUE(
      CreateFor("include: {match_type: regexp, span_kinds: [server]}\n" + actions, Signal::kTraces)
          .ok());
  // Given, but with nothing to match on.
  EXPECT_THAT(OnlyError("include: {match_type: strict}\n" + actions),
              HasSubstr("1:10: processors::attributes::include: at least one of \"services\""));
}

TEST(AttributesConfigTest, ConfigValuesAreTypedAsOtelcolTypesThem) {
  Diagnostics diag;
  auto config = ParseWith(Factory(), R"(actions:
  - {key: a, value: 1_000, action: insert}
  - {key: b, value: 0o17, action: insert}
  - {key: c, value: .5, action: insert}
  - {key: d, value: .inf, action: insert}
  - {key: e, value: True, action: insert}
  - {key: f, value: yes, action: insert}
  - {key: g, value: !!str 12, action: insert}
  - {key: h, value: 08, action: insert}
  - {key: i, value: 18446744073709551615, action: insert}
)",
                          &diag, "processors::attributes");
  ASSERT_TRUE(diag.ok()) << diag.Format();
  const auto& actions = ConfigAs<AttributesProcessorConfig>(*config).actions;
  ASSERT_EQ(actions.size(), 9u);
  std::vector<std::string> described;
  for (const auto& a : actions) {
    AnyValue v;
    ASSERT_TRUE(v.ParseFromString(a.value));
    described.push_back(Describe(v));
  }
  EXPECT_THAT(described, ElementsAre("Int:1000", "Int:15", "Double:0.5", "Double:inf", "Bool:true",
                                     "Str:yes", "Str:12", "Double:8", "Int:-1"));
}

}  // namespace
}  // namespace otlpd::attrtest
