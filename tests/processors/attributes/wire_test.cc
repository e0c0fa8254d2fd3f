// The attributes processor edits requests in their protobuf encoding. These tests check the
// edited bytes: against a reference model that applies otelcol's semantics to the decoded
// message (random requests and actions), and on encodings SDKs rarely produce but protobuf
// allows (fields out of order, repeated message fields, unknown fields and groups, lengths
// whose varints change width), and on requests that are not one flat buffer or only decoded.
#include "processors/attraction/wire.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <atomic>
#include <random>
#include <thread>

#include "processors/attraction/editor.h"
#include "processors/attraction/hash.h"
#include "processors/attributes/attributes_processor.h"
#include "processors/attributes/attributes_test_util.h"
#include "testing/otlp_data.h"

namespace otlpd::attrtest {
namespace {

using attraction::AppendLenField;
using attraction::AppendVarint;
using opentelemetry::proto::trace::v1::Span;

// --- The reference: otelcol's semantics on the decoded message (pcommon.Map operations) ---

int Find(const KeyValues& attrs, const std::string& key) {
  for (int i = 0; i < attrs.size(); ++i) {
    if (attrs[i].key() == key) return i;
  }
  return -1;
}

void Remove(KeyValues* attrs, const std::string& key) {
  const int i = Find(*attrs, key);
  if (i < 0) return;
  if (i != attrs->size() - 1) attrs->SwapElements(i, attrs->size() - 1);
  attrs->RemoveLast();
}

struct RefAction {
  std::string yaml;
  std::string type;
  std::string key;
  AnyValue value;
  std::string pattern;
};

void Hash(KeyValues* attrs, const std::string& key) {
  const int i = Find(*attrs, key);
  if (i < 0) return;
  AnyValue* v = (*attrs)[i].mutable_value();
  std::string input;
  switch (v->value_case()) {
    case AnyValue::kStringValue:
      input = v->string_value();
      break;
    case AnyValue::kIntValue: {
      const int64_t n = v->int_value();
      input.assign(reinterpret_cast<const char*>(&n), 8);
      break;
    }
    case AnyValue::kBoolValue:
      input.assign(1, v->bool_value() ? '\1' : '\0');
      break;
    default:
      break;
  }
  v->set_string_value(input.empty() ? "" : attraction::Sha256Hex(input));
}

void Apply(const RefAction& a, KeyValues* attrs) {
  if (a.type == "insert") {
    if (Find(*attrs, a.key) < 0) {
      KeyValue* kv = attrs->Add();
      kv->set_key(a.key);
      *kv->mutable_value() = a.value;
    }
  } else if (a.type == "update") {
    const int i = Find(*attrs, a.key);
    if (i >= 0) *(*attrs)[i].mutable_value() = a.value;
  } else if (a.type == "upsert") {
    const int i = Find(*attrs, a.key);
    if (i >= 0) {
      *(*attrs)[i].mutable_value() = a.value;
    } else {
      KeyValue* kv = attrs->Add();
      kv->set_key(a.key);
      *kv->mutable_value() = a.value;
    }
  } else if (a.type == "delete") {
    Remove(attrs, a.key);
    if (!a.pattern.empty()) {
      RE2 re(a.pattern);
      std::vector<std::string> matched;
      for (const KeyValue& kv : *attrs) {
        if (RE2::PartialMatch(kv.key(), re)) matched.push_back(kv.key());
      }
      for (const std::string& k : matched) Remove(attrs, k);
    }
  } else if (a.type == "hash") {
    Hash(attrs, a.key);
  }
}

// --- Random requests and actions ---

AnyValue RandomValue(std::mt19937_64& rng) {
  AnyValue v;
  switch (rng() % 5) {
    case 0:
      v.set_string_value(std::string(rng() % 40, static_cast<char>('a' + rng() % 26)));
      break;
    case 1:
      v.set_int_value(static_cast<int64_t>(rng() % 2000) - 1000);
      break;
    case 2:
      v.set_bool_value(rng() % 2 == 0);
      break;
    case 3:
      v.set_string_value(std::string(200 + rng() % 300, 'x'));  // 2-byte lengths
      break;
    default:
      v.mutable_array_value()->add_values()->set_int_value(1);
  }
  return v;
}

std::string RandomKey(std::mt19937_64& rng) { return absl::StrCat("k", rng() % 6); }

RefAction RandomAction(std::mt19937_64& rng) {
  RefAction a;
  static const char* kTypes[] = {"insert", "update", "upsert", "delete", "hash"};
  a.type = kTypes[rng() % 5];
  a.key = RandomKey(rng);
  if (a.type == "insert" || a.type == "update" || a.type == "upsert") {
    switch (rng() % 3) {
      case 0:
        a.value.set_string_value(absl::StrCat("v", rng() % 1000));
        a.yaml = absl::StrCat("{key: ", a.key, ", value: \"", a.value.string_value(),
                              "\", action: ", a.type, "}");
        break;
      case 1:
        a.value.set_int_value(static_cast<int64_t>(rng() % 100));
        a.yaml = absl::StrCat("{key: ", a.key, ", value: ", a.value.int_value(),
                              ", action: ", a.type, "}");
        break;
      default:
        a.value.set_string_value(std::string(20000, 'L'));  // lengths grow a varint byte
        a.yaml = absl::StrCat("{key: ", a.key, ", value: ", std::string(20000, 'L'),
                              ", action: ", a.type, "}");
    }
  } else if (a.type == "delete" && rng() % 2 == 0) {
    a.pattern = absl::StrCat("^k[", rng() % 6, "-5]$");
    a.yaml = absl::StrCat("{key: ", a.key, ", pattern: \"", a.pattern, "\", action: delete}");
  } else {
    a.yaml = absl::StrCat("{key: ", a.key, ", action: ", a.type, "}");
  }
  return a;
}

TracesRequest RandomTraces(std::mt19937_64& rng) {
  TracesRequest request;
  const int resources = 1 + static_cast<int>(rng() % 3);
  for (int r = 0; r < resources; ++r) {
    auto* rs = request.add_resource_spans();
    *rs->mutable_resource()->add_attributes() = Str("service.name", absl::StrCat("svc", r));
    const int scopes = 1 + static_cast<int>(rng() % 3);
    for (int s = 0; s < scopes; ++s) {
      auto* ss = rs->add_scope_spans();
      ss->mutable_scope()->set_name("lib");
      ss->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
      const int spans = static_cast<int>(rng() % 6);
      for (int i = 0; i < spans; ++i) {
        Span* span = ss->add_spans();
        span->set_trace_id(std::string(16, static_cast<char>(1 + rng() % 200)));
        span->set_span_id(std::string(8, static_cast<char>(1 + rng() % 200)));
        span->set_name(rng() % 2 == 0 ? "a" : "b");
        span->set_start_time_unix_nano(rng());
        const int attrs = static_cast<int>(rng() % 8);
        for (int k = 0; k < attrs; ++k) {
          KeyValue* kv = span->add_attributes();
          kv->set_key(RandomKey(rng));
          *kv->mutable_value() = RandomValue(rng);
        }
        if (rng() % 2 == 0) span->add_events()->set_name("e");
        span->mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_OK);
      }
    }
  }
  return request;
}

TEST(WireTest, MatchesTheReferenceOnRandomRequests) {
  std::mt19937_64 rng(20240611);
  int changed = 0, unchanged = 0;
  for (int iteration = 0; iteration < 400; ++iteration) {
    std::vector<RefAction> actions;
    std::string yaml = "actions:\n";
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      actions.push_back(RandomAction(rng));
      absl::StrAppend(&yaml, "  - ", actions.back().yaml, "\n");
    }
    const bool filtered = rng() % 3 == 0;
    if (filtered) yaml += "include: {match_type: strict, span_names: [a]}\n";
    Harness h(Factory(), yaml, Signal::kTraces);
    ASSERT_NE(h.processor, nullptr) << yaml;

    const TracesRequest request = RandomTraces(rng);
    TracesRequest expected = request;
    for (auto& rs : *expected.mutable_resource_spans()) {
      for (auto& ss : *rs.mutable_scope_spans()) {
        for (Span& span : *ss.mutable_spans()) {
          if (filtered && span.name() != "a") continue;
          for (const RefAction& a : actions) Apply(a, span.mutable_attributes());
        }
      }
    }
    auto in = FromRequest(Signal::kTraces, request);
    TelemetryPtr out = h.Run(in);
    ASSERT_NE(out, nullptr);
    ExpectValidWire(*out);
    ASSERT_EQ(testing::ProtoDiff(expected, out->traces()), "") << "iteration " << iteration << "\n"
                                                               << yaml;
    if (out.get() == in.get()) {
      ++unchanged;
      // Passed on as it came only when nothing was to change.
      EXPECT_EQ(expected.SerializeAsString(), request.SerializeAsString());
    } else {
      ++changed;
    }
  }
  // Both paths were exercised.
  EXPECT_GT(changed, 100);
  EXPECT_GT(unchanged, 10);
}

