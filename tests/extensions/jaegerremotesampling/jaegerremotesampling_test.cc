// jaegerremotesampling: the strategies file (Jaeger's format and merge rules), the HTTP
// endpoint with a real client (good and bad requests), reloads that keep the last good
// file, config errors, and the adaptive computation converging toward its target.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/config_node.h"
#include "core/http_server.h"
#include "core/traffic_observer.h"
#include "extensions/jaegerremotesampling/adaptive.h"
#include "extensions/jaegerremotesampling/config.h"
#include "extensions/jaegerremotesampling/factory.h"
#include "extensions/jaegerremotesampling/jaeger_remote_sampling_extension.h"
#include "extensions/jaegerremotesampling/strategies.h"
#include "testing/http_client.h"
#include "testing/temp_dir.h"
#include "testing/test_host.h"
#include "testing/wait.h"

namespace otlpd {
namespace {

using testing::HttpClient;
using testing::HttpGet;
using testing::HttpResult;
using testing::LocalUrl;
using testing::TempDir;
using testing::TestHost;
using testing::WaitUntil;

// The example of Jaeger's documentation (sampling, "File-based sampling configuration").
constexpr char kJaegerExample[] = R"({
  "service_strategies": [
    {"service": "foo", "type": "probabilistic", "param": 0.8,
     "operation_strategies": [
       {"operation": "op1", "type": "probabilistic", "param": 0.2},
       {"operation": "op2", "type": "probabilistic", "param": 0.4}]},
    {"service": "bar", "type": "ratelimiting", "param": 5}
  ],
  "default_strategy": {"type": "probabilistic", "param": 0.5,
    "operation_strategies": [
      {"operation": "/health", "type": "probabilistic", "param": 0.0},
      {"operation": "/metrics", "type": "probabilistic", "param": 0.0}]}
})";

std::string ResponseFor(const SamplingStrategies& s, std::string_view service) {
  return SamplingStrategyJson(s.For(service));
}

TEST(SamplingStrategiesTest, JaegerExampleResolvesAsJaegerDoes) {
  absl::StatusOr<SamplingStrategies> s = ParseSamplingStrategies(kJaegerExample);
  ASSERT_TRUE(s.ok()) << s.status();
  // foo: its own operations, then the default's (Jaeger merges them in).
  EXPECT_EQ(
      ResponseFor(*s, "foo"),
      R"({"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.8},)"
      R"("operationSampling":{"defaultSamplingProbability":0.8,"defaultLowerBoundTracesPerSecond":0,)"
      R"("perOperationStrategies":[{"operation":"op1","probabilisticSampling":{"samplingRate":0.2}},)"
      R"({"operation":"op2","probabilisticSampling":{"samplingRate":0.4}},)"
      R"({"operation":"/health","probabilisticSampling":{"samplingRate":0}},)"
      R"({"operation":"/metrics","probabilisticSampling":{"samplingRate":0}}]}})");
  // bar: rate limiting, no per-operation sampling.
  EXPECT_EQ(ResponseFor(*s, "bar"),
            R"({"strategyType":"RATE_LIMITING","rateLimitingSampling":{"maxTracesPerSecond":5}})");
  // Any other service: the default strategy.
  EXPECT_EQ(
      ResponseFor(*s, "other"),
      R"({"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.5},)"
      R"("operationSampling":{"defaultSamplingProbability":0.5,"defaultLowerBoundTracesPerSecond":0,)"
      R"("perOperationStrategies":[{"operation":"/health","probabilisticSampling":{"samplingRate":0}},)"
      R"({"operation":"/metrics","probabilisticSampling":{"samplingRate":0}}]}})");
}

