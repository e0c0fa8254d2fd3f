// OTLP → Jaeger UI JSON, field by field against Jaeger's model/json shape and the Jaeger
// translator's mapping (pkg/translator/jaeger).

#include "extensions/query/jaeger_json.h"

#include <gtest/gtest.h>

#include <string>

#include "extensions/query/json_value.h"
#include "extensions/query/json_writer.h"
#include "extensions/query/test_store.h"

namespace otlpd::query {
namespace {

using testing::AddAttr;
using testing::AddString;
using testing::JsonValue;
using testing::ParseJson;
using testing::SpanIdBytes;
using testing::TraceIdBytes;
namespace otlp = testing::otlp;

std::string Convert(const otlp::TracesData& trace) {
  std::string out;
  JsonWriter json(&out);
  WriteJaegerTrace(trace, &json);
  return out;
}

// The tag of `tags` named `key`; a missing value when there is none.
const JsonValue& Tag(const JsonValue& tags, const std::string& key) {
  for (const JsonValue& t : tags.items) {
    if (t["key"].s == key) return t;
  }
  return JsonValue::Missing();
}

void ExpectTag(const JsonValue& tags, const std::string& key, const std::string& type) {
  const JsonValue& t = Tag(tags, key);
  EXPECT_TRUE(t.is_object()) << "no tag " << key;
  EXPECT_EQ(t["type"].s, type) << key;
  EXPECT_EQ(t.size(), 3u) << key;  // key, type, value
}

TEST(JaegerIdsTest, TraceIdsDropAZeroHighHalfLikeJaeger) {
  EXPECT_EQ(JaegerTraceId(TraceIdBytes(0, 0xabc)), "0000000000000abc");
  EXPECT_EQ(JaegerTraceId(TraceIdBytes(1, 0xabc)), "00000000000000010000000000000abc");
  EXPECT_EQ(JaegerTraceId(TraceIdBytes(0xfedcba9876543210, 0x0123456789abcdef)),
            "fedcba98765432100123456789abcdef");
  EXPECT_EQ(JaegerSpanId(SpanIdBytes(0x1f)), "000000000000001f");
}

otlp::TracesData RichTrace() {
  otlp::TracesData data;
  const std::string trace_id = TraceIdBytes(0xaaaa, 0xbbbb);
  // Resource 1: frontend with two more attributes.
  auto* rs = data.add_resource_spans();
  AddString(rs->mutable_resource()->mutable_attributes(), "service.name", "frontend");
  AddString(rs->mutable_resource()->mutable_attributes(), "host.name", "h1");
  AddAttr(rs->mutable_resource()->mutable_attributes(), "pid")->mutable_value()->set_int_value(42);
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("io.lib");
  ss->mutable_scope()->set_version("1.2.3");
  otlp::Span* root = ss->add_spans();
  root->set_trace_id(trace_id);
  root->set_span_id(SpanIdBytes(1));
  root->set_name("GET /cart");
  root->set_kind(otlp::Span::SPAN_KIND_SERVER);
  root->set_start_time_unix_nano(1700000000123456789);
  root->set_end_time_unix_nano(1700000000123456789 + 2500999);  // 2.500999 ms
  root->set_flags(0x101);                                       // sampled, remote parent bit
  root->mutable_status()->set_code(otlp::Status::STATUS_CODE_OK);
  auto* attrs = root->mutable_attributes();
  AddString(attrs, "http.method", "GET");
  AddAttr(attrs, "ok")->mutable_value()->set_bool_value(true);
  AddAttr(attrs, "http.status_code")->mutable_value()->set_int_value(200);
  AddAttr(attrs, "big")->mutable_value()->set_int_value(int64_t{1} << 60);
  AddAttr(attrs, "ratio")->mutable_value()->set_double_value(1.5);
  AddAttr(attrs, "raw")->mutable_value()->set_bytes_value(std::string("\x01\x02\xff", 3));
  auto* arr = AddAttr(attrs, "list")->mutable_value()->mutable_array_value();
  arr->add_values()->set_string_value("a");
  arr->add_values()->set_int_value(2);
  auto* kv = AddAttr(attrs, "map")->mutable_value()->mutable_kvlist_value();
  AddAttr(kv->mutable_values(), "z")->mutable_value()->set_bool_value(false);
  AddAttr(kv->mutable_values(), "a")->mutable_value()->set_string_value("x");
  auto* ev = root->add_events();
  ev->set_name("cache miss");
  ev->set_time_unix_nano(1700000000124000000);
  AddString(ev->mutable_attributes(), "key", "cart:7");
  auto* ev2 = root->add_events();
  ev2->set_name("ignored name");
  ev2->set_time_unix_nano(1700000000125000999);
  AddString(ev2->mutable_attributes(), "event", "explicit");

  // Resource 2: equal to resource 1 (another export of the same process) → same process.
  auto* rs2 = data.add_resource_spans();
  *rs2->mutable_resource() = rs->resource();
  auto* ss2 = rs2->add_scope_spans();
  otlp::Span* child = ss2->add_spans();
  child->set_trace_id(trace_id);
  child->set_span_id(SpanIdBytes(2));
  child->set_parent_span_id(SpanIdBytes(1));
  child->set_name("db query");
  child->set_kind(otlp::Span::SPAN_KIND_CLIENT);
  child->set_start_time_unix_nano(1700000000124000000);
  child->set_end_time_unix_nano(1700000000125000000);
  child->mutable_status()->set_code(otlp::Status::STATUS_CODE_ERROR);
  child->mutable_status()->set_message("deadlock");
  child->set_trace_state("vendor=x");
  auto* link1 = child->add_links();  // another trace, plain link
  link1->set_trace_id(TraceIdBytes(0, 0x77));
  link1->set_span_id(SpanIdBytes(0x78));
  auto* link2 = child->add_links();  // marked child_of
  link2->set_trace_id(TraceIdBytes(0, 0x99));
  link2->set_span_id(SpanIdBytes(0x9a));
  AddString(link2->mutable_attributes(), "opentracing.ref_type", "child_of");

  // Resource 3: another service; resource 4: no attributes at all.
  auto* rs3 = data.add_resource_spans();
  AddString(rs3->mutable_resource()->mutable_attributes(), "service.name", "backend");
  otlp::Span* s3 = rs3->add_scope_spans()->add_spans();
  s3->set_trace_id(trace_id);
  s3->set_span_id(SpanIdBytes(3));
  s3->set_parent_span_id(SpanIdBytes(2));
  s3->set_name("internal work");
  auto* rs4 = data.add_resource_spans();
  otlp::Span* s4 = rs4->add_scope_spans()->add_spans();
  s4->set_trace_id(trace_id);
  s4->set_span_id(SpanIdBytes(4));
  s4->set_name("anonymous");
  return data;
}

TEST(JaegerJsonTest, TraceShape) {
  std::string error;
  const JsonValue t = ParseJson(Convert(RichTrace()), &error);
  ASSERT_TRUE(t.is_object()) << error;
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(t["traceID"].s, "000000000000aaaa000000000000bbbb");
  ASSERT_TRUE(t["spans"].is_array());
  EXPECT_EQ(t["spans"].size(), 4u);
  EXPECT_TRUE(t["warnings"].is_null());
  ASSERT_TRUE(t["processes"].is_object());
  EXPECT_EQ(t["processes"].size(), 3u);  // resources 1 and 2 share p1

  const JsonValue& p1 = t["processes"]["p1"];
  EXPECT_EQ(p1["serviceName"].s, "frontend");
  ASSERT_EQ(p1["tags"].size(), 2u);  // service.name is not repeated as a tag
  EXPECT_EQ(p1["tags"][0]["key"].s, "host.name");
  EXPECT_EQ(p1["tags"][0]["type"].s, "string");
  EXPECT_EQ(p1["tags"][0]["value"].s, "h1");
  EXPECT_EQ(p1["tags"][1]["key"].s, "pid");
  EXPECT_EQ(p1["tags"][1]["type"].s, "int64");
  EXPECT_EQ(p1["tags"][1]["value"].integer(), 42);
  EXPECT_EQ(t["processes"]["p2"]["serviceName"].s, "backend");
  EXPECT_TRUE(t["processes"]["p2"]["tags"].is_array());
  EXPECT_EQ(t["processes"]["p2"]["tags"].size(), 0u);
  EXPECT_EQ(t["processes"]["p3"]["serviceName"].s, "OTLPResourceNoServiceName");

  const JsonValue& root = t["spans"][0];
  for (const char* key : {"traceID", "spanID", "flags", "operationName", "references", "startTime",
                          "duration", "tags", "logs", "processID", "warnings"}) {
    EXPECT_TRUE(root.Has(key)) << key;
  }
  EXPECT_EQ(root.size(), 11u);
  EXPECT_EQ(root["traceID"].s, "000000000000aaaa000000000000bbbb");
  EXPECT_EQ(root["spanID"].s, "0000000000000001");
  EXPECT_EQ(root["flags"].integer(), 1);  // the W3C trace flags byte
  EXPECT_EQ(root["operationName"].s, "GET /cart");
  EXPECT_TRUE(root["references"].is_array());
  EXPECT_EQ(root["references"].size(), 0u);
  EXPECT_TRUE(root["startTime"].is_integer());
  EXPECT_EQ(root["startTime"].integer(), 1700000000123456);  // µs, truncated
  EXPECT_EQ(root["duration"].integer(), 2500);
  EXPECT_EQ(root["processID"].s, "p1");
  EXPECT_TRUE(root["warnings"].is_null());

  const JsonValue& tags = root["tags"];
  // Translator order: scope, attributes, span.kind, status.
  ASSERT_GE(tags.size(), 3u);
  EXPECT_EQ(tags[0]["key"].s, "otel.scope.name");
  EXPECT_EQ(tags[0]["value"].s, "io.lib");
  EXPECT_EQ(tags[1]["key"].s, "otel.scope.version");
  EXPECT_EQ(tags[1]["value"].s, "1.2.3");
  EXPECT_EQ(tags[2]["key"].s, "http.method");
  ExpectTag(tags, "http.method", "string");
  ExpectTag(tags, "ok", "bool");
  EXPECT_TRUE(Tag(tags, "ok")["value"].is_bool());
  EXPECT_TRUE(Tag(tags, "ok")["value"].b);
  ExpectTag(tags, "http.status_code", "int64");
  EXPECT_TRUE(Tag(tags, "http.status_code")["value"].is_integer());
  EXPECT_EQ(Tag(tags, "http.status_code")["value"].integer(), 200);
  ExpectTag(tags, "big", "int64");  // beyond 2^53: a string, as Jaeger writes it
  EXPECT_EQ(Tag(tags, "big")["value"].s, "1152921504606846976");
  ExpectTag(tags, "ratio", "float64");
  EXPECT_EQ(Tag(tags, "ratio")["value"].number(), 1.5);
  ExpectTag(tags, "raw", "binary");
  EXPECT_EQ(Tag(tags, "raw")["value"].s, "AQL/");
  ExpectTag(tags, "list", "string");
  EXPECT_EQ(Tag(tags, "list")["value"].s, R"(["a",2])");
  ExpectTag(tags, "map", "string");
  EXPECT_EQ(Tag(tags, "map")["value"].s, R"({"a":"x","z":false})");
  ExpectTag(tags, "span.kind", "string");
  EXPECT_EQ(Tag(tags, "span.kind")["value"].s, "server");
  EXPECT_EQ(Tag(tags, "otel.status_code")["value"].s, "OK");
  EXPECT_FALSE(Tag(tags, "error").is_object());
  EXPECT_FALSE(Tag(tags, "otel.status_description").is_object());

  const JsonValue& logs = root["logs"];
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(logs[0].size(), 2u);
  EXPECT_EQ(logs[0]["timestamp"].integer(), 1700000000124000);
  ASSERT_EQ(logs[0]["fields"].size(), 2u);
  EXPECT_EQ(logs[0]["fields"][0]["key"].s, "event");
  EXPECT_EQ(logs[0]["fields"][0]["type"].s, "string");
  EXPECT_EQ(logs[0]["fields"][0]["value"].s, "cache miss");
  EXPECT_EQ(logs[0]["fields"][1]["key"].s, "key");
  EXPECT_EQ(logs[1]["timestamp"].integer(), 1700000000125000);
  // An "event" attribute wins over the name.
  ASSERT_EQ(logs[1]["fields"].size(), 1u);
  EXPECT_EQ(logs[1]["fields"][0]["value"].s, "explicit");

  const JsonValue& child = t["spans"][1];
  EXPECT_FALSE(child.Has("flags"));  // 0: left out (omitempty)
  EXPECT_EQ(child["processID"].s, "p1");
  const JsonValue& refs = child["references"];
  ASSERT_EQ(refs.size(), 3u);
  EXPECT_EQ(refs[0]["refType"].s, "CHILD_OF");  // the parent, first
  EXPECT_EQ(refs[0]["traceID"].s, "000000000000aaaa000000000000bbbb");
  EXPECT_EQ(refs[0]["spanID"].s, "0000000000000001");
  EXPECT_EQ(refs[0].size(), 3u);
  EXPECT_EQ(refs[1]["refType"].s, "FOLLOWS_FROM");
  EXPECT_EQ(refs[1]["traceID"].s, "0000000000000077");
  EXPECT_EQ(refs[1]["spanID"].s, "0000000000000078");
  EXPECT_EQ(refs[2]["refType"].s, "CHILD_OF");
  EXPECT_EQ(refs[2]["traceID"].s, "0000000000000099");
  const JsonValue& ctags = child["tags"];
  EXPECT_EQ(Tag(ctags, "span.kind")["value"].s, "client");
  EXPECT_EQ(Tag(ctags, "otel.status_code")["value"].s, "ERROR");
  ExpectTag(ctags, "error", "bool");
  EXPECT_TRUE(Tag(ctags, "error")["value"].b);
  EXPECT_EQ(Tag(ctags, "otel.status_description")["value"].s, "deadlock");
  EXPECT_EQ(Tag(ctags, "w3c.tracestate")["value"].s, "vendor=x");
  EXPECT_FALSE(Tag(ctags, "otel.scope.name").is_object());  // empty scope: no scope tags
  EXPECT_TRUE(child["logs"].is_array());
  EXPECT_EQ(child["logs"].size(), 0u);

  const JsonValue& s3 = t["spans"][2];
  EXPECT_EQ(s3["processID"].s, "p2");
  EXPECT_EQ(s3["tags"].size(), 0u);  // unspecified kind, unset status: no tags
  EXPECT_EQ(t["spans"][3]["processID"].s, "p3");
}

TEST(JaegerJsonTest, LinkToTheParentRetypesItsReference) {
  otlp::TracesData data;
  otlp::Span* span = data.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_trace_id(TraceIdBytes(0, 5));
  span->set_span_id(SpanIdBytes(2));
  span->set_parent_span_id(SpanIdBytes(1));
  auto* link = span->add_links();
  link->set_trace_id(TraceIdBytes(0, 5));
  link->set_span_id(SpanIdBytes(1));
  const JsonValue t = ParseJson(Convert(data));
  ASSERT_EQ(t["spans"][0]["references"].size(), 1u);
  EXPECT_EQ(t["spans"][0]["references"][0]["refType"].s, "FOLLOWS_FROM");
  EXPECT_EQ(t["traceID"].s, "0000000000000005");
}

TEST(JaegerJsonTest, ZeroParentIdIsNoReferenceAndNegativeDurationIsZero) {
  otlp::TracesData data;
  otlp::Span* span = data.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_trace_id(TraceIdBytes(0, 5));
  span->set_span_id(SpanIdBytes(2));
  span->set_parent_span_id(std::string(8, '\0'));
  span->set_start_time_unix_nano(2000);
  span->set_end_time_unix_nano(1000);
  const JsonValue t = ParseJson(Convert(data));
  EXPECT_EQ(t["spans"][0]["references"].size(), 0u);
  EXPECT_EQ(t["spans"][0]["duration"].integer(), 0);
  EXPECT_EQ(t["spans"][0]["startTime"].integer(), 2);
}

TEST(JaegerJsonTest, ManyProcessesAreKeyedAsGoSortsMapKeys) {
  otlp::TracesData data;
  for (int i = 0; i < 11; ++i) {
    auto* rs = data.add_resource_spans();
    AddString(rs->mutable_resource()->mutable_attributes(), "service.name",
              "svc" + std::to_string(i));
    otlp::Span* span = rs->add_scope_spans()->add_spans();
    span->set_trace_id(TraceIdBytes(0, 5));
    span->set_span_id(SpanIdBytes(i + 1));
  }
  data.add_resource_spans();  // a resource without spans gets no process
  const std::string text = Convert(data);
  const JsonValue t = ParseJson(text);
  EXPECT_EQ(t["processes"].size(), 11u);
  EXPECT_EQ(t["processes"].members[0].first, "p1");
  EXPECT_EQ(t["processes"].members[1].first, "p10");
  EXPECT_EQ(t["processes"]["p11"]["serviceName"].s, "svc10");
  EXPECT_EQ(t["spans"][10]["processID"].s, "p11");
}

TEST(JaegerJsonTest, NonFiniteDoublesStayValidJson) {
  otlp::TracesData data;
  otlp::Span* span = data.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_trace_id(TraceIdBytes(0, 5));
  span->set_span_id(SpanIdBytes(2));
  AddAttr(span->mutable_attributes(), "nan")->mutable_value()->set_double_value(std::nan(""));
  AddAttr(span->mutable_attributes(), "inf")
      ->mutable_value()
      ->set_double_value(std::numeric_limits<double>::infinity());
  AddString(span->mutable_attributes(), "quote\"", "line\nbreak");
  std::string error;
  const JsonValue t = ParseJson(Convert(data), &error);
  ASSERT_TRUE(t.is_object()) << error;
  EXPECT_EQ(Tag(t["spans"][0]["tags"], "nan")["value"].s, "NaN");
  EXPECT_EQ(Tag(t["spans"][0]["tags"], "inf")["value"].s, "+Inf");
  EXPECT_EQ(Tag(t["spans"][0]["tags"], "quote\"")["value"].s, "line\nbreak");
}

}  // namespace
}  // namespace otlpd::query
