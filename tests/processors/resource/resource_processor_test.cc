// The resource processor (otelcol's resourceprocessor): the attribute actions on the
// resource attributes of traces, metrics and logs, with everything else passed on
// byte for byte.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "processors/attraction/hash.h"
#include "processors/attraction/wire.h"
#include "processors/resource/factory.h"
// The helpers (protobuf builders, Describe, a factory harness) are shared with the
// attributes processor's tests.
#include "processors/attributes/attributes_test_util.h"
#include "testing/otlp_data.h"

namespace otlpd::attrtest {
namespace {

using opentelemetry::proto::resource::v1::Resource;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const ProcessorFactory& Factory() {
  static const auto* factory = NewResourceProcessorFactory().release();
  return *factory;
}

constexpr char kPath[] = "processors::resource";

// The README's example plus the other actions.
constexpr char kConfig[] = R"(
attributes:
  - {key: cloud.availability_zone, value: zone-1, action: upsert}
  - {key: k8s.cluster.name, from_attribute: k8s-cluster, action: insert}
  - {key: redundant-attribute, action: delete}
  - {key: host.id, action: hash}
  - {key: pod, pattern: "^(?P<k8s_namespace>[^/]+)/(?P<k8s_pod>.+)$", action: extract}
  - {key: port, action: convert, converted_type: int}
)";

Resource MakeResource(const std::vector<KeyValue>& attrs) {
  Resource r;
  for (const KeyValue& kv : attrs) *r.add_attributes() = kv;
  return r;
}

const std::vector<KeyValue> kFull = {Str("service.name", "svc"),           Str("k8s-cluster", "c1"),
                                     Str("redundant-attribute", "x"),      Str("host.id", "abc"),
                                     Str("pod", "shop/cart-7f9"),          Str("port", "8080"),
                                     Str("cloud.availability_zone", "old")};
// kConfig on kFull, step by step as pcommon.Map does it: the upsert updates in place, the
// insert appends, the delete moves the last attribute (the inserted one) into its place,
// the extract appends its groups.
constexpr char kFullAfter[] =
    "service.name=Str:svc k8s-cluster=Str:c1 k8s.cluster.name=Str:c1 "
    "host.id=Str:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad "
    "pod=Str:shop/cart-7f9 port=Int:8080 cloud.availability_zone=Str:zone-1 "
    "k8s_namespace=Str:shop k8s_pod=Str:cart-7f9";

TEST(ResourceProcessorTest, TracesEveryActionOnEveryResource) {
  Harness h(Factory(), kConfig, Signal::kTraces, kPath);
  TracesRequest request;
  for (int i = 0; i < 3; ++i) {
    auto* rs = request.add_resource_spans();
    *rs->mutable_resource() =
        MakeResource(i == 1 ? std::vector<KeyValue>{Str("service.name", "b")} : kFull);
    rs->mutable_resource()->set_dropped_attributes_count(3);
    rs->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
    auto* ss = rs->add_scope_spans();
    ss->mutable_scope()->set_name("lib");
    auto* span = ss->add_spans();
    span->set_name(absl::StrCat("span", i));
    *span->add_attributes() = Str("redundant-attribute", "span attributes are not touched");
  }
  auto in = FromRequest(Signal::kTraces, request);
  TelemetryPtr out = h.Run(in);
  ExpectValidWire(*out);
  const auto& got = out->traces();
  ASSERT_EQ(got.resource_spans_size(), 3);
  EXPECT_EQ(Describe(got.resource_spans(0).resource().attributes()), kFullAfter);
  EXPECT_EQ(Describe(got.resource_spans(1).resource().attributes()),
            "service.name=Str:b cloud.availability_zone=Str:zone-1");
  EXPECT_EQ(Describe(got.resource_spans(2).resource().attributes()), kFullAfter);
  // Everything else as it was.
  TracesRequest rest = got;
  TracesRequest expected = request;
  for (auto* r : {&rest, &expected}) {
    for (auto& rs : *r->mutable_resource_spans()) rs.mutable_resource()->clear_attributes();
  }
  EXPECT_EQ(testing::ProtoDiff(expected, rest), "");
  EXPECT_EQ(got.resource_spans(0).resource().dropped_attributes_count(), 3u);
}

TEST(ResourceProcessorTest, MetricsAndLogs) {
  Harness metrics(Factory(), kConfig, Signal::kMetrics, kPath);
  MetricsRequest m;
  *m.add_resource_metrics()->mutable_resource() = MakeResource(kFull);
  auto* metric = m.mutable_resource_metrics(0)->add_scope_metrics()->add_metrics();
  metric->set_name("cpu");
  *metric->mutable_gauge()->add_data_points()->add_attributes() = Str("port", "1");
  TelemetryPtr mout = metrics.Run(FromRequest(Signal::kMetrics, m));
  ExpectValidWire(*mout);
  EXPECT_EQ(Describe(mout->metrics().resource_metrics(0).resource().attributes()), kFullAfter);
  EXPECT_EQ(Describe(mout->metrics()
                         .resource_metrics(0)
                         .scope_metrics(0)
                         .metrics(0)
                         .gauge()
                         .data_points(0)
                         .attributes()),
            "port=Str:1");

  Harness logs(Factory(), kConfig, Signal::kLogs, kPath);
  LogsRequest l;
  *l.add_resource_logs()->mutable_resource() = MakeResource(kFull);
  l.mutable_resource_logs(0)->add_scope_logs()->add_log_records()->mutable_body()->set_string_value(
      "hello");
  TelemetryPtr lout = logs.Run(FromRequest(Signal::kLogs, l));
  ExpectValidWire(*lout);
  EXPECT_EQ(Describe(lout->logs().resource_logs(0).resource().attributes()), kFullAfter);
  EXPECT_EQ(lout->logs().resource_logs(0).scope_logs(0).log_records(0).body().string_value(),
            "hello");
}

TEST(ResourceProcessorTest, ResourceFieldAbsentOrRepeated) {
  Harness h(Factory(), "attributes:\n  - {key: env, value: prod, action: upsert}\n",
            Signal::kTraces, kPath);
  // No resource at all: one is added (otelcol acts on an empty attribute map).
  {
    TracesRequest request;
    request.add_resource_spans()->add_scope_spans()->add_spans()->set_name("op");
    TelemetryPtr out = h.Run(FromRequest(Signal::kTraces, request));
    ExpectValidWire(*out);
    EXPECT_EQ(Describe(out->traces().resource_spans(0).resource().attributes()), "env=Str:prod");
    EXPECT_EQ(out->traces().resource_spans(0).scope_spans(0).spans(0).name(), "op");
  }
  // The resource field twice (protobuf merges them): one merged resource comes out.
  {
    std::string r1, r2;
    attraction::AppendLenField(&r1, 1,
                               MakeResource({Str("service.name", "svc")}).SerializeAsString());
    Resource second = MakeResource({Str("env", "dev"), Str("zone", "z")});
    second.set_dropped_attributes_count(2);
    attraction::AppendLenField(&r2, 1, second.SerializeAsString());
    TracesRequest body;
    body.add_resource_spans()->add_scope_spans()->add_spans()->set_name("op");
    // resource, scope_spans, resource: the second one after the spans.
    const std::string scope_spans = body.resource_spans(0).SerializeAsString();
    const std::string resource_spans = r1 + scope_spans + r2;
    std::string request_bytes;
    attraction::AppendLenField(&request_bytes, 1, resource_spans);
    auto scan = ScanOtlpRequest(Signal::kTraces, request_bytes);
    ASSERT_TRUE(scan.ok()) << scan.status();
    TelemetryPtr in = Telemetry::FromWire(Signal::kTraces, absl::Cord(request_bytes), scan->items);
    const std::string merged_before =
        Describe(in->traces().resource_spans(0).resource().attributes());
    EXPECT_EQ(merged_before, "service.name=Str:svc env=Str:dev zone=Str:z");
    TelemetryPtr out = h.Run(in);
    ExpectValidWire(*out);
    const auto& rs = out->traces().resource_spans(0);
    EXPECT_EQ(Describe(rs.resource().attributes()), "service.name=Str:svc env=Str:prod zone=Str:z");
    EXPECT_EQ(rs.resource().dropped_attributes_count(), 2u);
    EXPECT_EQ(rs.scope_spans(0).spans(0).name(), "op");
  }
}

TEST(ResourceProcessorTest, UnchangedRequestIsPassedOnAsItCame) {
  Harness h(Factory(), R"(
attributes:
  - {key: absent, action: delete}
  - {key: service.name, value: svc, action: upsert}
  - {key: other, from_attribute: missing, action: insert}
)",
            Signal::kTraces, kPath);
  TracesRequest request;
  *request.add_resource_spans()->mutable_resource() = MakeResource({Str("service.name", "svc")});
  auto in = FromRequest(Signal::kTraces, request);
  EXPECT_EQ(h.Run(in).get(), in.get());
}