TEST(SamplingStrategiesTest, ServiceOperationsOverrideTheDefaultsAndInheritTheirList) {
  absl::StatusOr<SamplingStrategies> s = ParseSamplingStrategies(R"({
    "default_strategy": {"type": "probabilistic", "param": 0.1,
      "operation_strategies": [{"operation": "a", "type": "probabilistic", "param": 0.3},
                               {"operation": "b", "type": "probabilistic", "param": 0.4}]},
    "service_strategies": [
      {"service": "own", "type": "probabilistic", "param": 0.6,
       "operation_strategies": [{"operation": "b", "type": "probabilistic", "param": 1}]},
      {"service": "plain", "type": "probabilistic", "param": 0.7}]})");
  ASSERT_TRUE(s.ok()) << s.status();
  const SamplingStrategy& own = s->For("own");
  ASSERT_TRUE(own.operations.has_value());
  EXPECT_EQ(own.operations->probabilities,
            (std::vector<std::pair<std::string, double>>{{"b", 1}, {"a", 0.3}}));
  // A service without operations takes the default's, with its own rate as the default.
  const SamplingStrategy& plain = s->For("plain");
  ASSERT_TRUE(plain.operations.has_value());
  EXPECT_EQ(plain.operations->default_probability, 0.7);
  EXPECT_EQ(plain.operations->probabilities,
            (std::vector<std::pair<std::string, double>>{{"a", 0.3}, {"b", 0.4}}));
}

TEST(SamplingStrategiesTest, WithoutADefaultStrategyTheDefaultIsJaegers) {
  absl::StatusOr<SamplingStrategies> s = ParseSamplingStrategies(R"({"service_strategies": []})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(ResponseFor(*s, "x"),
            R"({"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.001}})");
}

TEST(SamplingStrategiesTest, BadFilesAreRefusedWithWhatIsWrong) {
  const std::pair<const char*, const char*> cases[] = {
      {"{", "not valid JSON"},
      {"[]", "must be a JSON object"},
      {R"({"default": {}})", "unknown key \"default\""},
      {R"({"default_strategy": {"type": "probabilistic"}})",
       "default_strategy: \"param\" is missing"},
      {R"({"default_strategy": {"type": "probabilistic", "param": 1.5}})", "within [0, 1]"},
      {R"({"default_strategy": {"type": "probabilistic", "param": "0.5"}})", "must be a number"},
      {R"({"default_strategy": {"type": "const", "param": 1}})", "\"type\" must be"},
      {R"({"default_strategy": {"type": "ratelimiting", "param": 2.5}})", "whole number"},
      {R"({"service_strategies": {}})", "service_strategies must be an array"},
      {R"({"service_strategies": [{"type": "probabilistic", "param": 1}]})",
       "service_strategies[0]: \"service\" is missing"},
      {R"({"service_strategies": [{"service": "a", "type": "probabilistic", "param": 1},
                                  {"service": "a", "type": "probabilistic", "param": 1}]})",
       "service_strategies[1]: service \"a\" is given twice"},
      {R"({"service_strategies": [{"service": "a", "type": "probabilistic", "param": 1,
           "operation_strategies": [{"operation": "o", "type": "ratelimiting", "param": 1}]}]})",
       "service_strategies[0].operation_strategies[0]: operation strategies must be probabilistic"},
      {R"({"service_strategies": [{"service": "a", "type": "probabilistic", "param": 1,
           "operation_strategies": [{"type": "probabilistic", "param": 1}]}]})",
       "\"operation\" is missing"},
  };
  for (const auto& [json, message] : cases) {
    absl::StatusOr<SamplingStrategies> s = ParseSamplingStrategies(json);
    ASSERT_FALSE(s.ok()) << json;
    EXPECT_NE(s.status().message().find(message), absl::string_view::npos)
        << json << " -> " << s.status();
  }
}

std::unique_ptr<ComponentConfig> Parse(const std::string& yaml, Diagnostics* diag) {
  ConfigNode node(YAML::Load(yaml), "extensions::jaegerremotesampling", diag);
  auto config = NewJaegerRemoteSamplingExtensionFactory()->ParseConfig(node);
  node.ReportUnknownKeys();
  return config;
}

