// The W3C tracestate and its `ot` entry: syntax and size rules, re-serialization, and one
// item's downstream decision (randomness source, consistency check, th update).
#include "processors/consistent_sampling/tracestate.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace otlpd::consistent_sampling {
namespace {

std::string TraceIdWithRandomness(uint64_t randomness) {
  std::string id(16, '\x5a');
  for (int i = 15; i >= 9; --i) {
    id[static_cast<size_t>(i)] = static_cast<char>(randomness & 0xff);
    randomness >>= 8;
  }
  return id;
}

std::string Reserialize(std::string_view text) {
  absl::StatusOr<TraceState> ts = ParseTraceState(text);
  EXPECT_TRUE(ts.ok()) << text << ": " << ts.status();
  std::string out;
  if (ts.ok()) {
    EXPECT_TRUE(AppendTraceState(*ts, &out).ok());
  }
  return out;
}

TEST(TraceStateTest, ParsesOtAndKeepsEverythingElse) {
  absl::StatusOr<TraceState> ts =
      ParseTraceState(" congo=t61rcWkgMzE ,ot=th:c;rv:9b8233f7e3a151;foo:Bar.1 , ,a@b=x y");
  ASSERT_TRUE(ts.ok()) << ts.status();
  EXPECT_TRUE(ts->has_ot);
  EXPECT_EQ(ts->ot.threshold, uint64_t{0xc0000000000000});
  EXPECT_EQ(ts->ot.randomness, uint64_t{0x9b8233f7e3a151});
  ASSERT_EQ(ts->ot.extra.size(), 1u);
  EXPECT_EQ(ts->ot.extra[0].first, "foo");
  EXPECT_EQ(ts->ot.extra[0].second, "Bar.1");
  ASSERT_EQ(ts->others.size(), 2u);
  EXPECT_EQ(ts->others[0], "congo=t61rcWkgMzE");
  EXPECT_EQ(ts->others[1], "a@b=x y");
  // Re-serialized: ot first, th then rv then the other sub-keys, other vendors in order.
  EXPECT_EQ(Reserialize(" congo=t61rcWkgMzE ,ot=th:c;rv:9b8233f7e3a151;foo:Bar.1 , ,a@b=x y"),
            "ot=th:c;rv:9b8233f7e3a151;foo:Bar.1,congo=t61rcWkgMzE,a@b=x y");
  EXPECT_EQ(Reserialize(""), "");
  EXPECT_EQ(Reserialize("  "), "");
  EXPECT_EQ(Reserialize("rojo=00f067aa0ba902b7"), "rojo=00f067aa0ba902b7");
}

TEST(TraceStateTest, RefusesWhatBreaksTheW3CSyntax) {
  for (const char* bad : {
           "novalue",       // no '='
           "Upper=1",       // key must be lower case
           "1abc=1",        // a simple key starts with a letter
           "k=",            // empty value
           "k=a=b",         // '=' in a value
           "k= ,x=1",       // a value of only blanks (trailing blanks are list whitespace)
           "k=1,k=2",       // duplicate key
           "@sys=1",        // empty tenant
           "tenant@=1",     // empty system
           "tenant@Sys=1",  // system starts lower case
           "tenant@abcdefghijklmno=1",  // system over 14 characters
           "k=\x7f",                    // not printable
       }) {
    EXPECT_FALSE(ParseTraceState(bad).ok()) << bad;
  }
  const std::string key257 = absl::StrCat("k", std::string(256, 'a'));
  EXPECT_FALSE(ParseTraceState(absl::StrCat(key257, "=1")).ok());
  EXPECT_TRUE(ParseTraceState(absl::StrCat(key257.substr(0, 256), "=1")).ok());
  EXPECT_FALSE(ParseTraceState(absl::StrCat("k=", std::string(257, 'v'))).ok());
  EXPECT_TRUE(ParseTraceState(absl::StrCat("k=", std::string(256, 'v'))).ok());
  std::string members;
  for (int i = 0; i < 33; ++i) absl::StrAppend(&members, i ? "," : "", "k", i, "=v");
  EXPECT_FALSE(ParseTraceState(members).ok());
  EXPECT_TRUE(ParseTraceState(members.substr(0, members.rfind(','))).ok());
  EXPECT_TRUE(ParseTraceState("0tenant@sys-1=v,a_*/-b=c").ok());
  EXPECT_EQ(Reserialize("k=inner blank \t,x=1"), "k=inner blank,x=1");
}

TEST(TraceStateTest, RefusesWhatBreaksTheOtSyntax) {
  for (const char* bad : {
           "ot=th",                  // no ':'
           "ot=th:",                 // empty th
           "ot=th:fffffffffffffff",  // 15 digits
           "ot=th:xyz",              // not hex
           "ot=rv:9b8233f7e3a15",    // 13 digits
           "ot=rv:",                 // empty rv
           "ot=th:8;th:c",           // duplicate sub-key
           "ot=Th:8",                // sub-key upper case
           "ot=1k:8",                // sub-key starts with a letter
           "ot=k:a b",               // ' ' not an ot value character
           "ot=th:8;",               // empty member
       }) {
    EXPECT_FALSE(ParseTraceState(bad).ok()) << bad;
  }
  const std::string long_value = absl::StrCat("k:", std::string(255, 'v'));  // 257 characters
  EXPECT_FALSE(ParseTraceState(absl::StrCat("ot=", long_value)).ok());
  EXPECT_TRUE(ParseTraceState(absl::StrCat("ot=", long_value.substr(0, 256))).ok());
}

TEST(TraceStateTest, DropsMembersFromTheRightToFitTheW3CLimits) {
  TraceState ts;
  std::string text;
  for (int i = 0; i < 32; ++i) absl::StrAppend(&text, i ? "," : "", "k", i, "=v");
  ts = *ParseTraceState(text);
  ts.ot.threshold = 0;
  std::string out;
  ASSERT_TRUE(AppendTraceState(ts, &out).ok());
  // 33 members would be too many: the rightmost other one goes.
  EXPECT_EQ(out.substr(0, 11), "ot=th:0,k0=");
  EXPECT_EQ(out.find("k31="), std::string::npos);
  EXPECT_NE(out.find(",k30=v"), std::string::npos);

  // Over 512 characters: members over 128 characters go first, from the right.
  const std::string big(200, 'b');
  text = absl::StrCat("a=", big, ",b=", big, ",c=", std::string(100, 'c'),
                      ",d=", std::string(100, 'd'));
  ts = *ParseTraceState(text);
  ts.ot.threshold = *ParseThreshold("8");
  out.clear();
  ASSERT_TRUE(AppendTraceState(ts, &out).ok());
  EXPECT_EQ(out, absl::StrCat("ot=th:8,a=", big, ",c=", std::string(100, 'c'),
                              ",d=", std::string(100, 'd')));
  EXPECT_LE(out.size(), kMaxTraceStateLength);
}

TEST(TraceStateTest, WithThresholdSetsAndErases) {
  EXPECT_EQ(*WithThreshold("x=1,ot=rv:9b8233f7e3a151", *ParseThreshold("c")),
            "ot=th:c;rv:9b8233f7e3a151,x=1");
  EXPECT_EQ(*WithThreshold("ot=th:c;p:8,x=1", std::nullopt), "ot=p:8,x=1");
  EXPECT_EQ(*WithThreshold("ot=th:c,x=1", std::nullopt), "x=1");
  EXPECT_EQ(*WithThreshold("", 0), "ot=th:0");
  EXPECT_FALSE(WithThreshold("bad", 0).ok());
  EXPECT_FALSE(WithThreshold("", kNeverSampleThreshold).ok());
}

TEST(DecideTest, ContribReadmeExample) {
  // "ot=th:0;rv:9b8233f7e3a151" through a 50 % sampler becomes "ot=th:8;rv:9b8233f7e3a151".
  std::string out;
  const std::string trace_id = TraceIdWithRandomness(0);  // rv takes precedence
  for (const Stage& stage : {Stage::Equalizing(0.5), Stage::Proportional(0.5)}) {
    Decision d = Decide(stage, trace_id, "ot=th:0;rv:9b8233f7e3a151", &out);
    EXPECT_TRUE(d.keep);
    EXPECT_EQ(d.error, DecisionError::kNone);
    EXPECT_TRUE(d.tracestate_changed);
    EXPECT_EQ(d.randomness, uint64_t{0x9b8233f7e3a151});
    EXPECT_EQ(out, "ot=th:8;rv:9b8233f7e3a151");
  }
}

TEST(DecideTest, UsesTheTraceIdAndWritesTh) {
  std::string out;
  const uint64_t quarter = *ParseThreshold("c");
  Decision d = Decide(Stage::Proportional(0.25), TraceIdWithRandomness(quarter), "", &out);
  EXPECT_TRUE(d.keep);
  EXPECT_EQ(d.threshold, quarter);
  EXPECT_EQ(out, "ot=th:c");
  d = Decide(Stage::Proportional(0.25), TraceIdWithRandomness(quarter - 1), "", &out);
  EXPECT_FALSE(d.keep);
  EXPECT_EQ(d.error, DecisionError::kNone);
  // 100 % still records th:0.
  d = Decide(Stage::Proportional(1), TraceIdWithRandomness(0), "congo=x", &out);
  EXPECT_TRUE(d.keep);
  EXPECT_EQ(out, "ot=th:0,congo=x");
  // Already carrying the outgoing threshold: nothing to rewrite.
  d = Decide(Stage::Equalizing(0.25), TraceIdWithRandomness(~uint64_t{0} >> 8), "ot=th:e", &out);
  EXPECT_TRUE(d.keep);
  EXPECT_EQ(d.threshold, *ParseThreshold("e"));
  EXPECT_FALSE(d.tracestate_changed);
}

TEST(DecideTest, ErasesAnInconsistentArrivingThreshold) {
  std::string out;
  // th:c rejects randomness 0x10..., so the item should not have arrived with it.
  const std::string trace_id = TraceIdWithRandomness(0x10000000000000);
  Decision d = Decide(Stage::Proportional(1), trace_id, "ot=th:c;x:1", &out);
  EXPECT_EQ(d.error, DecisionError::kInconsistentThreshold);
  EXPECT_FALSE(d.arriving_threshold.has_value());
  EXPECT_TRUE(d.keep);  // decided as if it had no th: 100 %
  EXPECT_EQ(out, "ot=th:0;x:1");
  d = Decide(Stage::Proportional(0.5), trace_id, "ot=th:c", &out);
  EXPECT_EQ(d.error, DecisionError::kInconsistentThreshold);
  EXPECT_FALSE(d.keep);
}

TEST(DecideTest, ReportsWhatCannotBeDecided) {
  std::string out;
  EXPECT_EQ(Decide(Stage::Proportional(0.5), std::string(16, '\0'), "", &out).error,
            DecisionError::kMissingRandomness);
  // rv makes up for the invalid trace id.
  Decision d =
      Decide(Stage::Proportional(0.5), std::string(16, '\0'), "ot=rv:ffffffffffffff", &out);
  EXPECT_EQ(d.error, DecisionError::kNone);
  EXPECT_TRUE(d.keep);
  d = Decide(Stage::Proportional(1), TraceIdWithRandomness(1), "ot=th:zz", &out);
  EXPECT_EQ(d.error, DecisionError::kInvalidTraceState);
  EXPECT_FALSE(d.keep);
  // An ot value of 256 characters whose th grows by one digit would be 257.
  const std::string text = absl::StrCat("ot=th:8;k:", std::string(256 - 7, 'v'));
  ASSERT_TRUE(ParseTraceState(text).ok());
  d = Decide(Stage::Equalizing(0.25 - 1.0 / 4096), TraceIdWithRandomness(~uint64_t{0} >> 8), text,
             &out);
  EXPECT_EQ(d.error, DecisionError::kTraceStateTooLong);
  EXPECT_FALSE(d.keep);
}

}  // namespace
}  // namespace otlpd::consistent_sampling
