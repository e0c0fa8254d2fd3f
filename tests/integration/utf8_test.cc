// Invalid UTF-8 end to end. OTLP declares text fields `string`, but SDKs (C++, Python) can
// put raw bytes there and otelcol accepts them: such a request must be accepted (not 400),
// the file exporter must still write valid JSON (U+FFFD for each byte that is not part of
// well-formed UTF-8, as Go's encoding/json does), and an otlp exporter must forward the
// original bytes unchanged. Valid UTF-8 in OTLP/JSON goes through untouched.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/otlp_json.h"
#include "testing/configs.h"
#include "testing/daemon.h"
#include "testing/grpc_client.h"
#include "testing/http_client.h"
#include "testing/otlp_data.h"
#include "testing/upstream.h"

namespace otlpd::testing {
namespace {

constexpr char kConfig[] = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{GRPC_PORT}}
      http:
        endpoint: 127.0.0.1:{{HTTP_PORT}}
exporters:
  file:
    path: {{DIR}}/traces.jsonl
  otlp:
    endpoint: 127.0.0.1:{{UP_PORT}}
    tls:
      insecure: true
    sending_queue:
      enabled: false
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file, otlp]
)";

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// A text value as sent, and as the JSON output must read it.
struct Text {
  std::string sent;
  std::string in_json;
};

// One span whose name and attribute values are the given texts.
struct Case {
  std::string transport;
  uint64_t seed;
  Text name;
  std::map<std::string, Text> attributes;  // key -> string value
};

std::string R(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += kReplacement;
  return out;
}

std::vector<Case> Cases() {
  const std::map<std::string, Text> bad = {
      {"bad.ff_fe",
       {"a\xff\xfe"
        "b",
        "a" + R(2) + "b"}},
      // The first two bytes of a 3-byte sequence (U+20AC), then ASCII.
      {"bad.truncated", {"x\xe2\x82y", "x" + R(2) + "y"}},
      {"bad.truncated_at_end", {"end\xe2\x82", "end" + R(2)}},
      // '/' as an overlong 2-byte sequence.
      {"bad.overlong_slash", {"p\xc0\xafq", "p" + R(2) + "q"}},
      // A UTF-16 surrogate (U+D800) encoded as UTF-8.
      {"bad.surrogate", {"s\xed\xa0\x80t", "s" + R(3) + "t"}},
      {"bad.stray_continuation", {"\x80z", R(1) + "z"}},
      // Valid multi-byte sequences around invalid ones stay as they are.
      {"mixed",
       {"\xc3\xa9\xff\xe2\x82\xac\xf0\x9d\x84\x9e",
        "\xc3\xa9" + R(1) + "\xe2\x82\xac\xf0\x9d\x84\x9e"}},
  };
  return {
      {"grpc", 8101, {"grpc span \xff\xfe name", "grpc span " + R(2) + " name"}, bad},
      {"http-protobuf", 8102, {"http span \xe2\x82", "http span " + R(2)}, bad},
      // Valid UTF-8 only (OTLP/JSON cannot carry invalid bytes).
      {"http-json",
       8103,
       {"json span h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e",
        "json span h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e"},
       {{"good",
         {"\xe6\x97\xa5\xe6\x9c\xac \xc3\xa9 \xf0\x9f\x98\x80",
          "\xe6\x97\xa5\xe6\x9c\xac \xc3\xa9 \xf0\x9f\x98\x80"}}}},
  };
}

TracesRequest RequestFor(const Case& c) {
  SampleOptions options;
  options.seed = c.seed;
  options.items_per_scope = 1;
  options.rich = false;
  TracesRequest request = MakeTraces(options);
  auto* span = request.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0);
  span->set_name(c.name.sent);
  for (const auto& [key, value] : c.attributes) {
    auto* kv = span->add_attributes();
    kv->set_key(key);
    kv->mutable_value()->set_string_value(value.sent);
  }
  return request;
}

const opentelemetry::proto::trace::v1::Span& OnlySpan(const TracesRequest& r) {
  return r.resource_spans(0).scope_spans(0).spans(0);
}

