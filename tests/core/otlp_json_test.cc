#include "core/otlp_json.h"

#include <google/protobuf/arena.h>
#include <google/protobuf/util/field_comparator.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/otlp_wire.h"
#include "core/telemetry.h"
#include "gmock/gmock.h"
#include "google/protobuf/wrappers.pb.h"
#include "google/rpc/retry_info.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "otlpd/options.pb.h"
#include "simdjson.h"

namespace otlpd {
namespace {

namespace common = opentelemetry::proto::common::v1;
namespace trace = opentelemetry::proto::trace::v1;
namespace metrics = opentelemetry::proto::metrics::v1;
namespace logs = opentelemetry::proto::logs::v1;
using TracesRequest = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using TracesResponse = opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using MetricsRequest = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;
using MetricsResponse = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceResponse;
using LogsRequest = opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest;
using LogsResponse = opentelemetry::proto::collector::logs::v1::ExportLogsServiceResponse;
using google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

// A predicate rather than a matcher: gtest's printer for protos trips a GCC 12
// -Wrestrict false positive.
::testing::AssertionResult ProtoEquals(const google::protobuf::Message& expected,
                                       const google::protobuf::Message& actual) {
  std::string diff;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(expected, actual)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "differences:\n" << diff;
}

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

const std::string kTraceId = Bytes({0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69,
                                    0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c});
const std::string kSpanId = Bytes({0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74});
const std::string kParentId = Bytes({0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73});

// The OTLP/JSON example from the specification, extended to every AnyValue type, events,
// links and status; times once as a string and once as a number.
constexpr char kTracesJson[] = R"json({
  "resourceSpans": [
    {
      "resource": {
        "attributes": [
          {"key": "service.name", "value": {"stringValue": "my.service"}}
        ]
      },
      "scopeSpans": [
        {
          "scope": {
            "name": "my.library",
            "version": "1.0.0",
            "attributes": [
              {"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}
            ]
          },
          "spans": [
            {
              "traceId": "5B8EFFF798038103D269B633813FC60C",
              "spanId": "eee19b7ec3c1b174",
              "parentSpanId": "EEE19B7EC3C1B173",
              "name": "I'm a server span",
              "startTimeUnixNano": "1544712660000000000",
              "endTimeUnixNano": 1544712661000000000,
              "kind": 2,
              "flags": 257,
              "traceState": "k=v",
              "droppedAttributesCount": 1,
              "attributes": [
                {"key": "my.span.attr", "value": {"stringValue": "some value"}},
                {"key": "bool", "value": {"boolValue": true}},
                {"key": "int.string", "value": {"intValue": "-42"}},
                {"key": "int.number", "value": {"intValue": 9007199254740993}},
                {"key": "double", "value": {"doubleValue": 2.5}},
                {"key": "double.int", "value": {"doubleValue": 3}},
                {"key": "bytes", "value": {"bytesValue": "AAEC/w=="}},
                {"key": "array", "value": {"arrayValue": {"values": [
                  {"stringValue": "a"}, {"intValue": "1"},
                  {"arrayValue": {"values": [{"boolValue": false}]}}
                ]}}},
                {"key": "map", "value": {"kvlistValue": {"values": [
                  {"key": "inner", "value": {"stringValue": "x"}},
                  {"key": "nested", "value": {"kvlistValue": {"values": [
                    {"key": "deep", "value": {"doubleValue": -0.125}}
                  ]}}}
                ]}}},
                {"key": "empty", "value": {}}
              ],
              "events": [
                {
                  "timeUnixNano": "1544712660500000000",
                  "name": "an event",
                  "attributes": [{"key": "e", "value": {"intValue": 7}}],
                  "droppedAttributesCount": 2
                }
              ],
              "droppedEventsCount": 3,
              "links": [
                {
                  "traceId": "0102030405060708090a0b0c0d0e0f10",
                  "spanId": "1112131415161718",
                  "traceState": "a=b",
                  "attributes": [{"key": "l", "value": {"stringValue": "link"}}],
                  "flags": 1
                }
              ],
              "droppedLinksCount": 4,
              "status": {"code": 2, "message": "boom"}
            }
          ],
          "schemaUrl": "https://opentelemetry.io/schemas/1.24.0"
        }
      ]
    }
  ]
})json";

void AddAttribute(google::protobuf::RepeatedPtrField<common::KeyValue>* attributes,
                  const std::string& key, const std::string& value) {
  common::KeyValue* kv = attributes->Add();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

TracesRequest ExpectedTraces() {
  TracesRequest request;
  trace::ResourceSpans* rs = request.add_resource_spans();
  AddAttribute(rs->mutable_resource()->mutable_attributes(), "service.name", "my.service");
  trace::ScopeSpans* ss = rs->add_scope_spans();
  ss->set_schema_url("https://opentelemetry.io/schemas/1.24.0");
  ss->mutable_scope()->set_name("my.library");
  ss->mutable_scope()->set_version("1.0.0");
  AddAttribute(ss->mutable_scope()->mutable_attributes(), "my.scope.attribute",
               "some scope attribute");
  trace::Span* span = ss->add_spans();
  span->set_trace_id(kTraceId);
  span->set_span_id(kSpanId);
  span->set_parent_span_id(kParentId);
  span->set_name("I'm a server span");
  span->set_start_time_unix_nano(1544712660000000000ull);
  span->set_end_time_unix_nano(1544712661000000000ull);
  span->set_kind(trace::Span::SPAN_KIND_SERVER);
  span->set_flags(257);
  span->set_trace_state("k=v");
  span->set_dropped_attributes_count(1);
  auto* attrs = span->mutable_attributes();
  AddAttribute(attrs, "my.span.attr", "some value");
  common::KeyValue* kv = attrs->Add();
  kv->set_key("bool");
  kv->mutable_value()->set_bool_value(true);
  kv = attrs->Add();
  kv->set_key("int.string");
  kv->mutable_value()->set_int_value(-42);
  kv = attrs->Add();
  kv->set_key("int.number");
  kv->mutable_value()->set_int_value(9007199254740993);  // not exact as a double
  kv = attrs->Add();
  kv->set_key("double");
  kv->mutable_value()->set_double_value(2.5);
  kv = attrs->Add();
  kv->set_key("double.int");
  kv->mutable_value()->set_double_value(3);
  kv = attrs->Add();
  kv->set_key("bytes");
  kv->mutable_value()->set_bytes_value(Bytes({0, 1, 2, 0xff}));
  kv = attrs->Add();
  kv->set_key("array");
  common::ArrayValue* array = kv->mutable_value()->mutable_array_value();
  array->add_values()->set_string_value("a");
  array->add_values()->set_int_value(1);
  array->add_values()->mutable_array_value()->add_values()->set_bool_value(false);
  kv = attrs->Add();
  kv->set_key("map");
  common::KeyValueList* map = kv->mutable_value()->mutable_kvlist_value();
  AddAttribute(map->mutable_values(), "inner", "x");
  common::KeyValue* nested = map->add_values();
  nested->set_key("nested");
  common::KeyValue* deep = nested->mutable_value()->mutable_kvlist_value()->add_values();
  deep->set_key("deep");
  deep->mutable_value()->set_double_value(-0.125);
  kv = attrs->Add();
  kv->set_key("empty");
  kv->mutable_value();
  trace::Span::Event* event = span->add_events();
  event->set_time_unix_nano(1544712660500000000ull);
  event->set_name("an event");
  kv = event->add_attributes();
  kv->set_key("e");
  kv->mutable_value()->set_int_value(7);
  event->set_dropped_attributes_count(2);
  span->set_dropped_events_count(3);
  trace::Span::Link* link = span->add_links();
  link->set_trace_id(Bytes({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}));
  link->set_span_id(Bytes({0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18}));
  link->set_trace_state("a=b");
  AddAttribute(link->mutable_attributes(), "l", "link");
  link->set_flags(1);
  span->set_dropped_links_count(4);
  span->mutable_status()->set_code(trace::Status::STATUS_CODE_ERROR);
  span->mutable_status()->set_message("boom");
  return request;
}

TEST(OtlpJsonDecodeTest, SpecExampleTraces) {
  TracesRequest decoded;
  ASSERT_TRUE(DecodeOtlpJson(kTracesJson, &decoded).ok());
  EXPECT_TRUE(ProtoEquals(ExpectedTraces(), decoded));
  // "empty" has an AnyValue message with no member set.
  const auto& attrs = decoded.resource_spans(0).scope_spans(0).spans(0).attributes();
  EXPECT_TRUE(attrs[9].has_value());
  EXPECT_EQ(attrs[9].value().value_case(), common::AnyValue::VALUE_NOT_SET);
}

TEST(OtlpJsonDecodeTest, DecodesIntoArenaMessage) {
  google::protobuf::Arena arena;
  auto* decoded = google::protobuf::Arena::CreateMessage<TracesRequest>(&arena);
  ASSERT_TRUE(DecodeOtlpJson(kTracesJson, decoded).ok());
  EXPECT_TRUE(ProtoEquals(ExpectedTraces(), *decoded));
}

TEST(OtlpJsonDecodeTest, ReplacesPreviousContent) {
  TracesRequest decoded = ExpectedTraces();
  ASSERT_TRUE(DecodeOtlpJson(R"({"resourceSpans":[{}]})", &decoded).ok());
  TracesRequest expected;
  expected.add_resource_spans();
  EXPECT_TRUE(ProtoEquals(expected, decoded));
}

TEST(OtlpJsonDecodeTest, SnakeCaseKeys) {
  constexpr char kJson[] = R"({"resource_spans":[{"scope_spans":[{"spans":[{
      "trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174",
      "parent_span_id":"eee19b7ec3c1b173","start_time_unix_nano":"5","end_time_unix_nano":6,
      "dropped_attributes_count":1,"trace_state":"x",
      "attributes":[{"key":"k","value":{"kvlist_value":{"values":[
        {"key":"a","value":{"string_value":"s"}},{"key":"b","value":{"int_value":"3"}},
        {"key":"c","value":{"array_value":{"values":[{"bool_value":true},{"double_value":1.5},
        {"bytes_value":"AQ=="}]}}}]}}}]}]}],"schema_url":"u"}]})";
  TracesRequest decoded;
  absl::Status status = DecodeOtlpJson(kJson, &decoded);
  ASSERT_TRUE(status.ok()) << status;

  TracesRequest expected;
  trace::ResourceSpans* rs = expected.add_resource_spans();
  rs->set_schema_url("u");
  trace::Span* span = rs->add_scope_spans()->add_spans();
  span->set_trace_id(kTraceId);
  span->set_span_id(kSpanId);
  span->set_parent_span_id(kParentId);
  span->set_start_time_unix_nano(5);
  span->set_end_time_unix_nano(6);
  span->set_dropped_attributes_count(1);
  span->set_trace_state("x");
  common::KeyValue* kv = span->add_attributes();
  kv->set_key("k");
  auto* list = kv->mutable_value()->mutable_kvlist_value();
  AddAttribute(list->mutable_values(), "a", "s");
  kv = list->add_values();
  kv->set_key("b");
  kv->mutable_value()->set_int_value(3);
  kv = list->add_values();
  kv->set_key("c");
  auto* array = kv->mutable_value()->mutable_array_value();
  array->add_values()->set_bool_value(true);
  array->add_values()->set_double_value(1.5);
  array->add_values()->set_bytes_value(std::string(1, '\x01'));
  EXPECT_TRUE(ProtoEquals(expected, decoded));
}

