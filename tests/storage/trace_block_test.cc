#include "storage/trace_block.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "testing/otlp_data.h"
#include "testing/realistic_traces.h"

namespace otlpd::storage {
namespace {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;
using opentelemetry::proto::trace::v1::TracesData;

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

// One ResourceSpans (one scope, one span) per span, sorted: grouping-independent form.
std::vector<std::string> Normalize(const google::protobuf::RepeatedPtrField<ResourceSpans>& in) {
  std::vector<std::pair<std::string, std::string>> keyed;
  for (const ResourceSpans& rs : in) {
    for (const auto& ss : rs.scope_spans()) {
      for (const Span& span : ss.spans()) {
        ResourceSpans one;
        if (rs.has_resource()) *one.mutable_resource() = rs.resource();
        one.set_schema_url(rs.schema_url());
        auto* oss = one.add_scope_spans();
        if (ss.has_scope()) *oss->mutable_scope() = ss.scope();
        oss->set_schema_url(ss.schema_url());
        *oss->add_spans() = span;
        keyed.emplace_back(span.trace_id() + span.span_id() + span.name(), one.SerializeAsString());
      }
    }
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::string> out;
  for (auto& [k, v] : keyed) out.push_back(std::move(v));
  return out;
}

void ExpectSameSpans(const google::protobuf::RepeatedPtrField<ResourceSpans>& want,
                     const google::protobuf::RepeatedPtrField<ResourceSpans>& got) {
  const std::vector<std::string> a = Normalize(want), b = Normalize(got);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ResourceSpans x, y;
    ASSERT_TRUE(x.ParseFromString(a[i]));
    ASSERT_TRUE(y.ParseFromString(b[i]));
    ASSERT_EQ(testing::ProtoDiff(x, y), "") << "span " << i;
  }
}

absl::StatusOr<std::string> Encode(const google::protobuf::RepeatedPtrField<ResourceSpans>& data,
                                   int level = 3, TraceBlockMeta* meta = nullptr) {
  TraceBlockBuilder builder;
  for (const ResourceSpans& rs : data) builder.Add(rs);
  return builder.Finish(level, meta);
}

TraceId ToTraceId(std::string_view bytes) {
  TraceId id{};
  std::memcpy(id.data(), bytes.data(), std::min<size_t>(16, bytes.size()));
  return id;
}

bench::TracesRequest Realistic(size_t spans, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  return bench::MakeRealisticTraces(rng, spans, kStart);
}

// The generator's traces are whole and well formed: 4–30 spans, parents inside the trace,
// children within their parent's time (consumers are asynchronous), a few % errors with an
// exception event, ~350 bytes of protobuf per span.
TEST(RealisticTracesTest, TracesAreWellFormed) {
  const bench::TracesRequest request = Realistic(20000, 9);
  std::map<std::string, std::map<std::string, const Span*>> traces;
  size_t spans = 0, errors = 0, exceptions = 0;
  std::set<std::string> services;
  for (const ResourceSpans& rs : request.resource_spans()) {
    services.insert(rs.resource().attributes(0).value().string_value());
    for (const auto& ss : rs.scope_spans()) {
      for (const Span& span : ss.spans()) {
        ++spans;
        ASSERT_EQ(span.trace_id().size(), 16u);
        ASSERT_EQ(span.span_id().size(), 8u);
        traces[span.trace_id()][span.span_id()] = &span;
        if (span.status().code() == Status::STATUS_CODE_ERROR) ++errors;
        for (const auto& e : span.events()) exceptions += e.name() == "exception";
      }
    }
  }
  EXPECT_EQ(services.size(), 12u);
  for (const auto& [id, trace] : traces) {
    EXPECT_GE(trace.size(), 4u);
    EXPECT_LE(trace.size(), 30u);
    int roots = 0;
    for (const auto& [sid, span] : trace) {
      if (span->parent_span_id().empty()) {
        ++roots;
        continue;
      }
      auto parent = trace.find(span->parent_span_id());
      ASSERT_NE(parent, trace.end());
      EXPECT_GE(span->start_time_unix_nano(), parent->second->start_time_unix_nano());
      if (span->kind() != Span::SPAN_KIND_CONSUMER &&
          parent->second->kind() != Span::SPAN_KIND_CONSUMER) {
        EXPECT_LE(span->end_time_unix_nano(), parent->second->end_time_unix_nano());
      }
    }
    EXPECT_EQ(roots, 1);
  }
  EXPECT_GT(errors, spans / 200);
  EXPECT_LT(errors, spans / 10);
  EXPECT_GT(exceptions, 0u);
  const double per_span = static_cast<double>(request.ByteSizeLong()) / static_cast<double>(spans);
  EXPECT_GT(per_span, 300);
  EXPECT_LT(per_span, 400);
}

TEST(TraceBlockTest, RealisticRoundTripIsLossless) {
  const bench::TracesRequest request = Realistic(5000);
  TraceBlockMeta meta;
  absl::StatusOr<std::string> block = Encode(request.resource_spans(), 3, &meta);
  ASSERT_TRUE(block.ok()) << block.status();
  absl::StatusOr<TraceBlockReader> reader = TraceBlockReader::Open(*block);
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_TRUE(reader->Verify().ok());
  absl::StatusOr<TracesData> all = reader->ReadAll();
  ASSERT_TRUE(all.ok()) << all.status();
  ExpectSameSpans(request.resource_spans(), all->resource_spans());
  EXPECT_EQ(meta.span_count, reader->span_count());
  EXPECT_EQ(meta.block_bytes, block->size());
  EXPECT_GE(meta.services.size(), 10u);
  EXPECT_TRUE(std::is_sorted(meta.services.begin(), meta.services.end()));
  absl::StatusOr<std::vector<std::string>> services = reader->Services();
  ASSERT_TRUE(services.ok());
  EXPECT_EQ(*services, meta.services);
  absl::StatusOr<TraceBlockMeta> decoded = TraceBlockMeta::Decode(meta.Encode());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, meta);
}

TEST(TraceBlockTest, SpansOfOneTraceAcrossAddCalls) {
  bench::TracesRequest request = Realistic(600, 2);
  // Split each ResourceSpans into one per span, added in reverse: traces arrive in pieces.
  TraceBlockBuilder builder;
  std::vector<ResourceSpans> pieces;
  for (const ResourceSpans& rs : request.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const Span& span : ss.spans()) {
        ResourceSpans one = rs;
        one.clear_scope_spans();
        auto* oss = one.add_scope_spans();
        *oss->mutable_scope() = ss.scope();
        *oss->add_spans() = span;
        pieces.push_back(std::move(one));
      }
    }
  }
  std::reverse(pieces.begin(), pieces.end());
  for (const ResourceSpans& p : pieces) builder.Add(p);
  EXPECT_EQ(builder.span_count(), pieces.size());
  absl::StatusOr<std::string> block = builder.Finish(3, nullptr);
  ASSERT_TRUE(block.ok());
  absl::StatusOr<TraceBlockReader> reader = TraceBlockReader::Open(*block);
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<TracesData> all = reader->ReadAll();
  ASSERT_TRUE(all.ok());
  ExpectSameSpans(request.resource_spans(), all->resource_spans());
}

