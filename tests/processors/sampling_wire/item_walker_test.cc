// The walker's view of items: attributes a sampler names up front (AttributeKeys) are found
// during the walk, and must read exactly as a lookup walk over the item finds them, for every
// encoding protobuf accepts (not only the usual key-then-value shape).
#include "processors/sampling_wire/item_walker.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/otlp_wire.h"
#include "core/telemetry.h"
#include "processors/attraction/value.h"
#include "processors/attraction/wire.h"
#include "testing/realistic_traces.h"

namespace otlpd::sampling_wire {
namespace {

using attraction::Scratch;
using attraction::Value;
using attraction::ValueType;

std::string Varint(uint64_t v) {
  std::string out(attraction::VarintSize(v), '\0');
  attraction::WriteVarint(out.data(), v);
  return out;
}
std::string Len(uint32_t field, const std::string& bytes) {
  return absl::StrCat(Varint((uint64_t{field} << 3) | 2), Varint(bytes.size()), bytes);
}
std::string StrValue(const std::string& s) { return Len(1, s); }  // AnyValue.string_value
std::string IntValue(int64_t v) {
  return absl::StrCat(Varint(3 << 3), Varint(static_cast<uint64_t>(v)));
}

// KeyValue encodings: the usual one, and the odd ones a full parse must settle.
std::string KeyThenValue(const std::string& key, const std::string& any) {
  return absl::StrCat(Len(1, key), Len(2, any));
}
std::string ValueThenKey(const std::string& key, const std::string& any) {
  return absl::StrCat(Len(2, any), Len(1, key));
}
std::string KeyOnly(const std::string& key) { return Len(1, key); }

// A traces request of one span whose attribute fields (field 9) are `kvs`, with a trace id.
TelemetryPtr SpanWith(const std::vector<std::string>& kvs) {
  std::string span = absl::StrCat(Len(1, std::string(16, '\x11')), Len(2, std::string(8, '\x22')),
                                  Len(5, "op"), Varint(6 << 3), Varint(2));
  for (const std::string& kv : kvs) absl::StrAppend(&span, Len(9, kv));
  const std::string scope = Len(2, span);
  const std::string resource = Len(2, scope);
  const std::string request = Len(1, resource);
  return Telemetry::FromWire(Signal::kTraces, absl::Cord(request), 1);
}

// A logs request of one record (attributes are field 6).
TelemetryPtr LogWith(const std::vector<std::string>& kvs) {
  std::string record = Len(9, std::string(16, '\x33'));
  for (const std::string& kv : kvs) absl::StrAppend(&record, Len(6, kv));
  const std::string scope = Len(2, record);
  const std::string resource = Len(2, scope);
  const std::string request = Len(1, resource);
  return Telemetry::FromWire(Signal::kLogs, absl::Cord(request), 1);
}

std::string Describe(const std::optional<Value>& v) {
  if (!v) return "absent";
  switch (v->type) {
    case ValueType::kStr:
      return absl::StrCat("str:", std::string(v->bytes));
    case ValueType::kInt:
      return absl::StrCat("int:", v->int_value);
    case ValueType::kEmpty:
      return "empty";
    default:
      return "other";
  }
}

// What Attribute(key) returns for each key, with the keys named to the walk or not.
std::vector<std::string> Lookups(TelemetryPtr data, const std::vector<std::string>& keys,
                                 const AttributeKeys* named) {
  std::vector<std::string> out;
  WalkResult r = Walk(
      std::move(data),
      [&](const ItemView& item, Scratch* scratch) {
        for (const std::string& key : keys) out.push_back(Describe(item.Attribute(key, scratch)));
        return ItemVerdict{};
      },
      named);
  EXPECT_FALSE(r.malformed);
  EXPECT_EQ(r.items_in, 1u);
  return out;
}

TEST(ItemWalkerTest, NamedAttributesReadAsALookupWalkDoes) {
  const std::string long_value(300, 'x');  // a two-byte length
  const std::vector<std::vector<std::string>> cases = {
      {KeyThenValue("sampling.priority", IntValue(5)), KeyThenValue("a", StrValue("b"))},
      {KeyThenValue("a", StrValue("1")), KeyThenValue("a", StrValue("2"))},  // the last wins
      {ValueThenKey("sampling.priority", IntValue(0))},
      {KeyThenValue("user.id", StrValue(long_value))},
      {KeyOnly("user.id")},  // no value: present and empty
      {KeyThenValue("other", StrValue("z"))},
      // A KeyValue whose key field repeats: the last key is the key.
      {absl::StrCat(Len(1, "decoy"), Len(2, StrValue("v")), Len(1, "user.id"))},
      {},
  };
  const std::vector<std::string> keys = {"sampling.priority", "a", "user.id", "missing"};
  const AttributeKeys named({"sampling.priority", "a", "user.id", "missing"});
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(Lookups(SpanWith(cases[i]), keys, &named),
              Lookups(SpanWith(cases[i]), keys, nullptr));
    EXPECT_EQ(Lookups(LogWith(cases[i]), keys, &named), Lookups(LogWith(cases[i]), keys, nullptr));
  }
  // And the values themselves, for the usual shape and the odd ones.
  EXPECT_EQ(Lookups(SpanWith(cases[0]), keys, &named),
            (std::vector<std::string>{"int:5", "str:b", "absent", "absent"}));
  EXPECT_EQ(Lookups(SpanWith(cases[1]), {"a"}, &named), std::vector<std::string>{"str:2"});
  EXPECT_EQ(Lookups(SpanWith(cases[2]), {"sampling.priority"}, &named),
            std::vector<std::string>{"int:0"});
  EXPECT_EQ(Lookups(SpanWith(cases[3]), {"user.id"}, &named),
            std::vector<std::string>{absl::StrCat("str:", long_value)});
  EXPECT_EQ(Lookups(SpanWith(cases[6]), {"user.id"}, &named), std::vector<std::string>{"str:v"});
}

TEST(ItemWalkerTest, KeysNotNamedAreStillFound) {
  const AttributeKeys named({"a"});
  EXPECT_EQ(Lookups(SpanWith({KeyThenValue("b", StrValue("x"))}), {"a", "b"}, &named),
            (std::vector<std::string>{"absent", "str:x"}));
}

TEST(ItemWalkerTest, AttributeKeysIgnoresEmptyRepeatedAndExtraKeys) {
  AttributeKeys keys({"a", "", "a", "b"});
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys.Find("a"), 0);
  EXPECT_EQ(keys.Find("b"), 1);
  EXPECT_EQ(keys.Find("c"), -1);
  for (int i = 0; i < 20; ++i) keys.Add(absl::StrCat("k", i));
  EXPECT_EQ(keys.size(), AttributeKeys::kMax);
  EXPECT_EQ(keys.Find("k19"), -1);
}