TEST(JaegerRemoteSamplingConfigTest, DefaultsAndOwnKeys) {
  Diagnostics diag;
  auto config = Parse("source:\n  file: /x.json\n  reload_interval: 30s", &diag);
  EXPECT_TRUE(diag.ok()) << diag.Format();
  const auto& c = ConfigAs<JaegerRemoteSamplingConfig>(*config);
  EXPECT_EQ(c.http_endpoint, "127.0.0.1:5778");
  EXPECT_EQ(c.file, "/x.json");
  EXPECT_EQ(c.reload_interval, absl::Seconds(30));
  EXPECT_FALSE(c.adaptive.has_value());

  Diagnostics diag2;
  auto adaptive = Parse(
      "source:\n  adaptive:\n    target_traces_per_second: 5\n    min_sampling_probability: 0.01\n"
      "    max_sampling_probability: 0.9\n    initial_sampling_probability: 0.2\n"
      "    calculation_interval: 2s",
      &diag2);
  EXPECT_TRUE(diag2.ok()) << diag2.Format();
  const auto& a = ConfigAs<JaegerRemoteSamplingConfig>(*adaptive);
  ASSERT_TRUE(a.adaptive.has_value());
  EXPECT_EQ(a.adaptive->target_traces_per_second, 5);
  EXPECT_EQ(a.adaptive->min_sampling_probability, 0.01);
  EXPECT_EQ(a.adaptive->max_sampling_probability, 0.9);
  EXPECT_EQ(a.adaptive->initial_sampling_probability, 0.2);
  EXPECT_EQ(a.adaptive->calculation_interval, absl::Seconds(2));
}

TEST(JaegerRemoteSamplingConfigTest, ErrorsNameTheKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"http:\n  endpoint: 127.0.0.1:0", "one of source.file or source.adaptive is required"},
      {"source:\n  remote:\n    endpoint: jaeger:14250", "source::remote: source.remote"},
      {"source:\n  file: a.json\n  adaptive: {}", "only one of"},
      {"source:\n  file: a.json\ngrpc:\n  endpoint: 127.0.0.1:14250", "grpc: the gRPC sampling"},
      {"source:\n  adaptive:\n    target_traces_per_second: 0", "must be positive"},
      {"source:\n  adaptive:\n    max_sampling_probability: 2", "must be within [0, 1]"},
      {"source:\n  adaptive:\n    min_sampling_probability: 0.5\n    max_sampling_probability: 0.1",
       "must not exceed"},
      {"source:\n  adaptive:\n    calculation_interval: 0s",
       "calculation_interval must be positive"},
      {"source:\n  file: a.json\n  reload_interval: -1s", "reload_interval: expected a duration"},
      {"source:\n  file: a.json\n  typo: 1", "source::typo: unknown key"},
  };
  for (const auto& [yaml, message] : cases) {
    Diagnostics diag;
    Parse(yaml, &diag);
    ASSERT_FALSE(diag.ok()) << yaml;
    EXPECT_NE(diag.Format().find(message), std::string::npos) << yaml << "\n" << diag.Format();
  }
}

struct Fixture {
  explicit Fixture(const std::string& yaml) {
    Diagnostics diag;
    config = Parse(yaml, &diag);
    EXPECT_TRUE(diag.ok()) << diag.Format();
    auto created = NewJaegerRemoteSamplingExtensionFactory()->Create(
        CreateSettings{{"jaegerremotesampling", ""}, &host}, *config);
    EXPECT_TRUE(created.ok()) << created.status();
    extension.reset(static_cast<JaegerRemoteSamplingExtension*>(created->release()));
    start = extension->Start();
  }
  ~Fixture() { extension->Shutdown(absl::Now() + absl::Seconds(5)); }
  std::string Url(const std::string& path_and_query) {
    return LocalUrl(extension->port(), path_and_query);
  }

  TestHost host;
  std::unique_ptr<ComponentConfig> config;
  std::unique_ptr<JaegerRemoteSamplingExtension> extension;
  absl::Status start;
};

