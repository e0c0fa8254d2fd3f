#include "testing/realistic_traces.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace otlpd::bench {
namespace {

using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::resource::v1::Resource;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::ScopeSpans;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;
using Attrs = google::protobuf::RepeatedPtrField<KeyValue>;

// --- small helpers ----------------------------------------------------------------------

void Str(Attrs* attrs, std::string_view key, std::string_view value) {
  KeyValue* kv = attrs->Add();
  kv->set_key(std::string(key));
  kv->mutable_value()->set_string_value(std::string(value));
}

void Int(Attrs* attrs, std::string_view key, int64_t value) {
  KeyValue* kv = attrs->Add();
  kv->set_key(std::string(key));
  kv->mutable_value()->set_int_value(value);
}

std::string RandomBytes(std::mt19937_64& rng, int n) {
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

std::string Uuid(std::mt19937_64& rng) {
  const uint64_t a = rng(), b = rng();
  return absl::StrFormat("%08x-%04x-4%03x-%04x-%012x", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                         0x8000 | (b >> 48 & 0x3fff), b & 0xffffffffffffULL);
}

template <typename T>
const T& Pick(std::mt19937_64& rng, const std::vector<T>& items) {
  return items[rng() % items.size()];
}

bool Chance(std::mt19937_64& rng, double p) {
  return std::uniform_real_distribution<double>(0, 1)(rng) < p;
}

// Nanoseconds drawn log-normally around `median_us` microseconds: latencies have long tails.
int64_t LatencyNs(std::mt19937_64& rng, double median_us, double sigma = 0.8) {
  std::lognormal_distribution<double> d(std::log(median_us * 1000.0), sigma);
  return std::max<int64_t>(1000, static_cast<int64_t>(d(rng)));
}

// --- topology ---------------------------------------------------------------------------

enum class CallType { kHttp, kDb, kCache, kPublish, kInternal };

struct Call {
  CallType type;
  int service = -1;  // kHttp target
  int op = -1;       // kHttp target operation
  double p = 1.0;    // probability the call happens
  int max_repeat = 1;
  std::string name;  // kInternal span name; kDb statement template; kCache command
};

struct Op {
  std::string method;
  std::string route;  // with {id}, {user}, {order} placeholders
  double error_rate = 0.0;
  std::vector<Call> calls;
};

struct Pod {
  int resource;  // index into Topology::resources
  std::string ip;
};

struct Lang {
  std::string name;
  std::string sdk_version;
  // Scope names by CallType-ish category: server, client, db, cache, messaging, internal.
  std::vector<std::string> scopes;
  std::string scope_version;
  std::vector<std::string> exceptions;
  std::string user_agent;
};

struct Service {
  std::string name;
  int lang;
  std::vector<Pod> pods;
  std::vector<Op> ops;
  std::string db_system = "postgresql";
  std::string db_host;
};

struct Topology {
  std::vector<Lang> langs;
  std::vector<Service> services;
  std::vector<Resource> resources;
};

std::vector<Lang> MakeLangs() {
  return {
      {"java",
       "1.32.0",
       {"io.opentelemetry.tomcat-10.0", "io.opentelemetry.java-http-client",
        "io.opentelemetry.jdbc", "io.opentelemetry.lettuce-5.1",
        "io.opentelemetry.kafka-clients-2.6", "io.opentelemetry.opentelemetry-annotations-1.16"},
       "1.32.0-alpha",
       {"java.sql.SQLTransientConnectionException", "java.net.SocketTimeoutException",
        "java.lang.IllegalStateException", "java.lang.NullPointerException"},
       "Java-http-client/17.0.9"},
      {"go",
       "1.21.0",
       {"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
        "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", "github.com/XSAM/otelsql",
        "github.com/redis/go-redis/extra/redisotel", "github.com/IBM/sarama/otelsarama", "shop"},
       "0.46.1",
       {"*net.OpError", "*errors.errorString", "context.deadlineExceededError"},
       "Go-http-client/1.1"},
      {"nodejs",
       "1.18.1",
       {"@opentelemetry/instrumentation-http", "@opentelemetry/instrumentation-http",
        "@opentelemetry/instrumentation-pg", "@opentelemetry/instrumentation-ioredis",
        "@opentelemetry/instrumentation-kafkajs", "shop-frontend"},
       "0.45.1",
       {"Error", "TypeError", "FetchError"},
       "node-fetch/1.0"},
      {"python",
       "1.21.0",
       {"opentelemetry.instrumentation.flask", "opentelemetry.instrumentation.requests",
        "opentelemetry.instrumentation.psycopg2", "opentelemetry.instrumentation.redis",
        "opentelemetry.instrumentation.kafka", "recommendation"},
       "0.42b0",
       {"ValueError", "KeyError", "psycopg2.OperationalError"},
       "python-requests/2.31.0"},
      {"dotnet",
       "1.6.0",
       {"Microsoft.AspNetCore", "System.Net.Http", "OpenTelemetry.Instrumentation.SqlClient",
        "OpenTelemetry.Instrumentation.StackExchangeRedis", "Confluent.Kafka", "cartservice"},
       "1.6.0-beta.3",
       {"System.InvalidOperationException", "StackExchange.Redis.RedisTimeoutException",
        "System.Net.Http.HttpRequestException"},
       ".NET HttpClient"},
  };
}

enum Svc {
  kFrontend,
  kCatalog,
  kCart,
  kCheckout,
  kPayment,
  kShipping,
  kCurrency,
  kRecommend,
  kEmail,
  kAd,
  kUser,
  kInventory,
  kServiceCount
};

Call Http(int service, int op, double p = 1.0, int max_repeat = 1) {
  return Call{CallType::kHttp, service, op, p, max_repeat, ""};
}
Call Db(std::string statement, double p = 1.0, int max_repeat = 1) {
  return Call{CallType::kDb, -1, -1, p, max_repeat, std::move(statement)};
}
Call Cache(std::string command, double p = 1.0) {
  return Call{CallType::kCache, -1, -1, p, 1, std::move(command)};
}
Call Internal(std::string name, double p = 1.0) {
  return Call{CallType::kInternal, -1, -1, p, 1, std::move(name)};
}
Call Publish(std::string topic) {
  return Call{CallType::kPublish, -1, -1, 1.0, 1, std::move(topic)};
}

// The operations each service serves and what each calls. Statements with "{id}" carry
// literal ids (high cardinality, as ORMs without bind parameters produce).
void DefineOps(std::vector<Service>* s) {
  auto& v = *s;
  v[kCatalog].ops = {
      {"GET",
       "/products/{id}",
       0.01,
       {Cache("GET product:{id}"), Db("SELECT id, name, description, price_usd, categories FROM "
                                      "products WHERE id = $1",
                                      0.3)}},
      {"GET",
       "/products",
       0.005,
       {Db("SELECT id, name, price_usd FROM products ORDER BY popularity DESC LIMIT 20")}},
      {"GET",
       "/products/search",
       0.01,
       {Db("SELECT id, name FROM products WHERE name ILIKE '%{q}%' LIMIT 50")}},
  };
  v[kCart].ops = {
      {"GET", "/cart/{user}", 0.01, {Cache("HGETALL cart:{user}")}},
      {"POST",
       "/cart/{user}/items",
       0.02,
       {Cache("HSET cart:{user}"), Cache("EXPIRE cart:{user}", 0.5)}},
      {"DELETE", "/cart/{user}", 0.01, {Cache("DEL cart:{user}")}},
  };
  v[kCurrency].ops = {{"GET", "/currency/convert", 0.005, {Internal("convert")}}};
  v[kPayment].ops = {
      {"POST",
       "/charge",
       0.04,
       {Internal("validate_card"), Db("INSERT INTO charges (id, user_id, amount, currency) VALUES "
                                      "($1, $2, $3, $4)")}}};
  v[kShipping].ops = {
      {"GET", "/shipping/quote", 0.01, {Internal("compute_quote"), Http(kCurrency, 0, 0.7)}},
      {"POST",
       "/shipping/orders",
       0.02,
       {Db("INSERT INTO shipments (order_id, address, carrier) VALUES ($1, $2, $3)")}},
      {"POST", "/shipping/quote", 0.01, {Internal("compute_quote")}},
  };
  v[kRecommend].ops = {
      {"GET",
       "/recommendations",
       0.01,
       {Http(kCatalog, 1), Internal("rank_products"), Cache("GET recs:{user}", 0.6)}}};
  v[kEmail].ops = {{"POST", "/send-confirmation", 0.02, {Internal("render_template")}}};
  v[kAd].ops = {{"GET", "/ads", 0.005, {Db("SELECT * FROM ads WHERE category = $1 LIMIT 3", 0.4)}}};
  v[kUser].ops = {{"GET",
                   "/users/{user}",
                   0.005,
                   {Cache("GET session:{user}"),
                    Db("SELECT id, email, name, address FROM users WHERE id = '{user}'", 0.3)}}};
  v[kInventory].ops = {
      {"GET", "/inventory/{id}", 0.01, {Db("SELECT quantity FROM stock WHERE sku = {id}")}},
      {"POST",
       "/inventory/reserve",
       0.03,
       {Db("UPDATE stock SET quantity = quantity - $1 WHERE sku = $2", 1.0, 3)}},
  };
  v[kCheckout].ops = {{"POST",
                       "/checkout",
                       0.03,
                       // Checkouts are the largest traces (up to the 30-span cap).
                       {Http(kCart, 0), Http(kCatalog, 0, 0.6, 2), Http(kCurrency, 0, 0.4),
                        Http(kShipping, 2), Http(kPayment, 0), Http(kShipping, 1),
                        Db("INSERT INTO orders (id, user_id, total) VALUES ($1, $2, $3)"),
                        Publish("orders"), Http(kCart, 2, 0.3)}}};
  v[kFrontend].ops = {
      {"GET",
       "/",
       0.005,
       {Http(kUser, 0, 0.7), Http(kCatalog, 1), Http(kCurrency, 0, 0.5), Http(kAd, 0, 0.6),
        Http(kRecommend, 0, 0.5)}},
      {"GET",
       "/product/{id}",
       0.01,
       {Http(kUser, 0, 0.7), Http(kCatalog, 0), Http(kInventory, 0, 0.5), Http(kCurrency, 0),
        Http(kRecommend, 0, 0.8), Http(kAd, 0, 0.5), Http(kCart, 0, 0.5)}},
      {"GET",
       "/cart",
       0.01,
       {Http(kUser, 0), Http(kCart, 0), Http(kCatalog, 0, 0.8, 4), Http(kShipping, 0, 0.8)}},
      {"POST", "/cart", 0.02, {Http(kUser, 0), Http(kCatalog, 0), Http(kCart, 1)}},
      {"POST", "/checkout", 0.02, {Http(kCheckout, 0)}},
      {"GET", "/search", 0.01, {Http(kCatalog, 2), Http(kCurrency, 0, 0.5)}},
  };
}

Topology MakeTopology() {
  std::mt19937_64 rng(20261130);  // the deployment is fixed; traffic varies with the caller's rng
  Topology t;
  t.langs = MakeLangs();
  struct Def {
    const char* name;
    int lang;
    int pods;
    const char* db_system;
    const char* db_host;
  };
  static const Def kDefs[kServiceCount] = {
      {"frontend", 2, 4, "postgresql", ""},
      {"product-catalog", 1, 3, "postgresql", "catalog-db.shop.svc.cluster.local"},
      {"cart", 4, 3, "redis", "redis-cart.shop.svc.cluster.local"},
      {"checkout", 1, 3, "postgresql", "orders-db.shop.svc.cluster.local"},
      {"payment", 2, 2, "postgresql", "payments-db.shop.svc.cluster.local"},
      {"shipping", 0, 2, "mysql", "shipping-db.shop.svc.cluster.local"},
      {"currency", 1, 2, "postgresql", ""},
      {"recommendation", 3, 3, "redis", "redis-recs.shop.svc.cluster.local"},
      {"email", 3, 2, "postgresql", ""},
      {"ad", 0, 2, "postgresql", "ads-db.shop.svc.cluster.local"},
      {"user", 0, 3, "postgresql", "users-db.shop.svc.cluster.local"},
      {"inventory", 0, 3, "mysql", "inventory-db.shop.svc.cluster.local"},
  };
  for (int s = 0; s < kServiceCount; ++s) {
    const Def& def = kDefs[s];
    Service svc;
    svc.name = def.name;
    svc.lang = def.lang;
    svc.db_system = def.db_system;
    svc.db_host = def.db_host;
    const Lang& lang = t.langs[def.lang];
    const std::string version = absl::StrFormat("1.%d.%d", 2 + s % 5, (s * 7) % 11);
    const std::string replica_set = absl::StrFormat("%08x", rng() & 0xffffffff).substr(0, 9);
    for (int p = 0; p < def.pods; ++p) {
      Resource r;
      auto* a = r.mutable_attributes();
      const std::string pod = absl::StrFormat("%s-%s-%05x", def.name, replica_set, rng() & 0xfffff);
      const int node = static_cast<int>(rng() % 8);
      Str(a, "service.name", def.name);
      Str(a, "service.namespace", "shop");
      Str(a, "service.version", version);
      Str(a, "service.instance.id", Uuid(rng));
      Str(a, "deployment.environment.name", "production");
      Str(a, "host.name",
          absl::StrFormat("ip-10-0-%d-%d.eu-west-1.compute.internal", node, 10 + node * 13));
      Str(a, "k8s.namespace.name", "shop");
      Str(a, "k8s.deployment.name", def.name);
      Str(a, "k8s.pod.name", pod);
      Str(a, "k8s.node.name",
          absl::StrFormat("ip-10-0-%d-%d.eu-west-1.compute.internal", node, 10 + node * 13));
      Str(a, "cloud.provider", "aws");
      Str(a, "cloud.region", "eu-west-1");
      Str(a, "telemetry.sdk.name", "opentelemetry");
      Str(a, "telemetry.sdk.language", lang.name);
      Str(a, "telemetry.sdk.version", lang.sdk_version);
      svc.pods.push_back(
          Pod{static_cast<int>(t.resources.size()),
              absl::StrFormat("10.1.%d.%d", node, static_cast<int>(rng() % 250) + 2)});
      t.resources.push_back(std::move(r));
    }
    t.services.push_back(std::move(svc));
  }
  DefineOps(&t.services);
  return t;
}

const Topology& GetTopology() {
  static const Topology* topology = new Topology(MakeTopology());
  return *topology;
}

// --- trace generation -------------------------------------------------------------------

enum Category {
  kScopeServer,
  kScopeClient,
  kScopeDb,
  kScopeCache,
  kScopeMessaging,
  kScopeInternal
};

struct EmittedSpan {
  int resource;
  int scope;  // Category, resolved with the service's language when grouping
  int lang;
  Span span;
};

constexpr int kMaxSpans = 30;
constexpr int kUserPool = 20000;
constexpr int kProducts = 3000;

const std::vector<std::string>& BrowserAgents() {
  static const auto* agents = new std::vector<std::string>{
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36",
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
      "Version/17.1 Safari/605.1.15",
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
      "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
      "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
      "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/119.0.6045.163 Mobile Safari/537.36"};
  return *agents;
}

class TraceGen {
 public:
  TraceGen(std::mt19937_64& rng, const Topology& t) : rng_(rng), t_(t) {}

  // Emits one whole trace rooted at a frontend request starting at `start_ns`.
  std::vector<EmittedSpan> Make(uint64_t start_ns) {
    spans_.clear();
    trace_id_ = RandomBytes(rng_, 16);
    user_ = absl::StrFormat("u-%06d", static_cast<int>(rng_() % kUserPool));
    product_ = absl::StrCat(100000 + rng_() % kProducts);
    order_ = Uuid(rng_);
    const Service& fe = t_.services[kFrontend];
    // Browsing dominates, checkouts are rare.
    std::discrete_distribution<int> entry({3, 8, 3, 2, 1, 3});
    const int op = entry(rng_) % static_cast<int>(fe.ops.size());
    const std::string client_ip =
        absl::StrFormat("%d.%d.%d.%d", 30 + rng_() % 190, rng_() % 256, rng_() % 256, rng_() % 256);
    const std::string agent = Pick(rng_, BrowserAgents());
    bool error = false;
    Server(kFrontend, op, "", start_ns, client_ip, agent, &error);
    return std::move(spans_);
  }

 private:
  std::string Fill(std::string text) {
    return absl::StrReplaceAll(text, {{"{id}", product_},
                                      {"{user}", user_},
                                      {"{order}", order_},
                                      {"{q}", Pick(rng_, SearchTerms())}});
  }
  static const std::vector<std::string>& SearchTerms() {
    static const auto* terms = new std::vector<std::string>{
        "telescope", "lens", "binoculars", "tripod", "filter", "mount", "eyepiece", "camera"};
    return *terms;
  }

  Span* NewSpan(int service, int pod_index, Category category, const std::string& parent) {
    const Service& svc = t_.services[service];
    EmittedSpan e;
    e.resource = svc.pods[pod_index].resource;
    e.scope = category;
    e.lang = svc.lang;
    e.span.set_trace_id(trace_id_);
    e.span.set_span_id(RandomBytes(rng_, 8));
    if (!parent.empty()) e.span.set_parent_span_id(parent);
    e.span.set_flags(category == kScopeServer || category == kScopeMessaging ? 0x301 : 0x101);
    spans_.push_back(std::move(e));
    return &spans_.back().span;
  }

  void JavaThread(int service, Attrs* attrs) {
    if (t_.services[service].lang != 0) return;
    const int thread = static_cast<int>(rng_() % 200);
    Int(attrs, "thread.id", 30 + thread);
    Str(attrs, "thread.name", absl::StrCat("http-nio-8080-exec-", thread + 1));
  }

  void Fail(int service, Span* span, uint64_t at_ns) {
    const Lang& lang = t_.langs[t_.services[service].lang];
    const std::string& type = Pick(rng_, lang.exceptions);
    static const std::vector<std::string> kMessages = {"connection refused",
                                                       "timeout after 5000ms",
                                                       "upstream returned 503",
                                                       "deadline exceeded",
                                                       "invalid state for order {order}",
                                                       "user {user} not found"};
    const std::string message = Fill(Pick(rng_, kMessages));
    span->mutable_status()->set_code(Status::STATUS_CODE_ERROR);
    span->mutable_status()->set_message(message);
    auto* event = span->add_events();
    event->set_time_unix_nano(at_ns);
    event->set_name("exception");
    Str(event->mutable_attributes(), "exception.type", type);
    Str(event->mutable_attributes(), "exception.message", message);
    static const std::vector<std::string> kFunctions = {"handle", "process", "execute",  "call",
                                                        "query",  "serve",   "dispatch", "run"};
    std::string stack = absl::StrCat(type, ": ", message, "\n");
    const int frames = 6 + static_cast<int>(rng_() % 8);
    for (int f = 0; f < frames; ++f) {
      const std::string& fn = kFunctions[(service + f * 3) % kFunctions.size()];
      const int line = 20 + (service * 37 + f * 53) % 400;
      if (lang.name == "python") {
        absl::StrAppend(&stack,
                        absl::StrFormat("  File \"/app/%s.py\", line %d, in %s\n", fn, line, fn));
      } else if (lang.name == "go") {
        absl::StrAppend(&stack, absl::StrFormat("main.%s\n\t/app/%s.go:%d\n", fn, fn, line));
      } else {
        absl::StrAppend(&stack, absl::StrFormat("\tat shop.%s.%s(%s:%d)\n",
                                                t_.services[service].name, fn, fn, line));
      }
    }
    Str(event->mutable_attributes(), "exception.stacktrace", stack);
  }

  std::string PathOf(const Op& op) { return Fill(op.route); }

  // A SERVER span for `op` of `service` and everything it calls; returns its end time.
  uint64_t Server(int service, int op_index, const std::string& parent, uint64_t start,
                  const std::string& client_ip, const std::string& agent, bool* error) {
    const Service& svc = t_.services[service];
    const Op& op = svc.ops[op_index];
    const int pod = static_cast<int>(rng_() % svc.pods.size());
    Span* span = NewSpan(service, pod, kScopeServer, parent);
    const size_t self = spans_.size() - 1;
    span->set_kind(Span::SPAN_KIND_SERVER);
    span->set_name(absl::StrCat(op.method, " ", op.route));
    span->set_start_time_unix_nano(start);
    uint64_t cursor = start + LatencyNs(rng_, 150, 0.6);
    bool failed = Chance(rng_, op.error_rate);
    for (const Call& call : op.calls) {
      if (!Chance(rng_, call.p)) continue;
      const int repeat = 1 + static_cast<int>(rng_() % call.max_repeat);
      for (int r = 0; r < repeat && spans_.size() < kMaxSpans - 2; ++r) {
        bool child_error = false;
        cursor = Child(service, pod, call, spans_[self].span.span_id(), cursor, &child_error) +
                 LatencyNs(rng_, 40, 0.7);
        failed = failed || (child_error && Chance(rng_, 0.5));
      }
    }
    const uint64_t end = cursor + LatencyNs(rng_, 300, 1.0);
    // `span` may have moved as children were added.
    span = &spans_[self].span;
    span->set_end_time_unix_nano(end);
    auto* a = span->mutable_attributes();
    Str(a, "http.request.method", op.method);
    Str(a, "http.route", op.route);
    Str(a, "url.path", PathOf(op));
    Str(a, "url.scheme", service == kFrontend ? "https" : "http");
    Str(a, "server.address", service == kFrontend ? "shop.example.com" : svc.name);
    Int(a, "server.port", service == kFrontend ? 443 : 8080);
    Str(a, "client.address", client_ip);
    Str(a, "network.protocol.version", service == kFrontend ? "2" : "1.1");
    Str(a, "user_agent.original", agent);
    int status = op.method == "POST" ? 201 : 200;
    if (!failed && Chance(rng_, 0.02)) status = op.method == "GET" ? 404 : 400;
    if (failed) status = Chance(rng_, 0.7) ? 500 : 503;
    Int(a, "http.response.status_code", status);
    if (service == kFrontend || service == kCart || service == kUser) Str(a, "user.id", user_);
    JavaThread(service, a);
    if (failed) Fail(service, span, start + (end - start) * 9 / 10);
    *error = failed;
    return end;
  }

  uint64_t Child(int service, int pod, const Call& call, const std::string& parent, uint64_t start,
                 bool* error) {
    switch (call.type) {
      case CallType::kHttp:
        return HttpClient(service, pod, call, parent, start, error);
      case CallType::kDb:
        return DbClient(service, pod, call, parent, start, error);
      case CallType::kCache:
        return CacheClient(service, pod, call, parent, start);
      case CallType::kPublish:
        return Produce(service, pod, call, parent, start);
      case CallType::kInternal:
        break;
    }
    Span* span = NewSpan(service, pod, kScopeInternal, parent);
    span->set_kind(Span::SPAN_KIND_INTERNAL);
    span->set_name(call.name);
    span->set_start_time_unix_nano(start);
    const uint64_t end = start + LatencyNs(rng_, 800, 1.0);
    span->set_end_time_unix_nano(end);
    return end;
  }

  uint64_t HttpClient(int service, int pod, const Call& call, const std::string& parent,
                      uint64_t start, bool* error) {
    const Service& target = t_.services[call.service];
    const Op& op = target.ops[call.op];
    Span* span = NewSpan(service, pod, kScopeClient, parent);
    const size_t self = spans_.size() - 1;
    span->set_kind(Span::SPAN_KIND_CLIENT);
    span->set_name(op.method);
    span->set_start_time_unix_nano(start);
    const std::string path = PathOf(op);
    bool server_error = false;
    const uint64_t server_end =
        Server(call.service, call.op, spans_[self].span.span_id(),
               start + LatencyNs(rng_, 250, 0.5), t_.services[service].pods[pod].ip,
               t_.langs[t_.services[service].lang].user_agent, &server_error);
    const uint64_t end = server_end + LatencyNs(rng_, 200, 0.5);
    span = &spans_[self].span;
    span->set_end_time_unix_nano(end);
    auto* a = span->mutable_attributes();
    Str(a, "http.request.method", op.method);
    Str(a, "server.address", target.name);
    Int(a, "server.port", 8080);
    std::string url = absl::StrCat("http://", target.name, ":8080", path);
    if (op.route == "/currency/convert") {
      static const std::vector<std::string> kCurrencies = {"EUR", "USD", "GBP", "JPY", "CHF"};
      absl::StrAppend(&url, "?from=USD&to=", Pick(rng_, kCurrencies));
    }
    Str(a, "url.full", url);
    Str(a, "network.peer.address", target.pods[rng_() % target.pods.size()].ip);
    Int(a, "http.response.status_code", server_error ? 500 : (op.method == "POST" ? 201 : 200));
    JavaThread(service, a);
    if (server_error) span->mutable_status()->set_code(Status::STATUS_CODE_ERROR);
    *error = server_error;
    return end;
  }

  uint64_t DbClient(int service, int pod, const Call& call, const std::string& parent,
                    uint64_t start, bool* error) {
    const Service& svc = t_.services[service];
    Span* span = NewSpan(service, pod, kScopeDb, parent);
    span->set_kind(Span::SPAN_KIND_CLIENT);
    const std::string statement = Fill(call.name);
    const std::string operation = statement.substr(0, statement.find(' '));
    std::string table;
    for (const char* marker : {" FROM ", " INTO ", "UPDATE "}) {
      if (size_t p = statement.find(marker); p != std::string::npos) {
        const size_t b = p + strlen(marker);
        table = statement.substr(b, statement.find(' ', b) - b);
        break;
      }
    }
    span->set_name(absl::StrCat(operation, " shop.", table));
    span->set_start_time_unix_nano(start);
    const uint64_t end = start + LatencyNs(rng_, operation == "SELECT" ? 900 : 2500, 0.9);
    span->set_end_time_unix_nano(end);
    auto* a = span->mutable_attributes();
    Str(a, "db.system", svc.db_system == "redis" ? "postgresql" : svc.db_system);
    Str(a, "db.namespace", "shop");
    Str(a, "db.operation.name", operation);
    Str(a, "db.collection.name", table);
    Str(a, "db.statement", statement);
    Str(a, "server.address", svc.db_host.empty() ? "postgres.shop.svc.cluster.local" : svc.db_host);
    Int(a, "server.port", svc.db_system == "mysql" ? 3306 : 5432);
    JavaThread(service, a);
    *error = Chance(rng_, 0.005);
    if (*error) Fail(service, span, end);
    return end;
  }

  uint64_t CacheClient(int service, int pod, const Call& call, const std::string& parent,
                       uint64_t start) {
    const Service& svc = t_.services[service];
    Span* span = NewSpan(service, pod, kScopeCache, parent);
    span->set_kind(Span::SPAN_KIND_CLIENT);
    const std::string statement = Fill(call.name);
    span->set_name(statement.substr(0, statement.find(' ')));
    span->set_start_time_unix_nano(start);
    const uint64_t end = start + LatencyNs(rng_, 180, 0.6);
    span->set_end_time_unix_nano(end);
    auto* a = span->mutable_attributes();
    Str(a, "db.system", "redis");
    Str(a, "db.statement", statement);
    Str(a, "server.address",
        svc.db_system == "redis" ? svc.db_host : "redis-cache.shop.svc.cluster.local");
    Int(a, "server.port", 6379);
    Int(a, "db.redis.database_index", 0);
    return end;
  }

  uint64_t Produce(int service, int pod, const Call& call, const std::string& parent,
                   uint64_t start) {
    Span* span = NewSpan(service, pod, kScopeMessaging, parent);
    const size_t self = spans_.size() - 1;
    span->set_kind(Span::SPAN_KIND_PRODUCER);
    span->set_flags(0x101);
    span->set_name(absl::StrCat("publish ", call.name));
    span->set_start_time_unix_nano(start);
    const uint64_t end = start + LatencyNs(rng_, 600, 0.7);
    span->set_end_time_unix_nano(end);
    const int partition = static_cast<int>(rng_() % 6);
    auto* a = span->mutable_attributes();
    Str(a, "messaging.system", "kafka");
    Str(a, "messaging.destination.name", call.name);
    Str(a, "messaging.operation.type", "publish");
    Str(a, "messaging.kafka.message.key", order_);
    Int(a, "messaging.destination.partition.id", partition);
    Str(a, "server.address", "kafka.shop.svc.cluster.local");
    // The email service consumes the message a little later, in the same trace.
    const Service& consumer = t_.services[kEmail];
    const int cpod = static_cast<int>(rng_() % consumer.pods.size());
    Span* c = NewSpan(kEmail, cpod, kScopeMessaging, spans_[self].span.span_id());
    const size_t cself = spans_.size() - 1;
    c->set_kind(Span::SPAN_KIND_CONSUMER);
    c->set_name(absl::StrCat("process ", call.name));
    const uint64_t cstart = end + LatencyNs(rng_, 3000, 1.0);
    c->set_start_time_unix_nano(cstart);
    auto* ca = c->mutable_attributes();
    Str(ca, "messaging.system", "kafka");
    Str(ca, "messaging.destination.name", call.name);
    Str(ca, "messaging.operation.type", "process");
    Str(ca, "messaging.consumer.group.name", "email");
    Int(ca, "messaging.destination.partition.id", partition);
    Int(ca, "messaging.kafka.message.offset", 1'000'000 + static_cast<int64_t>(rng_() % 9'000'000));
    bool error = false;
    const uint64_t child_end =
        Server(kEmail, 0, spans_[cself].span.span_id(), cstart + LatencyNs(rng_, 100),
               consumer.pods[cpod].ip, t_.langs[consumer.lang].user_agent, &error);
    spans_[cself].span.set_end_time_unix_nano(child_end + LatencyNs(rng_, 50));
    return end;
  }

  std::mt19937_64& rng_;
  const Topology& t_;
  std::vector<EmittedSpan> spans_;
  std::string trace_id_;
  std::string user_, product_, order_;
};

uint64_t UnixNanos(absl::Time t) { return static_cast<uint64_t>(absl::ToUnixNanos(t)); }

}  // namespace

TracesRequest MakeRealisticTraces(std::mt19937_64& rng, size_t min_spans, absl::Time start) {
  const Topology& t = GetTopology();
  TraceGen gen(rng, t);
  // resource → scope name → ScopeSpans, so that the request is grouped like a batch.
  std::map<int, std::map<std::string, ScopeSpans>> groups;
  size_t spans = 0;
  uint64_t next_start = UnixNanos(start);
  while (spans < min_spans) {
    std::vector<EmittedSpan> trace = gen.Make(next_start);
    if (trace.size() < 4 || trace.size() > kMaxSpans) continue;
    next_start += static_cast<uint64_t>(LatencyNs(rng, 4000, 1.0));
    spans += trace.size();
    for (EmittedSpan& e : trace) {
      const Lang& lang = t.langs[e.lang];
      const std::string& scope_name = lang.scopes[e.scope];
      ScopeSpans& ss = groups[e.resource][scope_name];
      if (!ss.has_scope()) {
        ss.mutable_scope()->set_name(scope_name);
        ss.mutable_scope()->set_version(lang.scope_version);
      }
      *ss.add_spans() = std::move(e.span);
    }
  }
  TracesRequest request;
  for (auto& [resource, scopes] : groups) {
    ResourceSpans* rs = request.add_resource_spans();
    *rs->mutable_resource() = t.resources[resource];
    rs->set_schema_url("https://opentelemetry.io/schemas/1.24.0");
    for (auto& [name, ss] : scopes) *rs->add_scope_spans() = std::move(ss);
  }
  return request;
}

TracesRequest MakeRandomAttributeTraces(std::mt19937_64& rng, size_t spans, absl::Time start) {
  static constexpr std::string_view kAlphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  static constexpr std::string_view kStems[] = {
      "http.request.method",  "http.response.status",  "url.path.template", "server.address",
      "user_agent.original",  "db.system.name",        "messaging.system",  "rpc.service.name",
      "network.peer.address", "deployment.environment"};
  TracesRequest request;
  auto* rs = request.add_resource_spans();
  Str(rs->mutable_resource()->mutable_attributes(), "service.name", "otlpd-loadgen");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("otlpd.loadgen");
  ss->mutable_scope()->set_version("1.0.0");
  const uint64_t base = UnixNanos(start);
  for (size_t i = 0; i < spans; ++i) {
    Span* span = ss->add_spans();
    span->set_trace_id(RandomBytes(rng, 16));
    span->set_span_id(RandomBytes(rng, 8));
    span->set_name(absl::StrCat("GET /api/v1/items/", i % 10));
    span->set_kind(Span::SPAN_KIND_SERVER);
    const uint64_t start_ns = base + rng() % 1'000'000ULL;
    span->set_start_time_unix_nano(start_ns);
    span->set_end_time_unix_nano(start_ns + 1'000'000ULL + rng() % 10'000'000ULL);
    for (int a = 0; a < 10; ++a) {
      std::string key(kStems[a]);
      key.resize(20, '_');
      std::string value(20, ' ');
      for (char& c : value) c = kAlphabet[rng() % kAlphabet.size()];
      Str(span->mutable_attributes(), key, value);
    }
    auto* event = span->add_events();
    event->set_time_unix_nano(start_ns + 500'000ULL);
    event->set_name("request.received");
  }
  return request;
}

void AddSamplingFields(TracesRequest* request) {
  int n = 0;
  for (auto& rs : *request->mutable_resource_spans()) {
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (auto& span : *ss.mutable_spans()) {
        if (n % 4 == 0) span.set_trace_state("vendor=x,ot=rv:abcdef01234567");
        if (n % 7 == 0) {
          auto* kv = span.add_attributes();
          kv->set_key("sampling.priority");
          kv->mutable_value()->set_int_value(n % 2);
        }
        if (n % 5 == 0) {
          span.mutable_status()->set_code(
              opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
        }
        ++n;
      }
    }
  }
}

TracesRequest MakeVariedTraces(std::mt19937_64& rng, int i, size_t spans, absl::Time start) {
  return i % 2 == 0 ? MakeRealisticTraces(rng, spans, start)
                    : MakeRandomAttributeTraces(rng, spans, start);
}

}  // namespace otlpd::bench