TEST(OtlpJsonDecodeTest, UnknownFieldsIgnored) {
  constexpr char kJson[] = R"({
    "futureTopLevel": {"a": [1, 2, {"b": null, "c": [[], {}]}], "d": "x"},
    "resourceSpans": [{
      "unknownNumber": 12345678901234567890,
      "unknownArray": [{"traceId": 5}, "s", true, null, 1.5e300],
      "scopeSpans": [{"spans": [{"name": "n", "somethingNew": {"kind": "not a kind"},
                                 "kind": 1, "more": [[[["deep"]]]]}]}]
    }],
    "@type": "ignored"
  })";
  TracesRequest decoded;
  absl::Status status = DecodeOtlpJson(kJson, &decoded);
  ASSERT_TRUE(status.ok()) << status;
  TracesRequest expected;
  trace::Span* span = expected.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_name("n");
  span->set_kind(trace::Span::SPAN_KIND_INTERNAL);
  EXPECT_TRUE(ProtoEquals(expected, decoded));
}

TEST(OtlpJsonDecodeTest, NullMeansAbsent) {
  constexpr char kJson[] = R"({"resourceSpans":[{"resource":null,"schemaUrl":null,
      "scopeSpans":[{"scope":null,"spans":[{"name":null,"kind":null,"traceId":null,
      "status":null,"attributes":null}]}]}]})";
  TracesRequest decoded;
  ASSERT_TRUE(DecodeOtlpJson(kJson, &decoded).ok());
  TracesRequest expected;
  expected.add_resource_spans()->add_scope_spans()->add_spans();
  EXPECT_TRUE(ProtoEquals(expected, decoded));
  EXPECT_FALSE(decoded.resource_spans(0).has_resource());
  EXPECT_FALSE(decoded.resource_spans(0).scope_spans(0).spans(0).has_status());
}

TEST(OtlpJsonDecodeTest, EnumByName) {
  TracesRequest decoded;
  ASSERT_TRUE(DecodeOtlpJson(R"({"resourceSpans":[{"scopeSpans":[{"spans":[
      {"kind":"SPAN_KIND_CLIENT","status":{"code":"STATUS_CODE_OK"}},
      {"kind":"5"},{"kind":99}]}]}]})",
                             &decoded)
                  .ok());
  const auto& spans = decoded.resource_spans(0).scope_spans(0).spans();
  EXPECT_EQ(spans[0].kind(), trace::Span::SPAN_KIND_CLIENT);
  EXPECT_EQ(spans[0].status().code(), trace::Status::STATUS_CODE_OK);
  EXPECT_EQ(spans[1].kind(), trace::Span::SPAN_KIND_CONSUMER);
  // Unknown numbers are kept (open enums), as in binary protobuf.
  EXPECT_EQ(static_cast<int>(spans[2].kind()), 99);

  absl::Status status = DecodeOtlpJson(
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_NOPE"}]}]}]})", &decoded);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("resourceSpans[0].scopeSpans[0].spans[0].kind"));
}

std::string SpanIdsJson(const std::string& trace_id, const std::string& span_id) {
  return R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":")" + trace_id +
         R"(","spanId":")" + span_id + R"("}]}]}]})";
}

TEST(OtlpJsonDecodeTest, InvalidHexIdsBecomeOneByte) {
  const std::string kOneZero(1, '\0');
  struct Case {
    std::string trace_id;
    std::string span_id;
    std::string want_trace;
    std::string want_span;
  };
  const Case cases[] = {
      {"5b8efff798038103d269b633813fc60c", "zzzzzzzzzzzzzzzz", kTraceId, kOneZero},
      {"5b8efff798038103d269b633813fc60", "eee19b7ec3c1b174", kOneZero, kSpanId},  // odd
      {"", "", "", ""},
      {"0g", "eee19b7ec3c1b17-", kOneZero, kOneZero},
      // Base64 of the right length is not hex either.
      {"W47/95gDgQPSabYzgT/GDA==", "7uGbfsPBsXQ=", kOneZero, kOneZero},
      // Valid hex of a wrong length is kept as is; id validation rejects it later.
      {"abcd", "00", Bytes({0xab, 0xcd}), kOneZero},
  };
  for (const Case& c : cases) {
    TracesRequest decoded;
    absl::Status status = DecodeOtlpJson(SpanIdsJson(c.trace_id, c.span_id), &decoded);
    ASSERT_TRUE(status.ok()) << status;
    const trace::Span& span = decoded.resource_spans(0).scope_spans(0).spans(0);
    EXPECT_EQ(span.trace_id(), c.want_trace) << c.trace_id;
    EXPECT_EQ(span.span_id(), c.want_span) << c.span_id;
  }
}

TEST(OtlpJsonDecodeTest, IdsInLogsAndExemplarsAreHex) {
  LogsRequest logs;
  ASSERT_TRUE(DecodeOtlpJson(R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[
      {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}]})",
                             &logs)
                  .ok());
  EXPECT_EQ(logs.resource_logs(0).scope_logs(0).log_records(0).trace_id(), kTraceId);
  EXPECT_EQ(logs.resource_logs(0).scope_logs(0).log_records(0).span_id(), kSpanId);

  MetricsRequest metrics;
  ASSERT_TRUE(DecodeOtlpJson(R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[
      {"gauge":{"dataPoints":[{"exemplars":[{"traceId":"5b8efff798038103d269b633813fc60c",
      "spanId":"eee19b7ec3c1b174","asInt":"1"}]}]}}]}]}]})",
                             &metrics)
                  .ok());
  const metrics::Exemplar& exemplar =
      metrics.resource_metrics(0).scope_metrics(0).metrics(0).gauge().data_points(0).exemplars(0);
  EXPECT_EQ(exemplar.trace_id(), kTraceId);
  EXPECT_EQ(exemplar.span_id(), kSpanId);
  EXPECT_EQ(exemplar.as_int(), 1);
}

TEST(OtlpJsonDecodeTest, NumberForms) {
  MetricsRequest decoded;
  absl::Status status = DecodeOtlpJson(R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[
      {"histogram":{"aggregationTemporality":"2","dataPoints":[{
        "count":18446744073709551615, "startTimeUnixNano":"18446744073709551615",
        "timeUnixNano":1.0e3, "bucketCounts":["1", 2, 3e0], "explicitBounds":[1, "2.5", -3e-2],
        "sum":"NaN", "min":"-Infinity", "max":"Infinity", "flags":"1"}]}},
      {"exponentialHistogram":{"dataPoints":[{"scale":-3,"positive":{"offset":"-2",
        "bucketCounts":["4"]},"zeroThreshold":"1e-9"}]}}]}]}]})",
                                       &decoded);
  ASSERT_TRUE(status.ok()) << status;
  const auto& metrics_list = decoded.resource_metrics(0).scope_metrics(0).metrics();
  const metrics::HistogramDataPoint& hp = metrics_list[0].histogram().data_points(0);
  EXPECT_EQ(metrics_list[0].histogram().aggregation_temporality(),
            metrics::AGGREGATION_TEMPORALITY_CUMULATIVE);
  EXPECT_EQ(hp.count(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(hp.start_time_unix_nano(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(hp.time_unix_nano(), 1000u);
  EXPECT_THAT(hp.bucket_counts(), ::testing::ElementsAre(1, 2, 3));
  EXPECT_THAT(hp.explicit_bounds(), ::testing::ElementsAre(1, 2.5, -0.03));
  EXPECT_TRUE(hp.has_sum() && std::isnan(hp.sum()));
  EXPECT_EQ(hp.min(), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(hp.max(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(hp.flags(), 1u);
  const metrics::ExponentialHistogramDataPoint& ep =
      metrics_list[1].exponential_histogram().data_points(0);
  EXPECT_EQ(ep.scale(), -3);
  EXPECT_EQ(ep.positive().offset(), -2);
  EXPECT_THAT(ep.positive().bucket_counts(), ::testing::ElementsAre(4));
  EXPECT_EQ(ep.zero_threshold(), 1e-9);
}

absl::Status DecodeSpanField(const std::string& field_json) {
  TracesRequest decoded;
  return DecodeOtlpJson(
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[{}, {)" + field_json + R"(}]}]}]})", &decoded);
}

TEST(OtlpJsonDecodeTest, WrongTypesAreInvalidArgumentNamingTheField) {
  struct Case {
    std::string json;
    std::string path;
  };
  const std::string span = "resourceSpans[0].scopeSpans[0].spans[1].";
  const Case cases[] = {
      {R"("name": 5)", span + "name"},
      {R"("name": ["a"])", span + "name"},
      {R"("kind": true)", span + "kind"},
      {R"("kind": 1.5)", span + "kind"},
      {R"("startTimeUnixNano": "abc")", span + "startTimeUnixNano"},
      {R"("startTimeUnixNano": -1)", span + "startTimeUnixNano"},
      {R"("startTimeUnixNano": 1.5)", span + "startTimeUnixNano"},
      {R"("startTimeUnixNano": {})", span + "startTimeUnixNano"},
      {R"("droppedAttributesCount": 4294967296)", span + "droppedAttributesCount"},
      {R"("droppedAttributesCount": "x")", span + "droppedAttributesCount"},
      {R"("flags": -1)", span + "flags"},
      {R"("traceId": 123)", span + "traceId"},
      {R"("status": "ok")", span + "status"},
      {R"("status": {"code": {}})", span + "status.code"},
      {R"("events": {})", span + "events"},
      {R"("events": [{}, 5])", span + "events[1]"},
      {R"("events": [null])", span + "events[0]"},
      {R"("attributes": [{"key": 1}])", span + "attributes[0].key"},
      {R"("attributes": [{"key": "k", "value": {"boolValue": "true"}}])",
       span + "attributes[0].value.boolValue"},
      {R"("attributes": [{"key": "k", "value": {"intValue": "9223372036854775808"}}])",
       span + "attributes[0].value.intValue"},
      {R"("attributes": [{"key": "k", "value": {"intValue": 9223372036854775808}}])",
       span + "attributes[0].value.intValue"},
      {R"("attributes": [{"key": "k", "value": {"doubleValue": "fast"}}])",
       span + "attributes[0].value.doubleValue"},
      {R"("attributes": [{"key": "k", "value": {"bytesValue": "!!not base64!!"}}])",
       span + "attributes[0].value.bytesValue"},
      {R"("attributes": [{"key": "k", "value": {"arrayValue": {"values": [{}, {"intValue": []}]}}}])",
       span + "attributes[0].value.arrayValue.values[1].intValue"},
  };
  for (const Case& c : cases) {
    absl::Status status = DecodeSpanField(c.json);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_THAT(status.message(), HasSubstr(c.path)) << c.json;
  }
  TracesRequest decoded;
  absl::Status status = DecodeOtlpJson(R"({"resourceSpans": {}})", &decoded);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("resourceSpans"));
}