void SetAll(google::protobuf::RepeatedPtrField<KeyValue>* attrs) {
  auto add = [&](std::string key) {
    KeyValue* kv = attrs->Add();
    kv->set_key(std::move(key));
    return kv->mutable_value();
  };
  add("s")->set_string_value("value");
  add("")->set_string_value("");
  add("s")->set_string_value("value");  // duplicate key, same value
  add("t")->set_bool_value(true);
  add("f")->set_bool_value(false);
  add("i")->set_int_value(std::numeric_limits<int64_t>::min());
  add("i2")->set_int_value(std::numeric_limits<int64_t>::max());
  add("d")->set_double_value(-1.5e300);
  add("b")->set_bytes_value(std::string("\0\1\2", 3));
  add("e");  // AnyValue with nothing set
  AnyValue* arr = add("arr");
  arr->mutable_array_value()->add_values()->set_int_value(1);
  arr->mutable_array_value()->add_values()->set_string_value("x");
  AnyValue* kvl = add("kv");
  KeyValue* inner = kvl->mutable_kvlist_value()->add_values();
  inner->set_key("nested");
  inner->mutable_value()->mutable_array_value()->add_values()->set_bool_value(true);
  add("strindex")->set_string_value_strindex(7);
  KeyValue* novalue = attrs->Add();
  novalue->set_key("novalue");
  KeyValue* keyidx = attrs->Add();
  keyidx->set_key_strindex(3);
  keyidx->mutable_value()->set_int_value(5);
}

