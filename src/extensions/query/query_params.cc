#include "extensions/query/query_params.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "simdjson.h"

namespace otlpd::query {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<absl::Duration> ParseGoDuration(absl::string_view text) {
  const std::string quoted = absl::StrCat("\"", text, "\"");
  const auto invalid = [&] {
    return absl::InvalidArgumentError(absl::StrCat("time: invalid duration ", quoted));
  };
  absl::string_view s = text;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    if (s[0] == '-' && s != "-0") {
      return absl::InvalidArgumentError(absl::StrCat("negative duration ", quoted));
    }
    s.remove_prefix(1);
  }
  if (s == "0") return absl::ZeroDuration();
  if (s.empty()) return invalid();
  absl::Duration total = absl::ZeroDuration();
  while (!s.empty()) {
    // Integer part, fraction, unit.
    uint64_t whole = 0;
    size_t i = 0;
    bool digits = false;
    while (i < s.size() && IsDigit(s[i])) {
      if (whole > (std::numeric_limits<uint64_t>::max() - 9) / 10) return invalid();
      whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
      ++i;
      digits = true;
    }
    double fraction = 0;
    if (i < s.size() && s[i] == '.') {
      ++i;
      double scale = 0.1;
      while (i < s.size() && IsDigit(s[i])) {
        fraction += scale * (s[i] - '0');
        scale /= 10;
        ++i;
        digits = true;
      }
    }
    if (!digits) return invalid();
    size_t u = i;
    while (u < s.size() && !IsDigit(s[u]) && s[u] != '.') ++u;
    const absl::string_view unit_text = s.substr(i, u - i);
    absl::Duration unit;
    if (unit_text == "ns") {
      unit = absl::Nanoseconds(1);
    } else if (unit_text == "us" || unit_text == "\xc2\xb5s" || unit_text == "\xce\xbcs") {
      unit = absl::Microseconds(1);
    } else if (unit_text == "ms") {
      unit = absl::Milliseconds(1);
    } else if (unit_text == "s") {
      unit = absl::Seconds(1);
    } else if (unit_text == "m") {
      unit = absl::Minutes(1);
    } else if (unit_text == "h") {
      unit = absl::Hours(1);
    } else if (unit_text.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("time: missing unit in duration ", quoted));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("time: unknown unit \"", unit_text, "\" in duration ", quoted));
    }
    total += unit * static_cast<double>(whole) + unit * fraction;
    s.remove_prefix(u);
  }
  if (total > absl::Hours(2562047)) return invalid();  // beyond Go's int64 nanoseconds
  return total;
}

absl::StatusOr<storage::TraceId> ParseTraceIdHex(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("empty trace id");
  if (text.size() > 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("TraceID cannot be longer than 32 hex characters: ", text));
  }
  storage::TraceId id{};
  // Digits fill the id from its last nibble backwards.
  for (size_t k = 0; k < text.size(); ++k) {
    const char c = text[text.size() - 1 - k];
    const int v = HexValue(c);
    if (v < 0) {
      return absl::InvalidArgumentError(absl::StrCat("not a hex trace id: ", text));
    }
    const size_t byte = 15 - k / 2;
    id[byte] |= static_cast<uint8_t>(k % 2 == 0 ? v : v << 4);
  }
  return id;
}

absl::StatusOr<absl::Time> ParseUnixTime(absl::string_view text, absl::Duration unit) {
  int64_t n = 0;
  if (!absl::SimpleAtoi(text, &n)) {
    return absl::InvalidArgumentError(absl::StrCat("not an integer: \"", text, "\""));
  }
  return absl::UnixEpoch() + unit * n;
}

absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view text) {
  absl::Time t;
  std::string err;
  // %Ez accepts "Z" and "+hh:mm"; %E*S takes any fractional seconds.
  if (!absl::ParseTime("%Y-%m-%d%ET%H:%M:%E*S%Ez", std::string(text), &t, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an RFC 3339 time (2006-01-02T15:04:05.999Z): \"", text, "\""));
  }
  return t;
}

absl::StatusOr<absl::Time> ParseApiTime(absl::string_view text) {
  if (text.find('T') != absl::string_view::npos || text.find('t') != absl::string_view::npos) {
    return ParseRfc3339(text);
  }
  // Seconds and a decimal fraction, read exactly (a double would lose nanoseconds).
  const auto invalid = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("not an RFC 3339 time or Unix seconds: \"", text, "\""));
  };
  absl::string_view s = text;
  const bool negative = absl::ConsumePrefix(&s, "-");
  const size_t dot = s.find('.');
  const absl::string_view whole = s.substr(0, dot);
  const absl::string_view frac = dot == absl::string_view::npos ? "" : s.substr(dot + 1);
  int64_t seconds = 0;
  if (whole.empty() || whole.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(whole, &seconds) ||
      frac.find_first_not_of("0123456789") != absl::string_view::npos ||
      (dot != absl::string_view::npos && frac.empty())) {
    return invalid();
  }
  int64_t nanos = 0;
  for (size_t i = 0; i < 9; ++i) nanos = nanos * 10 + (i < frac.size() ? frac[i] - '0' : 0);
  const absl::Duration d = absl::Seconds(seconds) + absl::Nanoseconds(nanos);
  return absl::UnixEpoch() + (negative ? -d : d);
}