TEST(JaegerRemoteSamplingTest, ServesTheFileOverHttp) {
  TempDir dir;
  const std::string file = dir.Write("strategies.json", kJaegerExample);
  Fixture f(absl::StrCat("http:\n  endpoint: 127.0.0.1:0\nsource:\n  file: ", file));
  ASSERT_TRUE(f.start.ok()) << f.start;
  absl::StatusOr<SamplingStrategies> expected = ParseSamplingStrategies(kJaegerExample);
  ASSERT_TRUE(expected.ok());

  HttpClient client;
  for (const char* path : {"/sampling", "/api/sampling"}) {
    for (const char* service : {"foo", "bar", "unknown"}) {
      HttpResult r = client.Get(f.Url(absl::StrCat(path, "?service=", service)));
      EXPECT_EQ(r.status, 200) << path << " " << r.error;
      ASSERT_NE(r.Header("content-type"), nullptr);
      EXPECT_EQ(*r.Header("content-type"), "application/json");
      EXPECT_EQ(r.body, ResponseFor(*expected, service)) << path << "?service=" << service;
    }
  }
  // Percent-decoded like any query parameter; an empty name is a service like any other.
  EXPECT_EQ(client.Get(f.Url("/sampling?service=f%6Fo")).body, ResponseFor(*expected, "foo"));
  EXPECT_EQ(client.Get(f.Url("/sampling?service=")).body, ResponseFor(*expected, ""));
}

TEST(JaegerRemoteSamplingTest, RefusesBadRequests) {
  TempDir dir;
  const std::string file = dir.Write("strategies.json", kJaegerExample);
  Fixture f(absl::StrCat("http:\n  endpoint: 127.0.0.1:0\nsource:\n  file: ", file));
  ASSERT_TRUE(f.start.ok()) << f.start;
  HttpClient client;

  HttpResult missing = client.Get(f.Url("/sampling"));
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.body, "'service' parameter must be provided\n");
  EXPECT_EQ(client.Get(f.Url("/sampling?other=foo")).status, 400);
  HttpResult twice = client.Get(f.Url("/api/sampling?service=foo&service=bar"));
  EXPECT_EQ(twice.status, 400);
  EXPECT_EQ(twice.body, "'service' parameter must occur only once\n");

  EXPECT_EQ(client.Get(f.Url("/")).status, 404);
  EXPECT_EQ(client.Get(f.Url("/sampling/foo?service=foo")).status, 404);
  HttpResult post = client.Post(f.Url("/sampling?service=foo"), "{}");
  EXPECT_EQ(post.status, 405);
  ASSERT_NE(post.Header("allow"), nullptr);
  EXPECT_EQ(*post.Header("allow"), "GET");
  // The connection is still good after all of these.
  EXPECT_EQ(client.Get(f.Url("/sampling?service=foo")).status, 200);
}

TEST(JaegerRemoteSamplingTest, ABadOrMissingFileFailsTheStart) {
  TempDir dir;
  const std::string bad =
      dir.Write("bad.json", R"({"default_strategy": {"type": "probabilistic", "param": 7}})");
  Fixture f(absl::StrCat("http:\n  endpoint: 127.0.0.1:0\nsource:\n  file: ", bad));
  EXPECT_FALSE(f.start.ok());
  EXPECT_NE(f.start.message().find("jaegerremotesampling: source::file: " + bad),
            absl::string_view::npos)
      << f.start;
  EXPECT_NE(f.start.message().find("within [0, 1]"), absl::string_view::npos) << f.start;

  Fixture missing(
      absl::StrCat("http:\n  endpoint: 127.0.0.1:0\nsource:\n  file: ", dir.File("absent.json")));
  EXPECT_FALSE(missing.start.ok());
  EXPECT_NE(missing.start.message().find("cannot read"), absl::string_view::npos) << missing.start;
}

