#include "exporters/loadbalancing/loadbalancing_exporter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "core/memory_queue.h"
#include "core/status.h"
#include "exporters/loadbalancing/resolver.h"
#include "exporters/loadbalancing/router.h"

namespace otlpd {

struct LoadBalancingExporter::Backend {
  std::string endpoint;
  ComponentId id;
  std::unique_ptr<Exporter> exporter;  // one send attempt per Consume
  std::unique_ptr<SendingQueue> queue;
  std::vector<std::thread> workers;
  // Read by the workers without the lock; set with the ring under mu_.
  std::atomic<bool> in_ring{false};
  // Guarded by the exporter's mu_.
  bool member = false;  // the resolver lists it
  bool ejected = false;
  absl::Time ejected_until;
  int consecutive_errors = 0;
  int ejections = 0;
  Counter* success = nullptr;
  Counter* failure = nullptr;
  Counter* ejection_count = nullptr;
  Histogram* latency_ms = nullptr;
};

namespace {

constexpr absl::Duration kRerouteRetry = absl::Milliseconds(200);
constexpr absl::Duration kReadWait = absl::Milliseconds(250);

absl::Status NoBackendError() {
  return RetryableError(absl::StatusCode::kUnavailable, "loadbalancing: no backend available",
                        absl::Seconds(1));
}

}  // namespace

LoadBalancingExporter::LoadBalancingExporter(const CreateSettings& settings,
                                             const LoadBalancingConfig& config,
                                             BackendExporterFactory backend_factory)
    : id_(settings.id),
      host_(settings.host),
      own_metrics_(settings.host == nullptr ? std::make_unique<MetricsRegistry>() : nullptr),
      metrics_(settings.host != nullptr ? &settings.host->metrics() : own_metrics_.get()),
      config_(config),
      backend_factory_(std::move(backend_factory)),
      outcomes_(id_.ToString(), metrics_),
      ring_(std::make_shared<RingView>()) {
  const Labels labels = {{"exporter", id_.ToString()}};
  num_backends_ = metrics_->GetGauge("otelcol_loadbalancer_num_backends", labels,
                                     "Backends the resolver lists (ejected ones included)");
  num_ejected_ = metrics_->GetGauge("otelcol_loadbalancer_num_backends_ejected", labels,
                                    "Backends out of the ring by passive ejection");
  ring_changes_ = metrics_->GetCounter("otelcol_loadbalancer_ring_changes", labels,
                                       "Times the ring's member set changed");
  Labels ok = labels, failed = labels;
  ok.emplace_back("success", "true");
  failed.emplace_back("success", "false");
  resolutions_ok_ = metrics_->GetCounter("otelcol_loadbalancer_num_resolutions", ok,
                                         "DNS resolutions of the backends");
  resolutions_failed_ = metrics_->GetCounter("otelcol_loadbalancer_num_resolutions", failed,
                                             "DNS resolutions of the backends");
  for (Signal s : kAllSignals) {
    const int i = static_cast<int>(s);
    rerouted_[i] = metrics_->GetCounter(
        absl::StrCat("otelcol_loadbalancer_rerouted_", std::string(SignalItemName(s))), labels,
        "Items taken from the queue of a backend out of the ring and queued for others");
    refused_[i] = metrics_->GetCounter(
        absl::StrCat("otelcol_exporter_enqueue_failed_", std::string(SignalItemName(s))), labels,
        "Items refused (retryably) because a backend queue did not take them");
  }
}

LoadBalancingExporter::~LoadBalancingExporter() { Shutdown(absl::Now()); }

absl::Status LoadBalancingExporter::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (started_) return absl::OkStatus();
    started_ = true;
  }
  if (config_.dns) {
    Resolve();
  } else {
    SetBackends(config_.static_hostnames);
  }
  maintenance_ = std::thread([this] { MaintenanceLoop(); });
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LoadBalancingExporter::Backend>>
LoadBalancingExporter::CreateBackend(const std::string& endpoint) {
  auto b = std::make_unique<Backend>();
  b->endpoint = endpoint;
  b->id =
      ComponentId{id_.type, id_.name.empty() ? endpoint : absl::StrCat(id_.name, "/", endpoint)};
  absl::StatusOr<std::unique_ptr<Exporter>> exporter = backend_factory_(b->id, endpoint);
  if (!exporter.ok()) return exporter.status();
  b->exporter = std::move(*exporter);
  if (absl::Status s = b->exporter->Start(); !s.ok()) return s;

  const QueueSettings& q = config_.helper.queue;
  if (q.enabled && q.storage) {
    if (host_ == nullptr) return absl::FailedPreconditionError("a storage queue needs a host");
    absl::StatusOr<SendingQueueProvider*> provider =
        GetExtensionAs<SendingQueueProvider>(*host_, *q.storage, "a storage extension");
    if (!provider.ok()) return provider.status();
    absl::StatusOr<std::unique_ptr<SendingQueue>> queue = (*provider)->CreateQueue(b->id, q);
    if (!queue.ok()) return queue.status();
    b->queue = std::move(*queue);
  } else if (q.enabled) {
    b->queue = std::make_unique<MemoryQueue>(q.sizer, q.queue_size, q.wait_for_result,
                                             q.block_on_overflow, config_.helper.timeout);
  } else {
    // No queue: callers wait for their send, at most num_consumers of them at once.
    b->queue = std::make_unique<MemoryQueue>(Sizer::kRequests, std::max(1, q.num_consumers),
                                             /*wait_for_result=*/true,
                                             /*block_on_overflow=*/false, absl::ZeroDuration());
  }
  if (absl::Status s = b->queue->Start(); !s.ok()) return s;

  Labels labels = {{"exporter", id_.ToString()}, {"endpoint", endpoint}};
  b->ejection_count = metrics_->GetCounter("otelcol_loadbalancer_ejections", labels,
                                           "Passive ejections of a backend");
  b->latency_ms =
      metrics_->GetHistogram("otelcol_loadbalancer_backend_latency", labels,
                             {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000},
                             "Duration of send attempts to a backend, in milliseconds");
  labels.emplace_back("success", "true");
  b->success = metrics_->GetCounter("otelcol_loadbalancer_backend_outcome", labels,
                                    "Send attempts to a backend by outcome");
  labels.back().second = "false";
  b->failure = metrics_->GetCounter("otelcol_loadbalancer_backend_outcome", labels,
                                    "Send attempts to a backend by outcome");
  return b;
}

