#include "processors/filter/ottl.h"

#include <re2/re2.h>

#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "processors/attraction/value.h"

namespace otlpd::ottl {

std::string_view ContextName(Context c) {
  switch (c) {
    case Context::kSpan:
      return "span";
    case Context::kSpanEvent:
      return "spanevent";
    case Context::kMetric:
      return "metric";
    case Context::kDataPoint:
      return "datapoint";
    case Context::kLog:
      return "log";
  }
  return "";
}

enum class Op : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };

struct Expr {
  enum class Kind : uint8_t { kLiteral, kPath, kAdd, kSub, kCompare, kAnd, kOr, kNot, kIsMatch };
  Kind kind = Kind::kLiteral;
  Value literal;               // kLiteral (a string literal's view points into `text`)
  std::string text;            // kLiteral string; kPath attribute key
  Field field = Field::kName;  // kPath
  Op op = Op::kEq;             // kCompare
  std::vector<std::unique_ptr<Expr>> args;
  std::unique_ptr<re2::RE2> regex;  // kIsMatch

  bool IsBool() const {
    return kind == Kind::kCompare || kind == Kind::kAnd || kind == Kind::kOr ||
           kind == Kind::kNot || kind == Kind::kIsMatch ||
           (kind == Kind::kLiteral && literal.type == Value::Type::kBool);
  }
};

namespace {

// ---------------------------------------------------------------------------- tokens

enum class Tok : uint8_t {
  kEnd,
  kIdent,
  kString,
  kInt,
  kFloat,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kDot,
  kComma,
  kCompare,
  kPlus,
  kMinus,
  kOther,
};

struct Token {
  Tok type = Tok::kEnd;
  size_t pos = 0;
  std::string text;  // identifier, unescaped string, number, operator
};

absl::Status ErrorAt(size_t pos, std::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(message), " (column ", pos + 1, ")"));
}

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    Token t;
    t.pos = i;
    if (absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() &&
             (absl::ascii_isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) {
        ++j;
      }
      t.type = Tok::kIdent;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    } else if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      bool is_float = false;
      while (j < s.size() &&
             (absl::ascii_isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.' || s[j] == 'e' ||
              s[j] == 'E' ||
              ((s[j] == '+' || s[j] == '-') && (s[j - 1] == 'e' || s[j - 1] == 'E')))) {
        if (!absl::ascii_isdigit(static_cast<unsigned char>(s[j]))) is_float = true;
        ++j;
      }
      t.type = is_float ? Tok::kFloat : Tok::kInt;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    } else if (c == '"') {
      size_t j = i + 1;
      bool closed = false;
      while (j < s.size()) {
        if (s[j] == '\\' && j + 1 < s.size()) {
          const char e = s[j + 1];
          // OTTL strings are Go string literals; the escapes conditions use.
          switch (e) {
            case '"':
            case '\\':
              t.text.push_back(e);
              break;
            case 'n':
              t.text.push_back('\n');
              break;
            case 't':
              t.text.push_back('\t');
              break;
            case 'r':
              t.text.push_back('\r');
              break;
            default:
              // Kept as written: regular expressions ("\\d", "\\.") read it themselves.
              t.text.push_back('\\');
              t.text.push_back(e);
          }
          j += 2;
          continue;
        }
        if (s[j] == '"') {
          closed = true;
          break;
        }
        t.text.push_back(s[j]);
        ++j;
      }
      if (!closed) return ErrorAt(i, "unterminated string");
      t.type = Tok::kString;
      i = j + 1;
    } else if (c == '=' || c == '!' || c == '<' || c == '>') {
      const bool two = i + 1 < s.size() && s[i + 1] == '=';
      if ((c == '=' || c == '!') && !two) {
        return ErrorAt(i, absl::StrCat("unexpected \"", std::string(1, c), "\""));
      }
      t.type = Tok::kCompare;
      t.text = std::string(s.substr(i, two ? 2 : 1));
      i += two ? 2 : 1;
    } else {
      switch (c) {
        case '(':
          t.type = Tok::kLParen;
          break;
        case ')':
          t.type = Tok::kRParen;
          break;
        case '[':
          t.type = Tok::kLBracket;
          break;
        case ']':
          t.type = Tok::kRBracket;
          break;
        case '.':
          t.type = Tok::kDot;
          break;
        case ',':
          t.type = Tok::kComma;
          break;
        case '+':
          t.type = Tok::kPlus;
          break;
        case '-':
          t.type = Tok::kMinus;
          break;
        default:
          t.type = Tok::kOther;
      }
      t.text = std::string(1, c);
      ++i;
    }
    out.push_back(std::move(t));
  }
  Token end;
  end.pos = s.size();
  out.push_back(end);
  return out;
}