TEST(JaegerRemoteSamplingTest, ReloadsTheFileAndKeepsTheLastGoodOne) {
  TempDir dir;
  const std::string file =
      dir.Write("s.json", R"({"default_strategy": {"type": "probabilistic", "param": 0.25}})");
  Fixture f(absl::StrCat("http:\n  endpoint: 127.0.0.1:0\nsource:\n  file: ", file,
                         "\n  reload_interval: 20ms"));
  ASSERT_TRUE(f.start.ok()) << f.start;
  HttpClient client;
  auto rate = [&] { return client.Get(f.Url("/sampling?service=s")).body; };
  const std::string quarter =
      R"({"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.25}})";
  const std::string three_quarters =
      R"({"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.75}})";
  const std::string limited =
      R"({"strategyType":"RATE_LIMITING","rateLimitingSampling":{"maxTracesPerSecond":9}})";
  EXPECT_EQ(rate(), quarter);

  dir.Write("s.json", R"({"default_strategy": {"type": "probabilistic", "param": 0.75}})");
  EXPECT_TRUE(WaitUntil([&] { return rate() == three_quarters; }, absl::Seconds(10)));

  // A broken file is not taken; then a good one written after it is.
  dir.Write("s.json", R"({"default_strategy": {"type": "probabilistic", "param": 2}})");
  absl::SleepFor(absl::Milliseconds(200));  // ~10 reload intervals
  EXPECT_EQ(rate(), three_quarters);
  dir.Write("s.json", R"({"default_strategy": {"type": "ratelimiting", "param": 9}})");
  EXPECT_TRUE(WaitUntil([&] { return rate() == limited; }, absl::Seconds(10)));
  // A file that disappears keeps the last good strategies too.
  std::filesystem::remove(file);
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(rate(), limited);
}

TEST(JaegerRemoteSamplingTest, FileSourceMayBeAnHttpUrl) {
  // A strategies server (the daemon's own HTTP server) whose answer the test changes.
  absl::Mutex mu;
  int status = 200;
  std::string body = R"({"default_strategy": {"type": "probabilistic", "param": 0.25}})";
  HttpServerOptions options;
  auto server = HttpServer::Start(options, [&](HttpRequest&& request, HttpRespond respond) {
    HttpResponse response;
    absl::MutexLock lock(&mu);
    response.status = request.path == "/strategies.json" ? status : 404;
    response.body = body;
    std::move(respond)(std::move(response));
  });
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string url = LocalUrl((*server)->port(), "/strategies.json");
  Fixture f(absl::StrCat("http:\n  endpoint: 127.0.0.1:0\nsource:\n  file: ", url,
                         "\n  reload_interval: 20ms"));
  ASSERT_TRUE(f.start.ok()) << f.start;
  HttpClient client;
  auto rate = [&] { return client.Get(f.Url("/sampling?service=s")).body; };
  EXPECT_EQ(rate(),
            R"({"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.25}})");
  {
    absl::MutexLock lock(&mu);
    status = 503;  // an error answer keeps the last good strategies
    body = R"({"default_strategy": {"type": "probabilistic", "param": 0.5}})";
  }
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(rate(),
            R"({"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.25}})");
  {
    absl::MutexLock lock(&mu);
    status = 200;
  }
  EXPECT_TRUE(WaitUntil(
      [&] {
        return rate() ==
               R"({"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.5}})";
      },
      absl::Seconds(10)));

  // Unreachable at start: the start fails.
  Fixture missing(absl::StrCat("http:\n  endpoint: 127.0.0.1:0\nsource:\n  file: ",
                               LocalUrl((*server)->port(), "/absent.json")));
  EXPECT_FALSE(missing.start.ok());
  EXPECT_NE(missing.start.message().find("HTTP status 404"), absl::string_view::npos)
      << missing.start;
  (*server)->Stop();
}

// The kept traffic a service with these unsampled rates (traces/s per operation) would
// show in `interval` under the probabilities the sampler hands out now.
void SimulateInterval(AdaptiveSampler& sampler, const std::string& service,
                      const std::map<std::string, double>& unsampled_rates,
                      absl::Duration interval) {
  const SamplingStrategy strategy = sampler.StrategyFor(service);
  for (const auto& [op, rate] : unsampled_rates) {
    double p = strategy.operations->default_probability;
    for (const auto& [name, op_p] : strategy.operations->probabilities) {
      if (name == op) p = op_p;
    }
    const double kept = rate * absl::ToDoubleSeconds(interval) * p;
    sampler.ObserveTraces(service, op, static_cast<uint64_t>(std::llround(kept)));
  }
  sampler.Recalculate(interval);
}