void LoadBalancingExporter::SetBackends(std::vector<std::string> endpoints) {
  absl::MutexLock membership(&membership_mu_);
  std::sort(endpoints.begin(), endpoints.end());
  endpoints.erase(std::unique(endpoints.begin(), endpoints.end()), endpoints.end());
  std::vector<std::string> missing;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    for (const std::string& e : endpoints) {
      if (!backends_.contains(e)) missing.push_back(e);
    }
  }
  std::vector<std::unique_ptr<Backend>> created;
  for (const std::string& e : missing) {
    absl::StatusOr<std::unique_ptr<Backend>> b = CreateBackend(e);
    if (!b.ok()) {
      spdlog::error("exporter {}: cannot use backend {}: {}", id_.ToString(), e,
                    b.status().ToString());
      continue;
    }
    created.push_back(std::move(*b));
  }
  const int workers = std::max(1, config_.helper.queue.num_consumers);
  absl::MutexLock lock(&mu_);
  for (auto& b : created) {
    Backend* raw = b.get();
    backends_[raw->endpoint] = std::move(b);
    active_workers_ += workers;
    for (int i = 0; i < workers; ++i) raw->workers.emplace_back([this, raw] { WorkerLoop(raw); });
  }
  const std::set<std::string> wanted(endpoints.begin(), endpoints.end());
  for (auto& [endpoint, b] : backends_) b->member = wanted.contains(endpoint);
  RebuildRingLocked();
}

void LoadBalancingExporter::RebuildRingLocked() {
  std::vector<std::string> members;
  int resolved = 0, ejected = 0;
  for (auto& [endpoint, b] : backends_) {
    const bool in = b->member && !b->ejected;
    resolved += b->member ? 1 : 0;
    ejected += b->member && b->ejected ? 1 : 0;
    if (in) members.push_back(endpoint);
    b->in_ring.store(in, std::memory_order_release);
  }
  auto view = std::make_shared<RingView>();
  view->ring = HashRing(members);
  for (const std::string& m : view->ring.members()) view->backends.push_back(backends_[m].get());
  if (view->ring.members() != ring_->ring.members()) {
    ring_changes_->Add(1);
    spdlog::info("exporter {}: ring is now [{}]", id_.ToString(),
                 absl::StrJoin(view->ring.members(), ", "));
  }
  ring_ = std::move(view);
  num_backends_->Set(resolved);
  num_ejected_->Set(ejected);
}