TEST(ResourceProcessorTest, FromContext) {
  Harness h(Factory(),
            "attributes:\n  - {key: tenant, from_context: metadata.x-tenant, action: "
            "insert}\n",
            Signal::kLogs, kPath);
  LogsRequest request;
  request.add_resource_logs()->add_scope_logs()->add_log_records();
  auto in = std::const_pointer_cast<Telemetry>(FromRequest(Signal::kLogs, request));
  in->set_metadata(std::make_shared<Metadata>(Metadata{{"x-tenant", "acme"}}));
  TelemetryPtr out = h.Run(in);
  EXPECT_EQ(Describe(out->logs().resource_logs(0).resource().attributes()), "tenant=Str:acme");
  EXPECT_EQ(out->metadata(), in->metadata());
}

std::vector<std::string> Errors(const std::string& yaml) {
  Diagnostics diag;
  ParseWith(Factory(), yaml, &diag, kPath);
  std::vector<std::string> out;
  for (const ConfigError& e : diag.errors()) {
    out.push_back(absl::StrCat(e.line, ":", e.column, ": ", e.path, ": ", e.message));
  }
  return out;
}

TEST(ResourceConfigTest, OtelcolKeysAndErrors) {
  EXPECT_THAT(Errors(kConfig), ElementsAre());
  // Its list is `attributes`, not `actions`.
  EXPECT_THAT(Errors("actions:\n  - {key: a, value: 1, action: insert}\n"),
              ElementsAre("1:1: processors::resource: missing required field \"attributes\"",
                          "1:1: processors::resource::actions: unknown key"));
  EXPECT_THAT(Errors("attributes:\n  - {key: a, action: upsert}\n"),
              ElementsAre("2:5: processors::resource::attributes[0]: either field \"value\", "
                          "\"from_attribute\" or \"from_context\" setting must be specified"));
  EXPECT_THAT(Errors("attributes:\n  - {key: a, action: move}\n"),
              ElementsAre(HasSubstr("2:22: processors::resource::attributes[0]::action: "
                                    "unsupported action \"move\"")));
  EXPECT_THAT(Errors("attributes:\n  - {pattern: \"*\", action: delete}\n"),
              ElementsAre(HasSubstr("processors::resource::attributes[0]::pattern: field "
                                    "\"pattern\" has invalid pattern: \"*\"")));
  EXPECT_THAT(Errors("attributes:\n  - {key: a, action: convert, converted_type: float}\n"),
              ElementsAre(HasSubstr("invalid value \"float\" in field \"converted_type\"")));
  EXPECT_THAT(Errors("attributes:\n  - {key: a, action: delete}\ninclude: {match_type: strict}\n"),
              ElementsAre("3:1: processors::resource::include: unknown key"));
}

}  // namespace
}  // namespace otlpd::attrtest
