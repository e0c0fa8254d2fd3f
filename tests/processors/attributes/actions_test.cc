// The attribute actions (otelcol's attraction) on span attributes of every value type,
// through the attributes processor: the results otelcol gives, including the order of the
// attributes afterwards (pcommon.Map: new keys at the end, a removed key's place taken by
// the last attribute).
#include "processors/attraction/actions.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "processors/attraction/hash.h"
#include "processors/attributes/attributes_test_util.h"

namespace otlpd::attrtest {
namespace {

using opentelemetry::proto::trace::v1::Span;

TracesRequest OneSpan(const std::vector<KeyValue>& attrs) {
  TracesRequest request;
  auto* rs = request.add_resource_spans();
  *rs->mutable_resource()->add_attributes() = Str("service.name", "svc");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("lib");
  Span* span = ss->add_spans();
  span->set_trace_id(std::string(16, '\x01'));
  span->set_span_id(std::string(8, '\x02'));
  span->set_name("op");
  for (const KeyValue& kv : attrs) *span->add_attributes() = kv;
  span->add_events()->set_name("ev");
  return request;
}

struct Result {
  std::string attrs;
  bool same_object = false;  // passed on without a new encoding
};

// The span's attributes after the processor with `actions` (YAML list).
Result RunActions(const std::string& actions, const std::vector<KeyValue>& attrs,
                  std::shared_ptr<const Metadata> metadata = nullptr) {
  Harness h(Factory(), "actions:\n" + actions, Signal::kTraces);
  if (h.processor == nullptr) return {};
  TracesRequest request = OneSpan(attrs);
  auto in = std::const_pointer_cast<Telemetry>(FromRequest(Signal::kTraces, request));
  in->set_metadata(std::move(metadata));
  TelemetryPtr out = h.Run(in);
  if (out == nullptr) return {};
  ExpectValidWire(*out);
  Result r;
  r.same_object = out.get() == in.get();
  const auto& span = out->traces().resource_spans(0).scope_spans(0).spans(0);
  r.attrs = Describe(span.attributes());
  // Everything but the attributes is as it was.
  Span expected = request.resource_spans(0).scope_spans(0).spans(0);
  Span actual = span;
  expected.clear_attributes();
  actual.clear_attributes();
  EXPECT_EQ(expected.SerializeAsString(), actual.SerializeAsString());
  EXPECT_EQ(out->metadata(), in->metadata());
  return r;
}

std::vector<KeyValue> EveryType() {
  return {Str("s", "abc"),        Int("i", -7),  Dbl("d", 1.5),   Bool("b", true),
          Bytes("y", "\x01\xff"), MapValue("m"), SliceValue("l"), Empty("e")};
}
constexpr char kEveryType[] =
    "s=Str:abc i=Int:-7 d=Double:1.5 b=Bool:true y=Bytes:01ff m=Map{b=Str:x a=Int:2} "
    "l=Slice[Str:x Int:2] e=Empty";

TEST(InsertTest, ValuesOfEveryConfigType) {
  Result r = RunActions(R"(
  - {key: str, value: hello, action: insert}
  - {key: quoted, value: "123", action: insert}
  - {key: int, value: 123, action: insert}
  - {key: hex, value: 0x1F, action: insert}
  - {key: negative, value: -5, action: insert}
  - {key: double, value: 1.5, action: insert}
  - {key: exp, value: 1e3, action: insert}
  - {key: bool, value: true, action: insert}
  - {key: list, value: [1, "a", false], action: insert}
  - {key: map, value: {k: v, n: 2}, action: insert}
)",
                        {Str("old", "o")});
  EXPECT_EQ(r.attrs,
            "old=Str:o str=Str:hello quoted=Str:123 int=Int:123 hex=Int:31 negative=Int:-5 "
            "double=Double:1.5 exp=Double:1000 bool=Bool:true list=Slice[Int:1 Str:a Bool:false] "
            "map=Map{k=Str:v n=Int:2}");
  EXPECT_FALSE(r.same_object);
}

TEST(InsertTest, ExistingKeysOfEveryTypeAreKept) {
  std::string actions;
  for (const char* key : {"s", "i", "d", "b", "y", "m", "l", "e"}) {
    absl::StrAppend(&actions, "  - {key: ", key, ", value: new, action: insert}\n");
  }
  Result r = RunActions(actions, EveryType());
  EXPECT_EQ(r.attrs, kEveryType);
  EXPECT_TRUE(r.same_object) << "nothing changed: the request must be passed on as it came";
}

TEST(InsertTest, FromAttributeCopiesEveryType) {
  std::string actions;
  for (const char* key : {"s", "i", "d", "b", "y", "m", "l", "e"}) {
    absl::StrAppend(&actions, "  - {key: copy_", key, ", from_attribute: ", key,
                    ", action: insert}\n");
  }
  actions += "  - {key: copy_missing, from_attribute: missing, action: insert}\n";
  Result r = RunActions(actions, EveryType());
  EXPECT_EQ(r.attrs, std::string(kEveryType) +
                         " copy_s=Str:abc copy_i=Int:-7 copy_d=Double:1.5 copy_b=Bool:true "
                         "copy_y=Bytes:01ff copy_m=Map{b=Str:x a=Int:2} copy_l=Slice[Str:x Int:2] "
                         "copy_e=Empty");
}

TEST(InsertTest, FromContextReadsClientMetadata) {
  auto metadata = std::make_shared<Metadata>(
      Metadata{{"x-tenant", "acme"}, {"x-multi", "a"}, {"other", "o"}, {"x-multi", "b"}});
  Result r = RunActions(R"(
  - {key: tenant, from_context: metadata.x-tenant, action: insert}
  - {key: tenant_upper, from_context: metadata.X-Tenant, action: insert}
  - {key: bare, from_context: x-tenant, action: insert}
  - {key: multi, from_context: metadata.x-multi, action: insert}
  - {key: missing, from_context: metadata.nope, action: insert}
  - {key: auth, from_context: auth.subject, action: insert}
  - {key: address, from_context: client.address, action: upsert}
)",
                        {Str("a", "1")}, metadata);
  EXPECT_EQ(r.attrs, "a=Str:1 tenant=Str:acme tenant_upper=Str:acme bare=Str:acme multi=Str:a;b");
}

