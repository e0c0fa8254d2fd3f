// Parsers of the query-string values (Jaeger's formats and ours).

#include "extensions/query/query_params.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace otlpd::query {
namespace {

TEST(ParseGoDurationTest, AcceptsGoSyntax) {
  EXPECT_EQ(*ParseGoDuration("1.2ms"), absl::Microseconds(1200));
  EXPECT_EQ(*ParseGoDuration("100us"), absl::Microseconds(100));
  EXPECT_EQ(*ParseGoDuration("100\xc2\xb5s"), absl::Microseconds(100));  // µs
  EXPECT_EQ(*ParseGoDuration("100\xce\xbcs"), absl::Microseconds(100));  // μs
  EXPECT_EQ(*ParseGoDuration("2s"), absl::Seconds(2));
  EXPECT_EQ(*ParseGoDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseGoDuration("1.5h"), absl::Minutes(90));
  EXPECT_EQ(*ParseGoDuration("10ns"), absl::Nanoseconds(10));
  EXPECT_EQ(*ParseGoDuration("0"), absl::ZeroDuration());
  EXPECT_EQ(*ParseGoDuration(".5s"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseGoDuration("+3s"), absl::Seconds(3));
}

TEST(ParseGoDurationTest, RejectsOthers) {
  for (const char* bad : {"", "5", "1x", "ms", "1.2.3s", "-1s", "1d", "s5", "inf", "1 s"}) {
    EXPECT_FALSE(ParseGoDuration(bad).ok()) << bad;
  }
  EXPECT_EQ(ParseGoDuration("1x").status().message(),
            "time: unknown unit \"x\" in duration \"1x\"");
}

TEST(ParseTraceIdHexTest, LeftPadsUpTo32Digits) {
  storage::TraceId want{};
  want[15] = 0x0a;
  EXPECT_EQ(*ParseTraceIdHex("a"), want);
  want[14] = 0x01;
  want[15] = 0xab;
  EXPECT_EQ(*ParseTraceIdHex("1AB"), want);
  storage::TraceId full;
  for (int i = 0; i < 16; ++i) full[i] = static_cast<uint8_t>(0x11 * (i % 16));
  EXPECT_EQ(*ParseTraceIdHex("00112233445566778899aabbccddeeff"), full);
  EXPECT_FALSE(ParseTraceIdHex("").ok());
  EXPECT_FALSE(ParseTraceIdHex("xyz").ok());
  EXPECT_FALSE(ParseTraceIdHex(std::string(33, 'a')).ok());
}

TEST(ParseTimeTest, UnixUnitsRfc3339AndSeconds) {
  EXPECT_EQ(*ParseUnixTime("1700000000000000", absl::Microseconds(1)),
            absl::FromUnixSeconds(1700000000));
  EXPECT_FALSE(ParseUnixTime("17e5", absl::Microseconds(1)).ok());
  EXPECT_EQ(*ParseRfc3339("2023-11-14T22:13:20Z"), absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(*ParseRfc3339("2023-11-14T23:13:20.5+01:00"),
            absl::FromUnixSeconds(1700000000) + absl::Milliseconds(500));
  EXPECT_FALSE(ParseRfc3339("2023-11-14").ok());
  EXPECT_FALSE(ParseRfc3339("yesterday").ok());
  EXPECT_EQ(*ParseApiTime("1700000000.25"),
            absl::FromUnixSeconds(1700000000) + absl::Milliseconds(250));
  EXPECT_EQ(*ParseApiTime("2023-11-14T22:13:20Z"), absl::FromUnixSeconds(1700000000));
  EXPECT_FALSE(ParseApiTime("soon").ok());
  EXPECT_EQ(*ParseStep("30s"), absl::Seconds(30));
  EXPECT_EQ(*ParseStep("15"), absl::Seconds(15));
  EXPECT_EQ(*ParseStep("0.5"), absl::Milliseconds(500));
  EXPECT_FALSE(ParseStep("0").ok());
  EXPECT_FALSE(ParseStep("fast").ok());
}

TEST(ParseTagsTest, TagAndTagsJson) {
  std::map<std::string, std::string> tags;
  ASSERT_TRUE(ParseTagParam("http.url:http://x:80/a", &tags).ok());
  EXPECT_EQ(tags["http.url"], "http://x:80/a");
  EXPECT_FALSE(ParseTagParam("novalue", &tags).ok());
  ASSERT_TRUE(ParseTagsJson(R"({"error":"true","http.status_code":200,"ok":false})", &tags).ok());
  EXPECT_EQ(tags["error"], "true");
  EXPECT_EQ(tags["http.status_code"], "200");
  EXPECT_EQ(tags["ok"], "false");
  EXPECT_FALSE(ParseTagsJson("{bad", &tags).ok());
  EXPECT_FALSE(ParseTagsJson("[1]", &tags).ok());
  EXPECT_FALSE(ParseTagsJson(R"({"a":{"b":1}})", &tags).ok());
}

TEST(ParseSeverityTest, NumbersAndNames) {
  EXPECT_EQ(*ParseSeverity("13"), 13);
  EXPECT_EQ(*ParseSeverity("WARN"), 13);
  EXPECT_EQ(*ParseSeverity("warning"), 13);
  EXPECT_EQ(*ParseSeverity("error"), 17);
  EXPECT_EQ(*ParseSeverity("INFO3"), 11);
  EXPECT_EQ(*ParseSeverity("fatal4"), 24);
  EXPECT_FALSE(ParseSeverity("25").ok());
  EXPECT_FALSE(ParseSeverity("LOUD").ok());
}

TEST(ParseSpanKindTest, JaegerAndOtlpNames) {
  EXPECT_EQ(*ParseSpanKind(""), "");
  EXPECT_EQ(*ParseSpanKind("server"), "server");
  EXPECT_EQ(*ParseSpanKind("SPAN_KIND_CLIENT"), "client");
  EXPECT_EQ(*ParseSpanKind("Producer"), "producer");
  EXPECT_FALSE(ParseSpanKind("sideways").ok());
}

TEST(WordsTest, SplitsAtNonAlphanumerics) {
  EXPECT_EQ(SplitWords("Payment FAILED: card-declined (code=51) für"),
            (std::vector<std::string>{"payment", "failed", "card", "declined", "code", "51",
                                      "f\xc3\xbcr"}));
  EXPECT_TRUE(SplitWords("  ,; ").empty());
  EXPECT_EQ(PercentDecode("my%20service%2Fv2%zz+"), "my service/v2%zz+");
}

}  // namespace
}  // namespace otlpd::query