// --- Hand-made encodings ---

std::string Field(uint32_t number, std::string_view payload) {
  std::string out;
  AppendLenField(&out, number, payload);
  return out;
}

std::string KeyValueBytes(std::string_view key, std::string_view value) {
  AnyValue v;
  v.set_string_value(std::string(value));
  return Field(1, key) + Field(2, v.SerializeAsString());
}

// ExportTraceServiceRequest{resource_spans{resource, scope_spans{spans: [span]}}} around the
// span's raw bytes.
std::string WrapSpan(const std::string& span, const std::string& resource = "") {
  std::string scope_spans = Field(2, span);
  std::string resource_spans = resource + Field(2, scope_spans);
  return Field(1, resource_spans);
}

TelemetryPtr Raw(const std::string& bytes, Signal signal = Signal::kTraces) {
  auto scan = ScanOtlpRequest(signal, bytes);
  EXPECT_TRUE(scan.ok()) << scan.status();
  return Telemetry::FromWire(signal, absl::Cord(bytes), scan.ok() ? scan->items : 0);
}

// Build's copies, short runs moved inline and long ones by memcpy, against a plain string
// built from the same edits: every gap and piece size from 0 to 72 bytes (CopyRun inlines up to
// 64), and long ones.
TEST(WireTest, EditorBuildsEveryRunSize) {
  std::mt19937_64 rng(7);
  std::string original(20000, '\0');
  for (char& c : original) c = static_cast<char>(rng());
  std::vector<std::string> pieces;
  for (size_t size = 0; size <= 72; ++size) {
    std::string piece(size, '\0');
    for (char& c : piece) c = static_cast<char>(rng());
    pieces.push_back(piece);
  }
  pieces.push_back(std::string(300, 'p'));
  for (int round = 0; round < 50; ++round) {
    attraction::WireEditor editor;
    editor.Reset(original);
    std::string want;
    size_t pos = 0;
    while (true) {
      const size_t gap = rng() % 8 == 0 ? 100 + rng() % 400 : rng() % 73;
      const size_t replaced = rng() % 41;
      if (pos + gap + replaced > original.size()) break;
      want += original.substr(pos, gap);
      pos += gap;
      editor.Replace(original.data() + pos, original.data() + pos + replaced);
      pos += replaced;
      for (size_t n = rng() % 3; n > 0; --n) {
        const std::string& piece = pieces[rng() % pieces.size()];
        editor.Append(piece);
        want += piece;
      }
    }
    want += original.substr(pos);
    ASSERT_EQ(std::string(editor.Build()), want) << "round " << round;
  }
}

