#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
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

  // "type" or "type/name"; type is [A-Za-z0-9_]+, name non-empty. False if malformed.
  static bool Parse(std::string_view text, ComponentId* id);
};

// Lifecycle shared by all components. The service starts extensions, then exporters,
// connectors, processors and receivers; it shuts them down in the reverse order, so that
// receivers stop accepting before processors flush and exporters drain.
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

// Extensions are started first and found by other components through
// Host::GetExtension; what an extension offers is the interfaces it implements
// (core/auth.h's authenticators, a storage, ...), checked with GetExtensionAs.
class Extension : public Component {};

// A processor is the consumer in front of the next one in its pipeline.
class Processor : public Component, public Consumer {};

// One exporter instance serves every pipeline that names it, so it may see all signals.
class Exporter : public Component, public Consumer {};

// A connector is the exporter of one pipeline and the receiver of others: it consumes
// the `from` signal and feeds the pipelines of the `to` signal that list it as a receiver.
// One instance exists per (from, to) pair in use (as in otelcol).
class Connector : public Component, public Consumer {};

// What a running component can see of the service around it.
class Host {
 public:
  virtual ~Host() = default;
  virtual MetricsRegistry& metrics() = 0;
  // True while every pipeline is started and the service is not shutting down.
  virtual bool Healthy() const = 0;
  // The extension `id` from service.extensions (created before every other component, so
  // it can be looked up from a factory's Create or a component's Start).
  // kNotFound when no such extension runs.
  virtual absl::StatusOr<Extension*> GetExtension(const ComponentId& id) const = 0;
  // The exporter `id` when a pipeline uses it (what it offers, e.g. a store to read, is
  // checked with dynamic_cast like extensions). Exporters are created after extensions:
  // an extension looks them up once the service runs, not from Create.
  virtual absl::StatusOr<Exporter*> GetExporter(const ComponentId& id) const = 0;
  // A component that runs but lost something on the way (e.g. damaged records skipped at
  // start) says so here; health_check shows it and the service keeps serving. An empty
  // reason clears it.
  virtual void ReportDegraded(const ComponentId& id, std::string reason) {
    (void)id;
    (void)reason;
  }
  // (component id, reason) of every degraded component.
  virtual std::vector<std::pair<std::string, std::string>> Degraded() const { return {}; }
};

// The extension `id` as the interface T, e.g. GetExtensionAs<ServerAuthenticator>(...).
// `what` names T in the error when the extension does not implement it.
template <class T>
absl::StatusOr<T*> GetExtensionAs(const Host& host, const ComponentId& id, std::string_view what) {
  absl::StatusOr<Extension*> ext = host.GetExtension(id);
  if (!ext.ok()) return ext.status();
  T* typed = dynamic_cast<T*>(*ext);
  if (typed == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("extension \"", id.ToString(), "\" is not ", std::string(what)));
  }
  return typed;
}

// Everything a factory gets besides the component's own config.
struct CreateSettings {
  ComponentId id;
  Host* host = nullptr;  // outlives the component
};

}  // namespace otlpd