TEST(OtlpJsonDecodeTest, MalformedJsonIsInvalidArgument) {
  const char* cases[] = {
      "",
      "{",
      "{\"resourceSpans\": [}",
      "{\"resourceSpans\": [{]}",
      "[]",
      "\"a string\"",
      "null",
      "42",
      "{\"resourceSpans\": []} trailing",
      "{'resourceSpans': []}",
      "{\"a\": \"\xff\xfe invalid utf8\"}",
  };
  for (const char* json : cases) {
    TracesRequest decoded;
    EXPECT_EQ(DecodeOtlpJson(json, &decoded).code(), absl::StatusCode::kInvalidArgument) << json;
  }
  TracesRequest decoded;
  EXPECT_TRUE(DecodeOtlpJson("  {}  ", &decoded).ok());
  EXPECT_TRUE(DecodeOtlpJson(R"({"resourceSpans": []})", &decoded).ok());
}

// {"resourceSpans":[{"resource":{"attributes":[{"key":"k","value": <AnyValue>}]}}]}
// where the AnyValue is arrays nested `levels` deep.
std::string NestedArraysJson(int levels) {
  std::string json = R"({"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":)";
  for (int i = 0; i < levels; ++i) json += R"({"arrayValue":{"values":[)";
  json += R"({"intValue":"1"})";
  for (int i = 0; i < levels; ++i) json += "]}}";
  json += "}]}}]}";
  return json;
}

TEST(OtlpJsonDecodeTest, DeepNestingIsRefusedNotCrashing) {
  TracesRequest decoded;
  absl::Status status = DecodeOtlpJson(NestedArraysJson(45), &decoded);
  ASSERT_TRUE(status.ok()) << status;
  const common::AnyValue* value = &decoded.resource_spans(0).resource().attributes(0).value();
  for (int i = 0; i < 45; ++i) value = &value->array_value().values(0);
  EXPECT_EQ(value->int_value(), 1);

  // Whatever depth is accepted can be sent on as protobuf and parsed by a protobuf peer
  // (default recursion limit 100); the limit sits between 45 and 50 array levels.
  int accepted = 0;
  for (int levels = 45; levels <= 50; ++levels) {
    TracesRequest nested;
    if (!DecodeOtlpJson(NestedArraysJson(levels), &nested).ok()) continue;
    ++accepted;
    TracesRequest reparsed;
    EXPECT_TRUE(reparsed.ParseFromString(nested.SerializeAsString())) << levels << " levels";
  }
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, 6);

  // Within the JSON parser's depth limit but beyond ours.
  EXPECT_EQ(DecodeOtlpJson(NestedArraysJson(200), &decoded).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeOtlpJson(NestedArraysJson(10000), &decoded).code(),
            absl::StatusCode::kInvalidArgument);
  // Deep raw arrays in an ignored field.
  std::string raw = R"({"unknown":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_EQ(DecodeOtlpJson(raw, &decoded).code(), absl::StatusCode::kInvalidArgument);
}

TEST(OtlpJsonEncodeTest, KnownTracesMessageExactly) {
  TracesRequest request;
  trace::ResourceSpans* rs = request.add_resource_spans();
  AddAttribute(rs->mutable_resource()->mutable_attributes(), "service.name", "svc");
  trace::ScopeSpans* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("lib");
  trace::Span* span = ss->add_spans();
  span->set_trace_id(kTraceId);
  span->set_span_id(kSpanId);
  span->set_flags(1);
  span->set_name("quote\" backslash\\ newline\n tab\t ctl\x01 del\x7f utf8 \xc3\xa9 \xe2\x82\xac");
  span->set_kind(trace::Span::SPAN_KIND_CLIENT);
  span->set_start_time_unix_nano(1544712660000000000ull);
  span->set_end_time_unix_nano(18446744073709551615ull);
  common::KeyValue* kv = span->add_attributes();
  kv->set_key("zero.int");
  kv->mutable_value()->set_int_value(0);  // set oneof member: written although default
  kv = span->add_attributes();
  kv->set_key("zero.double");
  kv->mutable_value()->set_double_value(0);
  kv = span->add_attributes();
  kv->set_key("empty.string");
  kv->mutable_value()->set_string_value("");
  kv = span->add_attributes();
  kv->set_key("false");
  kv->mutable_value()->set_bool_value(false);
  kv = span->add_attributes();
  kv->set_key("neg");
  kv->mutable_value()->set_int_value(-9007199254740993);
  kv = span->add_attributes();
  kv->set_key("d");
  kv->mutable_value()->set_double_value(0.1);
  kv = span->add_attributes();
  kv->set_key("big");
  kv->mutable_value()->set_double_value(1e300);
  kv = span->add_attributes();
  kv->set_key("bytes");
  kv->mutable_value()->set_bytes_value(Bytes({0, 1, 2, 0xff, 0xfe}));
  kv = span->add_attributes();
  kv->set_key("list");
  auto* array = kv->mutable_value()->mutable_array_value();
  array->add_values()->set_string_value("a");
  array->add_values()->mutable_kvlist_value();
  span->add_events()->set_name("e");
  span->mutable_status()->set_code(trace::Status::STATUS_CODE_ERROR);
  span->mutable_status();

  const std::string expected =
      R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},)"
      R"("scopeSpans":[{"scope":{"name":"lib"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",)"
      R"("spanId":"eee19b7ec3c1b174","flags":1,)"
      R"("name":"quote\" backslash\\ newline\n tab\t ctl\u0001 del)"
      "\x7f utf8 \xc3\xa9 \xe2\x82\xac"
      R"(","kind":3,"startTimeUnixNano":"1544712660000000000",)"
      R"("endTimeUnixNano":"18446744073709551615","attributes":[)"
      R"({"key":"zero.int","value":{"intValue":"0"}},)"
      R"({"key":"zero.double","value":{"doubleValue":0}},)"
      R"({"key":"empty.string","value":{"stringValue":""}},)"
      R"({"key":"false","value":{"boolValue":false}},)"
      R"({"key":"neg","value":{"intValue":"-9007199254740993"}},)"
      R"({"key":"d","value":{"doubleValue":0.1}},)"
      R"({"key":"big","value":{"doubleValue":1e+300}},)"
      R"({"key":"bytes","value":{"bytesValue":"AAEC//4="}},)"
      R"({"key":"list","value":{"arrayValue":{"values":[{"stringValue":"a"},{"kvlistValue":{}}]}}}],)"
      R"("events":[{"name":"e"}],"status":{"code":2}}]}]}]})";
  EXPECT_EQ(EncodeOtlpJson(request), expected);

  TracesRequest decoded;
  ASSERT_TRUE(DecodeOtlpJson(expected, &decoded).ok());
  EXPECT_TRUE(ProtoEquals(request, decoded));
}

// Text fields keep the bytes a client sent, even when they are not UTF-8 (OTLP says
// `string`, otelcol accepts them anyway); JSON output stays valid by writing U+FFFD for
// each byte that is not part of well-formed UTF-8.
TEST(OtlpJsonEncodeTest, InvalidUtf8InTextBecomesReplacementCharacter) {
  TracesRequest request;
  trace::Span* span = request.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_name(std::string("ok \xc3\xa9 bad \xff\xfe trunc \xe2\x82 sur \xed\xa0\x80 end", 33));
  common::KeyValue* kv = span->add_attributes();
  kv->set_key(std::string("k\xc0\xaf", 3));  // overlong '/'
  kv->mutable_value()->set_string_value(std::string("\xf4\x90\x80\x80 \xf0\x9f\x98\x80", 9));

  // Protobuf keeps the bytes as they are.
  TracesRequest reparsed;
  ASSERT_TRUE(reparsed.ParseFromString(request.SerializeAsString()));
  EXPECT_EQ(reparsed.resource_spans(0).scope_spans(0).spans(0).name(), span->name());

  const std::string json = EncodeOtlpJson(request);
  const std::string r = "\xef\xbf\xbd";
  EXPECT_NE(json.find("\"name\":\"ok \xc3\xa9 bad " + r + r + " trunc " + r + r + " sur " + r + r +
                      r + " end\""),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"key\":\"k" + r + r + "\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"stringValue\":\"" + r + r + r + r + " \xf0\x9f\x98\x80\""),
            std::string::npos)
      << json;
  // Valid JSON (the decoder checks UTF-8), and the replacement characters read back.
  TracesRequest decoded;
  ASSERT_TRUE(DecodeOtlpJson(json, &decoded).ok()) << json;
  EXPECT_EQ(decoded.resource_spans(0).scope_spans(0).spans(0).attributes(0).key(), "k" + r + r);
}

TEST(OtlpJsonEncodeTest, EmptyMessages) {
  EXPECT_EQ(EncodeOtlpJson(TracesRequest()), "{}");
  EXPECT_EQ(EncodeOtlpJson(TracesResponse()), "{}");
  TracesResponse with_empty_partial;
  with_empty_partial.mutable_partial_success();
  EXPECT_EQ(EncodeOtlpJson(with_empty_partial), R"({"partialSuccess":{}})");
}