TEST(InsertTest, FromContextWithoutMetadataDoesNothing) {
  Result r = RunActions("  - {key: tenant, from_context: metadata.x-tenant, action: insert}\n",
                        {Str("a", "1")});
  EXPECT_EQ(r.attrs, "a=Str:1");
  EXPECT_TRUE(r.same_object);
}

TEST(UpdateTest, ReplacesEveryTypeInPlaceAndNeverInserts) {
  std::string actions;
  for (const char* key : {"s", "i", "d", "b", "y", "m", "l", "e", "absent"}) {
    absl::StrAppend(&actions, "  - {key: ", key, ", value: 9, action: update}\n");
  }
  Result r = RunActions(actions, EveryType());
  EXPECT_EQ(r.attrs, "s=Int:9 i=Int:9 d=Int:9 b=Int:9 y=Int:9 m=Int:9 l=Int:9 e=Int:9");
}

TEST(UpdateTest, FromAttributeAndDuplicates) {
  // pcommon's Get finds the first of duplicate keys: only it is updated.
  Result r = RunActions("  - {key: dup, from_attribute: src, action: update}\n",
                        {Str("dup", "1"), Dbl("src", 2.5), Str("dup", "3")});
  EXPECT_EQ(r.attrs, "dup=Double:2.5 src=Double:2.5 dup=Str:3");
  Result missing =
      RunActions("  - {key: dup, from_attribute: nope, action: update}\n", {Str("dup", "1")});
  EXPECT_EQ(missing.attrs, "dup=Str:1");
  EXPECT_TRUE(missing.same_object);
}