double ProbabilityOf(const AdaptiveSampler& sampler, const std::string& service,
                     const std::string& op) {
  const SamplingStrategy strategy = sampler.StrategyFor(service);
  for (const auto& [name, p] : strategy.operations->probabilities) {
    if (name == op) return p;
  }
  return -1;
}

TEST(AdaptiveSamplerTest, ConvergesToTheTargetFromBelowAndAbove) {
  AdaptiveSamplingConfig config;
  config.target_traces_per_second = 10;
  config.initial_sampling_probability = 1;  // starts keeping everything: must come down
  config.min_sampling_probability = 1e-4;
  AdaptiveSampler sampler(config);
  // Unknown services get the initial probability.
  EXPECT_EQ(sampler.StrategyFor("new").probability, 1);

  // "busy" takes 2000/s, "rare" 2/s: each gets half the target, 5/s.
  const std::map<std::string, double> rates = {{"busy", 2000}, {"rare", 2}};
  const absl::Duration interval = absl::Seconds(10);
  for (int i = 0; i < 20; ++i) SimulateInterval(sampler, "svc", rates, interval);
  EXPECT_NEAR(ProbabilityOf(sampler, "svc", "busy"), 5.0 / 2000, 5.0 / 2000 * 0.05);
  EXPECT_EQ(ProbabilityOf(sampler, "svc", "rare"), 1);  // 5/s > 2/s: keep all, capped at max
  // The service's probability for operations not seen yet: the whole target over its rate.
  EXPECT_NEAR(sampler.StrategyFor("svc").probability, 10.0 / 2002, 10.0 / 2002 * 0.05);

  // The traffic drops 100x: the probabilities climb back (at most 2x per interval).
  const std::map<std::string, double> quiet = {{"busy", 20}, {"rare", 2}};
  SimulateInterval(sampler, "svc", quiet, interval);
  EXPECT_LE(ProbabilityOf(sampler, "svc", "busy"), 2 * 5.0 / 2000 * 1.05);
  for (int i = 0; i < 20; ++i) SimulateInterval(sampler, "svc", quiet, interval);
  EXPECT_NEAR(ProbabilityOf(sampler, "svc", "busy"), 5.0 / 20, 5.0 / 20 * 0.05);

  // Services are independent: another one starting now begins at the initial probability.
  EXPECT_EQ(sampler.StrategyFor("other").probability, 1);
}

TEST(AdaptiveSamplerTest, RespectsTheBoundsAndRisesWhenNothingIsKept) {
  AdaptiveSamplingConfig config;
  config.target_traces_per_second = 1;
  config.initial_sampling_probability = 0.001;
  config.min_sampling_probability = 0.01;
  config.max_sampling_probability = 0.5;
  AdaptiveSampler sampler(config);
  // 10/s at p=0.001: nothing is kept in a second, so the estimate is unknown and p doubles.
  sampler.ObserveTraces("s", "op", 0);
  sampler.Recalculate(absl::Seconds(1));
  EXPECT_DOUBLE_EQ(ProbabilityOf(sampler, "s", "op"), 0.01);  // 0.002, raised to the min
  for (int i = 0; i < 30; ++i) SimulateInterval(sampler, "s", {{"op", 1e6}}, absl::Seconds(1));
  EXPECT_DOUBLE_EQ(ProbabilityOf(sampler, "s", "op"), 0.01);  // wants 1e-6: held at the min
  for (int i = 0; i < 30; ++i) SimulateInterval(sampler, "s", {{"op", 0.5}}, absl::Seconds(10));
  EXPECT_DOUBLE_EQ(ProbabilityOf(sampler, "s", "op"), 0.5);  // wants 2: held at the max
}

