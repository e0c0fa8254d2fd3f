#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/consumer.h"
#include "core/metrics.h"

namespace otlpd {

// "type[/name]" as written in the config, e.g. "otlp", "otlp/upstream".
struct ComponentId {
  std::string type;
  std::string name;
  std::string ToString() const { return name.empty() ? type : type + "/" + name; }
  bool operator==(const ComponentId&) const = default;
  auto operator<=>(const ComponentId&) const = default;
};

// What a running component can see of the service around it.
class Host {
 public:
  virtual ~Host() = default;
  virtual MetricsRegistry& metrics() = 0;
  // True while every pipeline is started and the service is not shutting down.
  virtual bool Healthy() const = 0;
};

// Everything a factory gets besides the component's own config.
struct CreateSettings {
  ComponentId id;
  Host* host = nullptr;  // outlives the component
};

// Lifecycle shared by all components. The service starts extensions, then exporters,
// processors and receivers; it shuts them down in the reverse order, so that receivers stop
// accepting before processors flush and exporters drain.
class Component {
 public:
  virtual ~Component() = default;
  virtual absl::Status Start() { return absl::OkStatus(); }
  // Finishes in-flight work by `deadline` where possible; must return by then.
  virtual void Shutdown(absl::Time deadline) { (void)deadline; }
};

class Receiver : public Component {
 public:
  // First step of shutdown: refuse new data (retryably) but keep answering the requests
  // already in the pipelines. The service then flushes processors and exporters, which
  // completes those requests, and finally calls Shutdown to close the listeners.
  virtual void StopAccepting(absl::Time deadline) { (void)deadline; }
};
class Extension : public Component {};

// A processor is the consumer in front of the next one in its pipeline.
class Processor : public Component, public Consumer {};

// One exporter instance serves every pipeline that names it, so it may see all signals.
class Exporter : public Component, public Consumer {};

}  // namespace otlpd
