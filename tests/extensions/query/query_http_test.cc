// The query extension through real HTTP: every route of Jaeger's API, api_v3 and ours, over an
// in-memory store that really filters (test_store.h), checked field by field.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/config_node.h"
#include "extensions/query/factory.h"
#include "extensions/query/json_value.h"
#include "extensions/query/query_extension.h"
#include "extensions/query/test_store.h"
#include "testing/certs.h"
#include "testing/http_client.h"
#include "testing/temp_dir.h"
#include "testing/test_host.h"

namespace otlpd::query {
namespace {

using testing::AddAttr;
using testing::AddString;
using testing::JsonValue;
using testing::ParseJson;
using testing::SpanIdBytes;
using testing::TraceIdBytes;
namespace otlp = testing::otlp;

constexpr uint64_t kMs = 1000000;
constexpr uint64_t kSecNs = 1000000000;

std::string Enc(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

otlp::ResourceSpans* AddResource(otlp::TracesData* d, const std::string& service) {
  auto* rs = d->add_resource_spans();
  AddString(rs->mutable_resource()->mutable_attributes(), "service.name", service);
  return rs;
}

otlp::Span* AddSpan(otlp::ResourceSpans* rs, const std::string& trace_id, uint64_t span_id,
                    uint64_t parent, const std::string& name, otlp::Span::SpanKind kind,
                    uint64_t start_ns, uint64_t duration_ns) {
  if (rs->scope_spans_size() == 0) rs->add_scope_spans()->mutable_scope()->set_name("lib");
  otlp::Span* s = rs->mutable_scope_spans(0)->add_spans();
  s->set_trace_id(trace_id);
  s->set_span_id(SpanIdBytes(span_id));
  if (parent != 0) s->set_parent_span_id(SpanIdBytes(parent));
  s->set_name(name);
  s->set_kind(kind);
  s->set_start_time_unix_nano(start_ns);
  s->set_end_time_unix_nano(start_ns + duration_ns);
  return s;
}

// A TestHost whose exporters may be added while the server reads them (from its threads).
class LockedHost : public otlpd::testing::TestHost {
 public:
  absl::StatusOr<Exporter*> GetExporter(const ComponentId& id) const override {
    absl::MutexLock lock(&mu_);
    return TestHost::GetExporter(id);
  }
  void SetExporter(const ComponentId& id, Exporter* exporter) {
    absl::MutexLock lock(&mu_);
    exporters[id] = exporter;
  }

 private:
  mutable absl::Mutex mu_;
};

struct Response {
  int status = 0;
  std::string content_type;
  std::string body;
  JsonValue json;
};

class QueryHttpTest : public ::testing::Test {
 protected:
  // 10 minutes ago, on a whole minute (metric steps line up with it).
  const uint64_t t0_ =
      static_cast<uint64_t>(absl::ToUnixSeconds(absl::Now()) / 60 * 60 - 600) * kSecNs;
  const std::string trace_a_ = TraceIdBytes(0, 0xa1);  // Jaeger id "00000000000000a1"
  const std::string trace_b_ = TraceIdBytes(0x1234, 0xb2);

  void SetUp() override { AddData(); }

  void TearDown() override {
    if (extension_ != nullptr) extension_->Shutdown(absl::Now() + absl::Seconds(5));
  }

  void Start(const std::string& yaml = "endpoint: 127.0.0.1:0", bool with_exporter = true) {
    Diagnostics diag;
    ConfigNode node(YAML::Load(yaml), "extensions::query", &diag);
    config_ = NewQueryExtensionFactory()->ParseConfig(node);
    node.ReportUnknownKeys();
    ASSERT_TRUE(diag.ok()) << diag.Format();
    if (with_exporter) host_.SetExporter(ComponentId{"tiered_storage", ""}, &exporter_);
    auto created =
        NewQueryExtensionFactory()->Create(CreateSettings{{"query", ""}, &host_}, *config_);
    ASSERT_TRUE(created.ok()) << created.status();
    extension_.reset(static_cast<QueryExtension*>(created->release()));
    absl::Status s = extension_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  Response Get(const std::string& path, const std::string& method = "GET") {
    otlpd::testing::HttpResult r =
        client_.Request(method, otlpd::testing::LocalUrl(extension_->port(), path), "", {});
    Response out;
    out.status = r.status;
    out.body = r.body;
    if (const std::string* ct = r.Header("content-type")) out.content_type = *ct;
    std::string error;
    out.json = ParseJson(r.body, &error);
    EXPECT_TRUE(out.json.is_object()) << path << ": not JSON (" << error << "): " << r.body;
    return out;
  }

  // A Jaeger-style envelope answer; checks its shape.
  JsonValue Ok(const std::string& path) {
    Response r = Get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    return r.json;
  }

  // Expects a Jaeger-style error with `status` whose message contains `text`.
  void ExpectError(const std::string& path, int status, const std::string& text) {
    Response r = Get(path);
    EXPECT_EQ(r.status, status) << path << ": " << r.body;
    EXPECT_EQ(r.content_type, "application/json") << path;
    EXPECT_TRUE(r.json["data"].is_null()) << path;
    EXPECT_EQ(r.json["total"].integer(), 0);
    EXPECT_EQ(r.json["limit"].integer(), 0);
    EXPECT_EQ(r.json["offset"].integer(), 0);
    ASSERT_EQ(r.json["errors"].size(), 1u) << path << ": " << r.body;
    EXPECT_EQ(r.json["errors"][0]["code"].integer(), status) << path;
    EXPECT_TRUE(absl::StrContains(r.json["errors"][0]["msg"].s, text))
        << path << ": \"" << r.json["errors"][0]["msg"].s << "\" lacks \"" << text << "\"";
  }

  void AddData() {
    otlp::TracesData d;
    // Trace A: frontend GET /cart (50 ms) → frontend SELECT client (20 ms) → backend charge
    // (ERROR, 500), with an event.
    auto* fe = AddResource(&d, "frontend");
    otlp::Span* root =
        AddSpan(fe, trace_a_, 1, 0, "GET /cart", otlp::Span::SPAN_KIND_SERVER, t0_, 50 * kMs);
    AddAttr(root->mutable_attributes(), "http.status_code")->mutable_value()->set_int_value(500);
    AddSpan(fe, trace_a_, 2, 1, "SELECT", otlp::Span::SPAN_KIND_CLIENT, t0_ + 10 * kMs, 20 * kMs);
    auto* be = AddResource(&d, "backend");
    otlp::Span* charge = AddSpan(be, trace_a_, 3, 2, "charge", otlp::Span::SPAN_KIND_SERVER,
                                 t0_ + 12 * kMs, 5 * kMs);
    charge->mutable_status()->set_code(otlp::Status::STATUS_CODE_ERROR);
    AddAttr(charge->mutable_attributes(), "http.status_code")->mutable_value()->set_int_value(500);
    auto* ev = charge->add_events();
    ev->set_name("exception");
    ev->set_time_unix_nano(t0_ + 13 * kMs);
    AddString(ev->mutable_attributes(), "exception.message", "card declined");
    // Trace B, a minute later: frontend GET /home, 5 ms.
    auto* fe2 = AddResource(&d, "frontend");
    otlp::Span* home = AddSpan(fe2, trace_b_, 9, 0, "GET /home", otlp::Span::SPAN_KIND_SERVER,
                               t0_ + 60 * kSecNs, 5 * kMs);
    AddAttr(home->mutable_attributes(), "http.status_code")->mutable_value()->set_int_value(200);
    // A service whose name needs escaping in a path.
    AddSpan(AddResource(&d, "my service/v2"), TraceIdBytes(0, 0xc3), 20, 0, "op",
            otlp::Span::SPAN_KIND_INTERNAL, t0_, kMs);
    store_.Add(d);

    otlp::LogsData logs;
    const auto add_log = [&](const std::string& service, uint64_t t, int severity,
                             const std::string& text, const std::string& body,
                             const std::string& trace, uint64_t span) {
      auto* rl = logs.add_resource_logs();
      AddString(rl->mutable_resource()->mutable_attributes(), "service.name", service);
      auto* sl = rl->add_scope_logs();
      sl->mutable_scope()->set_name("logger");
      auto* r = sl->add_log_records();
      r->set_time_unix_nano(t);
      r->set_observed_time_unix_nano(t + kMs);
      r->set_severity_number(static_cast<opentelemetry::proto::logs::v1::SeverityNumber>(severity));
      r->set_severity_text(text);
      r->mutable_body()->set_string_value(body);
      AddString(r->mutable_attributes(), "code.function", "pay");
      if (!trace.empty()) {
        r->set_trace_id(trace);
        r->set_span_id(SpanIdBytes(span));
      }
    };
    add_log("backend", t0_ + 14 * kMs, 17, "ERROR", "Payment failed: card declined", trace_a_, 3);
    add_log("frontend", t0_ + 11 * kMs, 9, "INFO", "cart loaded", trace_a_, 1);
    add_log("backend", t0_ + 120 * kSecNs, 13, "WARN", "disk almost full", "", 0);
    store_.Add(logs);
  }

  LockedHost host_;
  testing::TestStore store_;
  testing::StoreExporter exporter_{&store_};
  std::unique_ptr<ComponentConfig> config_;
  std::unique_ptr<QueryExtension> extension_;
  otlpd::testing::HttpClient client_;
};

// --- config ---

std::unique_ptr<ComponentConfig> ParseQueryConfig(const std::string& yaml, Diagnostics* diag) {
  ConfigNode node(YAML::Load(yaml), "extensions::query", diag);
  auto config = NewQueryExtensionFactory()->ParseConfig(node);
  node.ReportUnknownKeys();
  return config;
}

TEST(QueryConfigTest, DefaultsAndKeys) {
  Diagnostics diag;
  auto config = ParseQueryConfig("{}", &diag);
  ASSERT_TRUE(diag.ok()) << diag.Format();
  const auto& c = ConfigAs<QueryConfig>(*config);
  EXPECT_EQ(c.endpoint, "127.0.0.1:16686");
  EXPECT_EQ(c.base_path, "/");
  EXPECT_EQ(c.storage, (ComponentId{"tiered_storage", ""}));
  EXPECT_EQ(c.max_limit, 1500);
  EXPECT_EQ(c.default_lookback, absl::Hours(48));
  EXPECT_FALSE(c.tls.enabled());

  Diagnostics diag2;
  config = ParseQueryConfig(
      "{endpoint: ':9999', base_path: /jaeger, storage: tiered_storage/edge, max_limit: 20,"
      " default_lookback: 1h, threads: 4, tls: {cert_file: a.pem, key_file: b.pem}}",
      &diag2);
  ASSERT_TRUE(diag2.ok()) << diag2.Format();
  const auto& c2 = ConfigAs<QueryConfig>(*config);
  EXPECT_EQ(c2.endpoint, ":9999");
  EXPECT_EQ(c2.base_path, "/jaeger");
  EXPECT_EQ(c2.storage, (ComponentId{"tiered_storage", "edge"}));
  EXPECT_EQ(c2.max_limit, 20);
  EXPECT_EQ(c2.default_lookback, absl::Hours(1));
  EXPECT_EQ(c2.threads, 4);
  EXPECT_TRUE(c2.tls.enabled());
}

TEST(QueryConfigTest, Errors) {
  for (const auto& [yaml, key] : std::vector<std::pair<std::string, std::string>>{
           {"{endpoint: nowhere}", "endpoint"},
           {"{base_path: jaeger}", "base_path"},
           {"{storage: 'bad id!'}", "storage"},
           {"{max_limit: 0}", "max_limit"},
           {"{default_lookback: 0s}", "default_lookback"},
           {"{threads: 0}", "threads"},
           {"{tls: {cert_file: a.pem}}", "tls"},
           {"{unknown: 1}", "unknown"}}) {
    Diagnostics diag;
    ParseQueryConfig(yaml, &diag);
    ASSERT_FALSE(diag.ok()) << yaml;
    EXPECT_TRUE(absl::StrContains(diag.errors()[0].path, key)) << yaml << ": " << diag.Format();
  }
}

// --- Jaeger HTTP API ---

TEST_F(QueryHttpTest, Services) {
  Start();
  const JsonValue r = Ok("/api/services");
  ASSERT_TRUE(r["data"].is_array());
  ASSERT_EQ(r["data"].size(), 3u);
  EXPECT_EQ(r["data"][0].s, "backend");
  EXPECT_EQ(r["data"][1].s, "frontend");
  EXPECT_EQ(r["data"][2].s, "my service/v2");
  EXPECT_EQ(r["total"].integer(), 3);
  EXPECT_EQ(r["limit"].integer(), 0);
  EXPECT_EQ(r["offset"].integer(), 0);
  EXPECT_TRUE(r["errors"].is_null());
  EXPECT_EQ(r.size(), 5u);
}

TEST_F(QueryHttpTest, OperationsOfAService) {
  Start();
  JsonValue r = Ok("/api/services/frontend/operations");
  ASSERT_EQ(r["data"].size(), 3u);
  EXPECT_EQ(r["data"][0].s, "GET /cart");
  EXPECT_EQ(r["data"][1].s, "GET /home");
  EXPECT_EQ(r["data"][2].s, "SELECT");
  EXPECT_EQ(r["total"].integer(), 3);
  r = Ok("/api/services/" + Enc("my service/v2") + "/operations");
  ASSERT_EQ(r["data"].size(), 1u);
  EXPECT_EQ(r["data"][0].s, "op");

  r = Ok("/api/operations?service=frontend&spanKind=server");
  ASSERT_EQ(r["data"].size(), 2u);
  EXPECT_EQ(r["data"][0]["name"].s, "GET /cart");
  EXPECT_EQ(r["data"][0]["spanKind"].s, "server");
  EXPECT_EQ(r["data"][0].size(), 2u);
  EXPECT_EQ(r["total"].integer(), 2);
  r = Ok("/api/operations?service=frontend");
  EXPECT_EQ(r["data"].size(), 3u);
  EXPECT_EQ(r["data"][2]["spanKind"].s, "client");
  ExpectError("/api/operations", 400, "parameter 'service' is required");
  ExpectError("/api/operations?service=frontend&spanKind=up", 400, "'spanKind'");
}

TEST_F(QueryHttpTest, TraceById) {
  Start();
  // 16 hex digits, as Jaeger writes ids whose high half is zero; shorter forms are padded.
  for (const std::string id : {"00000000000000a1", "a1", "000000000000000000000000000000A1"}) {
    const JsonValue r = Ok("/api/traces/" + id);
    EXPECT_EQ(r["total"].integer(), 0);
    EXPECT_TRUE(r["errors"].is_null());
    ASSERT_EQ(r["data"].size(), 1u) << id;
    const JsonValue& t = r["data"][0];
    EXPECT_EQ(t["traceID"].s, "00000000000000a1");
    ASSERT_EQ(t["spans"].size(), 3u);
    EXPECT_FALSE(t.Has("logs"));
    EXPECT_EQ(t["processes"].size(), 2u);
    EXPECT_EQ(t["processes"]["p1"]["serviceName"].s, "frontend");
    EXPECT_EQ(t["processes"]["p2"]["serviceName"].s, "backend");
    const JsonValue& charge = t["spans"][2];
    EXPECT_EQ(charge["operationName"].s, "charge");
    EXPECT_EQ(charge["processID"].s, "p2");
    EXPECT_EQ(charge["startTime"].integer(), static_cast<int64_t>((t0_ + 12 * kMs) / 1000));
    EXPECT_EQ(charge["duration"].integer(), 5000);
    ASSERT_EQ(charge["references"].size(), 1u);
    EXPECT_EQ(charge["references"][0]["refType"].s, "CHILD_OF");
    EXPECT_EQ(charge["references"][0]["spanID"].s, "0000000000000002");
    EXPECT_EQ(charge["references"][0]["traceID"].s, "00000000000000a1");
    EXPECT_EQ(charge["logs"][0]["fields"][0]["value"].s, "exception");
    EXPECT_EQ(charge["logs"][0]["timestamp"].integer(),
              static_cast<int64_t>((t0_ + 13 * kMs) / 1000));
  }
  const JsonValue b = Ok("/api/traces/000000000000123400000000000000b2");
  EXPECT_EQ(b["data"][0]["traceID"].s, "000000000000123400000000000000b2");
  ExpectError("/api/traces/00000000000000ff", 404, "trace not found");
  ExpectError("/api/traces/xyz", 400, "'traceID'");
  ExpectError("/api/traces/" + std::string(33, 'a'), 400, "'traceID'");
  ExpectError("/api/traces/a1?start=soon", 400, "'start'");
  ExpectError("/api/traces/a1?logs=maybe", 400, "'logs'");
}

TEST_F(QueryHttpTest, TraceWithItsLogs) {
  Start();
  const JsonValue r = Ok("/api/traces/a1?logs=true");
  const JsonValue& logs = r["data"][0]["logs"];
  ASSERT_EQ(logs.size(), 2u) << r["data"][0]["logs"].size();
  // Oldest first; every field of the record.
  const JsonValue& info = logs[0];
  EXPECT_EQ(info["body"].s, "cart loaded");
  EXPECT_EQ(info["service"].s, "frontend");
  EXPECT_EQ(info["severityNumber"].integer(), 9);
  EXPECT_EQ(info["severityText"].s, "INFO");
  EXPECT_EQ(info["traceId"].s, "000000000000000000000000000000a1");
  EXPECT_EQ(info["spanId"].s, "0000000000000001");
  EXPECT_EQ(logs[1]["body"].s, "Payment failed: card declined");
  ASSERT_TRUE(store_.last_log_query().trace_id.has_value());
  EXPECT_EQ(testing::Bytes(*store_.last_log_query().trace_id), trace_a_);
}

TEST_F(QueryHttpTest, SearchTraces) {
  Start("{endpoint: 127.0.0.1:0, max_limit: 50}");
  JsonValue r = Ok("/api/traces?service=frontend&limit=20&lookback=1h");
  ASSERT_EQ(r["data"].size(), 2u);
  EXPECT_EQ(r["data"][0]["traceID"].s, "000000000000123400000000000000b2");  // most recent first
  EXPECT_EQ(r["data"][1]["traceID"].s, "00000000000000a1");
  EXPECT_EQ(r["data"][1]["spans"].size(), 3u);  // whole traces, every service
  EXPECT_TRUE(r["errors"].is_null());
  storage::TraceQuery q = store_.last_trace_query();
  EXPECT_EQ(q.service, "frontend");
  EXPECT_EQ(q.limit, 20u);
  EXPECT_LT(absl::Now() - q.time.end, absl::Minutes(1));
  EXPECT_EQ(q.time.end - q.time.start, absl::Hours(1));  // lookback when start is absent

  // Tag filters, both forms, merged; Grafana sends tags as JSON.
  r = Ok("/api/traces?service=backend&tags=" + Enc(R"({"http.status_code":"500"})") +
         "&tag=error:true");
  ASSERT_EQ(r["data"].size(), 1u);
  EXPECT_EQ(r["data"][0]["traceID"].s, "00000000000000a1");
  q = store_.last_trace_query();
  EXPECT_EQ(q.tags, (std::vector<std::pair<std::string, std::string>>{
                        {"error", "true"}, {"http.status_code", "500"}}));
  EXPECT_EQ(Ok("/api/traces?service=backend&tag=http.status_code:200")["data"].size(), 0u);
  // Empty tag parameters (as some clients send them) filter nothing.
  EXPECT_EQ(Ok("/api/traces?service=frontend&tags=&tag=&minDuration=&maxDuration=")["data"].size(),
            2u);

  // Durations in Go syntax; start/end in µs.
  r = Ok("/api/traces?service=frontend&minDuration=20ms");
  ASSERT_EQ(r["data"].size(), 1u);
  EXPECT_EQ(r["data"][0]["traceID"].s, "00000000000000a1");
  EXPECT_EQ(*store_.last_trace_query().min_duration, absl::Milliseconds(20));
  r = Ok("/api/traces?service=frontend&maxDuration=10ms");
  ASSERT_EQ(r["data"].size(), 1u);
  EXPECT_EQ(r["data"][0]["traceID"].s, "000000000000123400000000000000b2");
  r = Ok("/api/traces?service=frontend&operation=" + Enc("GET /cart"));
  ASSERT_EQ(r["data"].size(), 1u);
  const uint64_t start_us = (t0_ + 30 * kSecNs) / 1000;
  const uint64_t end_us = (t0_ + 90 * kSecNs) / 1000;
  r = Ok(absl::StrCat("/api/traces?service=frontend&start=", start_us, "&end=", end_us));
  ASSERT_EQ(r["data"].size(), 1u);
  EXPECT_EQ(r["data"][0]["traceID"].s, "000000000000123400000000000000b2");
  q = store_.last_trace_query();
  EXPECT_EQ(q.time.start, absl::FromUnixMicros(static_cast<int64_t>(start_us)));
  EXPECT_EQ(q.time.end, absl::FromUnixMicros(static_cast<int64_t>(end_us)));
  EXPECT_EQ(q.limit, 50u);  // Jaeger's default (100), capped at max_limit

  Ok("/api/traces?service=frontend&limit=5000");
  EXPECT_EQ(store_.last_trace_query().limit, 50u);  // max_limit
}

TEST_F(QueryHttpTest, SearchByTraceIds) {
  Start();
  const JsonValue r = Ok("/api/traces?traceID=a1&traceID=ffff");  // no service needed
  ASSERT_EQ(r["data"].size(), 1u);
  EXPECT_EQ(r["data"][0]["traceID"].s, "00000000000000a1");
  ASSERT_EQ(r["errors"].size(), 1u);
  EXPECT_EQ(r["errors"][0]["msg"].s, "trace not found");
  EXPECT_EQ(r["errors"][0]["traceID"].s, "000000000000ffff");
  EXPECT_FALSE(r["errors"][0].Has("code"));
}

TEST_F(QueryHttpTest, BadSearchParametersAre400NamingThem) {
  Start();
  const std::string base = "/api/traces?service=frontend&";
  ExpectError("/api/traces", 400, "parameter 'service' is required");
  ExpectError(base + "minDuration=1x", 400, "'minDuration'");
  ExpectError(base + "maxDuration=abc", 400, "'maxDuration'");
  ExpectError(base + "minDuration=2s&maxDuration=1s", 400,
              "'maxDuration' should be greater than 'minDuration'");
  ExpectError(base + "start=yesterday", 400, "'start'");
  ExpectError(base + "end=1.5", 400, "'end'");
  ExpectError(base + "limit=-1", 400, "'limit'");
  ExpectError(base + "limit=many", 400, "'limit'");
  ExpectError(base + "tags=" + Enc("{bad"), 400, "'tags'");
  ExpectError(base + "tags=" + Enc("[1]"), 400, "'tags'");
  ExpectError(base + "tag=novalue", 400, "'tag'");
  ExpectError("/api/traces?traceID=xyz", 400, "'traceID'");
  ExpectError("/api/dependencies?endTs=noon", 400, "'endTs'");
  ExpectError("/api/dependencies?lookback=1h", 400, "'lookback'");
}

TEST_F(QueryHttpTest, Dependencies) {
  Start();
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  JsonValue r = Ok(absl::StrCat("/api/dependencies?endTs=", now_ms, "&lookback=3600000"));
  ASSERT_EQ(r["data"].size(), 1u);
  EXPECT_EQ(r["data"][0]["parent"].s, "frontend");
  EXPECT_EQ(r["data"][0]["child"].s, "backend");
  EXPECT_EQ(r["data"][0]["callCount"].integer(), 1);
  EXPECT_EQ(r["data"][0].size(), 3u);
  const storage::TimeRange range = store_.last_dependencies_range();
  EXPECT_EQ(range.end, absl::FromUnixMillis(now_ms));
  EXPECT_EQ(range.end - range.start, absl::Hours(1));
  EXPECT_EQ(Ok("/api/dependencies?service=backend")["data"].size(), 1u);
  EXPECT_EQ(Ok("/api/dependencies?service=nobody")["data"].size(), 0u);
  // Defaults: now, one day back.
  EXPECT_EQ(store_.last_dependencies_range().end - store_.last_dependencies_range().start,
            absl::Hours(24));
}

TEST_F(QueryHttpTest, NotFoundMethodNotAllowedAndJaegerMetrics) {
  Start();
  ExpectError("/api/nothing", 404, "404 page not found");
  ExpectError("/", 404, "404 page not found");
  ExpectError("/api/traces/a1/extra", 404, "404 page not found");
  Response r = Get("/api/services", "POST");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.json["errors"][0]["code"].integer(), 405);
  r = Get("/api/traces/a1", "DELETE");
  EXPECT_EQ(r.status, 405);
  ExpectError("/api/metrics/latencies?service=frontend", 501, "disabled");
}

TEST_F(QueryHttpTest, BasePathPrefixesEveryRoute) {
  Start("{endpoint: 127.0.0.1:0, base_path: /jaeger/}");
  EXPECT_EQ(Ok("/jaeger/api/services")["data"].size(), 3u);
  EXPECT_EQ(Ok("/jaeger/api/traces/a1")["data"].size(), 1u);
  EXPECT_EQ(Ok("/jaeger/api/v3/services")["services"].size(), 3u);
  EXPECT_EQ(Ok("/jaeger/api/v1/logs")["data"].size(), 3u);
  ExpectError("/api/services", 404, "404");
  ExpectError("/jaegerx/api/services", 404, "404");
}

// --- store missing or failing ---

TEST_F(QueryHttpTest, NoStorageExporterIs503) {
  Start("endpoint: 127.0.0.1:0", /*with_exporter=*/false);
  ExpectError("/api/services", 503, "storage \"tiered_storage\" is not available");
  // Parameters are still checked first.
  ExpectError("/api/traces?service=x&minDuration=x", 400, "'minDuration'");
  Response r = Get("/api/v3/services");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.json["error"]["httpCode"].integer(), 503);
  ExpectError("/api/v1/logs", 503, "tiered_storage");
  // The exporter appears once the service runs: found on the next request.
  host_.SetExporter(ComponentId{"tiered_storage", ""}, &exporter_);
  EXPECT_EQ(Ok("/api/services")["data"].size(), 3u);
}

TEST_F(QueryHttpTest, ExporterWithoutStoreOrClosedStoreIs503) {
  testing::PlainExporter plain;
  host_.SetExporter(ComponentId{"tiered_storage", "plain"}, &plain);
  host_.SetExporter(ComponentId{"tiered_storage", "hot"}, &exporter_);
  Start("{endpoint: 127.0.0.1:0, storage: tiered_storage/plain}", false);
  ExpectError("/api/services", 503, "keeps no store");
  extension_->Shutdown(absl::Now() + absl::Seconds(5));
  Start("{endpoint: 127.0.0.1:0, storage: tiered_storage/hot}", false);
  EXPECT_EQ(Ok("/api/services")["data"].size(), 3u);
  exporter_.open = false;
  ExpectError("/api/services", 503, "not open yet");
}

TEST_F(QueryHttpTest, StoreErrorsAre500) {
  Start();
  store_.Fail(absl::DataLossError("block 7 is corrupt"));
  ExpectError("/api/services", 500, "block 7 is corrupt");
  ExpectError("/api/traces/a1", 500, "block 7 is corrupt");
  ExpectError("/api/traces?service=frontend", 500, "block 7 is corrupt");
  ExpectError("/api/v1/logs", 500, "block 7 is corrupt");
  Response r = Get("/api/v3/traces/a1");
  EXPECT_EQ(r.status, 500);
  EXPECT_TRUE(absl::StrContains(r.json["error"]["message"].s, "block 7 is corrupt"));
}

TEST_F(QueryHttpTest, ServesOverTls) {
  otlpd::testing::TempDir dir;
  std::string error;
  std::optional<otlpd::testing::TestCerts> certs =
      otlpd::testing::MakeTestCerts(dir.path(), &error);
  ASSERT_TRUE(certs.has_value()) << error;
  Start(absl::StrCat("{endpoint: 127.0.0.1:0, tls: {cert_file: ", certs->server_cert,
                     ", key_file: ", certs->server_key, "}}"));
  otlpd::testing::HttpClient https;
  otlpd::testing::HttpClientTls tls;
  tls.ca_file = certs->ca_cert;
  https.set_tls(tls);
  otlpd::testing::HttpResult r =
      https.Get(otlpd::testing::LocalHttpsUrl(extension_->port(), "/api/services"));
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(ParseJson(r.body)["total"].integer(), 3);
}

// --- api_v3 ---

TEST_F(QueryHttpTest, ApiV3ServicesAndOperations) {
  Start();
  JsonValue r = Ok("/api/v3/services");
  ASSERT_EQ(r["services"].size(), 3u);
  EXPECT_EQ(r["services"][1].s, "frontend");
  EXPECT_EQ(r.size(), 1u);
  r = Ok("/api/v3/operations?service=frontend&span_kind=server");
  ASSERT_EQ(r["operations"].size(), 2u);
  EXPECT_EQ(r["operations"][0]["name"].s, "GET /cart");
  EXPECT_EQ(r["operations"][0]["spanKind"].s, "server");
  r = Get("/api/v3/operations?service=frontend&span_kind=up").json;
  EXPECT_EQ(r["error"]["httpCode"].integer(), 400);
  EXPECT_TRUE(absl::StrContains(r["error"]["message"].s, "span_kind"));
}

TEST_F(QueryHttpTest, ApiV3GetTraceIsOtlpJson) {
  Start();
  const JsonValue r = Ok("/api/v3/traces/00000000000000a1");
  ASSERT_EQ(r.size(), 1u);
  const JsonValue& rs = r["result"]["resourceSpans"];
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0]["resource"]["attributes"][0]["key"].s, "service.name");
  EXPECT_EQ(rs[0]["resource"]["attributes"][0]["value"]["stringValue"].s, "frontend");
  const JsonValue& span = rs[0]["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(span["traceId"].s, "000000000000000000000000000000a1");  // OTLP: always 32 hex
  EXPECT_EQ(span["spanId"].s, "0000000000000001");
  EXPECT_EQ(span["name"].s, "GET /cart");
  EXPECT_EQ(span["kind"].integer(), 2);
  EXPECT_EQ(span["startTimeUnixNano"].s, absl::StrCat(t0_));
  EXPECT_EQ(rs[0]["scopeSpans"][0]["scope"]["name"].s, "lib");
  EXPECT_EQ(rs[1]["scopeSpans"][0]["spans"][0]["status"]["code"].integer(), 2);

  Response nf = Get("/api/v3/traces/ff");
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(nf.json["error"]["httpCode"].integer(), 404);
  EXPECT_EQ(nf.json["error"]["message"].s, "No traces found");
  Response bad = Get("/api/v3/traces/xyz");
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(absl::StrContains(bad.json["error"]["message"].s, "malformed parameter trace_id"));
  bad = Get("/api/v3/traces/a1?start_time=yesterday");
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(absl::StrContains(bad.json["error"]["message"].s, "start_time"));
}

TEST_F(QueryHttpTest, ApiV3FindTraces) {
  Start();
  const auto rfc = [](uint64_t ns) {
    return Enc(absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ",
                                absl::FromUnixNanos(static_cast<int64_t>(ns)),
                                absl::UTCTimeZone()));
  };
  const std::string window = "&query.start_time_min=" + rfc(t0_ - 60 * kSecNs) +
                             "&query.start_time_max=" + rfc(t0_ + 300 * kSecNs);
  JsonValue r = Ok("/api/v3/traces?query.service_name=frontend" + window);
  // Both traces' spans in one result: trace B's resource, then trace A's two.
  ASSERT_EQ(r["result"]["resourceSpans"].size(), 3u);
  EXPECT_EQ(r["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"].s, "GET /home");
  storage::TraceQuery q = store_.last_trace_query();
  EXPECT_EQ(q.time.start, absl::FromUnixNanos(static_cast<int64_t>(t0_ - 60 * kSecNs)));
  EXPECT_EQ(q.limit, 100u);