std::shared_ptr<const LoadBalancingExporter::RingView> LoadBalancingExporter::CurrentRing() const {
  absl::MutexLock lock(&mu_);
  return ring_;
}

std::vector<std::string> LoadBalancingExporter::RingMembers() const {
  return CurrentRing()->ring.members();
}

bool LoadBalancingExporter::InRing(const Backend& b) const {
  return b.in_ring.load(std::memory_order_acquire);
}

void LoadBalancingExporter::Consume(TelemetryPtr data, Completion done) {
  std::shared_ptr<const RingView> view;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      std::move(done)(RetryableError(absl::StatusCode::kUnavailable,
                                     absl::StrCat("exporter ", id_.ToString(), " is not running"),
                                     absl::Seconds(1)));
      return;
    }
    view = ring_;
  }
  const Signal signal = data->signal();
  const size_t items = data->ItemCount();
  Route(view, std::move(data),
        [this, signal, items, done = std::move(done)](absl::Status s) mutable {
          if (!s.ok()) {
            refused_[static_cast<int>(signal)]->Add(items);
            if (uint64_t n = refusal_log_.Add(items)) {
              spdlog::warn("exporter {}: refused {} {} (counted since the last such message): {}",
                           id_.ToString(), n, SignalItemName(signal), s.ToString());
            }
          }
          std::move(done)(std::move(s));
        });
}