TEST(OtlpJsonEncodeTest, ControlCharactersEscaped) {
  std::string all;
  for (int c = 0; c < 0x20; ++c) all.push_back(static_cast<char>(c));
  logs::LogRecord record;
  record.mutable_body()->set_string_value(all);
  EXPECT_EQ(EncodeOtlpJson(record),
            R"({"body":{"stringValue":"\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007)"
            R"(\b\t\n\u000b\f\r\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017)"
            R"(\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f"}})");
  logs::LogRecord decoded;
  ASSERT_TRUE(DecodeOtlpJson(EncodeOtlpJson(record), &decoded).ok());
  EXPECT_EQ(decoded.body().string_value(), all);
}

TEST(OtlpJsonEncodeTest, PartialSuccessResponses) {
  TracesResponse traces;
  traces.mutable_partial_success()->set_rejected_spans(3);
  traces.mutable_partial_success()->set_error_message("3 spans had invalid ids");
  EXPECT_EQ(EncodeOtlpJson(traces),
            R"({"partialSuccess":{"rejectedSpans":"3","errorMessage":"3 spans had invalid ids"}})");

  MetricsResponse metrics;
  metrics.mutable_partial_success()->set_rejected_data_points(2);
  EXPECT_EQ(EncodeOtlpJson(metrics), R"({"partialSuccess":{"rejectedDataPoints":"2"}})");

  LogsResponse logs;
  logs.mutable_partial_success()->set_error_message("warning only");
  EXPECT_EQ(EncodeOtlpJson(logs), R"({"partialSuccess":{"errorMessage":"warning only"}})");

  TracesResponse decoded;
  ASSERT_TRUE(DecodeOtlpJson(EncodeOtlpJson(traces), &decoded).ok());
  EXPECT_TRUE(ProtoEquals(traces, decoded));
}

TEST(OtlpJsonEncodeTest, RpcStatus) {
  google::rpc::Status status;
  status.set_code(3);
  status.set_message("bad \"request\"");
  EXPECT_EQ(EncodeOtlpJson(status), R"({"code":3,"message":"bad \"request\""})");

  google::rpc::Status decoded;
  ASSERT_TRUE(DecodeOtlpJson(R"({"code":3,"message":"bad \"request\""})", &decoded).ok());
  EXPECT_TRUE(ProtoEquals(status, decoded));
}

TEST(OtlpJsonEncodeTest, RpcStatusWithRetryInfoDetails) {
  google::rpc::Status status;
  status.set_code(14);
  status.set_message("unavailable");
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_seconds(1);
  retry.mutable_retry_delay()->set_nanos(500000000);
  status.add_details()->PackFrom(retry);
  const std::string expected =
      R"({"code":14,"message":"unavailable","details":[)"
      R"({"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.500s"}]})";
  EXPECT_EQ(EncodeOtlpJson(status), expected);

  google::rpc::Status decoded;
  absl::Status st = DecodeOtlpJson(expected, &decoded);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_TRUE(ProtoEquals(status, decoded));
  google::rpc::RetryInfo unpacked;
  ASSERT_TRUE(decoded.details(0).UnpackTo(&unpacked));
  EXPECT_EQ(unpacked.retry_delay().seconds(), 1);
  EXPECT_EQ(unpacked.retry_delay().nanos(), 500000000);

  // Durations in other forms.
  ASSERT_TRUE(DecodeOtlpJson(R"({"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo",)"
                             R"("retryDelay":"-0.000000002s"}]})",
                             &decoded)
                  .ok());
  ASSERT_TRUE(decoded.details(0).UnpackTo(&unpacked));
  EXPECT_EQ(unpacked.retry_delay().seconds(), 0);
  EXPECT_EQ(unpacked.retry_delay().nanos(), -2);
  EXPECT_EQ(EncodeOtlpJson(unpacked), R"({"retryDelay":"-0.000000002s"})");
  EXPECT_EQ(DecodeOtlpJson(R"({"retryDelay":"1m"})", &unpacked).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      DecodeOtlpJson(R"({"details":[{"@type":"type.googleapis.com/no.Such"}]})", &decoded).code(),
      absl::StatusCode::kInvalidArgument);
}

MetricsRequest SampleMetrics() {
  MetricsRequest request;
  metrics::ResourceMetrics* rm = request.add_resource_metrics();
  AddAttribute(rm->mutable_resource()->mutable_attributes(), "service.name", "svc");
  rm->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
  metrics::ScopeMetrics* sm = rm->add_scope_metrics();
  sm->mutable_scope()->set_name("meter");

  metrics::Metric* gauge = sm->add_metrics();
  gauge->set_name("cpu.temp");
  gauge->set_unit("Cel");
  gauge->set_description("temperature");
  metrics::NumberDataPoint* gp = gauge->mutable_gauge()->add_data_points();
  gp->set_time_unix_nano(1700000000000000000ull);
  gp->set_as_double(0);  // oneof set to the default value: must survive
  AddAttribute(gp->mutable_attributes(), "core", "0");
  metrics::Exemplar* ex = gp->add_exemplars();
  ex->set_as_double(41.75);
  ex->set_time_unix_nano(1700000000000000001ull);
  ex->set_trace_id(kTraceId);
  ex->set_span_id(kSpanId);
  AddAttribute(ex->mutable_filtered_attributes(), "user", "u1");

  metrics::Metric* sum = sm->add_metrics();
  sum->set_name("requests");
  sum->mutable_sum()->set_aggregation_temporality(metrics::AGGREGATION_TEMPORALITY_CUMULATIVE);
  sum->mutable_sum()->set_is_monotonic(true);
  metrics::NumberDataPoint* sp = sum->mutable_sum()->add_data_points();
  sp->set_start_time_unix_nano(1);
  sp->set_time_unix_nano(2);
  sp->set_as_int(-9223372036854775807LL - 1);
  sp->add_exemplars()->set_as_int(0);
  sp->set_flags(1);

  metrics::Metric* histogram = sm->add_metrics();
  histogram->set_name("latency");
  histogram->mutable_histogram()->set_aggregation_temporality(
      metrics::AGGREGATION_TEMPORALITY_DELTA);
  metrics::HistogramDataPoint* hp = histogram->mutable_histogram()->add_data_points();
  hp->set_count(10);
  hp->set_sum(123.456);
  hp->set_min(0);  // optional field set to zero: must survive
  hp->set_max(99.5);
  for (uint64_t c : {1, 2, 3, 4}) hp->add_bucket_counts(c);
  for (double b : {0.005, 0.1, 2.5}) hp->add_explicit_bounds(b);
  metrics::Exemplar* hex = hp->add_exemplars();
  hex->set_as_double(0.0031);
  hex->set_trace_id(kTraceId);

  metrics::Metric* exp = sm->add_metrics();
  exp->set_name("exp");
  metrics::ExponentialHistogramDataPoint* ep =
      exp->mutable_exponential_histogram()->add_data_points();
  ep->set_count(7);
  ep->set_scale(-2);
  ep->set_zero_count(1);
  ep->set_zero_threshold(1e-12);
  ep->mutable_positive()->set_offset(-3);
  for (uint64_t c : {2, 0, 4}) ep->mutable_positive()->add_bucket_counts(c);
  ep->mutable_negative();  // present but empty
  ep->set_sum(-5.5);
  ep->add_exemplars()->set_as_int(12);

  metrics::Metric* summary = sm->add_metrics();
  summary->set_name("summary");
  metrics::SummaryDataPoint* qp = summary->mutable_summary()->add_data_points();
  qp->set_count(3);
  qp->set_sum(3.3);
  auto* q = qp->add_quantile_values();
  q->set_quantile(0);
  q->set_value(1.1);
  q = qp->add_quantile_values();
  q->set_quantile(1);
  q->set_value(std::numeric_limits<double>::min());
  return request;
}

TEST(OtlpJsonRoundTripTest, Metrics) {
  MetricsRequest request = SampleMetrics();
  std::string json = EncodeOtlpJson(request);
  MetricsRequest decoded;
  absl::Status status = DecodeOtlpJson(json, &decoded);
  ASSERT_TRUE(status.ok()) << status << "\n" << json;
  EXPECT_TRUE(ProtoEquals(request, decoded)) << json;
  // Spot checks of the wire form.
  EXPECT_THAT(json, HasSubstr(R"("gauge":{"dataPoints":[{"attributes":[)"));
  EXPECT_THAT(json, HasSubstr(R"("asDouble":0)"));
  EXPECT_THAT(json, HasSubstr(R"("asInt":"-9223372036854775808")"));
  EXPECT_THAT(json, HasSubstr(R"("min":0,"max":99.5)"));
  EXPECT_THAT(json,
              HasSubstr(R"("bucketCounts":["1","2","3","4"],"explicitBounds":[0.005,0.1,2.5])"));
  EXPECT_THAT(
      json,
      HasSubstr(R"("spanId":"eee19b7ec3c1b174","traceId":"5b8efff798038103d269b633813fc60c")"));
  EXPECT_THAT(json, HasSubstr(R"("aggregationTemporality":2,"isMonotonic":true)"));
  EXPECT_THAT(json, HasSubstr(R"("negative":{})"));
  EXPECT_THAT(json, HasSubstr(R"("value":2.2250738585072014e-308)"));
  EXPECT_THAT(json, HasSubstr(R"("exemplars":[{"asInt":"0"}])"));
  EXPECT_THAT(json, HasSubstr(R"("zeroThreshold":1e-12)"));
}

