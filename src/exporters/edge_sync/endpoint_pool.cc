#include "exporters/edge_sync/endpoint_pool.h"

#include <algorithm>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/status.h"
#include "exporters/edge_sync/partition.h"
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
// balancing the parts not delivered yet.
struct PoolContext {
  absl::flat_hash_map<const RequestSender*, SendContext> contexts;
  // Trace balancing: what is not delivered yet (the whole batch before the first attempt).
  bool started = false;
  std::vector<std::shared_ptr<const Telemetry>> pending;
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
// rendezvous score among those whose breaker is not open. Parts delivered in an earlier
// attempt of this batch are not sent again.
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
  auto owner_index = [&](std::string_view trace_id) -> size_t {
    size_t best = 0;
    uint64_t best_score = 0;
    for (size_t k = 0; k < usable.size(); ++k) {
      const uint64_t s = Score(trace_id, usable[k]->name);
      if (s >= best_score) {
        best_score = s;
        best = k;
      }
    }
    return best;
  };
  ItemClassifier by_trace{[&](const auto& span) { return owner_index(span.trace_id()); },
                          [&](const auto& log) { return owner_index(log.trace_id()); }};
  PoolContext& pc = ContextOf(context);
  if (!pc.started) {
    // Not owned: the helper keeps the batch alive through all its attempts.
    pc.pending = {std::shared_ptr<const Telemetry>(std::shared_ptr<void>(), &data)};
    pc.started = true;
  }
  // What is still to deliver is split again over the endpoints usable now, so that the
  // traces of a failed endpoint move to the others.
  std::vector<std::shared_ptr<const Telemetry>> still;
  SendResult result;
  for (const std::shared_ptr<const Telemetry>& piece : pc.pending) {
    std::vector<std::shared_ptr<Telemetry>> split = PartitionItems(*piece, usable.size(), by_trace);
    for (size_t k = 0; k < usable.size(); ++k) {
      if (split[k] == nullptr) continue;
      Endpoint* e = usable[k];
      if (!e->breaker.Allow(absl::Now())) {
        still.push_back(split[k]);
        if (result.status.ok()) result.status = NoEndpoint(absl::Now());
        continue;
      }
      pc.contexts.clear();  // a body prepared for another part must not be reused
      SendResult r = SendTo(*e, *split[k], context, deadline);
      if (r.status.ok()) {
        result.rejected += r.rejected;
        if (!r.rejection_message.empty()) result.rejection_message = r.rejection_message;
      } else {
        still.push_back(split[k]);
        // A permanent failure wins: the batch is dead-lettered.
        if (result.status.ok() || !IsRetryable(r.status)) result.status = r.status;
      }
    }
  }
  pc.pending = std::move(still);
  return result;
}

}  // namespace otlpd
