#include "testing/realistic_logs.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace otlpd::bench {

namespace {

using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::logs::v1::LogRecord;
using opentelemetry::proto::logs::v1::SeverityNumber;
using Attrs = google::protobuf::RepeatedPtrField<KeyValue>;

void Str(Attrs* attrs, const std::string& key, const std::string& value) {
  KeyValue* kv = attrs->Add();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

void Int(Attrs* attrs, const std::string& key, int64_t value) {
  KeyValue* kv = attrs->Add();
  kv->set_key(key);
  kv->mutable_value()->set_int_value(value);
}

const std::vector<std::string> kServices = {"frontend", "checkout",       "payment",  "cart",
                                            "catalog",  "shipping",       "currency", "email",
                                            "accounts", "recommendation", "ads",      "inventory"};
const std::vector<std::string> kRoutes = {"/api/cart",          "/api/checkout",
                                          "/api/products/{id}", "/api/users/{id}",
                                          "/api/orders/{id}",   "/healthz"};
const std::vector<std::string> kMethods = {"GET", "GET", "GET", "POST", "PUT", "DELETE"};
const std::vector<std::string> kTables = {"orders", "users", "products", "payments", "carts"};
const std::vector<std::string> kReasons = {"insufficient funds", "card expired",
                                           "fraud check failed", "issuer unavailable"};
const std::vector<std::string> kFunctions = {"HandleRequest",   "ProcessOrder",  "ChargeCard",
                                             "LoadCart",        "QueryDatabase", "SendEmail",
                                             "ConvertCurrency", "ReserveStock"};

std::string Id(std::mt19937_64& rng) { return absl::StrCat(rng() % 900000 + 100000); }

std::string User(std::mt19937_64& rng) { return absl::StrCat("user", rng() % 5000); }

enum class Line { kSignIn, kQuery, kCacheMiss, kOrder, kPayment, kException, kAccess };

// One request being handled by a pod: the lines it will log, in order, and its trace context.
struct Request {
  int service = 0;
  int pod = 0;
  std::string trace_id, span_id;  // empty when the request is not traced
  std::vector<Line> lines;
  size_t next = 0;
  int status = 200;
};

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

Request NewRequest(std::mt19937_64& rng) {
  Request q;
  q.service = static_cast<int>(rng() % kServices.size());
  q.pod = q.service * 3 + static_cast<int>(rng() % 3);
  if (rng() % 5 != 0) {  // most requests are traced; health checks and jobs often are not
    q.trace_id = RandomBytes(rng, 16);
    q.span_id = RandomBytes(rng, 8);
  }
  q.status = rng() % 50 == 0 ? 500 : (rng() % 20 == 0 ? 404 : 200);
  if (rng() % 100 < 18) q.lines.push_back(Line::kSignIn);
  for (int i = 0; i < 3; ++i) {
    if (rng() % 100 < 15) q.lines.push_back(Line::kQuery);
  }
  if (rng() % 100 < 22) q.lines.push_back(Line::kCacheMiss);
  if (rng() % 100 < 22) q.lines.push_back(Line::kOrder);
  if (rng() % 100 < 11) q.lines.push_back(Line::kPayment);
  if (q.status == 500) q.lines.push_back(Line::kException);
  q.lines.push_back(Line::kAccess);
  return q;
}

// One log line of request `q`: the body, its severity and a few attributes.
void FillRecord(std::mt19937_64& rng, const Request& q, Line line, LogRecord* r) {
  const std::string& service = kServices[q.service];
  std::string body;
  SeverityNumber sev = opentelemetry::proto::logs::v1::SEVERITY_NUMBER_INFO;
  switch (line) {
    case Line::kAccess: {
      const std::string& method = kMethods[rng() % kMethods.size()];
      std::string route = kRoutes[rng() % kRoutes.size()];
      body = absl::StrFormat("%s %s %d in %.1fms", method, route, q.status,
                             static_cast<double>(rng() % 4000) / 10.0);
      if (q.status == 500) sev = opentelemetry::proto::logs::v1::SEVERITY_NUMBER_ERROR;
      Str(r->mutable_attributes(), "http.request.method", method);
      Int(r->mutable_attributes(), "http.response.status_code", q.status);
      break;
    }
    case Line::kQuery:
      body = absl::StrFormat("query on %s took %dms (%d rows)", kTables[rng() % kTables.size()],
                             static_cast<int>(rng() % 120), static_cast<int>(rng() % 50));
      sev = opentelemetry::proto::logs::v1::SEVERITY_NUMBER_DEBUG;
      Str(r->mutable_attributes(), "db.system", "postgresql");
      break;
    case Line::kCacheMiss:
      body = absl::StrCat("cache miss for key product:", Id(rng));
      sev = opentelemetry::proto::logs::v1::SEVERITY_NUMBER_DEBUG;
      break;
    case Line::kOrder:
      body = absl::StrCat("order ", Id(rng), " placed by ", User(rng), " with ", rng() % 5 + 1,
                          " items");
      break;
    case Line::kSignIn:
      body = absl::StrCat("user ", User(rng), " signed in from 10.", rng() % 256, ".", rng() % 256,
                          ".", rng() % 256);
      break;
    case Line::kPayment:
      body = absl::StrCat("payment ", Id(rng), " declined: ", kReasons[rng() % kReasons.size()]);
      sev = opentelemetry::proto::logs::v1::SEVERITY_NUMBER_WARN;
      break;
    case Line::kException:
      body =
          absl::StrCat("unhandled exception in ", kFunctions[rng() % kFunctions.size()],
                       ": connection reset by peer\n    at ", service, ".", kFunctions[rng() % 8],
                       " (", service, "/handler.go:", rng() % 400 + 20, ")\n    at ", service,
                       ".serve (", service, "/server.go:", rng() % 200 + 10, ")");
      sev = opentelemetry::proto::logs::v1::SEVERITY_NUMBER_ERROR;
      Str(r->mutable_attributes(), "exception.type", "ConnectionResetError");
      break;
  }
  r->mutable_body()->set_string_value(body);
  r->set_severity_number(sev);
  static const char* const kText[] = {"",     "TRACE", "", "", "",     "DEBUG", "", "", "",
                                      "INFO", "",      "", "", "WARN", "",      "", "", "ERROR"};
  r->set_severity_text(sev < 18 ? kText[sev] : "");
  Str(r->mutable_attributes(), "code.function", kFunctions[rng() % kFunctions.size()]);
  Int(r->mutable_attributes(), "thread.id", static_cast<int64_t>(rng() % 16 + 1));
  if (!q.trace_id.empty()) {
    r->set_trace_id(q.trace_id);
    // Some lines are logged inside a child span of the request's server span.
    r->set_span_id(rng() % 4 == 0 ? RandomBytes(rng, 8) : q.span_id);
    r->set_flags(1);
  }
}

}  // namespace

LogsRequest MakeRealisticLogs(std::mt19937_64& rng, size_t records, absl::Time start) {
  LogsRequest req;
  // One resource per pod that logged in this batch: most batches hold a few pods.
  std::map<int, opentelemetry::proto::logs::v1::ScopeLogs*> pods;
  uint64_t t = static_cast<uint64_t>(absl::ToUnixNanos(start));
  // A few requests in flight at once, their lines interleaved.
  std::vector<Request> in_flight;
  for (size_t i = 0; i < records; ++i) {
    if (in_flight.size() < 4 || (in_flight.size() < 12 && rng() % 2 == 0)) {
      in_flight.push_back(NewRequest(rng));
    }
    const size_t pick = rng() % in_flight.size();
    Request& q = in_flight[pick];
    auto& scope = pods[q.pod];
    if (scope == nullptr) {
      auto* rl = req.add_resource_logs();
      auto* attrs = rl->mutable_resource()->mutable_attributes();
      const std::string& name = kServices[q.service];
      Str(attrs, "service.name", name);
      Str(attrs, "service.version", absl::StrCat("1.", q.service % 4, ".", q.service % 7));
      Str(attrs, "k8s.pod.name", absl::StrFormat("%s-%x-%d", name, 0x5f3a9 + q.service, q.pod % 3));
      Str(attrs, "k8s.namespace.name", "shop");
      Str(attrs, "telemetry.sdk.language", q.service % 3 == 0 ? "go" : "java");
      scope = rl->add_scope_logs();
      scope->mutable_scope()->set_name(absl::StrCat("io.shop.", name));
    }
    LogRecord* r = scope->add_log_records();
    t += rng() % 2'000'000;
    if (q.service % 3 == 0) {
      // Go (slog, zap): nanosecond event times; the SDK observes the record microseconds on.
      r->set_time_unix_nano(t);
      r->set_observed_time_unix_nano(t + 1'000 + rng() % 30'000);
    } else {
      // Java (logback, log4j): millisecond event times; the SDK's clock has microseconds.
      r->set_time_unix_nano(t / 1'000'000 * 1'000'000);
      r->set_observed_time_unix_nano(t / 1'000 * 1'000 + 1'000 + rng() % 30 * 1'000);
    }
    FillRecord(rng, q, q.lines[q.next++], r);
    if (q.next == q.lines.size()) {  // done: the last request takes its place
      if (pick + 1 != in_flight.size()) q = std::move(in_flight.back());
      in_flight.pop_back();
    }
  }
  return req;
}

}  // namespace otlpd::bench