TEST(WireTest, AttributesInterleavedWithOtherFields) {
  // name, attr a, kind, attr b, attr c: the list is rewritten in a's place, b and c go.
  std::string span = Field(1, std::string(16, '\1')) + Field(2, std::string(8, '\2')) +
                     Field(5, "op") + Field(9, KeyValueBytes("a", "1"));
  AppendVarint(&span, attraction::Tag(6, attraction::kWireVarint));
  AppendVarint(&span, 2);
  span += Field(9, KeyValueBytes("b", "2")) + Field(11, Field(2, "event")) +
          Field(9, KeyValueBytes("c", "3"));
  Harness h(Factory(),
            "actions:\n  - {key: b, action: delete}\n  - {key: d, value: 4, action: "
            "insert}\n",
            Signal::kTraces);
  TelemetryPtr out = h.Run(Raw(WrapSpan(span)));
  ExpectValidWire(*out);
  const Span& s = out->traces().resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(Describe(s.attributes()), "a=Str:1 c=Str:3 d=Int:4");
  EXPECT_EQ(s.name(), "op");
  EXPECT_EQ(s.kind(), Span::SPAN_KIND_SERVER);
  EXPECT_EQ(s.events(0).name(), "event");
}

TEST(WireTest, KeyValueEncodingsProtobufAllows) {
  // Value before key; a key given twice (the last wins) and a value given twice (merged: the
  // last oneof member wins); a KeyValue without a value.
  AnyValue before, first, second;
  before.set_string_value("before");
  first.set_string_value("old");
  second.set_int_value(7);
  const std::string span =
      Field(9, Field(2, before.SerializeAsString()) + Field(1, "v")) +
      Field(9, Field(1, "x") + Field(1, "dup") + Field(2, first.SerializeAsString()) +
                   Field(2, second.SerializeAsString())) +
      Field(9, Field(1, "novalue"));
  Harness h(Factory(), R"(actions:
  - {key: copy, from_attribute: dup, action: insert}
  - {key: v, action: hash}
  - {key: novalue, value: set, action: update}
)",
            Signal::kTraces);
  TelemetryPtr out = h.Run(Raw(WrapSpan(span)));
  ExpectValidWire(*out);
  const Span& s = out->traces().resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(Describe(s.attributes()), absl::StrCat("v=Str:", attraction::Sha256Hex("before"),
                                                   " dup=Int:7 novalue=Str:set copy=Int:7"));
}

