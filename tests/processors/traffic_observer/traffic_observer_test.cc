// traffic_observer: counts root spans per (service.name, span name) from the OTLP bytes,
// reports them to the extension named in its config (found through the host), and passes
// the request on untouched.
#include "core/traffic_observer.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "core/config_node.h"
#include "core/telemetry.h"
#include "processors/traffic_observer/factory.h"
#include "processors/traffic_observer/traffic_observer_processor.h"
#include "testing/test_host.h"

namespace otlpd {
namespace {

using testing::TestHost;
using Counts = std::map<std::pair<std::string, std::string>, uint64_t>;

// An extension that records what it is told, as jaegerremotesampling's adaptive source
// would take it.
class RecordingObserver : public Extension, public TraceTrafficObserver {
 public:
  void ObserveTraces(std::string_view service, std::string_view operation,
                     uint64_t traces) override {
    absl::MutexLock lock(&mu_);
    counts_[{std::string(service), std::string(operation)}] += traces;
  }
  Counts counts() {
    absl::MutexLock lock(&mu_);
    return counts_;
  }

 private:
  absl::Mutex mu_;
  Counts counts_;
};

class PlainExtension : public Extension {};

class Sink : public Consumer {
 public:
  void Consume(TelemetryPtr data, Completion done) override {
    received.push_back(std::move(data));
    std::move(done)(absl::OkStatus());
  }
  std::vector<TelemetryPtr> received;
};

// One resource per (service, [(span name, has parent)...]); service "" leaves service.name out.
TracesRequest Traces(
    const std::vector<std::pair<std::string, std::vector<std::pair<std::string, bool>>>>&
        resources) {
  TracesRequest request;
  for (const auto& [service, spans] : resources) {
    auto* rs = request.add_resource_spans();
    auto* other = rs->mutable_resource()->add_attributes();
    other->set_key("host.name");
    other->mutable_value()->set_string_value("h1");
    if (!service.empty()) {
      auto* kv = rs->mutable_resource()->add_attributes();
      kv->set_key("service.name");
      kv->mutable_value()->set_string_value(service);
    }
    auto* ss = rs->add_scope_spans();
    int i = 0;
    for (const auto& [name, has_parent] : spans) {
      auto* span = ss->add_spans();
      span->set_trace_id(std::string(16, static_cast<char>(++i)));
      span->set_span_id(std::string(8, static_cast<char>(i)));
      if (has_parent) span->set_parent_span_id(std::string(8, 'p'));
      span->set_name(name);
    }
  }
  return request;
}

Counts Count(const TracesRequest& request) {
  Counts counts;
  CountRootSpans(request.SerializeAsString(),
                 [&](std::string_view s, std::string_view o, uint64_t n) {
                   counts[{std::string(s), std::string(o)}] += n;
                 });
  return counts;
}

TEST(CountRootSpansTest, CountsOnlyRootSpansPerServiceAndOperation) {
  TracesRequest request = Traces({{"web", {{"GET /", false}, {"GET /", false}, {"db", true}}},
                                  {"api", {{"GET /", false}, {"call", true}}},
                                  {"web", {{"POST /", false}}},
                                  {"", {{"orphan", false}}}});
  EXPECT_EQ(Count(request), (Counts{{{"web", "GET /"}, 2},
                                    {{"web", "POST /"}, 1},
                                    {{"api", "GET /"}, 1},
                                    {{"", "orphan"}, 1}}));
  // The resource after its spans on the wire (field order is free in protobuf).
  const auto rs = Traces({{"late", {{"op", false}}}}).resource_spans(0);
  opentelemetry::proto::trace::v1::ResourceSpans spans_only, resource_only;
  *spans_only.add_scope_spans() = rs.scope_spans(0);
  *resource_only.mutable_resource() = rs.resource();
  const std::string body = spans_only.SerializeAsString() + resource_only.SerializeAsString();
  ASSERT_LT(body.size(), 128u);  // a one-byte length
  const std::string reordered = std::string("\x0a") + static_cast<char>(body.size()) + body;
  Counts late;
  CountRootSpans(reordered, [&](std::string_view s, std::string_view o, uint64_t n) {
    late[{std::string(s), std::string(o)}] += n;
  });
  EXPECT_EQ(late, (Counts{{{"late", "op"}, 1}}));
}

TEST(CountRootSpansTest, MalformedBytesEndTheWalkSafely) {
  const std::string good = Traces({{"web", {{"a", false}, {"b", false}}}}).SerializeAsString();
  for (size_t cut = 0; cut < good.size(); ++cut) {
    Counts counts;
    CountRootSpans(good.substr(0, cut), [&](std::string_view s, std::string_view o, uint64_t n) {
      counts[{std::string(s), std::string(o)}] += n;
    });
    uint64_t total = 0;
    for (const auto& [k, n] : counts) total += n;
    EXPECT_LE(total, 2u) << cut;
  }
  Counts none;
  CountRootSpans("\xff\xff\xff", [&](std::string_view, std::string_view, uint64_t n) {
    none[{"", ""}] += n;
  });
  EXPECT_TRUE(none.empty());
}

std::unique_ptr<ComponentConfig> Parse(const std::string& yaml, Diagnostics* diag) {
  ConfigNode node(YAML::Load(yaml), "processors::traffic_observer", diag);
  auto config = NewTrafficObserverProcessorFactory()->ParseConfig(node);
  node.ReportUnknownKeys();
  return config;
}

TEST(TrafficObserverProcessorTest, FeedsTheNamedExtensionAndPassesDataOnUntouched) {
  TestHost host;
  auto observer = std::make_shared<RecordingObserver>();
  host.extensions[{"jaegerremotesampling", "a"}] = observer;
  Diagnostics diag;
  auto config = Parse("extension: jaegerremotesampling/a", &diag);
  ASSERT_TRUE(diag.ok()) << diag.Format();
  auto sink = std::make_shared<Sink>();
  auto processor = NewTrafficObserverProcessorFactory()->Create(
      CreateSettings{{"traffic_observer", ""}, &host}, *config, Signal::kTraces, sink);
  ASSERT_TRUE(processor.ok()) << processor.status();

  const std::string bytes = Traces({{"web", {{"GET /", false}, {"db", true}}}}).SerializeAsString();
  TelemetryPtr data = Telemetry::FromWire(Signal::kTraces, absl::Cord(bytes), 2);
  absl::Status result = absl::UnknownError("not called");
  (*processor)->Consume(data, [&](absl::Status s) { result = s; });
  (*processor)->Consume(data, [&](absl::Status) {});
  EXPECT_TRUE(result.ok()) << result;
  ASSERT_EQ(sink->received.size(), 2u);
  EXPECT_EQ(sink->received[0], data);  // the same object: nothing copied or rebuilt
  EXPECT_EQ(observer->counts(), (Counts{{{"web", "GET /"}, 2}}));
}

TEST(TrafficObserverProcessorTest, RefusesAMissingOrWrongExtension) {
  Diagnostics diag;
  Parse("{}", &diag);
  EXPECT_NE(diag.Format().find("extension is required"), std::string::npos) << diag.Format();

  TestHost host;
  host.extensions[{"health_check", ""}] = std::make_shared<PlainExtension>();
  auto sink = std::make_shared<Sink>();
  for (const char* yaml : {"extension: health_check", "extension: jaegerremotesampling"}) {
    Diagnostics d;
    auto config = Parse(yaml, &d);
    ASSERT_TRUE(d.ok()) << d.Format();
    auto processor = NewTrafficObserverProcessorFactory()->Create(
        CreateSettings{{"traffic_observer", ""}, &host}, *config, Signal::kTraces, sink);
    EXPECT_FALSE(processor.ok()) << yaml;
  }
  Diagnostics d;
  auto config = Parse("extension: health_check", &d);
  auto processor = NewTrafficObserverProcessorFactory()->Create(
      CreateSettings{{"traffic_observer", ""}, &host}, *config, Signal::kTraces, sink);
  EXPECT_NE(processor.status().message().find("is not a traffic observer"), absl::string_view::npos)
      << processor.status();
}

}  // namespace
}  // namespace otlpd