// ---------------------------------------------------------------------------- enums

struct EnumConstant {
  std::string_view name;
  int64_t value;
};

constexpr EnumConstant kEnums[] = {
    {"SPAN_KIND_UNSPECIFIED", 0},
    {"SPAN_KIND_INTERNAL", 1},
    {"SPAN_KIND_SERVER", 2},
    {"SPAN_KIND_CLIENT", 3},
    {"SPAN_KIND_PRODUCER", 4},
    {"SPAN_KIND_CONSUMER", 5},
    {"STATUS_CODE_UNSET", 0},
    {"STATUS_CODE_OK", 1},
    {"STATUS_CODE_ERROR", 2},
    {"SEVERITY_NUMBER_UNSPECIFIED", 0},
    {"SEVERITY_NUMBER_TRACE", 1},
    {"SEVERITY_NUMBER_TRACE2", 2},
    {"SEVERITY_NUMBER_TRACE3", 3},
    {"SEVERITY_NUMBER_TRACE4", 4},
    {"SEVERITY_NUMBER_DEBUG", 5},
    {"SEVERITY_NUMBER_DEBUG2", 6},
    {"SEVERITY_NUMBER_DEBUG3", 7},
    {"SEVERITY_NUMBER_DEBUG4", 8},
    {"SEVERITY_NUMBER_INFO", 9},
    {"SEVERITY_NUMBER_INFO2", 10},
    {"SEVERITY_NUMBER_INFO3", 11},
    {"SEVERITY_NUMBER_INFO4", 12},
    {"SEVERITY_NUMBER_WARN", 13},
    {"SEVERITY_NUMBER_WARN2", 14},
    {"SEVERITY_NUMBER_WARN3", 15},
    {"SEVERITY_NUMBER_WARN4", 16},
    {"SEVERITY_NUMBER_ERROR", 17},
    {"SEVERITY_NUMBER_ERROR2", 18},
    {"SEVERITY_NUMBER_ERROR3", 19},
    {"SEVERITY_NUMBER_ERROR4", 20},
    {"SEVERITY_NUMBER_FATAL", 21},
    {"SEVERITY_NUMBER_FATAL2", 22},
    {"SEVERITY_NUMBER_FATAL3", 23},
    {"SEVERITY_NUMBER_FATAL4", 24},
    {"METRIC_DATA_TYPE_NONE", 0},
    {"METRIC_DATA_TYPE_GAUGE", 1},
    {"METRIC_DATA_TYPE_SUM", 2},
    {"METRIC_DATA_TYPE_HISTOGRAM", 3},
    {"METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM", 4},
    {"METRIC_DATA_TYPE_SUMMARY", 5},
    {"AGGREGATION_TEMPORALITY_UNSPECIFIED", 0},
    {"AGGREGATION_TEMPORALITY_DELTA", 1},
    {"AGGREGATION_TEMPORALITY_CUMULATIVE", 2},
};

// ---------------------------------------------------------------------------- paths

struct PathSpec {
  std::string_view path;  // dotted, without the context prefix
  Field field;
  bool keyed;        // takes ["key"]
  uint8_t contexts;  // bit per Context
};

constexpr uint8_t Ctx(std::initializer_list<Context> cs) {
  uint8_t bits = 0;
  for (Context c : cs) bits |= uint8_t{1} << static_cast<int>(c);
  return bits;
}
constexpr uint8_t kAll = 0x1f;
constexpr uint8_t kSpanOnly = Ctx({Context::kSpan});
constexpr uint8_t kTimed = Ctx({Context::kSpanEvent, Context::kDataPoint, Context::kLog});