  r = Ok("/api/v3/traces?query.service_name=frontend&query.operation_name=" + Enc("GET /cart") +
         "&query.duration_min=1ms&query.duration_max=1s&query.search_depth=7" + window);
  EXPECT_EQ(r["result"]["resourceSpans"].size(), 2u);
  q = store_.last_trace_query();
  EXPECT_EQ(q.operation, "GET /cart");
  EXPECT_EQ(q.limit, 7u);
  EXPECT_EQ(*q.min_duration, absl::Milliseconds(1));
  EXPECT_EQ(*q.max_duration, absl::Seconds(1));

  r = Ok("/api/v3/traces?query.service_name=backend&query.attributes[http.status_code]=500" +
         window);
  EXPECT_EQ(r["result"]["resourceSpans"].size(), 2u);
  r = Ok("/api/v3/traces?query.service_name=frontend&query.attributes=" +
         Enc(R"({"http.status_code":"200"})") + window);
  EXPECT_EQ(r["result"]["resourceSpans"].size(), 1u);

  Response nf = Get("/api/v3/traces?query.service_name=nobody" + window);
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(nf.json["error"]["message"].s, "No traces found");
  for (const auto& [query, name] : std::vector<std::pair<std::string, std::string>>{
           {"query.service_name=frontend",
            "query.start_time_min and query.start_time_max are required"},
           {"query.start_time_min=x&query.start_time_max=y", "query.start_time_min"},
           {"query.duration_min=5" + window, "query.duration_min"},
           {"query.search_depth=-3" + window, "query.search_depth"},
           {"query.attributes=nope" + window, "query.attributes"}}) {
    Response bad = Get("/api/v3/traces?" + query);
    EXPECT_EQ(bad.status, 400) << query;
    EXPECT_EQ(bad.json["error"]["httpCode"].integer(), 400);
    EXPECT_TRUE(absl::StrContains(bad.json["error"]["message"].s, name))
        << query << ": " << bad.json["error"]["message"].s;
  }
}