TEST(WireTest, UnknownFieldsAndGroupsAreKept) {
  std::string unknown = Field(100, "opaque");
  AppendVarint(&unknown, attraction::Tag(101, attraction::kWireStartGroup));
  unknown += Field(1, "in group");
  AppendVarint(&unknown, attraction::Tag(101, attraction::kWireEndGroup));
  const std::string span = Field(5, "op") + unknown + Field(9, KeyValueBytes("a", "1"));
  Harness h(Factory(), "actions:\n  - {key: a, value: 2, action: update}\n", Signal::kTraces);
  TelemetryPtr out = h.Run(Raw(WrapSpan(span) + unknown));
  ExpectValidWire(*out);
  const std::string bytes(out->wire());
  // The unknown field and group of the span and of the request are both still there.
  EXPECT_EQ(WrapSpan(Field(5, "op") + unknown +
                     Field(9, Field(1, "a") + Field(2,
                                                    [] {
                                                      AnyValue v;
                                                      v.set_int_value(2);
                                                      return v.SerializeAsString();
                                                    }()))) +
                unknown,
            bytes);
}

TEST(WireTest, LengthsThatChangeVarintWidth) {
  // A span of ~16 KB grows past 16383 bytes: its length, its scope's and its resource's
  // need a third varint byte; then shrinks back.
  TracesRequest request;
  auto* rs = request.add_resource_spans();
  Span* span = rs->add_scope_spans()->add_spans();
  span->set_name("op");
  *span->add_attributes() = Str("big", std::string(16300, 'b'));
  *span->add_attributes() = Str("keep", "k");
  ASSERT_LT(span->ByteSizeLong(), 16384u);
  Harness grow(Factory(),
               absl::StrCat("actions:\n  - {key: more, value: ", std::string(200, 'm'),
                            ", action: insert}\n"),
               Signal::kTraces);
  TelemetryPtr out = grow.Run(FromRequest(Signal::kTraces, request));
  ExpectValidWire(*out);
  TracesRequest expected = request;
  *expected.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->add_attributes() =
      Str("more", std::string(200, 'm'));
  ASSERT_GT(expected.resource_spans(0).scope_spans(0).spans(0).ByteSizeLong(), 16384u);
  EXPECT_EQ(testing::ProtoDiff(expected, out->traces()), "");

  Harness shrink(Factory(), "actions:\n  - {key: big, action: delete}\n", Signal::kTraces);
  TelemetryPtr back = shrink.Run(out);
  ExpectValidWire(*back);
  TracesRequest shrunk = expected;
  auto* attrs = shrunk.mutable_resource_spans(0)
                    ->mutable_scope_spans(0)
                    ->mutable_spans(0)
                    ->mutable_attributes();
  attrs->SwapElements(0, 2);
  attrs->RemoveLast();
  EXPECT_EQ(testing::ProtoDiff(shrunk, back->traces()), "");
}