TEST(OtlpJsonRoundTripTest, NonFiniteDoubles) {
  metrics::HistogramDataPoint point;
  point.set_sum(std::numeric_limits<double>::quiet_NaN());
  point.set_min(-std::numeric_limits<double>::infinity());
  point.set_max(std::numeric_limits<double>::infinity());
  point.add_explicit_bounds(std::numeric_limits<double>::infinity());
  std::string json = EncodeOtlpJson(point);
  EXPECT_EQ(json,
            R"({"sum":"NaN","explicitBounds":["Infinity"],"min":"-Infinity","max":"Infinity"})");
  metrics::HistogramDataPoint decoded;
  ASSERT_TRUE(DecodeOtlpJson(json, &decoded).ok());
  EXPECT_TRUE(std::isnan(decoded.sum()));
  EXPECT_EQ(decoded.min(), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(decoded.max(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(decoded.explicit_bounds(0), std::numeric_limits<double>::infinity());
}

TEST(OtlpJsonRoundTripTest, DoublesRoundTripExactly) {
  const double values[] = {0.1,  1.0 / 3, -2.5e-310, 1.7976931348623157e308, 123456789.125,
                           -0.0, 5e-324,  1e21,      9007199254740993.0,     3.141592653589793};
  for (double v : values) {
    common::AnyValue value;
    value.set_double_value(v);
    common::AnyValue decoded;
    ASSERT_TRUE(DecodeOtlpJson(EncodeOtlpJson(value), &decoded).ok()) << v;
    EXPECT_EQ(decoded.double_value(), v) << EncodeOtlpJson(value);
    EXPECT_EQ(std::signbit(decoded.double_value()), std::signbit(v));
  }
}

TEST(OtlpJsonRoundTripTest, Logs) {
  LogsRequest request;
  logs::ResourceLogs* rl = request.add_resource_logs();
  AddAttribute(rl->mutable_resource()->mutable_attributes(), "service.name", "svc");
  logs::ScopeLogs* sl = rl->add_scope_logs();
  sl->mutable_scope()->set_name("logger");
  logs::LogRecord* record = sl->add_log_records();
  record->set_time_unix_nano(1700000000000000000ull);
  record->set_observed_time_unix_nano(1700000000000000005ull);
  record->set_severity_number(logs::SEVERITY_NUMBER_WARN);
  record->set_severity_text("WARN");
  record->set_trace_id(kTraceId);
  record->set_span_id(kSpanId);
  record->set_flags(1);
  record->set_event_name("evt");
  auto* body = record->mutable_body()->mutable_kvlist_value();
  AddAttribute(body->mutable_values(), "msg", "hello \"world\"\n");
  common::KeyValue* kv = body->add_values();
  kv->set_key("raw");
  kv->mutable_value()->set_bytes_value(std::string("\x00\xff\x10", 3));
  AddAttribute(record->mutable_attributes(), "a", "b");
  record->set_dropped_attributes_count(9);
  sl->add_log_records()->mutable_body()->set_string_value("second");

  std::string json = EncodeOtlpJson(request);
  EXPECT_THAT(json, HasSubstr(R"("severityNumber":13,"severityText":"WARN")"));
  EXPECT_THAT(json, HasSubstr(R"("traceId":"5b8efff798038103d269b633813fc60c")"));
  LogsRequest decoded;
  ASSERT_TRUE(DecodeOtlpJson(json, &decoded).ok()) << json;
  EXPECT_TRUE(ProtoEquals(request, decoded));

  // Severity by name.
  ASSERT_TRUE(DecodeOtlpJson(R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[
      {"severityNumber":"SEVERITY_NUMBER_ERROR","body":{"stringValue":"x"}}]}]}]})",
                             &decoded)
                  .ok());
  EXPECT_EQ(decoded.resource_logs(0).scope_logs(0).log_records(0).severity_number(),
            logs::SEVERITY_NUMBER_ERROR);
}

TEST(OtlpJsonRoundTripTest, TracesSpecExample) {
  TracesRequest request = ExpectedTraces();
  TracesRequest decoded;
  ASSERT_TRUE(DecodeOtlpJson(EncodeOtlpJson(request), &decoded).ok());
  EXPECT_TRUE(ProtoEquals(request, decoded));
}

TEST(OtlpJsonDecodeTest, UrlSafeBase64Accepted) {
  common::AnyValue decoded;
  ASSERT_TRUE(DecodeOtlpJson(R"({"bytesValue":"AAEC__4"})", &decoded).ok());
  EXPECT_EQ(decoded.bytes_value(), Bytes({0, 1, 2, 0xff, 0xfe}));
  ASSERT_TRUE(DecodeOtlpJson(R"({"bytesValue":"AAEC//4="})", &decoded).ok());
  EXPECT_EQ(decoded.bytes_value(), Bytes({0, 1, 2, 0xff, 0xfe}));
}

// --- TranscodeOtlpJson ---------------------------------------------------------------

// Differential check of TranscodeOtlpJson against DecodeOtlpJson on one document: same
// acceptance (and error), and when accepted, bytes that parse into the same message.
template <typename Message>
::testing::AssertionResult TranscodesLikeDecode(const std::string& json) {
  Message decoded;
  const absl::Status decode_status = DecodeOtlpJson(json, &decoded);
  absl::StatusOr<std::string> wire = TranscodeOtlpJson(json, Message::descriptor());
  if (decode_status.ok() != wire.ok()) {
    return ::testing::AssertionFailure()
           << "decode: " << decode_status << "\ntranscode: " << wire.status() << "\n"
           << json;
  }
  if (!wire.ok()) {
    if (wire.status() != decode_status) {
      return ::testing::AssertionFailure()
             << "decode: " << decode_status << "\ntranscode: " << wire.status() << "\n"
             << json;
    }
    return ::testing::AssertionSuccess();
  }
  Message parsed;
  if (!parsed.ParseFromString(*wire)) {
    return ::testing::AssertionFailure() << "transcoded bytes do not parse\n" << json;
  }
  std::string diff;
  MessageDifferencer differencer;
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);
  differencer.set_field_comparator(&comparator);
  differencer.ReportDifferencesToString(&diff);
  if (!differencer.Compare(decoded, parsed)) {
    return ::testing::AssertionFailure() << "differences:\n" << diff << "\n" << json;
  }
  // Also what the differencer does not see: the sign of zeros, NaN payloads.
  if (decoded.SerializeAsString() != parsed.SerializeAsString()) {
    return ::testing::AssertionFailure() << "different serializations\n" << json;
  }
  return ::testing::AssertionSuccess();
}

// Random OTLP messages through reflection: every field kind of the three signals, with
// special values, nested AnyValues, ids of right and wrong lengths, texts with escapes,
// invalid UTF-8 and non-ASCII characters, and now and then long repeated fields (so that
// lengths need 2 and 3 bytes).
class RandomMessages {
 public:
  explicit RandomMessages(uint64_t seed) : rng_(seed) {}

  void Fill(google::protobuf::Message* message, int depth) {
    const google::protobuf::Descriptor* descriptor = message->GetDescriptor();
    const google::protobuf::Reflection* reflection = message->GetReflection();
    for (int i = 0; i < descriptor->field_count(); ++i) {
      const google::protobuf::FieldDescriptor* field = descriptor->field(i);
      if (Chance(0.4) || values_ > kMaxValues) continue;
      if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE &&
          depth >= max_depth_) {
        continue;
      }
      if (!field->is_repeated()) {
        SetOne(message, reflection, field, depth);
        continue;
      }
      int n = static_cast<int>(Below(4));
      if (Chance(0.03)) n = 20 + static_cast<int>(Below(200));
      if (depth >= 6) n = std::min(n, 1);
      for (int k = 0; k < n; ++k) AddOne(message, reflection, field, depth);
    }
  }

  void set_max_depth(int depth) { max_depth_ = depth; }

 private:
  using FD = google::protobuf::FieldDescriptor;

  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  uint64_t Below(uint64_t n) { return rng_() % n; }

  template <typename T>
  T Pick(std::initializer_list<T> values) {
    return values.begin()[Below(values.size())];
  }

  int64_t Int64() {
    return Pick<int64_t>({0, 1, -1, 42, 9007199254740993, std::numeric_limits<int64_t>::min(),
                          std::numeric_limits<int64_t>::max(), static_cast<int64_t>(rng_()),
                          static_cast<int64_t>(rng_() % 1000)});
  }
  uint64_t UInt64() {
    return Pick<uint64_t>({0, 1, 127, 128, 16384, std::numeric_limits<uint64_t>::max(),
                           1700000000000000000ull, rng_(), rng_() % 1000});
  }
  int32_t Int32() {
    return Pick<int32_t>({0, 1, -1, std::numeric_limits<int32_t>::min(),
                          std::numeric_limits<int32_t>::max(),
                          static_cast<int32_t>(rng_() % 100000)});
  }
  uint32_t UInt32() {
    return Pick<uint32_t>(
        {0, 1, 257, std::numeric_limits<uint32_t>::max(), static_cast<uint32_t>(rng_())});
  }
  double Double() {
    return Pick<double>({0.0, -0.0, 1.0, -2.5, 0.1, 1e21, 5e-324, 2.2250738585072014e-308,
                         1.7976931348623157e308, std::numeric_limits<double>::quiet_NaN(),
                         std::numeric_limits<double>::infinity(),
                         -std::numeric_limits<double>::infinity(), 9007199254740993.0,
                         std::uniform_real_distribution<double>(-1e6, 1e6)(rng_)});
  }

  std::string Text() {
    switch (Below(9)) {
      case 0:
        return "";
      case 1:
        return "plain.ascii";
      case 2:
        return "\xc3\xa9\xe2\x82\xac \xf0\x9f\x98\x80 \xe4\xb8\xad";  // é € 😀 中
      case 3:
        return std::string("quote\" back\\ slash/ nl\n tab\t cr\r ctl\x01\x1f del\x7f nul\0!", 47);
      case 4:
        return "invalid \xff\xfe utf8 \xc3";  // written as U+FFFD
      case 5:
        return std::string(Chance(0.1) ? 16000 + Below(1000) : 100 + Below(100), 'x');
      default: {
        std::string s(1 + Below(30), ' ');
        for (char& c : s) c = static_cast<char>(' ' + Below(95));
        return s;
      }
    }
  }

  std::string RandomBytes(size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng_());
    return s;
  }

  std::string BytesFor(const FD* field) {
    const std::string& name = field->name();
    if (name == "trace_id" || name == "span_id" || name == "parent_span_id") {
      const size_t right = name == "trace_id" ? 16 : 8;
      return RandomBytes(Chance(0.85) ? right : Pick<size_t>({0, 1, 3, 17}));
    }
    if (field->options().GetExtension(otlpd::text)) return Text();
    return RandomBytes(Below(40));
  }

  int Enum(const FD* field) {
    const google::protobuf::EnumDescriptor* type = field->enum_type();
    if (Chance(0.1)) return Pick<int>({-3, 77, 1000});  // open enums keep unknown numbers
    return type->value(static_cast<int>(Below(type->value_count())))->number();
  }

  void SetOne(google::protobuf::Message* m, const google::protobuf::Reflection* r, const FD* f,
              int depth) {
    ++values_;
    switch (f->cpp_type()) {
      case FD::CPPTYPE_INT32:
        return r->SetInt32(m, f, Int32());
      case FD::CPPTYPE_INT64:
        return r->SetInt64(m, f, Int64());
      case FD::CPPTYPE_UINT32:
        return r->SetUInt32(m, f, UInt32());
      case FD::CPPTYPE_UINT64:
        return r->SetUInt64(m, f, UInt64());
      case FD::CPPTYPE_DOUBLE:
        return r->SetDouble(m, f, Double());
      case FD::CPPTYPE_FLOAT:
        return r->SetFloat(m, f, static_cast<float>(Double()));
      case FD::CPPTYPE_BOOL:
        return r->SetBool(m, f, Chance(0.5));
      case FD::CPPTYPE_ENUM:
        return r->SetEnumValue(m, f, Enum(f));
      case FD::CPPTYPE_STRING:
        return r->SetString(m, f, BytesFor(f));
      case FD::CPPTYPE_MESSAGE:
        return Fill(r->MutableMessage(m, f), depth + 1);
    }
  }

  void AddOne(google::protobuf::Message* m, const google::protobuf::Reflection* r, const FD* f,
              int depth) {
    ++values_;
    switch (f->cpp_type()) {
      case FD::CPPTYPE_INT32:
        return r->AddInt32(m, f, Int32());
      case FD::CPPTYPE_INT64:
        return r->AddInt64(m, f, Int64());
      case FD::CPPTYPE_UINT32:
        return r->AddUInt32(m, f, UInt32());
      case FD::CPPTYPE_UINT64:
        return r->AddUInt64(m, f, UInt64());
      case FD::CPPTYPE_DOUBLE:
        return r->AddDouble(m, f, Double());
      case FD::CPPTYPE_FLOAT:
        return r->AddFloat(m, f, static_cast<float>(Double()));
      case FD::CPPTYPE_BOOL:
        return r->AddBool(m, f, Chance(0.5));
      case FD::CPPTYPE_ENUM:
        return r->AddEnumValue(m, f, Enum(f));
      case FD::CPPTYPE_STRING:
        return r->AddString(m, f, BytesFor(f));
      case FD::CPPTYPE_MESSAGE:
        return Fill(r->AddMessage(m, f), depth + 1);
    }
  }

  // Fields set so far: a bound on the size of one message.
  static constexpr int kMaxValues = 3000;
  int values_ = 0;
  std::mt19937_64 rng_;
  int max_depth_ = 12;
};

