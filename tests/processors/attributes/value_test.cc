// The value conversions the actions and matchers rely on, against what Go's strconv,
// encoding/json and pcommon produce (the expected strings are Go's outputs).
#include "processors/attraction/value.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "processors/attraction/scratch.h"
#include "processors/attributes/attributes_test_util.h"

namespace otlpd::attrtest {
namespace {

using attraction::AsString;
using attraction::DecodeValue;
using attraction::FormatFloatFixed;
using attraction::FormatFloatJson;
using attraction::ParseGoFloat;
using attraction::ParseGoInt;
using attraction::Scratch;
using attraction::ValueEquals;

TEST(GoParseTest, ParseFloat) {
  struct Case {
    const char* text;
    bool ok;
    double value;
  };
  const Case cases[] =
      {
          {"1", true, 1},         {"-1.5e-3", true, -1.5e-3},
          {".5", true, 0.5},      {"5.", true, 5},
          {"+2", true, 2},        {"1E2", true, 100},
          {"0x1p4", true, 16},    {"0x1.8p1", true, 3},
          {"0X_1P-1", true, 0.5}, {"1_000.5", true, 1000.5},
          {"1e-400", true, 0},  // underflow rounds to 0 without an error
          {"0x1", false, 0},    // a hexadecimal mantissa needs a 'p' exponent
          {"1e", false, 0},       {"e1", false, 0},
          {".", false, 0},        {"1__0", false, 0},
          {"_1", false, 0},       {"1_", false, 0},
          {"1e309", false, 0},  // overflow is an error
          {"", false, 0},         {" 1", false, 0},
          {"1 ", false, 0},       {"1.2.3", false, 0},
          {"+nan", false, 0},     {"infinit", false, 0},
      };
  for (const Case& c : cases) {
    double v = -12345;
    EXPECT_EQ(ParseGoFloat(c.text, &v), c.ok) << c.text;
    if (c.ok) {
      EXPECT_EQ(v, c.value) << c.text;
    }
  }
  double v;
  ASSERT_TRUE(ParseGoFloat("+Infinity", &v));
  EXPECT_EQ(v, std::numeric_limits<double>::infinity());
  ASSERT_TRUE(ParseGoFloat("-inf", &v));
  EXPECT_EQ(v, -std::numeric_limits<double>::infinity());
  ASSERT_TRUE(ParseGoFloat("NaN", &v));
  EXPECT_TRUE(std::isnan(v));
}

TEST(GoParseTest, ParseInt) {
  int64_t v = 0;
  EXPECT_TRUE(ParseGoInt("0", &v));
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(ParseGoInt("-0", &v));
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(ParseGoInt("007", &v));
  EXPECT_EQ(v, 7);
  EXPECT_TRUE(ParseGoInt("9223372036854775807", &v));
  EXPECT_EQ(v, std::numeric_limits<int64_t>::max());
  EXPECT_TRUE(ParseGoInt("-9223372036854775808", &v));
  EXPECT_EQ(v, std::numeric_limits<int64_t>::min());
  for (const char* bad : {"9223372036854775808", "-9223372036854775809", "1_0", "0x10", "", "+",
                          "-", "1.0", "1e3", " 1"}) {
    EXPECT_FALSE(ParseGoInt(bad, &v)) << bad;
  }
}

TEST(GoFormatTest, FloatsAsGoWritesThem) {
  auto json = [](double d) {
    std::string out;
    return FormatFloatJson(d, &out) ? out : std::string("<error>");
  };
  EXPECT_EQ(json(0), "0");
  EXPECT_EQ(json(-0.0), "-0");
  EXPECT_EQ(json(0.1), "0.1");
  EXPECT_EQ(json(123456789.125), "123456789.125");
  EXPECT_EQ(json(1e20), "100000000000000000000");
  EXPECT_EQ(json(1e21), "1e+21");
  EXPECT_EQ(json(1.5e-7), "1.5e-7");
  EXPECT_EQ(json(1e-10), "1e-10");
  EXPECT_EQ(json(5e-324), "5e-324");
  EXPECT_EQ(json(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(json(std::nan("")), "<error>");
  EXPECT_EQ(FormatFloatFixed(1e21), "1000000000000000000000");
  EXPECT_EQ(FormatFloatFixed(1.5e-7), "0.00000015");
  EXPECT_EQ(FormatFloatFixed(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatFloatFixed(std::nan("")), "NaN");
  EXPECT_EQ(attraction::GoFloatToInt(-9.99), -9);
  EXPECT_EQ(attraction::GoFloatToInt(9.3e18), std::numeric_limits<int64_t>::min());
}

std::string AsStringOf(const AnyValue& v) {
  Scratch scratch;
  const std::string bytes = v.SerializeAsString();
  return AsString(DecodeValue(bytes, &scratch), &scratch);
}

TEST(AsStringTest, MapsAndSlicesAsGoJson) {
  AnyValue v;
  auto* map = v.mutable_kvlist_value();
  *map->add_values() = Str("b", "<&>\"\\\n\t\x01");
  KeyValue* list = map->add_values();
  list->set_key("a");
  auto* array = list->mutable_value()->mutable_array_value();
  array->add_values()->set_int_value(1);
  array->add_values()->set_double_value(2.5);
  array->add_values()->set_bool_value(true);
  array->add_values();  // empty: null
  *map->add_values() = Bytes("c", "\x01\x02");
  *map->add_values() = Str("u", "\xe2\x80\xa8 \xff \xc3\xa9");  // U+2028, a bad byte, é
  *map->add_values() = Str("dup", "first");
  *map->add_values() = Str("dup", "last");
  EXPECT_EQ(AsStringOf(v),
            "{\"a\":[1,2.5,true,null],\"b\":\"\\u003c\\u0026\\u003e\\\"\\\\\\n\\t\\u0001\","
            "\"c\":\"AQI=\",\"dup\":\"last\",\"u\":\"\\u2028 \\ufffd \xc3\xa9\"}");

  AnyValue nan;
  nan.mutable_array_value()->add_values()->set_double_value(std::nan(""));
  EXPECT_EQ(AsStringOf(nan), "");  // encoding/json refuses NaN: pcommon gives ""
  AnyValue empty_map;
  empty_map.mutable_kvlist_value();
  EXPECT_EQ(AsStringOf(empty_map), "{}");
}

TEST(ValueEqualsTest, MapsByContentSlicesByOrder) {
  Scratch scratch;
  auto value = [&](const AnyValue& v) {
    return DecodeValue(scratch.Copy(v.SerializeAsString()), &scratch);
  };
  AnyValue m1, m2, m3;
  *m1.mutable_kvlist_value()->add_values() = Int("a", 1);
  *m1.mutable_kvlist_value()->add_values() = Str("b", "x");
  *m2.mutable_kvlist_value()->add_values() = Str("b", "x");
  *m2.mutable_kvlist_value()->add_values() = Int("a", 1);
  *m3.mutable_kvlist_value()->add_values() = Int("a", 2);
  *m3.mutable_kvlist_value()->add_values() = Str("b", "x");
  EXPECT_TRUE(ValueEquals(value(m1), value(m2), &scratch));
  EXPECT_FALSE(ValueEquals(value(m1), value(m3), &scratch));
  AnyValue s1, s2;
  s1.mutable_array_value()->add_values()->set_int_value(1);
  s1.mutable_array_value()->add_values()->set_int_value(2);
  s2.mutable_array_value()->add_values()->set_int_value(2);
  s2.mutable_array_value()->add_values()->set_int_value(1);
  EXPECT_TRUE(ValueEquals(value(s1), value(s1), &scratch));
  EXPECT_FALSE(ValueEquals(value(s1), value(s2), &scratch));
  AnyValue i, d;
  i.set_int_value(1);
  d.set_double_value(1);
  EXPECT_FALSE(ValueEquals(value(i), value(d), &scratch));  // typed
}

TEST(ScratchTest, PointersStayValidAcrossBlocks) {
  Scratch scratch;
  std::vector<std::string_view> views;
  for (int round = 0; round < 3; ++round) {
    views.clear();
    for (int i = 0; i < 5000; ++i) {
      views.push_back(scratch.Copy(std::string(static_cast<size_t>(1 + i % 300), 'a' + i % 26)));
    }
    views.push_back(scratch.Copy(std::string(200000, 'z')));  // bigger than a block
    for (int i = 0; i < 5000; ++i) {
      ASSERT_EQ(views[i], std::string(static_cast<size_t>(1 + i % 300), 'a' + i % 26));
    }
    ASSERT_EQ(views.back(), std::string(200000, 'z'));
    scratch.Reset();
  }
}

}  // namespace
}  // namespace otlpd::attrtest