TEST(WireTest, RepeatedResourceFieldsMergeForMatching) {
  // Two `resource` fields in one ResourceSpans: protobuf merges them, so service.name from
  // the first and region from the second both count.
  opentelemetry::proto::resource::v1::Resource r1, r2;
  *r1.add_attributes() = Str("service.name", "svc");
  *r2.add_attributes() = Str("region", "eu");
  const std::string span = Field(5, "op");
  const std::string resource = Field(1, r1.SerializeAsString()) + Field(1, r2.SerializeAsString());
  Harness h(Factory(), R"(include:
  match_type: strict
  services: [svc]
  resources: [{key: region, value: eu}]
actions: [{key: tagged, value: true, action: insert}]
)",
            Signal::kTraces);
  TelemetryPtr out = h.Run(Raw(WrapSpan(span, resource)));
  ExpectValidWire(*out);
  EXPECT_EQ(Describe(out->traces().resource_spans(0).scope_spans(0).spans(0).attributes()),
            "tagged=Bool:true");
}

TEST(WireTest, RequestsNotInOneBufferOrOnlyDecoded) {
  TracesRequest request;
  Span* span = request.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_name("op");
  *span->add_attributes() = Str("a", "1");
  const std::string bytes = request.SerializeAsString();
  Harness h(Factory(), "actions:\n  - {key: b, value: 2, action: insert}\n", Signal::kTraces);

  // A Cord of several pieces (a merged batch, say).
  absl::Cord pieces;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    pieces.Append(absl::Cord(bytes.substr(i, 3)));
  }
  ASSERT_FALSE(pieces.TryFlat().has_value());
  TelemetryPtr out = h.Run(Telemetry::FromWire(Signal::kTraces, pieces, 1));
  ExpectValidWire(*out);
  EXPECT_EQ(Describe(out->traces().resource_spans(0).scope_spans(0).spans(0).attributes()),
            "a=Str:1 b=Int:2");

  // Built in memory, never encoded.
  auto built = std::make_shared<Telemetry>(Signal::kTraces);
  *built->mutable_traces() = request;
  TelemetryPtr out2 = h.Run(built);
  ExpectValidWire(*out2);
  EXPECT_EQ(Describe(out2->traces().resource_spans(0).scope_spans(0).spans(0).attributes()),
            "a=Str:1 b=Int:2");
}

TEST(WireTest, SparseEditsShareTheUnchangedBytes) {
  // 200 spans of ~1 KB, one of which the include matches: the result shares the request's
  // bytes around the one edit instead of copying 200 KB.
  TracesRequest request;
  auto* ss = request.add_resource_spans()->add_scope_spans();
  for (int i = 0; i < 200; ++i) {
    Span* span = ss->add_spans();
    span->set_name(i == 123 ? "target" : "other");
    *span->add_attributes() = Str("payload", std::string(1000, 'p'));
  }
  Harness h(Factory(), R"(include: {match_type: strict, span_names: [target]}
actions: [{key: hit, value: true, action: insert}]
)",
            Signal::kTraces);
  TelemetryPtr in = FromRequest(Signal::kTraces, request);
  const absl::string_view original = *in->wire().TryFlat();
  TelemetryPtr out = h.Run(in);
  ExpectValidWire(*out);
  TracesRequest expected = request;
  *expected.mutable_resource_spans(0)
       ->mutable_scope_spans(0)
       ->mutable_spans(123)
       ->add_attributes() = Bool("hit", true);
  EXPECT_EQ(testing::ProtoDiff(expected, out->traces()), "");
  size_t chunks = 0, shared = 0;
  for (absl::string_view chunk : out->wire().Chunks()) {
    ++chunks;
    if (chunk.data() >= original.data() && chunk.data() < original.data() + original.size()) {
      shared += chunk.size();
    }
  }
  EXPECT_GT(chunks, 1u);
  EXPECT_GT(shared, original.size() * 9 / 10) << "the unchanged bytes are shared, not copied";

  // Dense edits (every span) are written out flat instead.
  Harness every(Factory(), "actions: [{key: hit, value: true, action: insert}]\n", Signal::kTraces);
  TelemetryPtr flat = every.Run(FromRequest(Signal::kTraces, request));
  ExpectValidWire(*flat);
  EXPECT_TRUE(flat->wire().TryFlat().has_value());
}