void LoadBalancingExporter::Route(const std::shared_ptr<const RingView>& view, TelemetryPtr data,
                                  Completion done) {
  if (view->backends.empty()) {
    std::move(done)(NoBackendError());
    return;
  }
  const Signal signal = data->signal();
  RoutingKey key = config_.routing_key.value_or(DefaultRoutingKey(signal));
  if (!RoutingKeyApplies(key, signal)) {
    if (key_log_.Add(1)) {
      spdlog::warn("exporter {}: routing_key {} does not apply to {}; routing them by {}",
                   id_.ToString(), RoutingKeyName(key), SignalName(signal),
                   RoutingKeyName(DefaultRoutingKey(signal)));
    }
    key = DefaultRoutingKey(signal);
  }
  std::vector<RoutedPart> parts =
      SplitByRoutingKey(data, key, [&view](uint64_t hash) { return view->ring.Lookup(hash); });
  if (parts.empty()) {
    std::move(done)(absl::OkStatus());
    return;
  }
  // Completes `done` once every part is settled, with the first refusal if any.
  struct Join {
    explicit Join(size_t n, Completion d) : pending(n), done(std::move(d)) {}
    std::atomic<size_t> pending;
    absl::Mutex mu;
    absl::Status first_error ABSL_GUARDED_BY(mu);
    Completion done;
  };
  auto join = std::make_shared<Join>(parts.size(), std::move(done));
  for (RoutedPart& part : parts) {
    view->backends[part.destination]->queue->Offer(std::move(part.data), [join](absl::Status s) {
      if (!s.ok()) {
        if (!IsRetryable(s)) {
          s = RetryableError(absl::StatusCode::kUnavailable, s.message(), absl::Seconds(1));
        }
        absl::MutexLock lock(&join->mu);
        if (join->first_error.ok()) join->first_error = std::move(s);
      }
      if (join->pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
      absl::Status result;
      {
        absl::MutexLock lock(&join->mu);
        result = join->first_error;
      }
      std::move(join->done)(std::move(result));
    });
  }
}

void LoadBalancingExporter::WorkerLoop(Backend* b) {
  while (!Aborted()) {
    std::optional<QueuedRequest> request = b->queue->Read(absl::Now() + kReadWait);
    if (!request) {
      absl::MutexLock lock(&mu_);
      // Closed at shutdown and nothing left to hand out; a plain timeout just loops.
      if (queues_closed_) break;
      continue;
    }
    Deliver(b, std::move(*request));
  }
  absl::MutexLock lock(&mu_);
  --active_workers_;
  cv_.SignalAll();
}

void LoadBalancingExporter::Deliver(Backend* b, QueuedRequest request) {
  const Signal signal = request.data->signal();
  const size_t items = request.data->ItemCount();
  const RetrySettings& retry = config_.helper.retry;
  const absl::Time start = absl::Now();
  absl::Duration interval = retry.initial_interval;
  absl::BitGen gen;
  auto drop = [&](const absl::Status& s) {
    b->queue->Commit(request.id, s);
    outcomes_.Record(signal, items, s);
    if (uint64_t n = drop_log_.Add(items)) {
      spdlog::error("exporter {}: dropped {} {} (counted since the last such message): {}",
                    b->id.ToString(), n, SignalItemName(signal), s.ToString());
    }
  };
  while (!Aborted()) {
    if (!InRing(*b)) {
      // Ejected or no longer resolved: what it holds goes to the backends now in the ring,
      // and leaves this queue only once they have it.
      absl::Status s = RerouteOnce(request.data);
      if (s.ok()) {
        b->queue->Commit(request.id, absl::OkStatus());
        rerouted_[static_cast<int>(signal)]->Add(items);
        return;
      }
      spdlog::debug("exporter {}: re-routing failed, trying again: {}", b->id.ToString(),
                    s.ToString());
      if (!SleepUntil(absl::Now() + kRerouteRetry)) return;
      continue;
    }
    const absl::Time attempt = absl::Now();
    absl::Status s = SendOnce(b, request.data);
    b->latency_ms->Observe(absl::ToDoubleMilliseconds(absl::Now() - attempt));
    RecordOutcome(b, s);
    if (s.ok()) {
      b->queue->Commit(request.id, s);
      outcomes_.Record(signal, items, s);
      return;
    }
    if (!IsRetryable(s) || !retry.enabled) {
      drop(s);
      return;
    }
    if (!InRing(*b)) continue;  // this failure ejected it: re-route now
    absl::Duration delay = interval;
    if (retry.randomization_factor > 0) {
      delay = interval * absl::Uniform(gen, 1.0 - retry.randomization_factor,
                                       1.0 + retry.randomization_factor);
    }
    interval = std::min(interval * retry.multiplier, retry.max_interval);
    if (std::optional<absl::Duration> hint = RetryAfter(s); hint && *hint > absl::ZeroDuration()) {
      delay = *hint;
    }
    // As the exporter helper: a durable queue retries forever unless max_elapsed_time is set.
    const absl::Duration max_elapsed = b->queue->durable() && !retry.max_elapsed_time_set
                                           ? absl::ZeroDuration()
                                           : retry.max_elapsed_time;
    if (max_elapsed > absl::ZeroDuration()) {
      const absl::Duration remaining = start + max_elapsed - absl::Now();
      if (remaining <= absl::ZeroDuration()) {
        drop(absl::Status(s.code(), absl::StrCat("no more retries left: ", s.message())));
        return;
      }
      delay = std::min(delay, remaining);
    }
    if (!SleepUntil(absl::Now() + delay)) return;
  }
  // Aborted at shutdown: the request stays uncommitted (a durable queue keeps it).
}

absl::Status LoadBalancingExporter::SendOnce(Backend* b, const TelemetryPtr& data) {
  absl::Notification sent;
  absl::Status result;
  b->exporter->Consume(data, [&](absl::Status s) {
    result = std::move(s);
    sent.Notify();
  });
  sent.WaitForNotification();
  return result;
}

absl::Status LoadBalancingExporter::RerouteOnce(const TelemetryPtr& data) {
  absl::Notification queued;
  absl::Status result;
  Route(CurrentRing(), data, [&](absl::Status s) {
    result = std::move(s);
    queued.Notify();
  });
  queued.WaitForNotification();
  return result;
}

void LoadBalancingExporter::RecordOutcome(Backend* b, const absl::Status& status) {
  (status.ok() ? b->success : b->failure)->Add(1);
  const OutlierDetectionConfig& od = config_.outlier;
  if (!od.enabled) return;
  absl::MutexLock lock(&mu_);
  if (status.ok()) {
    b->consecutive_errors = 0;
    return;
  }
  if (b->ejected || !b->member || ++b->consecutive_errors < od.consecutive_errors) return;
  int members = 0, ejected = 0;
  for (auto& [endpoint, other] : backends_) {
    if (!other->member) continue;
    ++members;
    ejected += other->ejected ? 1 : 0;
  }
  // The cap, but always room for one, and never the last backend of the ring.
  const int allowed = std::max(1, members * od.max_ejection_percent / 100);
  if (ejected >= allowed || members - ejected <= 1) return;
  ++b->ejections;
  const absl::Duration time = std::min(od.base_ejection_time * b->ejections, od.max_ejection_time);
  b->ejected = true;
  b->ejected_until = absl::Now() + time;
  b->consecutive_errors = 0;
  b->ejection_count->Add(1);
  spdlog::warn("exporter {}: backend {} ejected for {} after {} failed sends in a row: {}",
               id_.ToString(), b->endpoint, absl::FormatDuration(time), od.consecutive_errors,
               status.ToString());
  RebuildRingLocked();
  cv_.SignalAll();
}

bool LoadBalancingExporter::SleepUntil(absl::Time until) {
  absl::MutexLock lock(&mu_);
  while (!Aborted() && absl::Now() < until) cv_.WaitWithDeadline(&mu_, until);
  return !Aborted();
}

void LoadBalancingExporter::Resolve() {
  const DnsResolverConfig& dns = *config_.dns;
  absl::StatusOr<std::vector<std::string>> endpoints =
      ResolveBackends(dns.hostname, dns.port, dns.timeout);
  if (!endpoints.ok()) {
    resolutions_failed_->Add(1);
    spdlog::warn("exporter {}: keeping the last backends: {}", id_.ToString(),
                 endpoints.status().ToString());
    return;
  }
  resolutions_ok_->Add(1);
  SetBackends(std::move(*endpoints));
}

void LoadBalancingExporter::MaintenanceLoop() {
  const absl::Duration interval = config_.dns ? config_.dns->interval : absl::InfiniteDuration();
  absl::Time next_resolve = absl::Now() + interval;
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    const absl::Time now = absl::Now();
    absl::Time next_expiry = absl::InfiniteFuture();
    bool returned = false;
    for (auto& [endpoint, b] : backends_) {
      if (!b->ejected) continue;
      if (b->ejected_until <= now) {
        b->ejected = false;
        b->consecutive_errors = 0;
        returned = true;
        spdlog::info("exporter {}: backend {} returns after its ejection", id_.ToString(),
                     endpoint);
      } else {
        next_expiry = std::min(next_expiry, b->ejected_until);
      }
    }
    if (returned) RebuildRingLocked();
    if (now >= next_resolve) {
      mu_.Unlock();
      Resolve();
      mu_.Lock();
      next_resolve = absl::Now() + interval;
      continue;
    }
    cv_.WaitWithDeadline(&mu_, std::min(next_expiry, next_resolve));
  }
}