constexpr PathSpec kPaths[] = {
    {"attributes", Field::kAttribute, true,
     Ctx({Context::kSpan, Context::kSpanEvent, Context::kDataPoint, Context::kLog})},
    {"resource.attributes", Field::kResourceAttribute, true, kAll},
    {"instrumentation_scope.attributes", Field::kScopeAttribute, true, kAll},
    {"instrumentation_scope.name", Field::kScopeName, false, kAll},
    {"instrumentation_scope.version", Field::kScopeVersion, false, kAll},
    {"scope.attributes", Field::kScopeAttribute, true, kAll},
    {"scope.name", Field::kScopeName, false, kAll},
    {"scope.version", Field::kScopeVersion, false, kAll},
    {"name", Field::kName, false, Ctx({Context::kSpan, Context::kSpanEvent, Context::kMetric})},
    {"kind", Field::kKind, false, kSpanOnly},
    {"status.code", Field::kStatusCode, false, kSpanOnly},
    {"status.message", Field::kStatusMessage, false, kSpanOnly},
    {"start_time_unix_nano", Field::kStartTime, false, Ctx({Context::kSpan, Context::kDataPoint})},
    {"start_time", Field::kStartTime, false, Ctx({Context::kSpan, Context::kDataPoint})},
    {"end_time_unix_nano", Field::kEndTime, false, kSpanOnly},
    {"end_time", Field::kEndTime, false, kSpanOnly},
    {"time_unix_nano", Field::kTime, false, kTimed},
    {"time", Field::kTime, false, kTimed},
    {"observed_time_unix_nano", Field::kObservedTime, false, Ctx({Context::kLog})},
    {"observed_time", Field::kObservedTime, false, Ctx({Context::kLog})},
    {"severity_number", Field::kSeverityNumber, false, Ctx({Context::kLog})},
    {"severity_text", Field::kSeverityText, false, Ctx({Context::kLog})},
    {"body", Field::kBody, false, Ctx({Context::kLog})},
    {"event_name", Field::kEventName, false, Ctx({Context::kLog})},
    {"metric.name", Field::kMetricName, false, Ctx({Context::kDataPoint})},
    {"metric.type", Field::kMetricType, false, Ctx({Context::kDataPoint})},
    {"description", Field::kDescription, false, Ctx({Context::kMetric})},
    {"unit", Field::kUnit, false, Ctx({Context::kMetric})},
    {"type", Field::kMetricType, false, Ctx({Context::kMetric})},
    {"count", Field::kCount, false, Ctx({Context::kDataPoint})},
};

// ---------------------------------------------------------------------------- parser

class Parser {
 public:
  Parser(std::vector<Token> tokens, Context context)
      : tokens_(std::move(tokens)), context_(context) {}

  absl::StatusOr<std::unique_ptr<Expr>> ParseCondition() {
    auto e = ParseOr();
    if (!e.ok()) return e;
    if (Peek().type != Tok::kEnd) return ErrorAt(Peek().pos, Unexpected(Peek()));
    return e;
  }

  uint64_t fields() const { return fields_; }

 private:
  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& Take() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool IsKeyword(std::string_view word) const {
    return Peek().type == Tok::kIdent && Peek().text == word;
  }
  static std::string Unexpected(const Token& t) {
    if (t.type == Tok::kEnd) return "unexpected end of condition";
    if (t.type == Tok::kString) return absl::StrCat("unexpected string \"", t.text, "\"");
    return absl::StrCat("unexpected \"", t.text, "\"");
  }