// A JSON value as a tree, to be changed and written again.
struct JsonValue {
  enum Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = kNull;
  std::string text;  // kBool: true/false; kNumber: the literal; kString: the value
  std::vector<JsonValue> items;
  std::vector<std::pair<std::string, JsonValue>> members;
};

JsonValue FromDom(simdjson::dom::element e) {
  JsonValue v;
  char buf[64];
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      v.kind = JsonValue::kObject;
      simdjson::dom::object object;
      if (e.get_object().get(object) != simdjson::SUCCESS) break;
      for (simdjson::dom::key_value_pair member : object) {
        v.members.emplace_back(std::string(member.key), FromDom(member.value));
      }
      break;
    }
    case simdjson::dom::element_type::ARRAY: {
      v.kind = JsonValue::kArray;
      simdjson::dom::array array;
      if (e.get_array().get(array) != simdjson::SUCCESS) break;
      for (simdjson::dom::element item : array) v.items.push_back(FromDom(item));
      break;
    }
    case simdjson::dom::element_type::STRING:
      v.kind = JsonValue::kString;
      v.text = std::string(e.get_string().value());
      break;
    case simdjson::dom::element_type::INT64:
      v.kind = JsonValue::kNumber;
      v.text = std::to_string(e.get_int64().value());
      break;
    case simdjson::dom::element_type::UINT64:
      v.kind = JsonValue::kNumber;
      v.text = std::to_string(e.get_uint64().value());
      break;
    case simdjson::dom::element_type::DOUBLE: {
      v.kind = JsonValue::kNumber;
      const double d = e.get_double().value();
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
      v.text.assign(buf, end);
      if (v.text.find_first_of(".e") == std::string::npos) v.text += ".0";
      break;
    }
    case simdjson::dom::element_type::BOOL:
      v.kind = JsonValue::kBool;
      v.text = e.get_bool().value() ? "true" : "false";
      break;
    case simdjson::dom::element_type::NULL_VALUE:
      break;
  }
  return v;
}

// Rewrites OTLP/JSON the ways clients differ from EncodeOtlpJson, and (with `breaking`)
// in ways that may make it invalid, then writes it with random escapes and whitespace.
class JsonMutator {
 public:
  JsonMutator(uint64_t seed, double rate, bool breaking)
      : rng_(seed), rate_(rate), breaking_(breaking) {}

  std::string Mutate(const std::string& json) {
    simdjson::dom::parser parser;
    simdjson::dom::element element;
    if (parser.parse(json).get(element) != simdjson::SUCCESS) return json;
    JsonValue root = FromDom(element);
    Change(&root, 0);
    std::string out;
    Write(root, &out);
    return out;
  }

 private:
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  bool Maybe() { return Chance(rate_); }
  uint64_t Below(uint64_t n) { return rng_() % n; }

  static std::string SnakeCase(const std::string& key) {
    std::string out;
    for (char c : key) {
      if (c >= 'A' && c <= 'Z') {
        out.push_back('_');
        out.push_back(static_cast<char>(c - 'A' + 'a'));
      } else {
        out.push_back(c);
      }
    }
    return out;
  }

  static bool LooksInteger(const std::string& s) {
    if (s.empty() || s.size() > 20) return false;
    size_t i = s[0] == '-' ? 1 : 0;
    if (i == s.size()) return false;
    for (; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
    }
    return true;
  }

  JsonValue RandomValue(int depth) {
    JsonValue v;
    switch (Below(depth > 3 ? 4 : 6)) {
      case 0:
        break;
      case 1:
        v.kind = JsonValue::kBool;
        v.text = Chance(0.5) ? "true" : "false";
        break;
      case 2:
        v.kind = JsonValue::kNumber;
        v.text = std::to_string(static_cast<int64_t>(rng_() % 2000) - 1000);
        break;
      case 3:
        v.kind = JsonValue::kString;
        v.text = Chance(0.5) ? "x" : "";
        break;
      case 4:
        v.kind = JsonValue::kArray;
        for (uint64_t i = Below(3); i > 0; --i) v.items.push_back(RandomValue(depth + 1));
        break;
      default:
        v.kind = JsonValue::kObject;
        for (uint64_t i = Below(3); i > 0; --i) {
          v.members.emplace_back(Chance(0.5) ? "value" : "zz", RandomValue(depth + 1));
        }
    }
    return v;
  }

  // The default value of the same JSON kind, for a repeated key to overwrite with; for an
  // object (merged into the earlier one), the same keys with default values.
  static JsonValue DefaultLike(const JsonValue& v) {
    JsonValue d;
    d.kind = v.kind;
    if (v.kind == JsonValue::kNumber) d.text = "0";
    if (v.kind == JsonValue::kBool) d.text = "false";
    if (v.kind == JsonValue::kObject) {
      for (const auto& [key, value] : v.members) d.members.emplace_back(key, DefaultLike(value));
    }
    return d;
  }

  void ChangeScalar(const std::string& key, JsonValue* v) {
    if (v->kind == JsonValue::kNumber && Maybe()) {
      v->kind = JsonValue::kString;  // numbers as strings
      return;
    }
    if (v->kind == JsonValue::kNumber && LooksInteger(v->text) && Maybe()) {
      v->text += Chance(0.5) ? ".0" : "e0";  // integers written as doubles
      return;
    }
    if (v->kind == JsonValue::kString && LooksInteger(v->text) && Maybe()) {
      v->kind = JsonValue::kNumber;  // 64-bit integers as numbers
      return;
    }
    if (v->kind == JsonValue::kNumber && LooksInteger(v->text) && Maybe()) {
      const auto it = kEnums.find(key);
      if (it != kEnums.end()) {
        const google::protobuf::EnumValueDescriptor* value =
            it->second->FindValueByNumber(std::stoi(v->text));
        if (value != nullptr) {
          v->kind = JsonValue::kString;  // enums by name
          v->text = value->name();
          return;
        }
      }
    }
    if (v->kind == JsonValue::kString && absl::EndsWith(key, "Id") && Maybe()) {
      if (Chance(0.5)) {
        for (char& c : v->text) {
          c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
      } else if (Chance(0.5)) {
        v->text.push_back('0');  // odd length: an invalid id, which is not an error
      } else if (!v->text.empty()) {
        v->text[Below(v->text.size())] = Chance(0.5) ? 'g' : ' ';  // not hex: likewise
      }
      return;
    }
    if (v->kind == JsonValue::kString && key == "bytesValue" && Maybe()) {
      for (char& c : v->text) c = c == '+' ? '-' : c == '/' ? '_' : c;  // URL-safe base64
      while (!v->text.empty() && v->text.back() == '=') v->text.pop_back();
    }
  }

  void Change(JsonValue* v, int depth) {
    if (breaking_ && Chance(rate_ / 8)) {
      *v = RandomValue(depth);  // a wrong type, most often
      return;
    }
    switch (v->kind) {
      case JsonValue::kArray:
        for (JsonValue& item : v->items) Change(&item, depth + 1);
        if (breaking_ && Chance(rate_ / 4)) v->items.insert(v->items.begin(), JsonValue());
        break;
      case JsonValue::kObject: {
        for (auto& [key, value] : v->members) {
          if (value.kind == JsonValue::kObject || value.kind == JsonValue::kArray) {
            Change(&value, depth + 1);
          } else {
            ChangeScalar(key, &value);
          }
        }
        const size_t n = v->members.size();
        for (size_t i = 0; i < n; ++i) {
          if (Maybe()) v->members[i].first = SnakeCase(v->members[i].first);
          if (Maybe()) {
            // A repeated key: the same value, its default, or another value of the field.
            std::pair<std::string, JsonValue> again = v->members[i];
            if (Chance(0.5)) {
              again.second = DefaultLike(again.second);
            } else if (again.second.kind == JsonValue::kObject) {
              Change(&again.second, depth + 1);
            }
            v->members.push_back(std::move(again));
          }
          if (Maybe()) v->members.emplace_back(v->members[i].first, JsonValue());  // null
        }
        if (Maybe()) v->members.emplace_back("unknownField", RandomValue(depth + 1));
        if (Maybe()) v->members.emplace_back("droppedAttributesCount", JsonValue());
        if (Maybe()) std::shuffle(v->members.begin(), v->members.end(), rng_);
        break;
      }
      default:
        break;
    }
  }

  void Space(std::string* out) {
    if (Chance(rate_ / 2)) out->append(Chance(0.5) ? " " : "\n\t ");
  }

  // A JSON string, some characters escaped.
  void WriteString(const std::string& s, std::string* out) {
    static constexpr char kHex[] = "0123456789abcdef";
    const auto u = [&](unsigned cp) {
      out->append("\\u");
      for (int shift = 12; shift >= 0; shift -= 4) out->push_back(kHex[(cp >> shift) & 0xf]);
    };
    out->push_back('"');
    for (size_t i = 0; i < s.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c == '"' || c == '\\') {
        out->push_back('\\');
        out->push_back(static_cast<char>(c));
      } else if (c < 0x20) {
        u(c);
      } else if (c == '/' && Chance(0.5)) {
        out->append("\\/");
      } else if (c >= 0x80 && Maybe()) {
        // Decode one UTF-8 sequence (valid: simdjson checked it) and escape it.
        unsigned cp;
        size_t n;
        if (c >= 0xf0) {
          cp = c & 0x07;
          n = 4;
        } else if (c >= 0xe0) {
          cp = c & 0x0f;
          n = 3;
        } else {
          cp = c & 0x1f;
          n = 2;
        }
        for (size_t k = 1; k < n; ++k) cp = cp << 6 | (static_cast<unsigned char>(s[i + k]) & 0x3f);
        i += n - 1;
        if (cp >= 0x10000) {
          cp -= 0x10000;
          u(0xd800 + (cp >> 10));
          u(0xdc00 + (cp & 0x3ff));
        } else {
          u(cp);
        }
      } else if (c < 0x80 && Chance(rate_ / 4)) {
        u(c);
      } else {
        out->push_back(static_cast<char>(c));
      }
    }
    out->push_back('"');
  }