TracesData EdgeCases() {
  TracesData data;
  // No resource, no scope, empty everything.
  ResourceSpans* bare = data.add_resource_spans();
  Span* empty = bare->add_scope_spans()->add_spans();
  (void)empty;  // all defaults: empty trace id and span id
  Span* odd = bare->mutable_scope_spans(0)->add_spans();
  odd->set_trace_id("short");
  odd->set_span_id("abc");
  odd->set_parent_span_id("not-in-block");
  odd->set_start_time_unix_nano(std::numeric_limits<uint64_t>::max());
  odd->set_end_time_unix_nano(1);  // ends before it starts
  odd->set_kind(static_cast<Span::SpanKind>(42));
  odd->mutable_status();  // present, default
  // Full resource, scope and spans with every field.
  ResourceSpans* rs = data.add_resource_spans();
  rs->set_schema_url("https://schema/1");
  SetAll(rs->mutable_resource()->mutable_attributes());
  rs->mutable_resource()->set_dropped_attributes_count(3);
  auto* ref = rs->mutable_resource()->add_entity_refs();
  ref->set_type("service");
  ref->add_id_keys("service.name");
  auto* ss = rs->add_scope_spans();
  ss->set_schema_url("https://schema/scope");
  ss->mutable_scope()->set_name("scope");
  ss->mutable_scope()->set_version("");
  ss->mutable_scope()->set_dropped_attributes_count(2);
  SetAll(ss->mutable_scope()->mutable_attributes());
  const std::string trace(16, '\x11');
  for (int i = 0; i < 4; ++i) {
    Span* span = ss->add_spans();
    span->set_trace_id(trace);
    span->set_span_id(std::string(8, static_cast<char>('a' + i)));
    // Span 0's parent is span 3, which starts later (clock skew).
    span->set_parent_span_id(std::string(8, static_cast<char>('a' + (i + 3) % 4)));
    span->set_trace_state(i % 2 ? "vendor=1" : "");
    span->set_flags(0x301 + i);
    span->set_name(i % 2 ? "" : "op");
    span->set_kind(Span::SPAN_KIND_SERVER);
    span->set_start_time_unix_nano(1'000'000'000 + i * 1000);
    span->set_end_time_unix_nano(2'000'000'000 - i);
    SetAll(span->mutable_attributes());
    span->set_dropped_attributes_count(1);
    span->set_dropped_events_count(2);
    span->set_dropped_links_count(3);
    auto* ev = span->add_events();
    ev->set_time_unix_nano(5);
    ev->set_name("exception");
    SetAll(ev->mutable_attributes());
    ev->set_dropped_attributes_count(4);
    span->add_events();  // empty event
    auto* link = span->add_links();
    link->set_trace_id(std::string(16, '\x22'));
    link->set_span_id("12345678");
    link->set_trace_state("a=b");
    link->set_flags(1);
    link->set_dropped_attributes_count(9);
    SetAll(link->mutable_attributes());
    span->add_links();
    span->mutable_status()->set_code(i == 2 ? Status::STATUS_CODE_ERROR : Status::STATUS_CODE_OK);
    span->mutable_status()->set_message(i == 2 ? "boom" : "");
  }
  // Same resource again in another ResourceSpans, with another scope and no schema.
  ResourceSpans* again = data.add_resource_spans();
  *again->mutable_resource() = rs->resource();
  again->set_schema_url(rs->schema_url());
  Span* late = again->add_scope_spans()->add_spans();
  late->set_trace_id(trace);
  late->set_span_id("zzzzzzzz");
  late->set_name("late");
  data.add_resource_spans();                     // no scopes at all
  data.add_resource_spans()->add_scope_spans();  // a scope without spans
  return data;
}

TEST(TraceBlockTest, EdgeCasesRoundTrip) {
  const TracesData data = EdgeCases();
  for (int level : {1, 19}) {
    absl::StatusOr<std::string> block = Encode(data.resource_spans(), level);
    ASSERT_TRUE(block.ok()) << block.status();
    absl::StatusOr<TraceBlockReader> reader = TraceBlockReader::Open(*block);
    ASSERT_TRUE(reader.ok()) << reader.status();
    ASSERT_TRUE(reader->Verify().ok()) << reader->Verify();
    absl::StatusOr<TracesData> all = reader->ReadAll();
    ASSERT_TRUE(all.ok()) << all.status();
    ExpectSameSpans(data.resource_spans(), all->resource_spans());
    absl::StatusOr<std::optional<TracesData>> trace =
        reader->GetTrace(ToTraceId(std::string(16, '\x11')));
    ASSERT_TRUE(trace.ok()) << trace.status();
    ASSERT_TRUE(trace->has_value());
    int spans = 0;
    for (const auto& rs : (*trace)->resource_spans()) {
      for (const auto& ss : rs.scope_spans()) spans += ss.spans_size();
    }
    EXPECT_EQ(spans, 5);
  }
}

TEST(TraceBlockTest, EmptyBlock) {
  TraceBlockMeta meta;
  absl::StatusOr<std::string> block = Encode({}, 3, &meta);
  ASSERT_TRUE(block.ok());
  EXPECT_EQ(meta.span_count, 0u);
  absl::StatusOr<TraceBlockReader> reader = TraceBlockReader::Open(*block);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_TRUE(reader->Verify().ok());
  EXPECT_EQ(reader->span_count(), 0u);
  EXPECT_FALSE(reader->MayContain(TraceId{}));
  absl::StatusOr<std::optional<TracesData>> trace = reader->GetTrace(TraceId{});
  ASSERT_TRUE(trace.ok());
  EXPECT_FALSE(trace->has_value());
  std::vector<std::pair<TraceId, int64_t>> found;
  EXPECT_TRUE(reader->Search(TraceQuery{}, &found).ok());
  EXPECT_TRUE(found.empty());
  absl::StatusOr<TracesData> all = reader->ReadAll();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->resource_spans_size(), 0);
}

TEST(TraceBlockTest, OneHugeTrace) {
  ResourceSpans rs;
  auto* ss = rs.add_scope_spans();
  std::mt19937_64 rng(5);
  const std::string trace(16, '\x7f');
  std::vector<std::string> ids;
  for (int i = 0; i < 20000; ++i) {
    Span* span = ss->add_spans();
    span->set_trace_id(trace);
    std::string id(8, '\0');
    for (char& c : id) c = static_cast<char>(rng());
    span->set_span_id(id);
    if (!ids.empty()) span->set_parent_span_id(ids[rng() % ids.size()]);
    ids.push_back(id);
    span->set_name(absl::StrCat("op", i % 17));
    span->set_start_time_unix_nano(1'000'000'000'000 + rng() % 1'000'000'000);
    span->set_end_time_unix_nano(span->start_time_unix_nano() + rng() % 1'000'000);
  }
  google::protobuf::RepeatedPtrField<ResourceSpans> data;
  *data.Add() = rs;
  absl::StatusOr<std::string> block = Encode(data);
  ASSERT_TRUE(block.ok());
  absl::StatusOr<TraceBlockReader> reader = TraceBlockReader::Open(*block);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(reader->trace_count(), 1u);
  absl::StatusOr<std::optional<TracesData>> got = reader->GetTrace(ToTraceId(trace));
  ASSERT_TRUE(got.ok() && got->has_value());
  ExpectSameSpans(data, (*got)->resource_spans());
}

TEST(TraceBlockTest, GetTraceHitMissAndBloom) {
  const bench::TracesRequest request = Realistic(8000, 3);
  absl::StatusOr<std::string> block = Encode(request.resource_spans());
  ASSERT_TRUE(block.ok());
  absl::StatusOr<TraceBlockReader> reader = TraceBlockReader::Open(*block);
  ASSERT_TRUE(reader.ok());
  // Expected spans per trace.
  std::map<std::string, google::protobuf::RepeatedPtrField<ResourceSpans>> by_trace;
  for (const ResourceSpans& rs : request.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const Span& span : ss.spans()) {
        ResourceSpans* one = by_trace[span.trace_id()].Add();
        *one->mutable_resource() = rs.resource();
        one->set_schema_url(rs.schema_url());
        auto* oss = one->add_scope_spans();
        *oss->mutable_scope() = ss.scope();
        *oss->add_spans() = span;
      }
    }
  }
  EXPECT_EQ(reader->trace_count(), by_trace.size());
  int checked = 0;
  for (const auto& [id, spans] : by_trace) {
    ASSERT_TRUE(reader->MayContain(ToTraceId(id)));  // no false negatives
    if (checked++ % 20 != 0) continue;
    absl::StatusOr<std::optional<TracesData>> got = reader->GetTrace(ToTraceId(id));
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_TRUE(got->has_value());
    ExpectSameSpans(spans, (*got)->resource_spans());
  }
  std::mt19937_64 rng(99);
  int positives = 0;
  for (int i = 0; i < 10000; ++i) {
    TraceId id;
    for (auto& b : id) b = static_cast<uint8_t>(rng());
    if (reader->MayContain(id)) ++positives;
    if (i < 200) {
      absl::StatusOr<std::optional<TracesData>> got = reader->GetTrace(id);
      ASSERT_TRUE(got.ok());
      EXPECT_FALSE(got->has_value());
    }
  }
  EXPECT_LT(positives, 300);  // ~1% expected at 10 bits per trace
}