  static std::unique_ptr<Expr> Node(Expr::Kind kind) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    return e;
  }

  absl::StatusOr<std::unique_ptr<Expr>> ParseOr() {
    const size_t at = Peek().pos;
    auto first = ParseAnd();
    if (!first.ok()) return first;
    if (!IsKeyword("or")) return first;
    if (!(*first)->IsBool()) return ErrorAt(at, "\"or\" needs a boolean expression on its left");
    auto node = Node(Expr::Kind::kOr);
    node->args.push_back(std::move(*first));
    while (IsKeyword("or")) {
      Take();
      const size_t next_at = Peek().pos;
      auto next = ParseAnd();
      if (!next.ok()) return next;
      if (!(*next)->IsBool()) return ErrorAt(next_at, "\"or\" needs a boolean expression");
      node->args.push_back(std::move(*next));
    }
    return node;
  }

  absl::StatusOr<std::unique_ptr<Expr>> ParseAnd() {
    const size_t at = Peek().pos;
    auto first = ParseNot();
    if (!first.ok()) return first;
    if (!IsKeyword("and")) return first;
    if (!(*first)->IsBool()) return ErrorAt(at, "\"and\" needs a boolean expression on its left");
    auto node = Node(Expr::Kind::kAnd);
    node->args.push_back(std::move(*first));
    while (IsKeyword("and")) {
      Take();
      const size_t next_at = Peek().pos;
      auto next = ParseNot();
      if (!next.ok()) return next;
      if (!(*next)->IsBool()) return ErrorAt(next_at, "\"and\" needs a boolean expression");
      node->args.push_back(std::move(*next));
    }
    return node;
  }

  absl::StatusOr<std::unique_ptr<Expr>> ParseNot() {
    if (IsKeyword("not")) {
      Take();
      const size_t at = Peek().pos;
      auto inner = ParseNot();
      if (!inner.ok()) return inner;
      if (!(*inner)->IsBool()) return ErrorAt(at, "\"not\" needs a boolean expression");
      auto node = Node(Expr::Kind::kNot);
      node->args.push_back(std::move(*inner));
      return node;
    }
    return ParseBoolPrimary();
  }

  // A comparison, a boolean literal or converter, or a parenthesized boolean expression.
  absl::StatusOr<std::unique_ptr<Expr>> ParseBoolPrimary() {
    const size_t start = pos_;
    const size_t at = Peek().pos;
    if (Peek().type == Tok::kLParen) {
      // "(a - b) > 5" groups a value; "(a or b)" a condition. Try the value first.
      auto value = ParseValue();
      if (value.ok() && Peek().type == Tok::kCompare) return ParseComparison(std::move(*value));
      pos_ = start;
      Take();
      auto inner = ParseOr();
      if (!inner.ok()) return inner;
      if (Peek().type != Tok::kRParen) return ErrorAt(Peek().pos, Unexpected(Peek()));
      Take();
      if (Peek().type == Tok::kCompare) return ParseComparison(std::move(*inner));
      return inner;
    }
    auto value = ParseValue();
    if (!value.ok()) return value;
    if (Peek().type == Tok::kCompare) return ParseComparison(std::move(*value));
    if (Peek().type == Tok::kOther) return ErrorAt(Peek().pos, Unexpected(Peek()));
    if ((*value)->IsBool()) return value;
    return ErrorAt(at, "expected a comparison (==, !=, <, <=, >, >=) or a boolean");
  }

  absl::StatusOr<std::unique_ptr<Expr>> ParseComparison(std::unique_ptr<Expr> left) {
    const Token& t = Take();
    auto node = Node(Expr::Kind::kCompare);
    node->op = t.text == "=="   ? Op::kEq
               : t.text == "!=" ? Op::kNe
               : t.text == "<"  ? Op::kLt
               : t.text == "<=" ? Op::kLe
               : t.text == ">"  ? Op::kGt
                                : Op::kGe;
    auto right = ParseValue();
    if (!right.ok()) return right;
    if (Peek().type == Tok::kCompare) {
      return ErrorAt(Peek().pos, "comparisons do not chain; use \"and\"");
    }
    node->args.push_back(std::move(left));
    node->args.push_back(std::move(*right));
    return node;
  }

  // operand (("+" | "-") operand)*
  absl::StatusOr<std::unique_ptr<Expr>> ParseValue() {
    auto left = ParseOperand();
    if (!left.ok()) return left;
    while (Peek().type == Tok::kPlus || Peek().type == Tok::kMinus) {
      const bool add = Take().type == Tok::kPlus;
      auto right = ParseOperand();
      if (!right.ok()) return right;
      auto node = Node(add ? Expr::Kind::kAdd : Expr::Kind::kSub);
      node->args.push_back(std::move(*left));
      node->args.push_back(std::move(*right));
      left = std::move(node);
    }
    return left;
  }

  absl::StatusOr<std::unique_ptr<Expr>> ParseOperand() {
    const Token& t = Peek();
    const size_t at = t.pos;
    switch (t.type) {
      case Tok::kString: {
        auto e = Node(Expr::Kind::kLiteral);
        e->text = Take().text;
        e->literal = Value::Str({});  // the view is set by Condition::Parse (text may move)
        return e;
      }
      case Tok::kInt:
      case Tok::kFloat:
        return ParseNumber(false);
      case Tok::kMinus:
        if (Peek(1).type == Tok::kInt || Peek(1).type == Tok::kFloat) {
          Take();
          return ParseNumber(true);
        }
        return ErrorAt(at, Unexpected(t));
      case Tok::kLParen: {
        Take();
        auto inner = ParseValue();
        if (!inner.ok()) return inner;
        if (Peek().type != Tok::kRParen) return ErrorAt(Peek().pos, Unexpected(Peek()));
        Take();
        return inner;
      }
      case Tok::kIdent:
        break;
      default:
        return ErrorAt(at, Unexpected(t));
    }
    // Keywords, enums, converters, paths.
    const std::string word = t.text;
    if (word == "true" || word == "false") {
      Take();
      auto e = Node(Expr::Kind::kLiteral);
      e->literal = Value::Bool(word == "true");
      return e;
    }
    if (word == "nil") {
      Take();
      return Node(Expr::Kind::kLiteral);
    }
    if (word == "and" || word == "or" || word == "not") return ErrorAt(at, Unexpected(t));
    if (Peek(1).type == Tok::kLParen) return ParseConverter();
    if (absl::ascii_isupper(static_cast<unsigned char>(word[0])) && Peek(1).type != Tok::kDot &&
        Peek(1).type != Tok::kLBracket) {
      Take();
      for (const EnumConstant& c : kEnums) {
        if (c.name == word) {
          auto e = Node(Expr::Kind::kLiteral);
          e->literal = Value::Int(c.value);
          return e;
        }
      }
      return ErrorAt(at, absl::StrCat("unknown enum \"", word, "\""));
    }
    return ParsePath();
  }

  absl::StatusOr<std::unique_ptr<Expr>> ParseNumber(bool negative) {
    const Token& t = Take();
    auto e = Node(Expr::Kind::kLiteral);
    const std::string text = negative ? "-" + t.text : t.text;
    if (t.type == Tok::kInt) {
      int64_t v;
      if (!absl::SimpleAtoi(text, &v)) return ErrorAt(t.pos, absl::StrCat("bad integer ", text));
      e->literal = Value::Int(v);
    } else {
      double v;
      if (!absl::SimpleAtod(text, &v)) return ErrorAt(t.pos, absl::StrCat("bad number ", text));
      e->literal = Value::Double(v);
    }
    return e;
  }

  absl::StatusOr<std::unique_ptr<Expr>> ParseConverter() {
    const Token name = Take();
    Take();  // (
    if (name.text == "IsMatch") {
      const size_t at = Peek().pos;
      auto target = ParseValue();
      if (!target.ok()) return target;
      if ((*target)->kind == Expr::Kind::kLiteral && (*target)->literal.type != Value::Type::kStr) {
        return ErrorAt(at, "IsMatch needs a string or a path as its first argument");
      }
      if (Peek().type != Tok::kComma) return ErrorAt(Peek().pos, Unexpected(Peek()));
      Take();
      if (Peek().type != Tok::kString) {
        return ErrorAt(Peek().pos, "IsMatch needs a string literal pattern");
      }
      const Token pattern = Take();
      if (Peek().type != Tok::kRParen) return ErrorAt(Peek().pos, Unexpected(Peek()));
      Take();
      auto e = Node(Expr::Kind::kIsMatch);
      e->regex = std::make_unique<re2::RE2>(pattern.text, re2::RE2::Quiet);
      if (!e->regex->ok()) {
        return ErrorAt(pattern.pos, absl::StrCat("invalid regular expression \"", pattern.text,
                                                 "\": ", e->regex->error()));
      }
      e->args.push_back(std::move(*target));
      return e;
    }
    if (name.text == "Duration") {
      if (Peek().type != Tok::kString)
        return ErrorAt(Peek().pos, "Duration needs a string literal");
      const Token arg = Take();
      if (Peek().type != Tok::kRParen) return ErrorAt(Peek().pos, Unexpected(Peek()));
      Take();
      absl::Duration d;
      if (!absl::ParseDuration(arg.text, &d)) {
        return ErrorAt(arg.pos, absl::StrCat("invalid duration \"", arg.text, "\""));
      }
      auto e = Node(Expr::Kind::kLiteral);
      e->literal = Value::Int(absl::ToInt64Nanoseconds(d));
      return e;
    }
    return ErrorAt(name.pos, absl::StrCat("function \"", name.text,
                                          "\" is not supported (supported: IsMatch, Duration)"));
  }

  absl::StatusOr<std::unique_ptr<Expr>> ParsePath() {
    const size_t at = Peek().pos;
    std::vector<std::string> parts;
    parts.push_back(Take().text);
    while (Peek().type == Tok::kDot) {
      Take();
      if (Peek().type != Tok::kIdent) return ErrorAt(Peek().pos, Unexpected(Peek()));
      parts.push_back(Take().text);
    }
    std::vector<Token> keys;
    while (Peek().type == Tok::kLBracket) {
      Take();
      if (Peek().type != Tok::kString) {
        return ErrorAt(Peek().pos, "only string keys are supported in [...]");
      }
      keys.push_back(Take());
      if (Peek().type != Tok::kRBracket) return ErrorAt(Peek().pos, Unexpected(Peek()));
      Take();
    }
    // The context's own name may lead (OTTL's context inference: span.name, log.body).
    if (parts.size() > 1 && parts[0] == ContextName(context_)) parts.erase(parts.begin());
    const std::string dotted = absl::StrJoin(parts, ".");
    const uint8_t bit = uint8_t{1} << static_cast<int>(context_);
    for (const PathSpec& spec : kPaths) {
      if (spec.path != dotted) continue;
      if ((spec.contexts & bit) == 0) break;
      if (spec.keyed && keys.empty()) {
        return ErrorAt(at, absl::StrCat("\"", dotted, "\" needs a key: ", dotted, "[\"key\"]"));
      }
      if (!spec.keyed && !keys.empty()) {
        return ErrorAt(keys[0].pos, absl::StrCat("\"", dotted, "\" takes no key"));
      }
      if (keys.size() > 1) {
        return ErrorAt(keys[1].pos, "nested keys (maps inside attributes) are not supported");
      }
      auto e = Node(Expr::Kind::kPath);
      e->field = spec.field;
      if (!keys.empty()) e->text = keys[0].text;
      fields_ |= uint64_t{1} << static_cast<int>(spec.field);
      return e;
    }
    return ErrorAt(at, absl::StrCat("path \"", dotted, "\" is not supported in the ",
                                    std::string(ContextName(context_)), " context"));
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  Context context_;
  uint64_t fields_ = 0;
};

