#include "exporters/edge_sync/endpoint_pool.h"

#include <algorithm>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/status.h"
#include "exporters/otlp/otlp_exporter.h"
#include "exporters/otlphttp/otlphttp_exporter.h"

namespace otlpd {

struct EndpointPool::Endpoint {
  std::string name;
  CircuitBreaker breaker;
  std::atomic<int> pending{0};
  // One sender per compression this endpoint may use, by Compression value.
  std::map<Compression, std::unique_ptr<RequestSender>> senders;
  Counter* sent_items = nullptr;
  Counter* failed_attempts = nullptr;

  explicit Endpoint(std::string n, CircuitBreakerSettings s) : name(std::move(n)), breaker(s) {}
};

namespace {

std::vector<Compression> Candidates(const EdgeSyncConfig& config) {
  if (config.compression) return {*config.compression};
  if (config.protocol == EdgeProtocol::kGrpc) return {Compression::kNone, Compression::kGzip};
  return {Compression::kNone, Compression::kGzip, Compression::kZstd, Compression::kLz4,
          Compression::kSnappy};
}

std::unique_ptr<RequestSender> MakeSender(const std::string& id, const EdgeSyncConfig& config,
                                          const std::string& endpoint, Compression c) {
  if (config.protocol == EdgeProtocol::kGrpc) {
    OtlpExporterConfig g;
    absl::string_view target = endpoint;
    if (absl::ConsumePrefix(&target, "https://")) {
      g.https_scheme = true;
    } else {
      absl::ConsumePrefix(&target, "http://");
    }
    g.endpoint = std::string(target);
    g.tls = config.tls;
    g.compression = c;
    g.headers = config.headers;
    g.authenticator = config.authenticator;
    g.helper.retry = config.retry;  // paces the channel's reconnects
    return std::make_unique<OtlpGrpcSender>(id, g);
  }
  OtlpHttpExporterConfig h;
  h.endpoint = endpoint;
  while (!h.endpoint.empty() && h.endpoint.back() == '/') h.endpoint.pop_back();
  for (Signal s : kAllSignals) {
    h.signal_urls[static_cast<int>(s)] =
        absl::StrCat(h.endpoint, "/v1/", std::string(SignalName(s)));
  }
  h.compression = c;
  h.headers = config.headers;
  h.tls = config.tls;
  h.authenticator = config.authenticator;
  return std::make_unique<OtlpHttpSender>(id, h);
}

// A failure of the endpoint (it is down, overloaded or slow), as opposed to a rejection of
// the data, which says nothing about the endpoint's health.
bool EndpointFailure(const absl::Status& s) { return !s.ok() && IsRetryable(s); }

// The trace id a span or log record is balanced by ("" for none).
uint64_t Score(std::string_view key, const std::string& endpoint) {
  return absl::HashOf(key, endpoint);
}

// Per batch: a context per sender used (each keeps its own prepared body), and for trace
// balancing which endpoints' parts were delivered already.
struct PoolContext {
  absl::flat_hash_map<const RequestSender*, SendContext> contexts;
  absl::flat_hash_map<std::string, bool> delivered;
};

PoolContext& ContextOf(SendContext* context) {
  if (context->prepared == nullptr) context->prepared = std::make_shared<PoolContext>();
  return *static_cast<PoolContext*>(context->prepared.get());
}

}  // namespace

EndpointPool::EndpointPool(std::string id, const EdgeSyncConfig& config, MetricsRegistry* metrics)
    : id_(std::move(id)), config_(config), bandwidth_(config.max_bandwidth) {
  double wire_rate = config.prefer_bandwidth ? 1e6 : 1e9;
  if (config.max_bandwidth > 0) wire_rate = static_cast<double>(config.max_bandwidth);
  chooser_ = std::make_unique<CompressionChooser>(Candidates(config), wire_rate);
  const Labels labels = {{"exporter", id_}};
  retries_ = metrics->GetCounter("otlpd_edge_sync_retries", labels,
                                 "Send attempts that repeated an earlier failed one");
  wire_bytes_ = metrics->GetCounter(
      "otlpd_edge_sync_sent_wire_bytes", labels,
      "Bytes sent (request size times the measured ratio of its compression) [bytes]");
  for (const std::string& name : config.endpoints) {
    auto e = std::make_unique<Endpoint>(name, config.circuit_breaker);
    for (Compression c : Candidates(config)) e->senders[c] = MakeSender(id_, config, name, c);
    const Labels el = {{"exporter", id_}, {"endpoint", name}};
    e->sent_items =
        metrics->GetCounter("otlpd_edge_sync_sent_items", el, "Items delivered to the endpoint");
    e->failed_attempts = metrics->GetCounter("otlpd_edge_sync_failed_attempts", el,
                                             "Send attempts to the endpoint that failed");
    Endpoint* raw = e.get();
    metrics->AddCallbackGauge(
        "otlpd_edge_sync_breaker_state", el,
        [raw] { return static_cast<double>(raw->breaker.state()); },
        "The endpoint's circuit breaker: 0 closed, 1 open, 2 half-open");
    metrics->AddCallbackGauge(
        "otlpd_edge_sync_pending_sends", el,
        [raw] { return static_cast<double>(raw->pending.load()); },
        "Sends to the endpoint in flight");
    endpoints_.push_back(std::move(e));
  }
  CompressionChooser* chooser = chooser_.get();
  for (Compression c : Candidates(config)) {
    metrics->AddCallbackGauge(
        "otlpd_edge_sync_compression",
        {{"exporter", id_}, {"algorithm", std::string(CompressionName(c))}},
        [chooser, c] { return chooser->current() == c ? 1.0 : 0.0; },
        "1 for the compression in use");
  }
}

EndpointPool::~EndpointPool() = default;

absl::Status EndpointPool::Start(Host* host) {
  for (auto& e : endpoints_) {
    for (auto& [c, sender] : e->senders) {
      if (absl::Status s = sender->Start(host); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

void EndpointPool::CancelAll() {
  for (auto& e : endpoints_) {
    for (auto& [c, sender] : e->senders) sender->CancelAll();
  }
}

void EndpointPool::Shutdown() {
  for (auto& e : endpoints_) {
    for (auto& [c, sender] : e->senders) sender->Shutdown();
  }
}

absl::Status EndpointPool::NoEndpoint(absl::Time now) const {
  absl::Time soonest = absl::InfiniteFuture();
  for (const auto& e : endpoints_) soonest = std::min(soonest, e->breaker.reopens_at());
  return RetryableError(absl::StatusCode::kUnavailable, "every endpoint's circuit breaker is open",
                        std::max(absl::Milliseconds(100), soonest - now));
}

std::vector<EndpointPool::Endpoint*> EndpointPool::Pick(const Telemetry& data, absl::Time now) {
  std::vector<Endpoint*> order;
  order.reserve(endpoints_.size());
  for (auto& e : endpoints_) order.push_back(e.get());
  switch (config_.balancing) {
    case EdgeBalancing::kRoundRobin: {
      const size_t first = next_.fetch_add(1) % order.size();
      std::rotate(order.begin(), order.begin() + static_cast<long>(first), order.end());
      break;
    }
    case EdgeBalancing::kLeastPending:
      std::stable_sort(order.begin(), order.end(), [](Endpoint* a, Endpoint* b) {
        return a->pending.load() < b->pending.load();
      });
      break;
    case EdgeBalancing::kTraceId: {
      // Only reached for data without trace ids (metrics): spread by request.
      const size_t first = next_.fetch_add(1) % order.size();
      std::rotate(order.begin(), order.begin() + static_cast<long>(first), order.end());
      break;
    }
  }
  (void)data;
  // The first endpoint whose breaker lets the attempt through.
  for (Endpoint* e : order) {
    if (e->breaker.Allow(now)) return {e};
  }
  return {};
}

SendResult EndpointPool::SendTo(Endpoint& e, const Telemetry& data, SendContext* context,
                                absl::Time deadline) {
  PoolContext& pc = ContextOf(context);
  const Compression c = e.senders.size() == 1 ? e.senders.begin()->first : chooser_->current();
  RequestSender& sender = *e.senders.at(c);
  const uint64_t wire =
      static_cast<uint64_t>(static_cast<double>(data.ByteSize()) * chooser_->ratio(c));
  bandwidth_.Acquire(wire, deadline);
  SendContext& sc = pc.contexts[&sender];
  ++e.pending;
  SendResult r = sender.Send(data, &sc, deadline);
  --e.pending;
  ++sc.attempt;
  e.breaker.Record(!EndpointFailure(r.status), absl::Now());
  if (r.status.ok()) {
    e.sent_items->Add(data.ItemCount() - std::min(r.rejected, data.ItemCount()));
    wire_bytes_->Add(wire);
  } else {
    e.failed_attempts->Add(1);
  }
  return r;
}

SendResult EndpointPool::Send(const Telemetry& data, SendContext* context, absl::Time deadline) {
  if (context->attempt > 0) retries_->Add(1);
  // Sampling reads the bytes: cheap for received requests, which are bytes already.
  if (data.has_wire()) {
    if (absl::optional<absl::string_view> flat = data.wire().TryFlat()) {
      chooser_->MaybeSample(std::string_view(flat->data(), flat->size()), absl::Now());
    } else {
      chooser_->MaybeSample(std::string(data.wire()), absl::Now());
    }
  }
  if (config_.balancing == EdgeBalancing::kTraceId && data.signal() != Signal::kMetrics) {
    return SendByTrace(data, context, deadline);
  }
  const absl::Time now = absl::Now();
  std::vector<Endpoint*> picked = Pick(data, now);
  if (picked.empty()) return SendResult{NoEndpoint(now), 0, ""};
  return SendTo(*picked.front(), data, context, deadline);
}

// Splits the request by trace id: each trace goes to the endpoint with the highest
// rendezvous score among those whose breaker is not open. Parts already delivered in an
// earlier attempt of this batch are not sent again.
SendResult EndpointPool::SendByTrace(const Telemetry& data, SendContext* context,
                                     absl::Time deadline) {
  const absl::Time now = absl::Now();
  std::vector<Endpoint*> usable;
  for (auto& e : endpoints_) {
    const CircuitBreaker::State s = e->breaker.state();
    if (s == CircuitBreaker::State::kClosed || e->breaker.reopens_at() <= now) {
      usable.push_back(e.get());
    }
  }
  if (usable.empty()) return SendResult{NoEndpoint(now), 0, ""};
  auto owner = [&](std::string_view trace_id) {
    Endpoint* best = usable.front();
    uint64_t best_score = 0;
    for (Endpoint* e : usable) {
      const uint64_t s = Score(trace_id, e->name);
      if (s >= best_score) {
        best_score = s;
        best = e;
      }
    }
    return best;
  };
  // Build one request per endpoint, keeping resource and scope around each item.
  absl::flat_hash_map<Endpoint*, std::shared_ptr<Telemetry>> parts;
  auto part_for = [&](Endpoint* e) -> Telemetry& {
    std::shared_ptr<Telemetry>& p = parts[e];
    if (p == nullptr) p = std::make_shared<Telemetry>(data.signal());
    return *p;
  };
  if (data.signal() == Signal::kTraces) {
    for (const auto& rs : data.traces().resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        absl::flat_hash_map<Endpoint*, opentelemetry::proto::trace::v1::ScopeSpans*> scopes;
        for (const auto& span : ss.spans()) {
          Endpoint* e = owner(span.trace_id());
          auto& scope = scopes[e];
          if (scope == nullptr) {
            auto* out_rs = part_for(e).mutable_traces()->add_resource_spans();
            *out_rs->mutable_resource() = rs.resource();
            out_rs->set_schema_url(rs.schema_url());
            scope = out_rs->add_scope_spans();
            *scope->mutable_scope() = ss.scope();
            scope->set_schema_url(ss.schema_url());
          }
          *scope->add_spans() = span;
        }
      }
    }
  } else {
    for (const auto& rl : data.logs().resource_logs()) {
      for (const auto& sl : rl.scope_logs()) {
        absl::flat_hash_map<Endpoint*, opentelemetry::proto::logs::v1::ScopeLogs*> scopes;
        for (const auto& log : sl.log_records()) {
          Endpoint* e = owner(log.trace_id());
          auto& scope = scopes[e];
          if (scope == nullptr) {
            auto* out_rl = part_for(e).mutable_logs()->add_resource_logs();
            *out_rl->mutable_resource() = rl.resource();
            out_rl->set_schema_url(rl.schema_url());
            scope = out_rl->add_scope_logs();
            *scope->mutable_scope() = sl.scope();
            scope->set_schema_url(sl.schema_url());
          }
          *scope->add_log_records() = log;
        }
      }
    }
  }
  PoolContext& pc = ContextOf(context);
  // A part's content depends on which endpoints are usable now: nothing prepared for an
  // earlier attempt's parts may be reused.
  pc.contexts.clear();
  SendResult result;
  for (auto& [e, part] : parts) {
    if (pc.delivered[e->name]) continue;
    if (!e->breaker.Allow(absl::Now())) {
      if (result.status.ok()) result.status = NoEndpoint(absl::Now());
      continue;
    }
    size_t items = 0;
    if (data.signal() == Signal::kTraces) {
      for (const auto& rs : part->traces().resource_spans()) {
        for (const auto& ss : rs.scope_spans()) items += static_cast<size_t>(ss.spans_size());
      }
    } else {
      for (const auto& rl : part->logs().resource_logs()) {
        for (const auto& sl : rl.scope_logs()) items += static_cast<size_t>(sl.log_records_size());
      }
    }
    part->SetItemCount(items);
    SendResult r = SendTo(*e, *part, context, deadline);
    if (r.status.ok()) {
      pc.delivered[e->name] = true;
      result.rejected += r.rejected;
      if (!r.rejection_message.empty()) result.rejection_message = r.rejection_message;
    } else if (result.status.ok() || !IsRetryable(r.status)) {
      result.status = r.status;  // a permanent failure wins: the batch is dead-lettered
    }
  }
  return result;
}

}  // namespace otlpd