TEST(UpsertTest, UpdatesInPlaceOrAppends) {
  Result r = RunActions(R"(
  - {key: b, value: [x], action: upsert}
  - {key: z, value: false, action: upsert}
  - {key: y, from_attribute: a, action: upsert}
)",
                        {Str("a", "1"), Int("b", 2), Str("c", "3")});
  EXPECT_EQ(r.attrs, "a=Str:1 b=Slice[Str:x] c=Str:3 z=Bool:false y=Str:1");
}

TEST(UpsertTest, SameValueIsNoChange) {
  Result r = RunActions("  - {key: env, value: prod, action: upsert}\n",
                        {Str("env", "prod"), Int("n", 1)});
  EXPECT_EQ(r.attrs, "env=Str:prod n=Int:1");
  EXPECT_TRUE(r.same_object);
}

TEST(DeleteTest, KeyOfEveryType) {
  // Each removal moves the last attribute into the removed one's place (pcommon.Map.Remove).
  Result r = RunActions(R"(
  - {key: s, action: delete}
  - {key: d, action: delete}
  - {key: absent, action: delete}
)",
                        EveryType());
  EXPECT_EQ(
      r.attrs,
      "e=Empty i=Int:-7 l=Slice[Str:x Int:2] b=Bool:true y=Bytes:01ff m=Map{b=Str:x a=Int:2}");
  // Every other type: the last attribute takes the removed one's place.
  const std::vector<std::string> parts = {"s=Str:abc",
                                          "i=Int:-7",
                                          "d=Double:1.5",
                                          "b=Bool:true",
                                          "y=Bytes:01ff",
                                          "m=Map{b=Str:x a=Int:2}",
                                          "l=Slice[Str:x Int:2]",
                                          "e=Empty"};
  for (size_t removed = 1; removed < parts.size(); ++removed) {
    std::vector<std::string> expected = parts;
    expected[removed] = expected.back();
    expected.pop_back();
    const std::string key = parts[removed].substr(0, 1);
    Result one = RunActions(absl::StrCat("  - {key: ", key, ", action: delete}\n"), EveryType());
    EXPECT_EQ(one.attrs, absl::StrJoin(expected, " ")) << key;
  }
}

TEST(DeleteTest, PatternRemovesMatchingKeys) {
  // otelcol collects the matching keys, then removes each (so the order is Remove's).
  Result r = RunActions("  - {pattern: ^x, action: delete}\n",
                        {Str("x1", "1"), Str("a", "2"), Str("x2", "3"), Str("b", "4")});
  EXPECT_EQ(r.attrs, "b=Str:4 a=Str:2");
  // Unanchored, as Go's MatchString.
  Result partial = RunActions("  - {pattern: secret, action: delete}\n",
                              {Str("db.secret.key", "1"), Str("keep", "2")});
  EXPECT_EQ(partial.attrs, "keep=Str:2");
  Result both = RunActions("  - {key: k, pattern: \"^p\\\\.\", action: delete}\n",
                           {Str("k", "1"), Str("p.a", "2"), Str("pa", "3"), Str("p.b", "4")});
  EXPECT_EQ(both.attrs, "pa=Str:3");
}