// A span field with a tag the one-byte path does not take (field number 0, or a wire type
// that is not length-delimited where the walk expects one) makes the request malformed,
// passed on unchanged, as the general reader decides.
TEST(ItemWalkerTest, FieldNumberZeroIsMalformed) {
  const std::string span =
      absl::StrCat(Len(1, std::string(16, '\x11')), std::string("\x02\x01x", 3));
  const std::string request = Len(1, Len(2, Len(2, span)));
  WalkResult r = Walk(Telemetry::FromWire(Signal::kTraces, absl::Cord(request), 1),
                      [](const ItemView&, Scratch*) { return ItemVerdict{}; });
  EXPECT_TRUE(r.malformed);
  ASSERT_NE(r.data, nullptr);
}

// Dropped spans next to each other go in one cut, and a cut never takes the scope's other
// fields between two dropped spans (its scope, schema_url, an unknown field): the result is
// the request without the dropped spans' fields, byte for byte.
TEST(ItemWalkerTest, DroppedRunsKeepTheFieldsBetweenThem) {
  auto span = [](const std::string& name) {
    return Len(2, absl::StrCat(Len(1, std::string(16, '\x11')), Len(2, std::string(8, '\x22')),
                               Len(5, name)));
  };
  const std::string scope_field = Len(1, Len(1, "lib"));
  const std::string schema_url = Len(3, "https://opentelemetry.io/schemas/1.26.0");
  const std::string unknown = absl::StrCat(Varint(7 << 3), Varint(300));
  const std::string in_scope =
      absl::StrCat(span("keep-a"), span("drop-b"), schema_url, span("drop-c"), span("drop-d"),
                   unknown, span("drop-e"), scope_field, span("drop-f"), span("keep-g"));
  const std::string want_scope =
      absl::StrCat(span("keep-a"), schema_url, unknown, scope_field, span("keep-g"));
  auto request = [](const std::string& scope) { return Len(1, Len(2, scope)); };
  WalkResult r = Walk(Telemetry::FromWire(Signal::kTraces, absl::Cord(request(in_scope)), 7),
                      [](const ItemView& v, Scratch*) {
                        ItemVerdict verdict;
                        verdict.keep = v.name.substr(0, 4) == "keep";
                        return verdict;
                      });
  EXPECT_FALSE(r.malformed);
  EXPECT_EQ(r.items_in, 7u);
  EXPECT_EQ(r.items_kept, 2u);
  ASSERT_NE(r.data, nullptr);
  EXPECT_EQ(absl::BytesToHexString(std::string(r.data->wire())),
            absl::BytesToHexString(request(want_scope)));
}

