#include "config/service.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "core/fanout.h"
#include "spdlog/spdlog.h"

namespace otlpd {

namespace {

template <class T>
T* FindById(std::vector<std::pair<ComponentId, std::shared_ptr<T>>>& v, const ComponentId& id) {
  for (auto& [k, c] : v) {
    if (k == id) return c.get();
  }
  return nullptr;
}

std::string IdName(const ComponentId& id) { return id.ToString(); }
std::string IdName(const std::string& pipeline) { return pipeline; }

absl::Status Annotate(const absl::Status& s, std::string_view what) {
  return absl::Status(s.code(), absl::StrCat(std::string(what), ": ", s.message()));
}

double ProcessRssBytes() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_rss = 0;
  statm >> pages_total >> pages_rss;
  return static_cast<double>(pages_rss) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Service>> Service::Build(const Config& config,
                                                        const ComponentRegistry& registry) {
  std::unique_ptr<Service> svc(new Service());
  svc->telemetry_ = config.telemetry;

  for (const ComponentId& id : config.service_extensions) {
    const ExtensionFactory* f = registry.extension(id.type);
    auto ext = f->Create(CreateSettings{id, svc.get()}, *config.extensions.at(id));
    if (!ext.ok()) return Annotate(ext.status(), "extensions::" + id.ToString());
    svc->extensions_.emplace_back(id, std::move(*ext));
  }

  // Exporters: one per id, shared by every pipeline naming it.
  for (const PipelineConfig& p : config.pipelines) {
    for (const ComponentId& id : p.exporters) {
      if (FindById(svc->exporters_, id) != nullptr) continue;
      const ExporterFactory* f = registry.exporter(id.type);
      auto exp = f->Create(CreateSettings{id, svc.get()}, *config.exporters.at(id));
      if (!exp.ok()) return Annotate(exp.status(), "exporters::" + id.ToString());
      svc->exporters_.emplace_back(id, std::move(*exp));
    }
  }

  // Pipelines, built from the exporters backwards; each head is what receivers feed.
  std::map<ComponentId, std::array<std::vector<ConsumerPtr>, 3>> receiver_targets;
  for (const PipelineConfig& p : config.pipelines) {
    std::vector<ConsumerPtr> exporters;
    for (const ComponentId& id : p.exporters) {
      for (auto& [k, e] : svc->exporters_) {
        if (k == id) exporters.push_back(e);
      }
    }
    ConsumerPtr next = FanOutConsumer::Of(std::move(exporters));
    for (auto it = p.processors.rbegin(); it != p.processors.rend(); ++it) {
      const ProcessorFactory* f = registry.processor(it->type);
      auto proc =
          f->Create(CreateSettings{*it, svc.get()}, *config.processors.at(*it), p.signal, next);
      if (!proc.ok()) {
        return Annotate(proc.status(),
                        absl::StrCat("processors::", it->ToString(), " in pipeline ", p.id));
      }
      std::shared_ptr<Processor> shared = std::move(*proc);
      svc->processors_.emplace_back(p.id, shared);
      next = shared;
    }
    for (const ComponentId& id : p.receivers) {
      receiver_targets[id][static_cast<int>(p.signal)].push_back(next);
    }
  }

  for (auto& [id, targets] : receiver_targets) {
    ReceiverConsumers consumers;
    for (Signal s : kAllSignals) {
      auto& list = targets[static_cast<int>(s)];
      if (!list.empty()) consumers.by_signal[static_cast<int>(s)] = FanOutConsumer::Of(list);
    }
    const ReceiverFactory* f = registry.receiver(id.type);
    auto recv = f->Create(CreateSettings{id, svc.get()}, *config.receivers.at(id), consumers);
    if (!recv.ok()) return Annotate(recv.status(), "receivers::" + id.ToString());
    svc->receivers_.emplace_back(id, std::move(*recv));
  }
  svc->RegisterProcessMetrics();
  return svc;
}

Service::~Service() { Shutdown(absl::Seconds(5)); }

void Service::RegisterProcessMetrics() {
  absl::Time start = absl::Now();
  metrics_.AddCallbackGauge("otelcol_process_memory_rss", {}, ProcessRssBytes,
                            "Total physical memory (resident set size) [bytes]");
  metrics_.AddCallbackGauge("otelcol_process_cpu_seconds", {}, ProcessCpuSeconds,
                            "Total CPU user and system time in seconds");
  metrics_.AddCallbackGauge(
      "otelcol_process_uptime", {}, [start] { return absl::ToDoubleSeconds(absl::Now() - start); },
      "Uptime of the process [seconds]");
}

absl::Status Service::Start() {
  if (telemetry_.metrics_enabled && !telemetry_.metrics_address.empty()) {
    HttpServerOptions opts;
    opts.endpoint = telemetry_.metrics_address;
    opts.max_body_bytes = 1 << 16;
    auto server = HttpServer::Start(opts, [this](HttpRequest&& req, HttpRespond respond) {
      HttpResponse resp;
      if (req.path != "/metrics") {
        resp.status = 404;
        resp.body = "not found\n";
      } else if (req.method != "GET" && req.method != "HEAD") {
        resp.status = 405;
        resp.headers.emplace_back("Allow", "GET");
      } else {
        resp.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        resp.body = metrics_.RenderPrometheus();
      }
      std::move(respond)(std::move(resp));
    });
    if (!server.ok()) return Annotate(server.status(), "service::telemetry::metrics::address");
    metrics_server_ = std::move(*server);
  }
  auto start_all = [](auto& list, std::string_view kind) -> absl::Status {
    for (auto& [id, c] : list) {
      absl::Status s = c->Start();
      if (!s.ok()) return Annotate(s, absl::StrCat(std::string(kind), "::", IdName(id)));
    }
    return absl::OkStatus();
  };
  absl::Status s = start_all(extensions_, "extensions");
  if (s.ok()) s = start_all(exporters_, "exporters");
  if (s.ok()) s = start_all(processors_, "processors in pipeline");
  if (s.ok()) s = start_all(receivers_, "receivers");
  if (!s.ok()) {
    Shutdown(absl::Seconds(5));
    return s;
  }
  running_ = true;
  spdlog::info("otlpd started: {} receiver(s), {} processor(s), {} exporter(s)", receivers_.size(),
               processors_.size(), exporters_.size());
  return absl::OkStatus();
}

void Service::Shutdown(absl::Duration timeout) {
  if (shut_down_.exchange(true)) return;
  running_ = false;
  absl::Time deadline = absl::Now() + timeout;
  // Receivers refuse new data first; requests already inside wait in processors (a batch)
  // or exporters, so those flush next, which answers the waiting clients; only then do the
  // receivers close their listeners.
  for (auto& [id, r] : receivers_) r->StopAccepting(deadline);
  // processors_ holds each pipeline's processors last-to-first; flush first-to-last.
  for (auto it = processors_.rbegin(); it != processors_.rend(); ++it) {
    it->second->Shutdown(deadline);
  }
  for (auto& [id, e] : exporters_) e->Shutdown(deadline);
  for (auto& [id, r] : receivers_) r->Shutdown(deadline);
  for (auto it = extensions_.rbegin(); it != extensions_.rend(); ++it) {
    it->second->Shutdown(deadline);
  }
  if (metrics_server_) metrics_server_->Stop();
}

bool Service::Healthy() const { return running_.load() && !shut_down_.load(); }

int Service::metrics_port() const { return metrics_server_ ? metrics_server_->port() : 0; }

}  // namespace otlpd
