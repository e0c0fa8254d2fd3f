// The OTTL condition subset: every supported form evaluated against an item whose fields
// the test sets, operator precedence, OTTL's comparison rules across types, and the errors
// (with their column) for what is not supported.
#include "processors/filter/ottl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>

namespace otlpd::ottl {
namespace {

using ::testing::HasSubstr;

// An item whose fields are what the test puts in `values` (absent: nil).
class FakeItem : public Item {
 public:
  Value Get(Field field, std::string_view key) override {
    ++reads;
    auto it = values.find({field, std::string(key)});
    return it == values.end() ? Value::Nil() : it->second;
  }
  std::string_view OtherAsString(std::string_view any_value) override {
    other = "other:" + std::string(any_value);
    return other;
  }
  void Set(Field f, Value v, std::string key = "") { values[{f, std::move(key)}] = v; }

  std::map<std::pair<Field, std::string>, Value> values;
  std::string other;
  int reads = 0;
};

bool Eval(std::string_view text, Context context, FakeItem& item) {
  auto c = Condition::Parse(text, context);
  EXPECT_TRUE(c.ok()) << text << ": " << c.status();
  if (!c.ok()) return false;
  bool error = false;
  const bool m = c->Matches(item, &error);
  EXPECT_FALSE(error) << text;
  return m;
}

std::string ParseError(std::string_view text, Context context = Context::kSpan) {
  auto c = Condition::Parse(text, context);
  if (c.ok()) return "parsed";
  return std::string(c.status().message());
}

TEST(OttlTest, AttributeEqualityAndInequality) {
  FakeItem item;
  item.Set(Field::kAttribute, Value::Str("v"), "k");
  item.Set(Field::kResourceAttribute, Value::Str("prod"), "env");
  EXPECT_TRUE(Eval(R"(attributes["k"] == "v")", Context::kSpan, item));
  EXPECT_FALSE(Eval(R"(attributes["k"] == "w")", Context::kSpan, item));
  EXPECT_FALSE(Eval(R"(attributes["k"] != "v")", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(resource.attributes["env"] != "dev")", Context::kSpan, item));
  EXPECT_FALSE(Eval(R"(resource.attributes["env"] != "prod")", Context::kLog, item));
  // A missing attribute is nil: unequal to any string, equal to nil.
  EXPECT_FALSE(Eval(R"(attributes["missing"] == "v")", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(attributes["missing"] != "v")", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(attributes["missing"] == nil)", Context::kSpan, item));
  EXPECT_FALSE(Eval(R"(attributes["k"] == nil)", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(attributes["k"] != nil)", Context::kSpan, item));
  // The context's own name may lead the path.
  EXPECT_TRUE(Eval(R"(span.attributes["k"] == "v")", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(log.attributes["k"] == "v")", Context::kLog, item));
}

TEST(OttlTest, NamesKindsStatusAndScope) {
  FakeItem item;
  item.Set(Field::kName, Value::Str("GET /health"));
  item.Set(Field::kKind, Value::Int(2));
  item.Set(Field::kStatusCode, Value::Int(2));
  item.Set(Field::kScopeName, Value::Str("io.opentelemetry.jdbc"));
  EXPECT_TRUE(Eval(R"(name == "GET /health")", Context::kSpan, item));
  EXPECT_TRUE(Eval("kind == SPAN_KIND_SERVER", Context::kSpan, item));
  EXPECT_FALSE(Eval("kind == SPAN_KIND_CLIENT", Context::kSpan, item));
  EXPECT_TRUE(Eval("status.code == STATUS_CODE_ERROR", Context::kSpan, item));
  EXPECT_TRUE(Eval("status.code != STATUS_CODE_OK", Context::kSpan, item));
  EXPECT_TRUE(
      Eval(R"(instrumentation_scope.name == "io.opentelemetry.jdbc")", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(IsMatch(instrumentation_scope.name, "jdbc$"))", Context::kSpan, item));
}

TEST(OttlTest, IsMatchIsAPartialMatchOnStringForms) {
  FakeItem item;
  item.Set(Field::kName, Value::Str("GET /api/v1/users"));
  item.Set(Field::kAttribute, Value::Int(503), "code");
  item.Set(Field::kAttribute, Value::Double(1.5), "ratio");
  item.Set(Field::kAttribute, Value::Bool(true), "flag");
  item.Set(Field::kAttribute, Value::Other("raw"), "map");
  EXPECT_TRUE(Eval(R"(IsMatch(name, "/api/v[0-9]+/"))", Context::kSpan, item));
  EXPECT_FALSE(Eval(R"(IsMatch(name, "^/api"))", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(IsMatch(name, "^GET\\s"))", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(IsMatch(attributes["code"], "^5\\d\\d$"))", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(IsMatch(attributes["ratio"], "^1\\.5$"))", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(IsMatch(attributes["flag"], "^true$"))", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(IsMatch(attributes["map"], "^other:raw$"))", Context::kSpan, item));
  EXPECT_FALSE(Eval(R"(IsMatch(attributes["missing"], ".*"))", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(not IsMatch(attributes["missing"], ".*"))", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(IsMatch(name, "users") == true)", Context::kSpan, item));
}

TEST(OttlTest, SeverityComparisons) {
  FakeItem item;
  item.Set(Field::kSeverityNumber, Value::Int(9));  // INFO
  item.Set(Field::kSeverityText, Value::Str("INFO"));
  EXPECT_TRUE(Eval("severity_number < SEVERITY_NUMBER_WARN", Context::kLog, item));
  EXPECT_TRUE(Eval("severity_number <= SEVERITY_NUMBER_INFO", Context::kLog, item));
  EXPECT_FALSE(Eval("severity_number < SEVERITY_NUMBER_INFO", Context::kLog, item));
  EXPECT_TRUE(Eval("severity_number >= SEVERITY_NUMBER_INFO", Context::kLog, item));
  EXPECT_FALSE(Eval("severity_number > SEVERITY_NUMBER_INFO4", Context::kLog, item));
  EXPECT_TRUE(Eval("severity_number > 8", Context::kLog, item));
  EXPECT_TRUE(Eval(R"(severity_text == "INFO")", Context::kLog, item));
  // Strings order as bytes.
  EXPECT_TRUE(Eval(R"(severity_text < "WARN")", Context::kLog, item));
  EXPECT_FALSE(Eval(R"(severity_text > "WARN")", Context::kLog, item));
}

TEST(OttlTest, DurationsAsDifferencesOfTimes) {
  FakeItem item;
  item.Set(Field::kStartTime, Value::Int(1'000'000'000));
  item.Set(Field::kEndTime, Value::Int(1'250'000'000));  // 250 ms
  EXPECT_TRUE(Eval("end_time_unix_nano - start_time_unix_nano > 200000000", Context::kSpan, item));
  EXPECT_FALSE(Eval("end_time_unix_nano - start_time_unix_nano > 300000000", Context::kSpan, item));
  EXPECT_TRUE(
      Eval("(end_time_unix_nano - start_time_unix_nano) < 300000000", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(end_time - start_time > Duration("200ms"))", Context::kSpan, item));
  EXPECT_FALSE(Eval(R"(end_time - start_time >= Duration("1s"))", Context::kSpan, item));
  EXPECT_TRUE(Eval("start_time_unix_nano + 250000000 == end_time_unix_nano", Context::kSpan, item));
  // Ints and doubles compare as numbers.
  EXPECT_TRUE(Eval("end_time_unix_nano - start_time_unix_nano > 2.0e8", Context::kSpan, item));
}

TEST(OttlTest, PrecedenceNotOverAndOverOr) {
  FakeItem item;
  item.Set(Field::kAttribute, Value::Str("x"), "a");
  // a == x or (b == y and c == z): true by the first term.
  EXPECT_TRUE(Eval(R"(attributes["a"] == "x" or attributes["b"] == "y" and attributes["c"] == "z")",
                   Context::kSpan, item));
  // (a == x or b == y) and c == z: false by the last term.
  EXPECT_FALSE(
      Eval(R"((attributes["a"] == "x" or attributes["b"] == "y") and attributes["c"] == "z")",
           Context::kSpan, item));
  // not binds to its comparison only: (not a == x) or true.
  EXPECT_TRUE(Eval(R"(not attributes["a"] == "x" or true)", Context::kSpan, item));
  EXPECT_FALSE(Eval(R"(not (attributes["a"] == "x" or false))", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(not not attributes["a"] == "x")", Context::kSpan, item));
  EXPECT_TRUE(Eval("true", Context::kSpan, item));
  EXPECT_FALSE(Eval("false", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(((attributes["a"] == "x")))", Context::kSpan, item));
}

TEST(OttlTest, AndOrShortCircuit) {
  FakeItem item;
  item.Set(Field::kAttribute, Value::Str("x"), "a");
  ASSERT_TRUE(Eval(R"(attributes["a"] == "x" or attributes["b"] == "y")", Context::kSpan, item));
  EXPECT_EQ(item.reads, 1);
  item.reads = 0;
  ASSERT_FALSE(Eval(R"(attributes["a"] == "z" and attributes["b"] == "y")", Context::kSpan, item));
  EXPECT_EQ(item.reads, 1);
}

TEST(OttlTest, ComparisonsAcrossTypes) {
  FakeItem item;
  item.Set(Field::kAttribute, Value::Int(5), "i");
  item.Set(Field::kAttribute, Value::Str("5"), "s");
  item.Set(Field::kAttribute, Value::Bool(true), "b");
  item.Set(Field::kAttribute, Value::Double(5.0), "d");
  EXPECT_FALSE(Eval(R"(attributes["i"] == "5")", Context::kSpan, item));  // int vs string
  EXPECT_TRUE(Eval(R"(attributes["i"] != "5")", Context::kSpan, item));
  EXPECT_FALSE(Eval(R"(attributes["i"] < "6")", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(attributes["i"] == attributes["d"])", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(attributes["i"] == 5)", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(attributes["i"] > -1)", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"(attributes["b"] == true)", Context::kSpan, item));
  EXPECT_FALSE(Eval(R"(attributes["b"] > false)", Context::kSpan, item));    // bools do not order
  EXPECT_FALSE(Eval(R"(attributes["missing"] < 5)", Context::kSpan, item));  // nil does not order
  EXPECT_TRUE(Eval(R"(attributes["s"] == "5")", Context::kSpan, item));
  // A literal on either side, and on both (the order of the operands holds).
  EXPECT_TRUE(Eval(R"(6 > attributes["i"])", Context::kSpan, item));
  EXPECT_FALSE(Eval(R"(6 < attributes["i"])", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"("4" < attributes["s"])", Context::kSpan, item));
  EXPECT_FALSE(Eval(R"("4" >= attributes["s"])", Context::kSpan, item));
  EXPECT_TRUE(Eval(R"("a" < "b")", Context::kSpan, item));
  EXPECT_FALSE(Eval(R"("b" <= "a")", Context::kSpan, item));
}

TEST(OttlTest, StringEscapes) {
  FakeItem item;
  item.Set(Field::kName, Value::Str("say \"hi\"\\"));
  EXPECT_TRUE(Eval(R"(name == "say \"hi\"\\")", Context::kSpan, item));
}

TEST(OttlTest, MathOnNonNumbersIsAnEvaluationError) {
  FakeItem item;
  item.Set(Field::kAttribute, Value::Str("x"), "s");
  auto c = Condition::Parse(R"(attributes["s"] + 1 > 0)", Context::kSpan);
  ASSERT_TRUE(c.ok()) << c.status();
  bool error = false;
  EXPECT_FALSE(c->Matches(item, &error));
  EXPECT_TRUE(error);
}

TEST(OttlTest, PathsDependOnTheContext) {
  EXPECT_EQ(ParseError("severity_number < 9", Context::kSpan),
            "path \"severity_number\" is not supported in the span context (column 1)");
  EXPECT_EQ(ParseError("kind == SPAN_KIND_SERVER", Context::kLog),
            "path \"kind\" is not supported in the log context (column 1)");
  EXPECT_EQ(ParseError(R"(metric.name == "x")", Context::kDataPoint), "parsed");
  EXPECT_EQ(ParseError(R"(name == "x")", Context::kMetric), "parsed");
  EXPECT_EQ(ParseError(R"(type == METRIC_DATA_TYPE_SUM)", Context::kMetric), "parsed");
  EXPECT_EQ(ParseError(R"(attributes["x"] == "y")", Context::kMetric),
            "path \"attributes\" is not supported in the metric context (column 1)");
  EXPECT_EQ(ParseError(R"(name == "x")", Context::kDataPoint),
            "path \"name\" is not supported in the datapoint context (column 1)");
  EXPECT_EQ(ParseError(R"(body == "x")", Context::kLog), "parsed");
  EXPECT_EQ(ParseError(R"(name == "x")", Context::kSpanEvent), "parsed");
}

TEST(OttlTest, UnsupportedFormsAreErrorsWithTheirColumn) {
  EXPECT_EQ(ParseError(R"(attributes["a"] == "b" and trace_id == nil)"),
            "path \"trace_id\" is not supported in the span context (column 28)");
  EXPECT_EQ(ParseError(R"(IsString(attributes["a"]))"),
            "function \"IsString\" is not supported (supported: IsMatch, Duration) (column 1)");
  EXPECT_EQ(ParseError(R"(attributes["a"]["b"] == "c")"),
            "nested keys (maps inside attributes) are not supported (column 17)");
  EXPECT_EQ(ParseError("attributes == nil"),
            "\"attributes\" needs a key: attributes[\"key\"] (column 1)");
  EXPECT_EQ(ParseError(R"(name["x"] == "y")"), "\"name\" takes no key (column 6)");
  EXPECT_EQ(ParseError("kind == SPAN_KIND_SEVER"), "unknown enum \"SPAN_KIND_SEVER\" (column 9)");
  EXPECT_EQ(ParseError(R"(name == "x)"), "unterminated string (column 9)");
  EXPECT_EQ(ParseError(R"(name = "x")"), "unexpected \"=\" (column 6)");
  EXPECT_EQ(ParseError(R"(name == "x" and)"), "unexpected end of condition (column 16)");
  EXPECT_EQ(ParseError(R"(name)"),
            "expected a comparison (==, !=, <, <=, >, >=) or a boolean (column 1)");
  EXPECT_EQ(ParseError(R"(name == "a" == "b")"),
            "comparisons do not chain; use \"and\" (column 13)");
  EXPECT_EQ(ParseError(R"((name == "a")"), "unexpected end of condition (column 13)");
  EXPECT_EQ(ParseError(R"(name == "a")"), "parsed");
  EXPECT_EQ(ParseError(R"(IsMatch(name, "("))"),
            "invalid regular expression \"(\": missing ): ( (column 15)");
  EXPECT_EQ(ParseError(R"(IsMatch(name, attributes["p"]))"),
            "IsMatch needs a string literal pattern (column 15)");
  EXPECT_EQ(ParseError(R"(end_time - start_time > Duration("soon"))"),
            "invalid duration \"soon\" (column 34)");
  EXPECT_EQ(ParseError(R"(name == "a" and 5)"),
            "expected a comparison (==, !=, <, <=, >, >=) or a boolean (column 17)");
  EXPECT_EQ(ParseError(R"(name == "a" and (1 + 2))"),
            "expected a comparison (==, !=, <, <=, >, >=) or a boolean (column 18)");
  EXPECT_EQ(ParseError(R"(name * 2 == 4)"), "unexpected \"*\" (column 6)");
  EXPECT_EQ(ParseError(""), "unexpected end of condition (column 1)");
}

}  // namespace
}  // namespace otlpd::ottl