TEST(DeleteTest, AnchoredPatternsArePrefilteredByTheirLiteralPrefix) {
  // Keys that cannot match are ruled out before RE2 runs; the prefix must be exact.
  EXPECT_EQ(attraction::RegexLiteralPrefix("^secret\\."), "secret.");
  EXPECT_EQ(attraction::RegexLiteralPrefix("^k[2-5]$"), "k");
  EXPECT_EQ(attraction::RegexLiteralPrefix("^ab*c"), "a");
  EXPECT_EQ(attraction::RegexLiteralPrefix("^ab?"), "a");
  EXPECT_EQ(attraction::RegexLiteralPrefix("^ab{2}"), "a");
  EXPECT_EQ(attraction::RegexLiteralPrefix("^\\d+"), "");
  EXPECT_EQ(attraction::RegexLiteralPrefix("^a|b"), "");
  EXPECT_EQ(attraction::RegexLiteralPrefix("^(?i)abc"), "");
  EXPECT_EQ(attraction::RegexLiteralPrefix("secret"), "");
  Result r = RunActions("  - {pattern: \"^db\\\\.(statement|password)$\", action: delete}\n",
                        {Str("db.statement", "1"), Str("db.system", "2"), Str("dbXstatement", "3"),
                         Str("db.password", "4")});
  EXPECT_EQ(r.attrs, "dbXstatement=Str:3 db.system=Str:2");
  Result prefixed = RunActions("  - {pattern: \"^db\\\\.s\", action: delete}\n",
                               {Str("db.statement", "1"), Str("db.system", "2"),
                                Str("dbXstatement", "3"), Str("db.password", "4")});
  EXPECT_EQ(prefixed.attrs, "db.password=Str:4 dbXstatement=Str:3");
}

// The prefix test run before RE2 is exactly starts_with, whichever byte differs.
TEST(DeleteTest, StartsWithPrefixIsStartsWith) {
  const std::string_view prefixes[] = {"", "G", "GE", "GET", "GET /health", "db.statement"};
  for (std::string_view prefix : prefixes) {
    const std::string p(prefix);
    std::vector<std::string> texts = {"", p, p + "z", p.substr(0, p.size() / 2)};
    for (size_t i = 0; i < p.size(); ++i) {
      std::string changed = p + "tail";
      changed[i] = static_cast<char>(changed[i] ^ 0x20);
      texts.push_back(changed);
    }
    for (const std::string& text : texts) {
      EXPECT_EQ(attraction::StartsWithPrefix(text, prefix), text.starts_with(prefix))
          << "text \"" << text << "\" prefix \"" << prefix << "\"";
    }
  }
}

TEST(DeleteTest, NothingToDeletePassesTheRequestOn) {
  Result r = RunActions("  - {key: nope, pattern: ^zzz, action: delete}\n", EveryType());
  EXPECT_EQ(r.attrs, kEveryType);
  EXPECT_TRUE(r.same_object);
}

TEST(HashTest, KnownAnswersForEveryType) {
  // SHA-256 hex of the value's bytes (strings), one byte (bools) or 8 little-endian bytes
  // (ints, doubles); "" for other types and for the empty string. Vectors from `openssl dgst
  // -sha256`.
  std::string actions;
  for (const char* key : {"s", "i", "d", "b", "y", "m", "l", "e", "f", "one", "minus", "empty"}) {
    absl::StrAppend(&actions, "  - {key: ", key, ", action: hash}\n");
  }
  Result r = RunActions(
      actions, {Str("s", "abc"), Int("i", 1), Dbl("d", 1.5), Bool("b", true), Bool("f", false),
                Int("minus", -1), Str("empty", ""), Bytes("y", "\x01"), MapValue("m"),
                SliceValue("l"), Empty("e"), Str("one", "user@example.com")});
  EXPECT_EQ(r.attrs,
            "s=Str:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad "
            "i=Str:7c9fa136d4413fa6173637e883b6998d32e1d675f88cddff9dcbcf331820f4b8 "
            "d=Str:e163f8cb0f7067a7fc78ca859a77f849aea3214f38fb75b884e4a16be725c905 "
            "b=Str:4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a "
            "f=Str:6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d "
            "minus=Str:12a3ae445661ce5dee78d0650d33362dec29c4f82af05e7e57fb595bbbacf0ca "
            "empty=Str: y=Str: m=Str: l=Str: e=Str: "
            "one=Str:b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514");
}