  void Write(const JsonValue& v, std::string* out) {
    Space(out);
    switch (v.kind) {
      case JsonValue::kNull:
        out->append("null");
        break;
      case JsonValue::kBool:
      case JsonValue::kNumber:
        out->append(v.text);
        break;
      case JsonValue::kString:
        WriteString(v.text, out);
        break;
      case JsonValue::kArray:
        out->push_back('[');
        for (size_t i = 0; i < v.items.size(); ++i) {
          if (i > 0) out->push_back(',');
          Write(v.items[i], out);
        }
        out->push_back(']');
        break;
      case JsonValue::kObject:
        out->push_back('{');
        for (size_t i = 0; i < v.members.size(); ++i) {
          if (i > 0) out->push_back(',');
          Space(out);
          WriteString(v.members[i].first, out);
          out->push_back(':');
          Write(v.members[i].second, out);
        }
        out->push_back('}');
        break;
    }
    Space(out);
  }

  const std::map<std::string, const google::protobuf::EnumDescriptor*> kEnums = {
      {"kind", trace::Span::SpanKind_descriptor()},
      {"code", trace::Status::StatusCode_descriptor()},
      {"severityNumber", logs::SeverityNumber_descriptor()},
      {"aggregationTemporality", metrics::AggregationTemporality_descriptor()},
  };
  std::mt19937_64 rng_;
  double rate_;
  bool breaking_;
};

template <typename Message>
void DifferentialRound(uint64_t seed, int* accepted, int* refused) {
  RandomMessages random(seed);
  Message message;
  random.Fill(&message, 0);
  const std::string json = EncodeOtlpJson(message);
  // As EncodeOtlpJson writes it, then changed in valid ways, then maybe broken.
  std::string variants[] = {json, JsonMutator(seed, 0.2, false).Mutate(json),
                            JsonMutator(seed + 1, 0.05, true).Mutate(json)};
  for (const std::string& variant : variants) {
    ASSERT_TRUE(TranscodesLikeDecode<Message>(variant)) << "seed " << seed;
    Message decoded;
    (DecodeOtlpJson(variant, &decoded).ok() ? *accepted : *refused) += 1;
  }
}

TEST(OtlpJsonTranscodeTest, RandomMessagesOfAllSignalsTranscodeLikeDecode) {
  int accepted = 0;
  int refused = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    DifferentialRound<TracesRequest>(seed, &accepted, &refused);
    DifferentialRound<MetricsRequest>(seed, &accepted, &refused);
    DifferentialRound<LogsRequest>(seed, &accepted, &refused);
    DifferentialRound<common::AnyValue>(seed, &accepted, &refused);
    DifferentialRound<TracesResponse>(seed, &accepted, &refused);
    if (HasFatalFailure()) return;
  }
  // Both paths were exercised.
  EXPECT_GT(accepted, 3000);
  EXPECT_GT(refused, 300);
}

TEST(OtlpJsonTranscodeTest, ExistingDocumentsTranscodeLikeDecode) {
  EXPECT_TRUE(TranscodesLikeDecode<TracesRequest>(kTracesJson));
  EXPECT_TRUE(TranscodesLikeDecode<TracesRequest>(EncodeOtlpJson(ExpectedTraces())));
  EXPECT_TRUE(TranscodesLikeDecode<MetricsRequest>(EncodeOtlpJson(SampleMetrics())));
  EXPECT_TRUE(TranscodesLikeDecode<TracesRequest>(""));
  EXPECT_TRUE(TranscodesLikeDecode<TracesRequest>("[]"));
  EXPECT_TRUE(TranscodesLikeDecode<TracesRequest>("{\"a\": \"\xff\"}"));
  EXPECT_TRUE(TranscodesLikeDecode<TracesRequest>("  {}  "));
}

TEST(OtlpJsonTranscodeTest, RepeatedKeysAndOneofs) {
  const std::string span = R"({"resourceSpans":[{"scopeSpans":[{"spans":[)";
  const std::string end = "]}]}]}";
  const char* cases[] = {
      // Last wins, also when the last is the default value.
      R"({"droppedAttributesCount":5,"droppedAttributesCount":0,"name":"a","name":""})",
      R"({"kind":2,"kind":"SPAN_KIND_UNSPECIFIED","traceId":"01","traceId":""})",
      // A repeated message key merges, also overwriting with defaults.
      R"({"status":{"code":2,"message":"x"},"status":{"code":0},"status":null})",
      R"({"status":{"code":2,"message":"x"},"status":{"message":""}})",
      // Repeated fields append.
      R"({"attributes":[{"key":"a"}],"attributes":[{"key":"b"}],"links":[],"links":[{}]})",
      // Oneofs: a later member replaces, the same member again merges, a default counts.
      R"({"attributes":[{"key":"k","value":{"stringValue":"a","intValue":0}}]})",
      R"({"attributes":[{"key":"k","value":{"intValue":"7","stringValue":""}}]})",
      R"({"attributes":[{"key":"k","value":{"arrayValue":{"values":[{"intValue":1}]},)"
      R"("intValue":3,"arrayValue":{"values":[{"boolValue":false}]}}}]})",
      R"({"attributes":[{"key":"k","value":{"kvlistValue":{"values":[{"key":"a"}]},)"
      R"("kvlistValue":{"values":[{"key":"b"}]}}}]})",
      R"({"attributes":[{"key":"k","value":{"doubleValue":1.5}},)"
      R"({"key":"k","value":{"doubleValue":-0.0}},{"key":"k","value":{"doubleValue":"-0"}}]})",
      // A merged message inside a merged message.
      R"({"attributes":[{"key":"k","value":{"kvlistValue":{"values":[]}},)"
      R"("value":{"kvlistValue":{"values":[{"key":"x"}]}}}],"status":{},"status":{}})",
      // snake_case and camelCase of one field.
      R"({"dropped_attributes_count":5,"droppedAttributesCount":0})",
  };
  for (const char* c : cases) {
    EXPECT_TRUE(TranscodesLikeDecode<TracesRequest>(span + c + end));
  }
  // Metric.data: a later member replaces an earlier one; proto3 optional fields keep 0.
  const char* metrics_cases[] = {
      R"({"name":"m","gauge":{"dataPoints":[{},{}]},"sum":{"dataPoints":[{"asInt":"0"}]}})",
      R"({"sum":{"dataPoints":[{}]},"sum":{"isMonotonic":true,"dataPoints":[{}]}})",
      R"({"histogram":{"dataPoints":[{"sum":0,"min":0,"max":-0.0,"bucketCounts":[],)"
      R"("explicitBounds":["NaN","Infinity","-Infinity",1e308],"bucketCounts":[0,"1"]}]}})",
      R"({"exponentialHistogram":{"dataPoints":[{"positive":{"bucketCounts":[1,2]},)"
      R"("positive":{"offset":-3,"bucketCounts":[3]},"negative":{}}]}})",
  };
  for (const char* c : metrics_cases) {
    EXPECT_TRUE(TranscodesLikeDecode<MetricsRequest>(
        std::string(R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[)") + c + end));
  }
}

TEST(OtlpJsonTranscodeTest, InvalidIdsBecomeOneByteLikeDecode) {
  for (const char* id :
       {"", "0", "abc", "zz", "0g", "5b8efff798038103d269b633813fc6 c",
        "5B8EFFF798038103D269B633813FC60C", "5b8efff798038103d269b633813fc60c00"}) {
    const std::string json =
        absl::StrCat(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{)", R"("traceId":")", id,
                     R"(","spanId":")", id, R"(","parentSpanId":")", id, R"(","name":"s"}]}]}]})");
    EXPECT_TRUE(TranscodesLikeDecode<TracesRequest>(json)) << id;
  }
}