// Fluent TraceQuery for the tests.
struct Q {
  TraceQuery q;
  Q& service(std::string v) {
    q.service = std::move(v);
    return *this;
  }
  Q& operation(std::string v) {
    q.operation = std::move(v);
    return *this;
  }
  Q& span_kind(std::string v) {
    q.span_kind = std::move(v);
    return *this;
  }
  Q& tags(std::vector<std::pair<std::string, std::string>> v) {
    q.tags = std::move(v);
    return *this;
  }
  Q& min_duration(absl::Duration v) {
    q.min_duration = v;
    return *this;
  }
  Q& max_duration(absl::Duration v) {
    q.max_duration = v;
    return *this;
  }
  Q& limit(size_t v) {
    q.limit = v;
    return *this;
  }
  operator TraceQuery() const { return q; }  // NOLINT: implicit on purpose
};

// A small hand-made block for search semantics.
class TraceBlockSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TracesData data;
    AddSpan(&data, "api", 1, "GET /a", Span::SPAN_KIND_SERVER, 100, 50, {{"http.status", "200"}},
            Status::STATUS_CODE_UNSET);
    AddSpan(&data, "db", 1, "SELECT", Span::SPAN_KIND_CLIENT, 120, 10, {{"db.system", "pg"}},
            Status::STATUS_CODE_OK);
    AddSpan(&data, "api", 2, "GET /b", Span::SPAN_KIND_SERVER, 300, 500, {{"http.status", "500"}},
            Status::STATUS_CODE_ERROR);
    AddSpan(&data, "api", 3, "GET /a", Span::SPAN_KIND_SERVER, 200, 5, {},
            Status::STATUS_CODE_UNSET);
    // Trace 3 also has an int attribute and an event attribute.
    Span* s = data.mutable_resource_spans(data.resource_spans_size() - 1)
                  ->mutable_scope_spans(0)
                  ->mutable_spans(0);
    KeyValue* kv = s->add_attributes();
    kv->set_key("retries");
    kv->mutable_value()->set_int_value(3);
    auto* ev = s->add_events();
    ev->set_name("log");
    kv = ev->add_attributes();
    kv->set_key("message");
    kv->mutable_value()->set_string_value("cache miss");
    absl::StatusOr<std::string> block = Encode(data.resource_spans());
    ASSERT_TRUE(block.ok());
    absl::StatusOr<TraceBlockReader> reader = TraceBlockReader::Open(*block);
    ASSERT_TRUE(reader.ok());
    reader_.emplace(std::move(*reader));
  }

  static void AddSpan(TracesData* data, std::string service, uint8_t trace, std::string name,
                      Span::SpanKind kind, int64_t start_ms, int64_t duration_ms,
                      std::vector<std::pair<std::string, std::string>> attrs, int status) {
    ResourceSpans* rs = data->add_resource_spans();
    KeyValue* sn = rs->mutable_resource()->add_attributes();
    sn->set_key("service.name");
    sn->mutable_value()->set_string_value(service);
    KeyValue* env = rs->mutable_resource()->add_attributes();
    env->set_key("env");
    env->mutable_value()->set_string_value(service == "db" ? "prod" : "dev");
    Span* span = rs->add_scope_spans()->add_spans();
    span->set_trace_id(std::string(16, static_cast<char>(trace)));
    span->set_span_id(std::string(8, static_cast<char>(data->resource_spans_size())));
    span->set_name(name);
    span->set_kind(kind);
    const uint64_t start = absl::ToUnixNanos(kStart + absl::Milliseconds(start_ms));
    span->set_start_time_unix_nano(start);
    span->set_end_time_unix_nano(start + duration_ms * 1'000'000);
    for (auto& [k, v] : attrs) {
      KeyValue* kv = span->add_attributes();
      kv->set_key(k);
      kv->mutable_value()->set_string_value(v);
    }
    if (status != 0) span->mutable_status()->set_code(static_cast<Status::StatusCode>(status));
  }

  // Trace numbers found, most recent first.
  std::vector<int> Find(TraceQuery q) {
    std::vector<std::pair<TraceId, int64_t>> out;
    absl::Status st = reader_->Search(q, &out);
    EXPECT_TRUE(st.ok()) << st;
    std::vector<int> ids;
    for (const auto& [id, latest] : out) ids.push_back(id[0]);
    return ids;
  }

  std::optional<TraceBlockReader> reader_;
};