// ---------------------------------------------------------------------------- evaluation

int Cmp3(double a, double b) { return a < b ? -1 : a > b ? 1 : 0; }

bool OrderResult(Op op, int c) {
  switch (op) {
    case Op::kEq:
      return c == 0;
    case Op::kNe:
      return c != 0;
    case Op::kLt:
      return c < 0;
    case Op::kLe:
      return c <= 0;
    case Op::kGt:
      return c > 0;
    case Op::kGe:
      return c >= 0;
  }
  return false;
}

// OTTL's compare: nil equals only nil; strings and numbers (ints and doubles together)
// order; booleans only (in)equal; values of different types are unequal and unordered.
bool Compare(const Value& a, const Value& b, Op op) {
  using T = Value::Type;
  const bool numeric_a = a.type == T::kInt || a.type == T::kDouble;
  const bool numeric_b = b.type == T::kInt || b.type == T::kDouble;
  if (numeric_a && numeric_b) {
    if (a.type == T::kInt && b.type == T::kInt) {
      return OrderResult(op, a.i < b.i ? -1 : a.i > b.i ? 1 : 0);
    }
    const double x = a.type == T::kInt ? static_cast<double>(a.i) : a.d;
    const double y = b.type == T::kInt ? static_cast<double>(b.i) : b.d;
    if (std::isnan(x) || std::isnan(y)) return op == Op::kNe;
    return OrderResult(op, Cmp3(x, y));
  }
  if (a.type != b.type) return op == Op::kNe;
  switch (a.type) {
    case T::kNil:
      return op == Op::kEq;
    case T::kStr:
      return OrderResult(op, a.str.compare(b.str));
    case T::kBool:
      if (op == Op::kEq) return a.b == b.b;
      if (op == Op::kNe) return a.b != b.b;
      return false;
    case T::kOther:
      if (op == Op::kEq) return a.str == b.str;
      if (op == Op::kNe) return a.str != b.str;
      return false;
    default:
      return false;
  }
}

