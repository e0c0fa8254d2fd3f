#pragma once

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "config/config.h"
#include "core/component.h"
#include "core/registry.h"
#include "service/host.h"

namespace otlpd {

// The components of service::pipelines, wired together:
// - extensions first (registered with the host, so others can look them up);
// - one exporter per id, shared by the pipelines naming it;
// - processors per pipeline, each in front of the next, the last in front of the
//   pipeline's exporters (fanned out);
// - one connector per (id, from signal, to signal) in use, feeding the `to` pipelines that
//   list it as a receiver;
// - one receiver per id, feeding per signal every pipeline that lists it.
// Pipelines are built downstream first, so that a connector's pipelines exist before the
// pipelines exporting to it.
class PipelineGraph {
 public:
  static absl::StatusOr<std::unique_ptr<PipelineGraph>> Build(const Config& config,
                                                              const ComponentRegistry& registry,
                                                              ServiceHost* host);
  ~PipelineGraph();

  // Extensions, exporters, connectors, processors, receivers; stops at the first error.
  absl::Status Start();
  // Receivers refuse new data; pipelines flush upstream first (processors, then the
  // connectors they feed), then exporters drain, receivers close, extensions stop.
  void Shutdown(absl::Time deadline);

  size_t receiver_count() const { return receivers_.size(); }
  size_t processor_count() const;
  size_t exporter_count() const { return exporters_.size(); }
  size_t connector_count() const { return connectors_.size(); }

 private:
  struct ConnectorInstance {
    ComponentId id;
    Signal from;
    Signal to;
    std::shared_ptr<Connector> connector;
    size_t last_feeder = 0;  // index (in config order) of the last pipeline feeding it
    bool shut_down = false;
  };
  struct Pipeline {
    std::string id;
    std::vector<std::shared_ptr<Processor>> processors;  // first to last
  };

  PipelineGraph() = default;

  std::vector<std::pair<ComponentId, std::shared_ptr<Extension>>> extensions_;
  std::vector<std::pair<ComponentId, std::shared_ptr<Exporter>>> exporters_;
  std::vector<ConnectorInstance> connectors_;
  std::vector<Pipeline> pipelines_;  // config order: feeding pipelines first
  std::vector<std::pair<ComponentId, std::unique_ptr<Receiver>>> receivers_;
  bool shut_down_ = false;
};

}  // namespace otlpd
