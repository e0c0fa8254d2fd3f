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

// One log line of `service`: the body, its severity and a few attributes.
void FillRecord(std::mt19937_64& rng, const std::string& service, LogRecord* r) {
  const int kind = static_cast<int>(rng() % 100);
  std::string body;
  SeverityNumber sev = opentelemetry::proto::logs::v1::SEVERITY_NUMBER_INFO;
  if (kind < 45) {
    const std::string& method = kMethods[rng() % kMethods.size()];
    std::string route = kRoutes[rng() % kRoutes.size()];
    int status = rng() % 50 == 0 ? 500 : (rng() % 20 == 0 ? 404 : 200);
    body = absl::StrFormat("%s %s %d in %.1fms", method, route, status,
                           static_cast<double>(rng() % 4000) / 10.0);
    if (status == 500) sev = opentelemetry::proto::logs::v1::SEVERITY_NUMBER_ERROR;
    Str(r->mutable_attributes(), "http.request.method", method);
    Int(r->mutable_attributes(), "http.response.status_code", status);
  } else if (kind < 65) {
    body = absl::StrFormat("query on %s took %dms (%d rows)", kTables[rng() % kTables.size()],
                           static_cast<int>(rng() % 120), static_cast<int>(rng() % 50));
    sev = opentelemetry::proto::logs::v1::SEVERITY_NUMBER_DEBUG;
    Str(r->mutable_attributes(), "db.system", "postgresql");
  } else if (kind < 75) {
    body = absl::StrCat("cache miss for key product:", Id(rng));
    sev = opentelemetry::proto::logs::v1::SEVERITY_NUMBER_DEBUG;
  } else if (kind < 85) {
    body = absl::StrCat("order ", Id(rng), " placed by ", User(rng), " with ", rng() % 5 + 1,
                        " items");
  } else if (kind < 93) {
    body = absl::StrCat("user ", User(rng), " signed in from 10.", rng() % 256, ".", rng() % 256,
                        ".", rng() % 256);
  } else if (kind < 98) {
    body = absl::StrCat("payment ", Id(rng), " declined: ", kReasons[rng() % kReasons.size()]);
    sev = opentelemetry::proto::logs::v1::SEVERITY_NUMBER_WARN;
  } else {
    body = absl::StrCat("unhandled exception in ", kFunctions[rng() % kFunctions.size()],
                        ": connection reset by peer\n    at ", service, ".", kFunctions[rng() % 8],
                        " (", service, "/handler.go:", rng() % 400 + 20, ")\n    at ", service,
                        ".serve (", service, "/server.go:", rng() % 200 + 10, ")");
    sev = opentelemetry::proto::logs::v1::SEVERITY_NUMBER_ERROR;
    Str(r->mutable_attributes(), "exception.type", "ConnectionResetError");
  }
  r->mutable_body()->set_string_value(body);
  r->set_severity_number(sev);
  static const char* const kText[] = {"",     "TRACE", "", "", "",     "DEBUG", "", "", "",
                                      "INFO", "",      "", "", "WARN", "",      "", "", "ERROR"};
  r->set_severity_text(sev < 18 ? kText[sev] : "");
  Str(r->mutable_attributes(), "code.function", kFunctions[rng() % kFunctions.size()]);
  Int(r->mutable_attributes(), "thread.id", static_cast<int64_t>(rng() % 16 + 1));
  if (rng() % 3 == 0) {
    std::string trace(16, '\0'), span(8, '\0');
    for (char& c : trace) c = static_cast<char>(rng());
    for (char& c : span) c = static_cast<char>(rng());
    r->set_trace_id(trace);
    r->set_span_id(span);
    r->set_flags(1);
  }
}

}  // namespace

LogsRequest MakeRealisticLogs(std::mt19937_64& rng, size_t records, absl::Time start) {
  LogsRequest req;
  // One resource per pod that logged in this batch: most batches hold a few pods.
  std::map<int, opentelemetry::proto::logs::v1::ScopeLogs*> pods;
  uint64_t t = static_cast<uint64_t>(absl::ToUnixNanos(start));
  for (size_t i = 0; i < records; ++i) {
    const int service = static_cast<int>(rng() % kServices.size());
    const int pod = service * 3 + static_cast<int>(rng() % 3);
    auto& scope = pods[pod];
    if (scope == nullptr) {
      auto* rl = req.add_resource_logs();
      auto* attrs = rl->mutable_resource()->mutable_attributes();
      const std::string& name = kServices[service];
      Str(attrs, "service.name", name);
      Str(attrs, "service.version", absl::StrCat("1.", service % 4, ".", service % 7));
      Str(attrs, "k8s.pod.name", absl::StrFormat("%s-%x-%d", name, 0x5f3a9 + service, pod % 3));
      Str(attrs, "k8s.namespace.name", "shop");
      Str(attrs, "telemetry.sdk.language", service % 3 == 0 ? "go" : "java");
      scope = rl->add_scope_logs();
      scope->mutable_scope()->set_name(absl::StrCat("io.shop.", name));
    }
    LogRecord* r = scope->add_log_records();
    t += rng() % 2'000'000;
    r->set_time_unix_nano(t);
    r->set_observed_time_unix_nano(t + rng() % 3'000'000);
    FillRecord(rng, kServices[service], r);
  }
  return req;
}

}  // namespace otlpd::bench