struct Evaluator {
  Item& item;
  bool error = false;

  Value Eval(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kLiteral:
        return e.literal;
      case Expr::Kind::kPath:
        return item.Get(e.field, e.text);
      case Expr::Kind::kAdd:
      case Expr::Kind::kSub: {
        const Value a = Eval(*e.args[0]);
        const Value b = Eval(*e.args[1]);
        const bool sub = e.kind == Expr::Kind::kSub;
        if (a.type == Value::Type::kInt && b.type == Value::Type::kInt) {
          // Wraps as Go's int64 arithmetic does.
          const uint64_t x = static_cast<uint64_t>(a.i);
          const uint64_t y = static_cast<uint64_t>(b.i);
          return Value::Int(static_cast<int64_t>(sub ? x - y : x + y));
        }
        const bool na = a.type == Value::Type::kInt || a.type == Value::Type::kDouble;
        const bool nb = b.type == Value::Type::kInt || b.type == Value::Type::kDouble;
        if (na && nb) {
          const double x = a.type == Value::Type::kInt ? static_cast<double>(a.i) : a.d;
          const double y = b.type == Value::Type::kInt ? static_cast<double>(b.i) : b.d;
          return Value::Double(sub ? x - y : x + y);
        }
        error = true;  // OTTL refuses math on non-numbers
        return Value::Nil();
      }
      case Expr::Kind::kCompare:
      case Expr::Kind::kAnd:
      case Expr::Kind::kOr:
      case Expr::Kind::kNot:
      case Expr::Kind::kIsMatch:
        return Value::Bool(Test(e));
    }
    return Value::Nil();
  }

  // A boolean node's value, without a Value for it or for its literal operands (every span is
  // tested against every condition). Other nodes: their Value's `b` (false unless a bool).
  bool Test(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kCompare: {
        const Expr& x = *e.args[0];
        const Expr& y = *e.args[1];
        if (y.kind == Expr::Kind::kLiteral) return Compare(Eval(x), y.literal, e.op);
        if (x.kind == Expr::Kind::kLiteral) return Compare(x.literal, Eval(y), e.op);
        return Compare(Eval(x), Eval(y), e.op);
      }
      case Expr::Kind::kAnd:
        for (const auto& a : e.args) {
          if (!Test(*a)) return false;
        }
        return true;
      case Expr::Kind::kOr:
        for (const auto& a : e.args) {
          if (Test(*a)) return true;
        }
        return false;
      case Expr::Kind::kNot:
        return !Test(*e.args[0]);
      case Expr::Kind::kIsMatch:
        return IsMatch(e);
      case Expr::Kind::kLiteral:
        return e.literal.b;
      default:
        return Eval(e).b;
    }
  }

  // OTTL's IsMatch: false for nil; other types as their string forms.
  bool IsMatch(const Expr& e) {
    const Value v = Eval(*e.args[0]);
    std::string formatted;
    std::string_view s;
    switch (v.type) {
      case Value::Type::kNil:
        return false;
      case Value::Type::kStr:
        s = v.str;
        break;
      case Value::Type::kInt:
        formatted = absl::StrCat(v.i);
        s = formatted;
        break;
      case Value::Type::kDouble:
        formatted = attraction::FormatFloatFixed(v.d);
        s = formatted;
        break;
      case Value::Type::kBool:
        s = v.b ? "true" : "false";
        break;
      case Value::Type::kOther:
        s = item.OtherAsString(v.str);
        break;
    }
    return re2::RE2::PartialMatch(s, *e.regex);
  }
};

}  // namespace