TEST(OtlpJsonTranscodeTest, ErrorsAreTheDecodersErrors) {
  const std::string span = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{}, {)";
  const char* cases[] = {
      R"("name": 5)",
      R"("kind": 1.5)",
      R"("startTimeUnixNano": -1)",
      R"("droppedAttributesCount": 4294967296)",
      R"("traceId": 123)",
      R"("status": "ok")",
      R"("events": [{}, 5])",
      R"("events": [null])",
      R"("attributes": [{"key": "k", "value": {"intValue": "9223372036854775808"}}])",
      R"("attributes": [{"key": "k", "value": {"bytesValue": "!!not base64!!"}}])",
      R"("attributes": [{"key": "k", "value": {"arrayValue": {"values": [{}, {"intValue": []}]}}}])",
      R"("links": [{}, {"attributes": [{}, {}, {"value": {"kvlistValue": {"values": 1}}}]}])",
  };
  for (const char* c : cases) {
    const std::string json = span + c + "}]}]}]}";
    TracesRequest decoded;
    const absl::Status expected = DecodeOtlpJson(json, &decoded);
    ASSERT_FALSE(expected.ok()) << c;
    EXPECT_EQ(TranscodeOtlpJson(json, TracesRequest::descriptor()).status(), expected) << c;
  }
  // Packed numbers name the element.
  const std::string histogram =
      R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[)"
      R"({"bucketCounts":[1,2,-3]}]}}]}]}]})";
  MetricsRequest decoded;
  const absl::Status expected = DecodeOtlpJson(histogram, &decoded);
  EXPECT_THAT(expected.message(), HasSubstr("bucketCounts[2]"));
  EXPECT_EQ(TranscodeOtlpJson(histogram, MetricsRequest::descriptor()).status(), expected);
}

TEST(OtlpJsonTranscodeTest, DeepNestingLikeDecode) {
  int accepted = 0;
  for (int levels : {0, 1, 45, 47, 48, 49, 50, 200, 10000}) {
    EXPECT_TRUE(TranscodesLikeDecode<TracesRequest>(NestedArraysJson(levels))) << levels;
    // What is accepted also passes the receiver's wire scan (protobuf's recursion limit).
    absl::StatusOr<std::string> wire =
        TranscodeOtlpJson(NestedArraysJson(levels), TracesRequest::descriptor());
    if (!wire.ok()) continue;
    ++accepted;
    EXPECT_TRUE(ScanOtlpRequest(Signal::kTraces, *wire).ok()) << levels;
  }
  EXPECT_GE(accepted, 3);
  std::string raw = R"({"unknown":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_TRUE(TranscodesLikeDecode<TracesRequest>(raw));
  // Nesting of kvlists, arrays and random structure near the limit.
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    RandomMessages random(seed);
    random.set_max_depth(110);
    common::AnyValue value;
    random.Fill(&value, 0);
    EXPECT_TRUE(TranscodesLikeDecode<common::AnyValue>(EncodeOtlpJson(value))) << seed;
  }
}

TEST(OtlpJsonTranscodeTest, LongMessagesGetLongLengths) {
  // Lengths of 1, 2, 3 and 4 bytes, nested.
  for (size_t n : {0, 1, 127, 128, 16383, 16384, 2100000}) {
    TracesRequest request;
    trace::Span* span = request.add_resource_spans()->add_scope_spans()->add_spans();
    span->set_name(std::string(n, 'n'));
    AddAttribute(span->mutable_attributes(), "k", std::string(n / 2, 'v'));
    span->add_events()->set_name(std::string(n % 300, 'e'));
    absl::StatusOr<std::string> wire =
        TranscodeOtlpJson(EncodeOtlpJson(request), TracesRequest::descriptor());
    ASSERT_TRUE(wire.ok()) << wire.status();
    // The same bytes as protobuf's (fields in number order in this JSON).
    EXPECT_EQ(*wire, request.SerializeAsString()) << n;
  }
}

TEST(OtlpJsonTranscodeTest, OutputPassesTheWireScanWithTheSameCounts) {
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    RandomMessages random(seed);
    TracesRequest traces;
    random.Fill(&traces, 0);
    MetricsRequest metrics_request;
    random.Fill(&metrics_request, 0);
    LogsRequest logs_request;
    random.Fill(&logs_request, 0);
    const std::pair<Signal, const google::protobuf::Message*> requests[] = {
        {Signal::kTraces, &traces},
        {Signal::kMetrics, &metrics_request},
        {Signal::kLogs, &logs_request}};
    for (const auto& [signal, request] : requests) {
      absl::StatusOr<std::string> wire =
          TranscodeOtlpJson(EncodeOtlpJson(*request), request->GetDescriptor());
      ASSERT_TRUE(wire.ok()) << wire.status();
      absl::StatusOr<WireScan> scan = ScanOtlpRequest(signal, *wire);
      ASSERT_TRUE(scan.ok()) << scan.status() << " seed " << seed;
      EXPECT_EQ(scan->items, CountItems(signal, *request)) << seed;
    }
  }
}

TEST(OtlpJsonTranscodeTest, MessagesWithAnyOrDurationGoTheReflectiveWay) {
  google::rpc::Status status;
  status.set_code(14);
  status.set_message("unavailable \xc3\xa9");
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_seconds(1);
  retry.mutable_retry_delay()->set_nanos(500000000);
  status.add_details()->PackFrom(retry);
  const std::string json = EncodeOtlpJson(status);
  EXPECT_TRUE(TranscodesLikeDecode<google::rpc::Status>(json));
  absl::StatusOr<std::string> wire = TranscodeOtlpJson(json, google::rpc::Status::descriptor());
  ASSERT_TRUE(wire.ok()) << wire.status();
  google::rpc::Status parsed;
  ASSERT_TRUE(parsed.ParseFromString(*wire));
  EXPECT_TRUE(ProtoEquals(status, parsed));
  EXPECT_TRUE(TranscodesLikeDecode<google::rpc::RetryInfo>(R"({"retryDelay":"-0.000000002s"})"));
  EXPECT_TRUE(TranscodesLikeDecode<google::rpc::RetryInfo>(R"({"retryDelay":"1m"})"));
  EXPECT_TRUE(TranscodesLikeDecode<google::rpc::Status>(
      R"({"details":[{"@type":"type.googleapis.com/no.Such"}]})"));
}

// The scalar kinds OTLP requests do not use (int32, float, string), and all the others once
// more, through protobuf's wrapper messages (plain proto3 messages to our codec).
TEST(OtlpJsonTranscodeTest, EveryScalarKindLikeDecode) {
  const char* values[] = {
      "0",
      "-1",
      "1",
      "2147483647",
      "-2147483648",
      "4294967295",
      "4294967296",
      "9223372036854775807",
      "-9223372036854775808",
      "18446744073709551615",
      "\"12\"",
      "\"-12\"",
      "\" 12\"",
      "\"+12\"",
      "\"0x10\"",
      "1.5",
      "1e2",
      "-0",
      "-0.0",
      "\"-0\"",
      "\"NaN\"",
      "\"Infinity\"",
      "\"-Infinity\"",
      "3.4e38",
      "3.5e38",
      "-3.5e38",
      "1e-50",
      "1e400",
      "true",
      "false",
      "\"true\"",
      "\"\"",
      "\"abc\"",
      "\"\\u00e9\u20ac\"",
      "\"AAEC/w==\"",
      "\"AAEC_w\"",
      "\"AAEC\"",
      "\"A\"",
      "null",
      "[]",
      "{}",
      "[1]",
  };
  for (const char* v : values) {
    for (const std::string& json :
         {absl::StrCat(R"({"value":)", v, "}"), absl::StrCat(R"({"value":5,"value":)", v, "}"),
          absl::StrCat(R"({"value":)", v, R"(,"value":0,"unknown":[1,{}]})")}) {
      EXPECT_TRUE(TranscodesLikeDecode<google::protobuf::DoubleValue>(json));
      EXPECT_TRUE(TranscodesLikeDecode<google::protobuf::FloatValue>(json));
      EXPECT_TRUE(TranscodesLikeDecode<google::protobuf::Int64Value>(json));
      EXPECT_TRUE(TranscodesLikeDecode<google::protobuf::UInt64Value>(json));
      EXPECT_TRUE(TranscodesLikeDecode<google::protobuf::Int32Value>(json));
      EXPECT_TRUE(TranscodesLikeDecode<google::protobuf::UInt32Value>(json));
      EXPECT_TRUE(TranscodesLikeDecode<google::protobuf::BoolValue>(json));
      EXPECT_TRUE(TranscodesLikeDecode<google::protobuf::StringValue>(json));
      EXPECT_TRUE(TranscodesLikeDecode<google::protobuf::BytesValue>(json));
    }
  }
  // sint32, sfixed64 and fixed64 in OTLP messages.
  for (const char* v : {"0", "-1", "1", "-2147483648", "2147483647", "\"-7\""}) {
    EXPECT_TRUE(TranscodesLikeDecode<metrics::ExponentialHistogramDataPoint>(
        absl::StrCat(R"({"scale":)", v, R"(,"positive":{"offset":)", v, "}}")));
    EXPECT_TRUE(TranscodesLikeDecode<metrics::NumberDataPoint>(
        absl::StrCat(R"({"asInt":)", v, R"(,"timeUnixNano":)", v, "}")));
  }
}

TEST(OtlpJsonTranscodeTest, ConcurrentUseFromThreads) {
  // Every thread has its own parser and buffer; the per-descriptor tables are built once,
  // here possibly by several threads at the same time.
  std::vector<std::string> documents;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    RandomMessages random(seed);
    LogsRequest request;
    random.Fill(&request, 0);
    documents.push_back(EncodeOtlpJson(request));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        const std::string& json = documents[(t + round) % documents.size()];
        absl::StatusOr<std::string> wire = TranscodeOtlpJson(json, LogsRequest::descriptor());
        LogsRequest parsed, decoded;
        if (!wire.ok() || !parsed.ParseFromString(*wire) || !DecodeOtlpJson(json, &decoded).ok() ||
            parsed.SerializeAsString() != decoded.SerializeAsString()) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(OtlpJsonTranscodeTest, EscapesAndUnicodeInTexts) {
  EXPECT_TRUE(TranscodesLikeDecode<common::AnyValue>(
      R"({"stringValue":"\u00e9\u20ac\ud83d\ude00 \"\\\/\b\f\n\r\t\u0000 raw é"})"));
  // Unpaired surrogates are not JSON simdjson accepts: refused by both.
  EXPECT_TRUE(TranscodesLikeDecode<common::AnyValue>(R"({"stringValue":"\udc00"})"));
  EXPECT_TRUE(TranscodesLikeDecode<common::AnyValue>(R"({"stringValue":"\ud800x"})"));
  EXPECT_TRUE(TranscodesLikeDecode<google::rpc::Status>(R"({"message":"\ud83d\ude00"})"));
}

}  // namespace
}  // namespace otlpd