TEST(HashTest, Sha256HexVectors) {
  EXPECT_EQ(attraction::Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(attraction::Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(attraction::Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(HashTest, PatternHashesEveryMatch) {
  Result r = RunActions("  - {pattern: ^pii\\., action: hash}\n",
                        {Str("pii.a", "abc"), Str("keep", "abc"), Int("pii.n", 1)});
  EXPECT_EQ(r.attrs,
            "pii.a=Str:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad "
            "keep=Str:abc "
            "pii.n=Str:7c9fa136d4413fa6173637e883b6998d32e1d675f88cddff9dcbcf331820f4b8");
}

TEST(ExtractTest, SeveralNamedGroups) {
  // otelcol's example (with its unnamed group made non-capturing, which otelcol requires):
  // http.url is read, not changed; existing targets are overwritten.
  Result r =
      RunActions(R"(
  - key: http.url
    pattern: ^(?P<http_protocol>.*):\/\/(?P<http_domain>.*)\/(?P<http_path>.*)(?:\?|\&)(?P<http_query_params>.*)
    action: extract
)",
                 {Str("http.url", "http://example.com/path?queryParam1=value1,queryParam2=value2"),
                  Str("http_domain", "old")});
  EXPECT_EQ(r.attrs,
            "http.url=Str:http://example.com/path?queryParam1=value1,queryParam2=value2 "
            "http_domain=Str:example.com http_protocol=Str:http http_path=Str:path "
            "http_query_params=Str:queryParam1=value1,queryParam2=value2");
}

TEST(ExtractTest, UnmatchedOptionalGroupIsEmptyAndNonStringsAreIgnored) {
  const std::string action =
      "  - {key: src, pattern: \"^(?P<first>[a-z]+)(?:-(?P<second>[0-9]+))?\", action: extract}\n";
  EXPECT_EQ(RunActions(action, {Str("src", "abc-12")}).attrs,
            "src=Str:abc-12 first=Str:abc second=Str:12");
  EXPECT_EQ(RunActions(action, {Str("src", "abc")}).attrs, "src=Str:abc first=Str:abc second=Str:");
  // No match, a non-string source, no source: nothing changes.
  for (const auto& attrs : std::vector<std::vector<KeyValue>>{
           {Str("src", "123")}, {Int("src", 5)}, {MapValue("src")}, {Str("other", "abc")}}) {
    Result r = RunActions(action, attrs);
    EXPECT_TRUE(r.same_object) << r.attrs;
  }
}

struct ConvertCase {
  KeyValue input;
  std::string type;
  std::string expected;
};

TEST(ConvertTest, EveryTypeToEveryTarget) {
  const std::vector<ConvertCase> cases = {
      // To int.
      {Int("k", 5), "int", "Int:5"},
      {Dbl("k", 2.9), "int", "Int:2"},
      {Dbl("k", -2.9), "int", "Int:-2"},
      {Dbl("k", 1e300), "int", "Int:-9223372036854775808"},  // Go's int64() on amd64
      {Dbl("k", std::nan("")), "int", "Int:-9223372036854775808"},
      {Bool("k", true), "int", "Int:1"},
      {Bool("k", false), "int", "Int:0"},
      {Str("k", "42"), "int", "Int:42"},
      {Str("k", "+42"), "int", "Int:42"},
      {Str("k", "-9223372036854775808"), "int", "Int:-9223372036854775808"},
      {Str("k", "9223372036854775808"), "int", "Str:9223372036854775808"},  // out of range
      {Str("k", "abc"), "int", "Str:abc"},  // not a number: left as it is
      {Str("k", "1.5"), "int", "Str:1.5"},
      {Str("k", " 1"), "int", "Str: 1"},
      {Str("k", ""), "int", "Str:"},
      {Bytes("k", "\x01"), "int", "Bytes:01"},
      {MapValue("k"), "int", "Map{b=Str:x a=Int:2}"},
      {SliceValue("k"), "int", "Slice[Str:x Int:2]"},
      {Empty("k"), "int", "Empty"},
      // To double.
      {Int("k", 5), "double", "Double:5"},
      {Dbl("k", 2.5), "double", "Double:2.5"},
      {Bool("k", true), "double", "Double:1"},
      {Str("k", "2.5"), "double", "Double:2.5"},
      {Str("k", "1e3"), "double", "Double:1000"},
      {Str("k", "-Inf"), "double", "Double:-inf"},
      {Str("k", "0x1p-2"), "double", "Double:0.25"},
      {Str("k", "1_000.5"), "double", "Double:1000.5"},
      {Str("k", "1e400"), "double", "Str:1e400"},  // out of range
      {Str("k", "abc"), "double", "Str:abc"},
      {Str("k", "1.5x"), "double", "Str:1.5x"},
      {Bytes("k", "\x01"), "double", "Bytes:01"},
      {Empty("k"), "double", "Empty"},
      // To string.
      {Str("k", "x"), "string", "Str:x"},
      {Int("k", -5), "string", "Str:-5"},
      {Dbl("k", 1.5), "string", "Str:1.5"},
      {Dbl("k", 100), "string", "Str:100"},
      {Dbl("k", 1e21), "string", "Str:1e+21"},
      {Dbl("k", 1e-7), "string", "Str:1e-7"},
      {Dbl("k", 0.000001), "string", "Str:0.000001"},
      {Dbl("k", std::numeric_limits<double>::infinity()), "string",
       "Str:json: unsupported value: +Inf"},
      {Bool("k", false), "string", "Str:false"},
      {Bytes("k", "hi!"), "string", "Str:aGkh"},
      {MapValue("k"), "string", "Str:{\"a\":2,\"b\":\"x\"}"},
      {SliceValue("k"), "string", "Str:[\"x\",2]"},
      {Empty("k"), "string", "Str:"},
  };
  for (const ConvertCase& c : cases) {
    Result r =
        RunActions(absl::StrCat("  - {key: k, action: convert, converted_type: ", c.type, "}\n"),
                   {c.input, Str("after", "a")});
    EXPECT_EQ(r.attrs, "k=" + c.expected + " after=Str:a")
        << Describe(c.input.value()) << " to " << c.type;
  }
}

TEST(ConvertTest, MissingKeyDoesNothing) {
  Result r = RunActions("  - {key: nope, action: convert, converted_type: int}\n", EveryType());
  EXPECT_TRUE(r.same_object);
}

TEST(ActionsTest, RunInOrderEachSeeingTheLastOnesResult) {
  // otelcol's attributes/complex example, on its four spans.
  const std::string actions = R"(
  - {key: operation, value: default, action: insert}
  - {key: svc.operation, from_attribute: operation, action: upsert}
  - {key: operation, action: delete}
)";
  EXPECT_EQ(RunActions(actions, {Int("timeout", 10), Str("svc.operation", "addition"),
                                 Str("operation", "addition")})
                .attrs,
            "timeout=Int:10 svc.operation=Str:addition");
  EXPECT_EQ(RunActions(actions, {Str("operation", "subtract"), Int("math_value", 123)}).attrs,
            "svc.operation=Str:subtract math_value=Int:123");
  EXPECT_EQ(RunActions(actions, {Int("timeout", 10), Int("math_value", 4)}).attrs,
            "timeout=Int:10 math_value=Int:4 svc.operation=Str:default");
  // Then hash what was just inserted, and convert a copy.
  EXPECT_EQ(RunActions(R"(
  - {key: h, value: abc, action: insert}
  - {key: h, action: hash}
  - {key: n, from_attribute: s, action: insert}
  - {key: n, action: convert, converted_type: int}
)",
                       {Str("s", "12")})
                .attrs,
            "s=Str:12 h=Str:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad "
            "n=Int:12");
}

TEST(ActionsTest, ActionNamesAreCaseInsensitive) {
  EXPECT_EQ(RunActions("  - {key: a, value: 1, action: INSERT}\n", {}).attrs, "a=Int:1");
  EXPECT_EQ(RunActions("  - {key: a, action: Delete}\n", {Int("a", 1)}).attrs, "");
}

}  // namespace
}  // namespace otlpd::attrtest
