#include "app/log_format.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace otlpd {
namespace {

// 2026-11-30T15:11:31.123456Z
spdlog::log_clock::time_point TestTime() {
  return absl::ToChronoTime(
      absl::FromCivil(absl::CivilSecond(2026, 11, 30, 15, 11, 31), absl::UTCTimeZone()) +
      absl::Microseconds(123456));
}

std::string Format(std::string_view payload, spdlog::level::level_enum level = spdlog::level::info,
                   spdlog::log_clock::time_point time = TestTime()) {
  spdlog::details::log_msg msg(time, spdlog::source_loc{}, "otlpd", level,
                               spdlog::string_view_t(payload.data(), payload.size()));
  spdlog::memory_buf_t buf;
  JsonLogFormatter().format(msg, buf);
  return std::string(buf.data(), buf.size());
}

struct Parsed {
  std::string level, ts, msg;
};

// Parses `line` as one JSON object with exactly the keys level, ts and msg (strings).
::testing::AssertionResult ParseLine(const std::string& line, Parsed* out) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (auto error = parser.parse(simdjson::padded_string(line)).get(object)) {
    return ::testing::AssertionFailure() << simdjson::error_message(error) << ": " << line;
  }
  size_t keys = 0;
  for (auto [key, value] : object) {
    ++keys;
    std::string_view text;
    if (value.get(text)) return ::testing::AssertionFailure() << key << " is not a string";
    if (key == "level") {
      out->level = text;
    } else if (key == "ts") {
      out->ts = text;
    } else if (key == "msg") {
      out->msg = text;
    } else {
      return ::testing::AssertionFailure() << "unexpected key " << key << ": " << line;
    }
  }
  if (keys != 3) return ::testing::AssertionFailure() << keys << " keys: " << line;
  return ::testing::AssertionSuccess();
}

TEST(JsonLogFormatterTest, FormatsLikeZapsProductionEncoder) {
  EXPECT_EQ(Format("Everything is ready. Begin running and processing data."),
            "{\"level\":\"info\",\"ts\":\"2026-11-30T15:11:31.123Z\","
            "\"msg\":\"Everything is ready. Begin running and processing data.\"}\n");
  EXPECT_EQ(Format("", spdlog::level::info, absl::ToChronoTime(absl::UnixEpoch())),
            "{\"level\":\"info\",\"ts\":\"1970-01-01T00:00:00.000Z\",\"msg\":\"\"}\n");
}

TEST(JsonLogFormatterTest, LevelsAreZapNames) {
  const std::vector<std::pair<spdlog::level::level_enum, std::string>> cases = {
      {spdlog::level::trace, "debug"}, {spdlog::level::debug, "debug"},
      {spdlog::level::info, "info"},   {spdlog::level::warn, "warn"},
      {spdlog::level::err, "error"},   {spdlog::level::critical, "fatal"}};
  for (const auto& [level, name] : cases) {
    Parsed p;
    ASSERT_TRUE(ParseLine(Format("x", level), &p));
    EXPECT_EQ(p.level, name);
    EXPECT_EQ(p.ts, "2026-11-30T15:11:31.123Z");
  }
}

TEST(JsonLogFormatterTest, EscapesLikeEveryOtlpdJsonString) {
  struct Case {
    std::string in;
    std::string escaped;  // between the quotes of "msg"
    std::string decoded;  // what a JSON parser reads back
  };
  const std::string fffd = "\xEF\xBF\xBD";
  const std::vector<Case> cases = {
      {"say \"hi\"", R"(say \"hi\")", "say \"hi\""},
      {"C:\\path\\", R"(C:\\path\\)", "C:\\path\\"},
      {"a\nb\rc\td", R"(a\nb\rc\td)", "a\nb\rc\td"},
      {std::string("nul\0x", 5), R"(nul\u0000x)", std::string("nul\0x", 5)},
      {"\x01\x1f\x7f",
       R"(\u0001\u001f)"
       "\x7f",
       "\x01\x1f\x7f"},
      {"</script>&", "</script>&", "</script>&"},  // no HTML escaping
      // Valid UTF-8 (2, 3 and 4 bytes) passes through.
      {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
       "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
      // Every byte that is not part of a valid sequence becomes U+FFFD (as zap, but written
      // as the character, not as an escape).
      {"bad\xFF", std::string("bad") + fffd, "bad" + fffd},
      {"\x80x", fffd + std::string("x"), fffd + "x"},                    // lone continuation
      {"trunc\xC3", std::string("trunc") + fffd, "trunc" + fffd},        // cut 2-byte
      {"\xE2\x82x", fffd + fffd + std::string("x"), fffd + fffd + "x"},  // cut 3-byte
      {"\xC0\xAF", fffd + fffd, fffd + fffd},                            // overlong '/'
      {"\xE0\x80\xAF", fffd + fffd + fffd, fffd + fffd + fffd},          // overlong
      {"\xED\xA0\x80", fffd + fffd + fffd, fffd + fffd + fffd},          // surrogate
      {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd, fffd + fffd + fffd + fffd},  // >10FFFF
      {"\xF5\x80", fffd + fffd, fffd + fffd},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.escaped);
    const std::string line = Format(c.in);
    EXPECT_EQ(line, "{\"level\":\"info\",\"ts\":\"2026-11-30T15:11:31.123Z\",\"msg\":\"" +
                        c.escaped + "\"}\n");
    Parsed p;
    ASSERT_TRUE(ParseLine(line, &p));
    EXPECT_EQ(p.msg, c.decoded);
  }
}

TEST(JsonLogFormatterTest, WorksAsTheFormatterOfALogger) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("otlpd", sink);
  logger.set_level(spdlog::level::debug);
  logger.set_formatter(JsonLogFormatter().clone());
  const absl::Time before = absl::Now();
  logger.info("exporter {}: dropping {} spans: {}", "otlp/\"up\"", 3, "line1\nline2");
  logger.debug("debug");
  logger.warn("bytes \xFF\xFE");
  logger.error("error");
  const absl::Time after = absl::Now();
  std::vector<std::string> lines = absl::StrSplit(out.str(), '\n');
  ASSERT_EQ(lines.size(), 5u) << out.str();
  EXPECT_EQ(lines.back(), "");
  lines.pop_back();
  std::vector<Parsed> parsed(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) ASSERT_TRUE(ParseLine(lines[i], &parsed[i]));
  EXPECT_EQ(parsed[0].level, "info");
  EXPECT_EQ(parsed[0].msg, "exporter otlp/\"up\": dropping 3 spans: line1\nline2");
  EXPECT_EQ(parsed[1].level, "debug");
  EXPECT_EQ(parsed[2].level, "warn");
  EXPECT_EQ(parsed[2].msg, "bytes \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(parsed[3].level, "error");
  // The timestamp is now, in UTC.
  absl::Time ts;
  std::string err;
  ASSERT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%E3SZ", parsed[0].ts, absl::UTCTimeZone(), &ts, &err))
      << parsed[0].ts << ": " << err;
  EXPECT_GE(ts, absl::Floor(before - absl::UnixEpoch(), absl::Milliseconds(1)) + absl::UnixEpoch());
  EXPECT_LE(ts, after);
}

}  // namespace
}  // namespace otlpd