absl::StatusOr<absl::Duration> ParseStep(absl::string_view text) {
  absl::Duration step;
  double seconds = 0;
  if (!text.empty() && text.find_first_not_of("0123456789.") == absl::string_view::npos &&
      absl::SimpleAtod(text, &seconds)) {
    step = absl::Seconds(seconds);
  } else {
    absl::StatusOr<absl::Duration> d = ParseGoDuration(text);
    if (!d.ok()) return d.status();
    step = *d;
  }
  if (step <= absl::ZeroDuration()) return absl::InvalidArgumentError("step must be positive");
  return step;
}

absl::StatusOr<int64_t> ParseNonNegativeInt(absl::string_view text) {
  int64_t n = 0;
  if (!absl::SimpleAtoi(text, &n) || n < 0) {
    return absl::InvalidArgumentError(absl::StrCat("not a non-negative integer: \"", text, "\""));
  }
  return n;
}

absl::Status ParseTagParam(absl::string_view text, std::map<std::string, std::string>* tags) {
  const size_t colon = text.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed 'tag' parameter, expecting key:value, received: ", text));
  }
  (*tags)[std::string(text.substr(0, colon))] = std::string(text.substr(colon + 1));
  return absl::OkStatus();
}

absl::Status ParseTagsJson(absl::string_view text, std::map<std::string, std::string>* tags) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const simdjson::padded_string padded(text.data(), text.size());
  if (auto error = parser.parse(padded).get(doc); error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed 'tags' parameter, cannot unmarshal JSON: ", simdjson::error_message(error)));
  }
  simdjson::dom::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        "malformed 'tags' parameter, cannot unmarshal JSON: expecting an object of strings");
  }
  for (auto field : object) {
    std::string value;
    std::string_view sv;
    switch (field.value.type()) {
      case simdjson::dom::element_type::STRING:
        if (field.value.get_string().get(sv) == simdjson::SUCCESS) value = std::string(sv);
        break;
      case simdjson::dom::element_type::INT64:
      case simdjson::dom::element_type::UINT64:
      case simdjson::dom::element_type::DOUBLE:
      case simdjson::dom::element_type::BOOL:
        value = simdjson::minify(field.value);
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("malformed 'tags' parameter, cannot unmarshal JSON: the value of \"",
                         std::string(field.key), "\" is not a string"));
    }
    (*tags)[std::string(field.key)] = std::move(value);
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ParseSeverity(absl::string_view text) {
  int n = 0;
  if (absl::SimpleAtoi(text, &n)) {
    if (n < 0 || n > 24) {
      return absl::InvalidArgumentError(
          absl::StrCat("severity number must be within 0..24: ", text));
    }
    return n;
  }
  std::string name = absl::AsciiStrToUpper(text);
  int offset = 0;
  if (!name.empty() && name.back() >= '2' && name.back() <= '4') {
    offset = name.back() - '1';
    name.pop_back();
  }
  static const std::pair<const char*, int> kNames[] = {{"TRACE", 1}, {"DEBUG", 5},    {"INFO", 9},
                                                       {"WARN", 13}, {"WARNING", 13}, {"ERROR", 17},
                                                       {"FATAL", 21}};
  for (const auto& [candidate, base] : kNames) {
    if (name == candidate) return base + offset;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown severity \"", text,
                   "\" (a number 1..24 or TRACE, DEBUG, INFO, WARN, ERROR, FATAL)"));
}

absl::StatusOr<std::string> ParseSpanKind(absl::string_view text) {
  std::string kind = absl::AsciiStrToLower(text);
  if (absl::StartsWith(kind, "span_kind_")) kind = kind.substr(10);
  if (kind.empty() || kind == "unspecified") return std::string();
  if (kind == "server" || kind == "client" || kind == "producer" || kind == "consumer" ||
      kind == "internal") {
    return kind;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown span kind \"", text, "\" (server, client, producer, consumer or internal)"));
}

std::vector<std::string> SplitWords(absl::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || u >= 0x80) {
      word.push_back(absl::ascii_tolower(u));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

std::string PercentDecode(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace otlpd::query