TEST(AdaptiveSamplerTest, ManySpanNamesStayBoundedAndIdleOperationsAreForgotten) {
  AdaptiveSamplingConfig config;
  config.target_traces_per_second = 10;
  config.initial_sampling_probability = 1;
  AdaptiveSampler sampler(config);
  // A span name per request id: only the first kMaxOperationsPerService become operations;
  // the others' traces still count toward the service's rate.
  const size_t names = AdaptiveSampler::kMaxOperationsPerService + 1000;
  for (size_t i = 0; i < names; ++i) sampler.ObserveTraces("ids", absl::StrCat("GET /u/", i), 10);
  sampler.Recalculate(absl::Seconds(1));
  const SamplingStrategy strategy = sampler.StrategyFor("ids");
  EXPECT_EQ(strategy.operations->probabilities.size(), AdaptiveSampler::kMaxOperationsPerService);
  // 10 traces/s for each of them all, at p=1: the service's rate is names * 10.
  EXPECT_NEAR(strategy.probability, 10.0 / (static_cast<double>(names) * 10), 1e-9);

  sampler.ObserveTraces("idle", "once", 1);
  for (int i = 0; i <= AdaptiveSampler::kForgetAfterIntervals + 1; ++i) {
    sampler.Recalculate(absl::Seconds(1));
  }
  EXPECT_TRUE(sampler.StrategyFor("idle").operations->probabilities.empty());
}

// perOperationStrategies[operation == op].probabilisticSampling.samplingRate, or -1.
double OperationProbability(const std::string& body, std::string_view op) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS) return -1;
  simdjson::dom::array ops;
  if (doc["operationSampling"]["perOperationStrategies"].get(ops) != simdjson::SUCCESS) return -1;
  for (simdjson::dom::element entry : ops) {
    std::string_view name;
    double p;
    if (entry["operation"].get(name) == simdjson::SUCCESS && name == op &&
        entry["probabilisticSampling"]["samplingRate"].get(p) == simdjson::SUCCESS) {
      return p;
    }
  }
  return -1;
}

TEST(JaegerRemoteSamplingTest, AdaptiveSourceServesWhatTheObserverSaw) {
  Fixture f(
      "http:\n  endpoint: 127.0.0.1:0\nsource:\n  adaptive:\n    target_traces_per_second: 1\n"
      "    initial_sampling_probability: 1\n    calculation_interval: 50ms");
  ASSERT_TRUE(f.start.ok()) << f.start;
  // What the traffic_observer processor finds through the host.
  absl::StatusOr<TraceTrafficObserver*> observer = [&]() -> absl::StatusOr<TraceTrafficObserver*> {
    TraceTrafficObserver* o = dynamic_cast<TraceTrafficObserver*>(f.extension.get());
    if (o == nullptr) return absl::InternalError("not an observer");
    return o;
  }();
  ASSERT_TRUE(observer.ok());
  HttpClient client;
  const std::string before = client.Get(f.Url("/sampling?service=web")).body;
  EXPECT_EQ(
      before,
      R"({"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":1},)"
      R"("operationSampling":{"defaultSamplingProbability":1,"defaultLowerBoundTracesPerSecond":0,)"
      R"("perOperationStrategies":[]}})");
  // 100 traces of GET /x within one interval (>= 50 ms): far above 1/s, so p drops below
  // 1/2 (100 traces in at most the interval since the last calculation).
  (*observer)->ObserveTraces("web", "GET /x", 100);
  EXPECT_TRUE(WaitUntil(
      [&] {
        return client.Get(f.Url("/sampling?service=web")).body.find(R"("operation":"GET /x")") !=
               std::string::npos;
      },
      absl::Seconds(10)));
  EXPECT_TRUE(WaitUntil(
      [&] {
        const double p =
            OperationProbability(client.Get(f.Url("/sampling?service=web")).body, "GET /x");
        return p >= 0 && p < 0.5;
      },
      absl::Seconds(10)));
}

}  // namespace
}  // namespace otlpd