TEST_F(TraceBlockSearchTest, EachQueryField) {
  EXPECT_EQ(Find({}), (std::vector<int>{2, 3, 1}));
  EXPECT_EQ(Find(Q().service("db")), (std::vector<int>{1}));
  EXPECT_EQ(Find(Q().service("nope")), (std::vector<int>{}));
  EXPECT_EQ(Find(Q().operation("GET /a")), (std::vector<int>{3, 1}));
  EXPECT_EQ(Find(Q().service("db").operation("GET /a")), (std::vector<int>{}));
  EXPECT_EQ(Find(Q().span_kind("client")), (std::vector<int>{1}));
  EXPECT_EQ(Find(Q().span_kind("producer")), (std::vector<int>{}));
  EXPECT_EQ(Find(Q().tags({{"http.status", "500"}})), (std::vector<int>{2}));
  EXPECT_EQ(Find(Q().tags({{"retries", "3"}})), (std::vector<int>{3}));
  EXPECT_EQ(Find(Q().tags({{"message", "cache miss"}})), (std::vector<int>{3}));  // event attr
  EXPECT_EQ(Find(Q().tags({{"env", "prod"}})), (std::vector<int>{1}));            // resource attr
  EXPECT_EQ(Find(Q().tags({{"error", "true"}})), (std::vector<int>{2}));
  EXPECT_EQ(Find(Q().tags({{"otel.status_code", "OK"}})), (std::vector<int>{1}));
  EXPECT_EQ(Find(Q().tags({{"span.kind", "client"}})), (std::vector<int>{1}));
  EXPECT_EQ(Find(Q().tags({{"http.status", "200"}, {"env", "dev"}})), (std::vector<int>{1}));
  // Both tags must hold on the same span.
  EXPECT_EQ(Find(Q().tags({{"http.status", "200"}, {"db.system", "pg"}})), (std::vector<int>{}));
  EXPECT_EQ(Find(Q().tags({{"unknown", "x"}})), (std::vector<int>{}));
  EXPECT_EQ(Find(Q().min_duration(absl::Milliseconds(40))), (std::vector<int>{2, 1}));
  EXPECT_EQ(Find(Q().max_duration(absl::Milliseconds(10))), (std::vector<int>{3, 1}));
  EXPECT_EQ(Find(Q().min_duration(absl::Milliseconds(40)).max_duration(absl::Milliseconds(100))),
            (std::vector<int>{1}));
  TraceQuery window;
  window.time.start = kStart + absl::Milliseconds(150);
  window.time.end = kStart + absl::Milliseconds(250);
  EXPECT_EQ(Find(window), (std::vector<int>{3}));
  window.time.start = kStart + absl::Seconds(10);
  window.time.end = absl::InfiniteFuture();
  EXPECT_EQ(Find(window), (std::vector<int>{}));
  EXPECT_EQ(Find(Q().limit(2)), (std::vector<int>{2, 3}));
  // The latest matching span start is reported.
  std::vector<std::pair<TraceId, int64_t>> out;
  ASSERT_TRUE(reader_->Search(Q().service("db"), &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].second, absl::ToUnixNanos(kStart + absl::Milliseconds(120)));
}