absl::StatusOr<Condition> Condition::Parse(std::string_view text, Context context) {
  auto tokens = Tokenize(text);
  if (!tokens.ok()) return tokens.status();
  Parser parser(std::move(*tokens), context);
  auto root = parser.ParseCondition();
  if (!root.ok()) return root.status();
  if (!(*root)->IsBool()) {
    return absl::InvalidArgumentError("the condition is not a boolean expression (column 1)");
  }
  // String literals' views, now that their nodes stay where they are.
  auto set_views = [](auto& self, Expr& e) -> void {
    if (e.kind == Expr::Kind::kLiteral && e.literal.type == Value::Type::kStr) {
      e.literal.str = e.text;
    }
    for (auto& a : e.args) self(self, *a);
  };
  set_views(set_views, **root);
  Condition c;
  c.text_ = std::string(text);
  c.root_ = std::move(*root);
  c.fields_ = parser.fields();
  return c;
}

Condition::Condition(Condition&&) noexcept = default;
Condition& Condition::operator=(Condition&&) noexcept = default;
Condition::~Condition() = default;

bool Condition::Matches(Item& item, bool* error) const {
  Evaluator ev{item};
  const bool matches = ev.Test(*root_);  // the root is a boolean node (Parse checks)
  if (ev.error) {
    *error = true;
    return false;
  }
  return matches;
}

}  // namespace otlpd::ottl
