#include "service/graph.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "core/fanout.h"

namespace otlpd {

namespace {

absl::Status Annotate(const absl::Status& s, std::string_view what) {
  return absl::Status(s.code(), absl::StrCat(std::string(what), ": ", s.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PipelineGraph>> PipelineGraph::Build(
    const Config& config, const ComponentRegistry& registry, ServiceHost* host) {
  std::unique_ptr<PipelineGraph> g(new PipelineGraph());

  for (const ComponentId& id : config.service_extensions) {
    const ExtensionFactory* f = registry.extension(id.type);
    auto ext = f->Create(CreateSettings{id, host}, *config.extensions.at(id));
    if (!ext.ok()) return Annotate(ext.status(), "extensions::" + id.ToString());
    std::shared_ptr<Extension> shared = std::move(*ext);
    host->AddExtension(id, shared);
    g->extensions_.emplace_back(id, std::move(shared));
  }

  auto is_connector = [&](const ComponentId& id) { return config.connectors.count(id) > 0; };

  // Exporters: one per id, shared by every pipeline naming it.
  for (const PipelineConfig& p : config.pipelines) {
    for (const ComponentId& id : p.exporters) {
      if (is_connector(id)) continue;
      bool exists = false;
      for (auto& [k, e] : g->exporters_) exists |= k == id;
      if (exists) continue;
      const ExporterFactory* f = registry.exporter(id.type);
      auto exp = f->Create(CreateSettings{id, host}, *config.exporters.at(id));
      if (!exp.ok()) return Annotate(exp.status(), "exporters::" + id.ToString());
      host->AddExporter(id, exp->get());
      g->exporters_.emplace_back(id, std::move(*exp));
    }
  }

  // Pipelines, downstream first; heads[i] is what feeds pipeline i.
  const size_t n = config.pipelines.size();
  std::vector<ConsumerPtr> heads(n);
  g->pipelines_.resize(n);
  std::map<ComponentId, std::array<std::vector<ConsumerPtr>, 3>> receiver_targets;
  for (size_t i = n; i-- > 0;) {
    const PipelineConfig& p = config.pipelines[i];
    std::vector<ConsumerPtr> outputs;
    for (const ComponentId& id : p.exporters) {
      if (!is_connector(id)) {
        for (auto& [k, e] : g->exporters_) {
          if (k == id) outputs.push_back(e);
        }
        continue;
      }
      // The connector feeds, per signal it can emit from p's, the pipelines receiving it.
      const ConnectorFactory* f = registry.connector(id.type);
      for (Signal to : kAllSignals) {
        if (!f->Supports(p.signal, to)) continue;
        std::vector<ConsumerPtr> targets;
        for (size_t q = i + 1; q < n; ++q) {
          const PipelineConfig& pq = config.pipelines[q];
          if (pq.signal != to) continue;
          for (const ComponentId& r : pq.receivers) {
            if (r == id) targets.push_back(heads[q]);
          }
        }
        if (targets.empty()) continue;
        ConnectorInstance* instance = nullptr;
        for (ConnectorInstance& c : g->connectors_) {
          if (c.id == id && c.from == p.signal && c.to == to) instance = &c;
        }
        if (instance == nullptr) {
          auto conn = f->Create(CreateSettings{id, host}, *config.connectors.at(id), p.signal, to,
                                FanOutConsumer::Of(std::move(targets)));
          if (!conn.ok()) return Annotate(conn.status(), "connectors::" + id.ToString());
          g->connectors_.push_back(ConnectorInstance{id, p.signal, to, std::move(*conn), i});
          instance = &g->connectors_.back();
        }
        outputs.push_back(instance->connector);
      }
    }
    ConsumerPtr next = FanOutConsumer::Of(std::move(outputs));
    Pipeline& pipeline = g->pipelines_[i];
    pipeline.id = p.id;
    for (auto it = p.processors.rbegin(); it != p.processors.rend(); ++it) {
      const ProcessorFactory* f = registry.processor(it->type);
      auto proc = f->Create(CreateSettings{*it, host}, *config.processors.at(*it), p.signal, next);
      if (!proc.ok()) {
        return Annotate(proc.status(),
                        absl::StrCat("processors::", it->ToString(), " in pipeline ", p.id));
      }
      std::shared_ptr<Processor> shared = std::move(*proc);
      pipeline.processors.insert(pipeline.processors.begin(), shared);
      next = shared;
    }
    heads[i] = next;
    for (const ComponentId& id : p.receivers) {
      if (!is_connector(id)) receiver_targets[id][static_cast<int>(p.signal)].push_back(next);
    }
  }

  for (auto& [id, targets] : receiver_targets) {
    ReceiverConsumers consumers;
    for (Signal s : kAllSignals) {
      auto& list = targets[static_cast<int>(s)];
      if (!list.empty()) consumers.by_signal[static_cast<int>(s)] = FanOutConsumer::Of(list);
    }
    const ReceiverFactory* f = registry.receiver(id.type);
    auto recv = f->Create(CreateSettings{id, host}, *config.receivers.at(id), consumers);
    if (!recv.ok()) return Annotate(recv.status(), "receivers::" + id.ToString());
    g->receivers_.emplace_back(id, std::move(*recv));
  }
  return g;
}

PipelineGraph::~PipelineGraph() { Shutdown(absl::Now() + absl::Seconds(5)); }

size_t PipelineGraph::processor_count() const {
  size_t n = 0;
  for (const Pipeline& p : pipelines_) n += p.processors.size();
  return n;
}

absl::Status PipelineGraph::Start() {
  for (auto& [id, e] : extensions_) {
    if (absl::Status s = e->Start(); !s.ok()) return Annotate(s, "extensions::" + id.ToString());
  }
  for (auto& [id, e] : exporters_) {
    if (absl::Status s = e->Start(); !s.ok()) return Annotate(s, "exporters::" + id.ToString());
  }
  for (ConnectorInstance& c : connectors_) {
    if (absl::Status s = c.connector->Start(); !s.ok()) {
      return Annotate(s, "connectors::" + c.id.ToString());
    }
  }
  for (Pipeline& p : pipelines_) {
    for (auto& proc : p.processors) {
      if (absl::Status s = proc->Start(); !s.ok()) {
        return Annotate(s, "processors in pipeline " + p.id);
      }
    }
  }
  for (auto& [id, r] : receivers_) {
    if (absl::Status s = r->Start(); !s.ok()) return Annotate(s, "receivers::" + id.ToString());
  }
  return absl::OkStatus();
}

void PipelineGraph::Shutdown(absl::Time deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  // Receivers refuse new data first; requests already inside wait in processors (a batch),
  // connectors or exporters, so those flush next, upstream pipelines first, which answers
  // the waiting clients; only then do the receivers close their listeners.
  for (auto& [id, r] : receivers_) r->StopAccepting(deadline);
  // Processors only hand on what they hold (deadline now): waiting here for downstream to
  // answer would wait for exporters that answer only at their own Shutdown below (a file
  // exporter's group commit), stalling every shutdown for the whole deadline. Exporters
  // finish the work and the receivers wait for the answers.
  const absl::Time flush_now = absl::Now();
  for (size_t i = 0; i < pipelines_.size(); ++i) {
    for (auto& proc : pipelines_[i].processors) proc->Shutdown(flush_now);
    for (ConnectorInstance& c : connectors_) {
      if (!c.shut_down && c.last_feeder <= i) {
        c.connector->Shutdown(deadline);
        c.shut_down = true;
      }
    }
  }
  for (auto& [id, e] : exporters_) e->Shutdown(deadline);
  for (auto& [id, r] : receivers_) r->Shutdown(deadline);
  for (auto it = extensions_.rbegin(); it != extensions_.rend(); ++it) {
    it->second->Shutdown(deadline);
  }
}

}  // namespace otlpd