TEST_F(TraceBlockSearchTest, ServicesAndOperations) {
  absl::StatusOr<std::vector<std::string>> services = reader_->Services();
  ASSERT_TRUE(services.ok());
  EXPECT_EQ(*services, (std::vector<std::string>{"api", "db"}));
  absl::StatusOr<std::vector<Operation>> ops = reader_->Operations("api", "");
  ASSERT_TRUE(ops.ok());
  EXPECT_EQ(*ops, (std::vector<Operation>{{"GET /a", "server"}, {"GET /b", "server"}}));
  ops = reader_->Operations("db", "server");
  ASSERT_TRUE(ops.ok());
  EXPECT_TRUE(ops->empty());
  ops = reader_->Operations("db", "client");
  ASSERT_TRUE(ops.ok());
  EXPECT_EQ(*ops, (std::vector<Operation>{{"SELECT", "client"}}));
}

TEST(TraceBlockTest, SearchRealisticMatchesBruteForce) {
  const bench::TracesRequest request = Realistic(4000, 4);
  absl::StatusOr<std::string> block = Encode(request.resource_spans());
  ASSERT_TRUE(block.ok());
  absl::StatusOr<TraceBlockReader> reader = TraceBlockReader::Open(*block);
  ASSERT_TRUE(reader.ok());
  // Brute force: traces with a cart span whose http.response.status_code is 200.
  std::set<std::string> want;
  for (const ResourceSpans& rs : request.resource_spans()) {
    if (rs.resource().attributes(0).value().string_value() != "cart") continue;
    for (const auto& ss : rs.scope_spans()) {
      for (const Span& span : ss.spans()) {
        for (const KeyValue& kv : span.attributes()) {
          if (kv.key() == "http.response.status_code" && kv.value().int_value() == 200) {
            want.insert(span.trace_id());
          }
        }
      }
    }
  }
  ASSERT_FALSE(want.empty());
  std::vector<std::pair<TraceId, int64_t>> out;
  TraceQuery q;
  q.service = "cart";
  q.tags = {{"http.response.status_code", "200"}};
  q.limit = 0;
  ASSERT_TRUE(reader->Search(q, &out).ok());
  std::set<std::string> got;
  for (const auto& [id, t] : out)
    got.insert(std::string(reinterpret_cast<const char*>(id.data()), 16));
  EXPECT_EQ(got, want);
}