// Everything a decision can read from a view, as text.
std::string Seen(const ItemView& v, Scratch* scratch) {
  return absl::StrCat(
      absl::BytesToHexString(absl::string_view(v.trace_id.data(), v.trace_id.size())), "|",
      std::string(v.trace_state), "|", std::string(v.name), "|", v.kind, "|", v.status_code, "|",
      v.start_unix_nano, "|", v.end_unix_nano, "|", v.has_parent, "|", std::string(v.service_name),
      "|", Describe(v.Attribute("http.route", scratch)), "|",
      Describe(v.Attribute("sampling.priority", scratch)));
}

// A request's walk with the receiver's span index (or another request's, or none): what the
// decisions saw and the request passed on.
struct WalkRecord {
  std::vector<std::string> seen;
  std::string out;
  size_t kept = 0;
};
WalkRecord WalkWith(const std::string& bytes, size_t items, std::shared_ptr<const SpanIndex> index,
                    const AttributeKeys* keys) {
  auto data = Telemetry::FromWire(Signal::kTraces, absl::Cord(bytes), items);
  data->set_span_index(std::move(index));
  WalkRecord record;
  WalkResult r = Walk(
      std::move(data),
      [&](const ItemView& v, Scratch* scratch) {
        record.seen.push_back(Seen(v, scratch));
        // Drop some, rewrite the tracestate of some, keep the rest as they are.
        ItemVerdict verdict;
        const size_t n = record.seen.size();
        if (n % 3 == 0) verdict.keep = false;
        if (n % 3 == 1) {
          verdict.replace_trace_state = true;
          verdict.trace_state = "ot=th:8";
        }
        return verdict;
      },
      keys);
  EXPECT_FALSE(r.malformed);
  record.kept = r.items_kept;
  if (r.data != nullptr) record.out = std::string(r.data->wire());
  return record;
}

// With the index the walk sees the same spans, decides the same and writes the same bytes as
// without it; an index that is not the request's is noticed and the spans are walked.
TEST(ItemWalkerTest, TheSpanIndexGivesWhatTheWalkFinds) {
  std::mt19937_64 rng(11);
  const absl::Time start = absl::FromUnixSeconds(1'700'000'000);
  const AttributeKeys keys({"sampling.priority", "http.route"});
  std::string previous;
  for (int i = 0; i < 40; ++i) {
    TracesRequest request = bench::MakeVariedTraces(rng, i, 60, start);
    bench::AddSamplingFields(&request);
    const std::string bytes = request.SerializeAsString();
    auto index = std::make_shared<SpanIndex>();
    auto scan = ScanOtlpRequest(Signal::kTraces, bytes, index.get());
    ASSERT_TRUE(scan.ok());
    for (const AttributeKeys* k : {static_cast<const AttributeKeys*>(nullptr), &keys}) {
      const WalkRecord walked = WalkWith(bytes, scan->items, nullptr, k);
      const WalkRecord indexed = WalkWith(bytes, scan->items, index, k);
      EXPECT_EQ(indexed.seen, walked.seen);
      EXPECT_EQ(indexed.out, walked.out);
      EXPECT_EQ(indexed.kept, walked.kept);
      EXPECT_GT(walked.kept, 0u);
      EXPECT_LT(walked.kept, scan->items);
      if (!previous.empty()) {
        // Another request's index: not followed.
        auto other = std::make_shared<SpanIndex>();
        ASSERT_TRUE(ScanOtlpRequest(Signal::kTraces, previous, other.get()).ok());
        const WalkRecord mismatched = WalkWith(bytes, scan->items, other, k);
        EXPECT_EQ(mismatched.seen, walked.seen);
        EXPECT_EQ(mismatched.out, walked.out);
      }
    }
    previous = bytes;
  }
}

}  // namespace
}  // namespace otlpd::sampling_wire