// --- logs ---

TEST_F(QueryHttpTest, Logs) {
  Start();
  JsonValue r = Ok("/api/v1/logs");
  ASSERT_EQ(r["data"].size(), 3u);
  EXPECT_EQ(r["total"].integer(), 3);
  EXPECT_EQ(r["limit"].integer(), 100);
  EXPECT_EQ(r["data"][0]["body"].s, "disk almost full");  // newest first
  EXPECT_EQ(r["data"][0]["traceId"].s, "");

  r = Ok("/api/v1/logs?q=" + Enc("PAYMENT card"));
  ASSERT_EQ(r["data"].size(), 1u);
  const JsonValue& rec = r["data"][0];
  EXPECT_EQ(rec.size(), 11u);
  EXPECT_EQ(rec["timestamp"].s,
            absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ",
                             absl::FromUnixNanos(static_cast<int64_t>(t0_ + 14 * kMs)),
                             absl::UTCTimeZone()));
  EXPECT_TRUE(rec["observedTimestamp"].is_string());
  EXPECT_EQ(rec["severityNumber"].integer(), 17);
  EXPECT_EQ(rec["severityText"].s, "ERROR");
  EXPECT_EQ(rec["body"].s, "Payment failed: card declined");
  EXPECT_EQ(rec["attributes"]["code.function"].s, "pay");
  EXPECT_EQ(rec["resource"]["service.name"].s, "backend");
  EXPECT_EQ(rec["scope"]["name"].s, "logger");
  EXPECT_EQ(rec["traceId"].s, "000000000000000000000000000000a1");
  EXPECT_EQ(rec["spanId"].s, "0000000000000003");
  EXPECT_EQ(rec["service"].s, "backend");
  EXPECT_EQ(store_.last_log_query().words, (std::vector<std::string>{"payment", "card"}));

  r = Ok("/api/v1/logs?severity=WARN");
  ASSERT_EQ(r["data"].size(), 2u);
  EXPECT_EQ(store_.last_log_query().min_severity, 13);
  EXPECT_EQ(Ok("/api/v1/logs?severity=17")["data"].size(), 1u);
  EXPECT_EQ(Ok("/api/v1/logs?service=frontend")["data"].size(), 1u);
  EXPECT_EQ(Ok("/api/v1/logs?traceId=a1")["data"].size(), 2u);
  EXPECT_EQ(Ok("/api/v1/logs?limit=1")["data"].size(), 1u);
  EXPECT_EQ(store_.last_log_query().limit, 1u);
  const int64_t s0 = static_cast<int64_t>(t0_ / kSecNs);
  r = Ok(absl::StrCat("/api/v1/logs?start=", s0 + 60, "&end=", s0 + 180));
  ASSERT_EQ(r["data"].size(), 1u);
  EXPECT_EQ(store_.last_log_query().time.start, absl::FromUnixSeconds(s0 + 60));
  EXPECT_EQ(Ok("/api/v1/logs?end=" +
               Enc(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(s0 + 1),
                                    absl::UTCTimeZone())))["data"]
                .size(),
            2u);

  ExpectError("/api/v1/logs?severity=LOUD", 400, "'severity'");
  ExpectError("/api/v1/logs?traceId=nothex", 400, "'traceId'");
  ExpectError("/api/v1/logs?start=later", 400, "'start'");
  ExpectError("/api/v1/logs?end=later", 400, "'end'");
  ExpectError("/api/v1/logs?start=100&end=50", 400, "'end'");
  ExpectError("/api/v1/logs?limit=x", 400, "'limit'");
  ExpectError("/api/v1/nothing", 404, "404");
}