TEST(Utf8Test, InvalidUtf8IsAcceptedWrittenAsValidJsonAndForwardedUnchanged) {
  GrpcUpstream upstream;
  DaemonProcess daemon("utf8");
  auto vars = PortVars();
  vars["UP_PORT"] = absl::StrCat(upstream.port());
  ASSERT_TRUE(daemon.StartWithConfig(kConfig, vars).ok());
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "GRPC_PORT"))) << daemon.Stderr();
  ASSERT_TRUE(daemon.WaitForPort(PortOf(vars, "HTTP_PORT"))) << daemon.Stderr();

  const std::vector<Case> cases = Cases();
  std::map<std::string, const Case*> by_trace_id;  // hex trace id -> case
  std::vector<TracesRequest> sent;
  for (const Case& c : cases) {
    sent.push_back(RequestFor(c));
    const TracesRequest& request = sent.back();
    by_trace_id[HexId(OnlySpan(request).trace_id())] = &c;
    const std::string url = LocalUrl(PortOf(vars, "HTTP_PORT"), "/v1/traces");
    if (c.transport == "grpc") {
      grpc::Status s = OtlpGrpcClient(PortOf(vars, "GRPC_PORT")).Export(request);
      EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    } else if (c.transport == "http-protobuf") {
      HttpResult r =
          HttpPost(url, request.SerializeAsString(), {"Content-Type: application/x-protobuf"});
      EXPECT_EQ(r.status, 200) << r.error << " " << r.body;
    } else {
      HttpResult r = HttpPost(url, EncodeOtlpJson(request), {"Content-Type: application/json"});
      EXPECT_EQ(r.status, 200) << r.error << " " << r.body;
    }
  }
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Stderr();

  // The file: one line per request, each valid JSON (simdjson validates UTF-8) with U+FFFD
  // where the bad bytes were.
  const std::vector<std::string> lines = ReadCompleteLines(daemon.File("traces.jsonl"));
  ASSERT_EQ(lines.size(), cases.size());
  simdjson::dom::parser parser;
  std::map<std::string, bool> seen;
  for (const std::string& line : lines) {
    simdjson::dom::element doc;
    auto error = parser.parse(line).get(doc);
    ASSERT_EQ(error, simdjson::SUCCESS) << simdjson::error_message(error) << "\n" << line;
    simdjson::dom::element span;
    ASSERT_EQ(doc["resourceSpans"].at(0)["scopeSpans"].at(0)["spans"].at(0).get(span),
              simdjson::SUCCESS)
        << line;
    std::string_view trace_id, name;
    ASSERT_EQ(span["traceId"].get(trace_id), simdjson::SUCCESS) << line;
    ASSERT_EQ(span["name"].get(name), simdjson::SUCCESS) << line;
    auto it = by_trace_id.find(std::string(trace_id));
    ASSERT_NE(it, by_trace_id.end()) << line;
    const Case& c = *it->second;
    SCOPED_TRACE(c.transport);
    seen[c.transport] = true;
    EXPECT_EQ(name, c.name.in_json);
    std::map<std::string, std::string> attributes;
    simdjson::dom::array list;
    ASSERT_EQ(span["attributes"].get(list), simdjson::SUCCESS) << line;
    for (simdjson::dom::element kv : list) {
      std::string_view key, value;
      ASSERT_EQ(kv["key"].get(key), simdjson::SUCCESS) << line;
      if (kv["value"]["stringValue"].get(value) == simdjson::SUCCESS) {
        attributes[std::string(key)] = std::string(value);
      }
    }
    for (const auto& [key, text] : c.attributes) {
      EXPECT_EQ(attributes[key], text.in_json) << key;
    }
  }
  EXPECT_EQ(seen.size(), cases.size());

  // The upstream: the bytes as they were sent, field for field.
  const std::vector<TracesRequest> forwarded = DecodeTraces(upstream.requests(), true);
  ASSERT_EQ(forwarded.size(), cases.size());
  for (const TracesRequest& got : forwarded) {
    const auto& span = OnlySpan(got);
    auto it = by_trace_id.find(HexId(span.trace_id()));
    ASSERT_NE(it, by_trace_id.end());
    const Case& c = *it->second;
    SCOPED_TRACE(c.transport);
    EXPECT_EQ(span.name(), c.name.sent);
    std::map<std::string, std::string> attributes;
    for (const auto& kv : span.attributes()) attributes[kv.key()] = kv.value().string_value();
    for (const auto& [key, text] : c.attributes) EXPECT_EQ(attributes[key], text.sent) << key;
    // Nothing else changed either.
    const TracesRequest& original = sent[&c - cases.data()];
    EXPECT_EQ(ProtoDiff(original, got), "");
  }
}

}  // namespace
}  // namespace otlpd::testing