// One reader serves several threads at once (columns and the trace index are built lazily).
TEST(TraceBlockTest, ConcurrentReaders) {
  const bench::TracesRequest request = Realistic(3000, 8);
  absl::StatusOr<std::string> block = Encode(request.resource_spans());
  ASSERT_TRUE(block.ok());
  absl::StatusOr<TraceBlockReader> reader = TraceBlockReader::Open(*block);
  ASSERT_TRUE(reader.ok());
  std::vector<std::string> ids;
  for (const ResourceSpans& rs : request.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const Span& span : ss.spans()) ids.push_back(span.trace_id());
    }
  }
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < ids.size(); i += 97) {
        absl::StatusOr<std::optional<TracesData>> got = reader->GetTrace(ToTraceId(ids[i]));
        if (!got.ok() || !got->has_value()) ++failures;
        std::vector<std::pair<TraceId, int64_t>> out;
        if (!reader->Search(Q().service("cart"), &out).ok() || out.empty()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

// Every corrupted byte is reported as DataLoss (by Open or Verify), never a crash.
TEST(TraceBlockTest, CorruptionIsDataLoss) {
  const bench::TracesRequest request = Realistic(300, 6);
  absl::StatusOr<std::string> block = Encode(request.resource_spans());
  ASSERT_TRUE(block.ok());
  const size_t step = std::max<size_t>(1, block->size() / 3000);
  int detected_by_open = 0;
  for (size_t off = 0; off < block->size(); off += step) {
    std::string bad = *block;
    bad[off] = static_cast<char>(bad[off] ^ (1 + off % 255));
    absl::StatusOr<TraceBlockReader> reader = TraceBlockReader::Open(std::move(bad));
    if (!reader.ok()) {
      EXPECT_EQ(reader.status().code(), absl::StatusCode::kDataLoss) << off;
      ++detected_by_open;
      continue;
    }
    absl::Status verify = reader->Verify();
    EXPECT_EQ(verify.code(), absl::StatusCode::kDataLoss) << "offset " << off;
    // The other entry points fail cleanly or answer; they never crash.
    (void)reader->ReadAll();
    TraceId id{};
    (void)reader->GetTrace(id);
    std::vector<std::pair<TraceId, int64_t>> out;
    (void)reader->Search(Q().tags({{"http.route", "/cart/{user}"}}), &out);
    (void)reader->Operations("cart", "");
  }
  EXPECT_GT(detected_by_open, 0);
}

TEST(TraceBlockTest, TruncatedBlockIsDataLoss) {
  const bench::TracesRequest request = Realistic(300, 7);
  absl::StatusOr<std::string> block = Encode(request.resource_spans());
  ASSERT_TRUE(block.ok());
  for (size_t len = 0; len < block->size(); len += 1 + len / 8) {
    absl::StatusOr<TraceBlockReader> reader = TraceBlockReader::Open(block->substr(0, len));
    ASSERT_FALSE(reader.ok()) << len;
    EXPECT_EQ(reader.status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST(TraceBlockTest, MetaRejectsCorruption) {
  TraceBlockMeta meta;
  meta.min_start_unix_nano = 1;
  meta.max_end_unix_nano = 2;
  meta.services = {"a", "b"};
  const std::string encoded = meta.Encode();
  for (size_t i = 0; i < encoded.size(); ++i) {
    std::string bad = encoded;
    bad[i] ^= 0x40;
    EXPECT_EQ(TraceBlockMeta::Decode(bad).status().code(), absl::StatusCode::kDataLoss) << i;
  }
  EXPECT_EQ(TraceBlockMeta::Decode(encoded.substr(0, 10)).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace otlpd::storage