void LoadBalancingExporter::Shutdown(absl::Time deadline) {
  std::vector<Backend*> all;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    cv_.SignalAll();
  }
  if (maintenance_.joinable()) maintenance_.join();
  {
    // No SetBackends runs any more (it checks stopping_), so the map is fixed now.
    absl::MutexLock membership(&membership_mu_);
    absl::MutexLock lock(&mu_);
    for (auto& [endpoint, b] : backends_) all.push_back(b.get());
  }
  // Closed queues refuse new data; the workers keep sending what they hold until the
  // deadline.
  for (Backend* b : all) b->queue->Close();
  {
    absl::MutexLock lock(&mu_);
    queues_closed_ = true;
  }
  {
    absl::MutexLock lock(&mu_);
    while (active_workers_ > 0 && absl::Now() < deadline) cv_.WaitWithDeadline(&mu_, deadline);
    aborted_.store(true, std::memory_order_release);
    cv_.SignalAll();
  }
  for (Backend* b : all) b->exporter->Shutdown(absl::Now());  // cuts sends in flight short
  for (Backend* b : all) {
    for (std::thread& t : b->workers) t.join();
  }
  for (Backend* b : all) {
    if (b->queue->durable()) continue;
    const QueueSizes left = b->queue->sizes();
    if (left.items > 0) {
      spdlog::error("exporter {}: shutdown dropped {} items still queued for {}", id_.ToString(),
                    left.items, b->endpoint);
    }
  }
}

}  // namespace otlpd