TEST(WireTest, ChainedProcessorsOnOneThreadShareItsWorkspace) {
  // attributes/a -> attributes/b -> sink, called synchronously on one thread: b starts with
  // the thread's workspace while a is still inside its Consume.
  testing::TestHost host;
  auto sink = std::make_shared<Sink>();
  Diagnostics diag;
  auto config_b = ParseWith(Factory(), "actions: [{key: b, from_attribute: a, action: insert}]\n",
                            &diag, "processors::attributes/b");
  auto config_a =
      ParseWith(Factory(),
                "actions: [{key: a, value: from-a, action: upsert}, {key: gone, action: "
                "delete}]\n",
                &diag, "processors::attributes/a");
  ASSERT_TRUE(diag.ok()) << diag.Format();
  auto b = Factory().Create(CreateSettings{{"attributes", "b"}, &host}, *config_b, Signal::kTraces,
                            sink);
  ASSERT_TRUE(b.ok());
  std::shared_ptr<Processor> second = std::move(*b);
  auto a = Factory().Create(CreateSettings{{"attributes", "a"}, &host}, *config_a, Signal::kTraces,
                            second);
  ASSERT_TRUE(a.ok());
  TracesRequest request;
  for (int i = 0; i < 3; ++i) {
    Span* span = request.add_resource_spans()->add_scope_spans()->add_spans();
    span->set_name("op");
    *span->add_attributes() = Str("gone", "x");
    *span->add_attributes() = Int("n", i);
  }
  absl::Status status = absl::InternalError("not completed");
  (*a)->Consume(FromRequest(Signal::kTraces, request), [&](absl::Status s) { status = s; });
  ASSERT_TRUE(status.ok()) << status;
  TelemetryPtr out = sink->last();
  ExpectValidWire(*out);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Describe(out->traces().resource_spans(i).scope_spans(0).spans(0).attributes()),
              absl::StrCat("a=Str:from-a n=Int:", i, " b=Str:from-a"));
  }
}

TEST(WireTest, ConcurrentRequestsOnOneProcessor) {
  // Receivers call Consume from their own threads; each thread has its own workspace.
  Harness h(Factory(),
            "actions: [{key: env, value: prod, action: upsert}, {key: a, action: hash}]\n",
            Signal::kTraces);
  ASSERT_NE(h.processor, nullptr);
  constexpr int kThreads = 4;
  constexpr int kRequests = 200;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequests; ++i) {
        TracesRequest request;
        Span* span = request.add_resource_spans()->add_scope_spans()->add_spans();
        const std::string value = absl::StrCat("t", t, "-", i);
        *span->add_attributes() = Str("a", value);
        TelemetryPtr result;
        h.processor->Consume(FromRequest(Signal::kTraces, request), [](absl::Status) {});
        // The sink is shared: check this thread's own result through a direct call instead.
        auto* p = dynamic_cast<AttributesProcessor*>(h.processor.get());
        result = p->Process(FromRequest(Signal::kTraces, request));
        const auto& attrs = result->traces().resource_spans(0).scope_spans(0).spans(0).attributes();
        if (Describe(attrs) !=
            absl::StrCat("a=Str:", attraction::Sha256Hex(value), " env=Str:prod")) {
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(h.sink->received().size(), static_cast<size_t>(kThreads * kRequests));
}

TEST(WireTest, RealisticSdkRequestRoundTrips) {
  // The shared sample generator's rich requests (every attribute type, events, links, odd
  // strings): upsert on every span and check against the reference.
  testing::SampleOptions options;
  options.resources = 2;
  options.scopes_per_resource = 2;
  options.items_per_scope = 4;
  const TracesRequest request = testing::MakeTraces(options);
  Harness h(Factory(), "actions:\n  - {key: env, value: prod, action: upsert}\n", Signal::kTraces);
  TelemetryPtr out = h.Run(FromRequest(Signal::kTraces, request));
  ExpectValidWire(*out);
  TracesRequest expected = request;
  RefAction upsert{"", "upsert", "env", {}, ""};
  upsert.value.set_string_value("prod");
  for (auto& rs : *expected.mutable_resource_spans()) {
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (Span& s : *ss.mutable_spans()) Apply(upsert, s.mutable_attributes());
    }
  }
  EXPECT_EQ(testing::ProtoDiff(expected, out->traces()), "");
}

}  // namespace
}  // namespace otlpd::attrtest