// --- metrics ---

class QueryMetricsTest : public QueryHttpTest {
 protected:
  // Series start at t0 (a whole minute), one point every 10 s for a minute.
  void AddMetrics() {
    otlp::MetricsData d;
    auto* rm = d.add_resource_metrics();
    AddString(rm->mutable_resource()->mutable_attributes(), "service.name", "frontend");
    auto* sm = rm->add_scope_metrics();
    sm->mutable_scope()->set_name("meter");
    // A cumulative counter: +50 per 10 s, reset at 40 s (start moves to 35 s).
    otlp::Metric* requests = sm->add_metrics();
    requests->set_name("http.requests");
    requests->set_unit("1");
    requests->mutable_sum()->set_is_monotonic(true);
    requests->mutable_sum()->set_aggregation_temporality(
        opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
    const double values[] = {1000, 1050, 1100, 1150, 20, 70, 120};
    for (int i = 0; i < 7; ++i) {
      for (const char* route : {"/cart", "/home"}) {
        auto* p = requests->mutable_sum()->add_data_points();
        p->set_time_unix_nano(t0_ + i * 10 * kSecNs);
        p->set_start_time_unix_nano(i < 4 ? t0_ - 3600 * kSecNs : t0_ + 35 * kSecNs);
        p->set_as_int(static_cast<int64_t>(values[i] * (route[1] == 'c' ? 1 : 2)));
        AddString(p->mutable_attributes(), "route", route);
      }
    }
    otlp::Metric* mem = sm->add_metrics();
    mem->set_name("mem.used");
    for (int i = 0; i < 6; ++i) {
      auto* p = mem->mutable_gauge()->add_data_points();
      p->set_time_unix_nano(t0_ + i * 10 * kSecNs);
      p->set_as_double(100 + i);
    }
    // Cumulative explicit histogram: bounds 10, 20; +10 per 10 s into (10,20].
    otlp::Metric* lat = sm->add_metrics();
    lat->set_name("http.duration");
    lat->set_unit("ms");
    lat->mutable_histogram()->set_aggregation_temporality(
        opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
    for (int i = 0; i < 4; ++i) {
      auto* p = lat->mutable_histogram()->add_data_points();
      p->set_time_unix_nano(t0_ + i * 10 * kSecNs);
      p->set_start_time_unix_nano(t0_ - 3600 * kSecNs);
      p->set_count(10 * i + 5);
      p->set_sum(150.0 * i + 5);
      p->add_explicit_bounds(10);
      p->add_explicit_bounds(20);
      p->add_bucket_counts(5);
      p->add_bucket_counts(10 * i);
      p->add_bucket_counts(0);
    }
    // Delta exponential histogram, scale 0: 4 observations in (2,4] per point.
    otlp::Metric* rpc = sm->add_metrics();
    rpc->set_name("rpc.latency");
    rpc->mutable_exponential_histogram()->set_aggregation_temporality(
        opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_DELTA);
    for (int i = 1; i <= 2; ++i) {
      auto* p = rpc->mutable_exponential_histogram()->add_data_points();
      p->set_time_unix_nano(t0_ + i * 10 * kSecNs);
      p->set_start_time_unix_nano(t0_ + (i - 1) * 10 * kSecNs);
      p->set_count(4);
      p->set_sum(12);
      p->set_scale(0);
      p->mutable_positive()->set_offset(1);
      p->mutable_positive()->add_bucket_counts(4);
    }
    otlp::Metric* gc = sm->add_metrics();
    gc->set_name("gc.pause");
    auto* sp = gc->mutable_summary()->add_data_points();
    sp->set_time_unix_nano(t0_ + 10 * kSecNs);
    sp->set_count(3);
    sp->set_sum(9);
    auto* q = sp->add_quantile_values();
    q->set_quantile(0.5);
    q->set_value(2.5);
    store_.Add(d);
  }

  std::string Window() const {
    const int64_t s0 = static_cast<int64_t>(t0_ / kSecNs);
    return absl::StrCat("&start=", s0, "&end=", s0 + 60, "&step=10s");
  }
};

TEST_F(QueryMetricsTest, CounterRatesPerStep) {
  AddMetrics();
  Start();
  const JsonValue r = Ok("/api/v1/metrics?name=http.requests&match[route]=/cart" + Window());
  EXPECT_EQ(r["total"].integer(), 1);
  const JsonValue& d = r["data"];
  EXPECT_EQ(d["name"].s, "http.requests");
  EXPECT_EQ(d["step"].integer(), 10000);
  EXPECT_EQ(d["start"].integer(), static_cast<int64_t>(t0_ / kMs));
  ASSERT_EQ(d["series"].size(), 1u);
  const JsonValue& s = d["series"][0];
  EXPECT_EQ(s["type"].s, "sum");
  EXPECT_TRUE(s["monotonic"].b);
  EXPECT_EQ(s["temporality"].s, "cumulative");
  EXPECT_EQ(s["value"].s, "rate");
  EXPECT_EQ(s["unit"].s, "1");
  EXPECT_EQ(s["resource"]["service.name"].s, "frontend");
  EXPECT_EQ(s["scope"]["name"].s, "meter");
  EXPECT_EQ(s["attributes"]["route"].s, "/cart");
  const JsonValue& pts = s["points"];
  ASSERT_EQ(pts.size(), 6u);  // the point at t0 is the baseline
  EXPECT_EQ(pts[0]["timestamp"].integer(), static_cast<int64_t>((t0_ + 10 * kSecNs) / kMs));
  EXPECT_DOUBLE_EQ(pts[0]["value"].number(), 5);  // +50 in 10 s
  EXPECT_DOUBLE_EQ(pts[3]["value"].number(), 4);  // reset: 20 in the 5 s since its start
  EXPECT_DOUBLE_EQ(pts[4]["value"].number(), 5);
  const storage::MetricQuery q = store_.last_metric_query();
  EXPECT_EQ(q.name, "http.requests");
  EXPECT_EQ(q.match, (std::vector<std::pair<std::string, std::string>>{{"route", "/cart"}}));
  // One step earlier than asked: the baseline of the first rate.
  EXPECT_EQ(q.time.start, absl::FromUnixNanos(static_cast<int64_t>(t0_ - 10 * kSecNs)));

  const JsonValue both = Ok("/api/v1/metrics?name=http.requests" + Window());
  ASSERT_EQ(both["data"]["series"].size(), 2u);
  EXPECT_EQ(both["data"]["series"][1]["attributes"]["route"].s, "/home");
  EXPECT_DOUBLE_EQ(both["data"]["series"][1]["points"][0]["value"].number(), 10);
}

TEST_F(QueryMetricsTest, GaugeLastValueAndDefaultStep) {
  AddMetrics();
  Start();
  JsonValue r = Ok("/api/v1/metrics?name=mem.used" + Window());
  const JsonValue& s = r["data"]["series"][0];
  EXPECT_EQ(s["type"].s, "gauge");
  EXPECT_EQ(s["value"].s, "last");
  EXPECT_FALSE(s.Has("temporality"));
  ASSERT_EQ(s["points"].size(), 6u);
  EXPECT_DOUBLE_EQ(s["points"][5]["value"].number(), 105);
  const int64_t s0 = static_cast<int64_t>(t0_ / kSecNs);
  r = Ok(absl::StrCat("/api/v1/metrics?name=mem.used&start=", s0, "&end=", s0 + 60, "&step=30"));
  ASSERT_EQ(r["data"]["series"][0]["points"].size(), 2u);
  EXPECT_DOUBLE_EQ(r["data"]["series"][0]["points"][0]["value"].number(), 102);
  // No step: the window / 300, at least a second (default window: 48 h → 576 s).
  // The 60 s of points fall in one 576 s step, or in two when a step boundary (aligned to
  // the epoch, not to the data) cuts through them; the last value is the latest point.
  r = Ok("/api/v1/metrics?name=mem.used");
  EXPECT_EQ(r["data"]["step"].integer(), 576000);
  const JsonValue& points = r["data"]["series"][0]["points"];
  ASSERT_GE(points.size(), 1u);
  ASSERT_LE(points.size(), 2u);
  EXPECT_DOUBLE_EQ(points[points.size() - 1]["value"].number(), 105);
}

TEST_F(QueryMetricsTest, HistogramQuantiles) {
  AddMetrics();
  Start();
  JsonValue r = Ok("/api/v1/metrics?name=http.duration&quantile=0.5,0.9" + Window());
  const JsonValue& s = r["data"]["series"][0];
  EXPECT_EQ(s["type"].s, "histogram");
  EXPECT_EQ(s["value"].s, "quantiles");
  EXPECT_EQ(s["temporality"].s, "cumulative");
  ASSERT_EQ(s["points"].size(), 3u);
  const JsonValue& p = s["points"][0];
  EXPECT_EQ(p["timestamp"].integer(), static_cast<int64_t>((t0_ + 10 * kSecNs) / kMs));
  EXPECT_DOUBLE_EQ(p["count"].number(), 10);
  EXPECT_DOUBLE_EQ(p["sum"].number(), 150);
  EXPECT_DOUBLE_EQ(p["quantiles"]["0.5"].number(), 15);
  EXPECT_DOUBLE_EQ(p["quantiles"]["0.9"].number(), 19);
  EXPECT_EQ(p["quantiles"].size(), 2u);

  r = Ok("/api/v1/metrics?name=rpc.latency&quantile=0.5" + Window());
  const JsonValue& e = r["data"]["series"][0];
  EXPECT_EQ(e["type"].s, "exponential_histogram");
  EXPECT_EQ(e["temporality"].s, "delta");
  ASSERT_EQ(e["points"].size(), 2u);
  EXPECT_DOUBLE_EQ(e["points"][0]["count"].number(), 4);
  EXPECT_DOUBLE_EQ(e["points"][0]["quantiles"]["0.5"].number(), 3);

  r = Ok("/api/v1/metrics?name=gc.pause" + Window());  // default quantiles
  const JsonValue& g = r["data"]["series"][0];
  EXPECT_EQ(g["type"].s, "summary");
  EXPECT_DOUBLE_EQ(g["points"][0]["quantiles"]["0.5"].number(), 2.5);
  EXPECT_TRUE(g["points"][0]["quantiles"]["0.99"].is_null());
  EXPECT_EQ(g["points"][0]["count"].integer(), 3);
}

TEST_F(QueryMetricsTest, BadParameters) {
  AddMetrics();
  Start();
  ExpectError("/api/v1/metrics", 400, "parameter 'name' is required");
  ExpectError("/api/v1/metrics?name=x&step=soon", 400, "'step'");
  ExpectError("/api/v1/metrics?name=x&step=0", 400, "'step'");
  ExpectError("/api/v1/metrics?name=x&step=1s&start=0&end=100000", 400, "too many points");
  ExpectError("/api/v1/metrics?name=x&quantile=2", 400, "'quantile'");
  ExpectError("/api/v1/metrics?name=x&quantile=a", 400, "'quantile'");
  ExpectError("/api/v1/metrics?name=x&match[=v", 400, "match[");
  ExpectError("/api/v1/metrics?name=x&start=noon", 400, "'start'");
  EXPECT_EQ(Ok("/api/v1/metrics?name=nothing" + Window())["data"]["series"].size(), 0u);
}

}  // namespace
}  // namespace otlpd::query
