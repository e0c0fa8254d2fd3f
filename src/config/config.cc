#include "config/config.h"

#include <algorithm>
#include <functional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace otlpd {

namespace {

enum class Kind { kReceiver, kProcessor, kExporter, kExtension, kConnector };

std::string_view KindName(Kind k) {
  switch (k) {
    case Kind::kReceiver:
      return "receiver";
    case Kind::kProcessor:
      return "processor";
    case Kind::kExporter:
      return "exporter";
    case Kind::kExtension:
      return "extension";
    case Kind::kConnector:
      return "connector";
  }
  return "";
}

// map[key] without yaml-cpp's zombie nodes (which throw when touched) for missing keys.
YAML::Node Lookup(const YAML::Node& map, const std::string& key) {
  if (map.IsDefined() && map.IsMap()) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

ConfigError ErrorAt(const YAML::Node& at, std::string path, std::string message) {
  ConfigError e;
  e.path = std::move(path);
  e.message = std::move(message);
  if (at.IsDefined() && at.Mark().line >= 0) {
    e.line = at.Mark().line + 1;
    e.column = at.Mark().column + 1;
  }
  return e;
}

void AddError(Diagnostics* diag, const YAML::Node& at, std::string path, std::string message) {
  diag->Add(ErrorAt(at, std::move(path), std::move(message)));
}

bool KnownType(Kind kind, const ComponentRegistry& registry, const std::string& type) {
  switch (kind) {
    case Kind::kReceiver:
      return registry.receiver(type) != nullptr;
    case Kind::kProcessor:
      return registry.processor(type) != nullptr;
    case Kind::kExporter:
      return registry.exporter(type) != nullptr;
    case Kind::kExtension:
      return registry.extension(type) != nullptr;
    case Kind::kConnector:
      return registry.connector(type) != nullptr;
  }
  return false;
}

std::unique_ptr<ComponentConfig> ParseComponent(Kind kind, const ComponentRegistry& registry,
                                                const std::string& type, ConfigNode& cfg) {
  switch (kind) {
    case Kind::kReceiver:
      return registry.receiver(type)->ParseConfig(cfg);
    case Kind::kProcessor:
      return registry.processor(type)->ParseConfig(cfg);
    case Kind::kExporter:
      return registry.exporter(type)->ParseConfig(cfg);
    case Kind::kExtension:
      return registry.extension(type)->ParseConfig(cfg);
    case Kind::kConnector:
      return registry.connector(type)->ParseConfig(cfg);
  }
  return nullptr;
}

// Parses one top-level section ("receivers", ...) with the factories of its kind.
void ParseSection(const YAML::Node& root, std::string_view section, Kind kind,
                  const ComponentRegistry& registry, Diagnostics* diag,
                  std::map<ComponentId, std::unique_ptr<ComponentConfig>>* out) {
  YAML::Node node = Lookup(root, std::string(section));
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap()) {
    AddError(diag, node, std::string(section), "expected a map of components");
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string key = it->first.Scalar();
    std::string path = absl::StrCat(std::string(section), "::", key);
    ComponentId id;
    if (!ComponentId::Parse(key, &id)) {
      AddError(diag, it->first, path, "invalid component id; expected \"type\" or \"type/name\"");
      continue;
    }
    if (!KnownType(kind, registry, id.type)) {
      AddError(diag, it->first, path,
               absl::StrCat("unknown ", std::string(KindName(kind)), " type \"", id.type, "\""));
      continue;
    }
    ConfigNode cfg(it->second, path, diag);
    std::unique_ptr<ComponentConfig> parsed = ParseComponent(kind, registry, id.type, cfg);
    if (!parsed) continue;
    cfg.ReportUnknownKeys();
    (*out)[id] = std::move(parsed);
  }
}

// A pipeline's receivers or exporters entry that names a connector, with where it is.
struct ConnectorUse {
  ComponentId id;
  size_t pipeline;  // index into the parsed pipelines
  ConfigError where;
};

struct PipelineUses {
  std::vector<ConnectorUse> as_exporter;
  std::vector<ConnectorUse> as_receiver;
};

// Parses a pipeline's receivers/processors/exporters list. Receivers and exporters may
// name connectors; those are recorded in `uses` for the checks that need every pipeline.
void ParsePipelineList(ConfigNode& pipeline, std::string_view key, Kind kind, Signal signal,
                       size_t pipeline_index, const Config& config,
                       const ComponentRegistry& registry, Diagnostics* diag,
                       std::vector<ComponentId>* out, std::vector<ConnectorUse>* uses) {
  const std::map<ComponentId, std::unique_ptr<ComponentConfig>>& defined =
      kind == Kind::kReceiver    ? config.receivers
      : kind == Kind::kProcessor ? config.processors
                                 : config.exporters;
  std::vector<std::string> names;
  if (!pipeline.Get(key, &names)) return;
  YAML::Node list = Lookup(pipeline.yaml(), std::string(key));
  std::set<ComponentId> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    std::string path = absl::StrCat(pipeline.path(), "::", std::string(key), "[", i, "]");
    YAML::Node at = list[i];
    ComponentId id;
    if (!ComponentId::Parse(names[i], &id)) {
      AddError(diag, at, path, absl::StrCat("invalid component id \"", names[i], "\""));
      continue;
    }
    if (!seen.insert(id).second) {
      AddError(diag, at, path, absl::StrCat("\"", names[i], "\" is listed twice"));
      continue;
    }
    if (uses != nullptr && config.connectors.count(id) > 0) {
      uses->push_back(ConnectorUse{id, pipeline_index, ErrorAt(at, path, "")});
      out->push_back(id);
      continue;
    }
    if (defined.find(id) == defined.end()) {
      AddError(diag, at, path,
               absl::StrCat("references ", std::string(KindName(kind)), " \"", names[i],
                            "\" which is not configured"));
      continue;
    }
    SignalSet supported = kind == Kind::kReceiver    ? registry.receiver(id.type)->signals()
                          : kind == Kind::kProcessor ? registry.processor(id.type)->signals()
                                                     : registry.exporter(id.type)->signals();
    if (!supported.Has(signal)) {
      AddError(diag, at, path,
               absl::StrCat(std::string(KindName(kind)), " \"", names[i], "\" does not support ",
                            std::string(SignalName(signal))));
      continue;
    }
    out->push_back(id);
  }
}

// Connectors: every one used must be used on both sides with a signal pair its factory
// supports; the pipelines they join must not form a cycle. On success, config->pipelines
// is put in an order where feeding pipelines come first.
void CheckConnectors(const ComponentRegistry& registry, const PipelineUses& uses, Diagnostics* diag,
                     Config* config) {
  const std::vector<PipelineConfig>& pipelines = config->pipelines;
  auto signal_of = [&](size_t p) { return pipelines[p].signal; };
  bool ok = true;
  for (const ConnectorUse& e : uses.as_exporter) {
    const ConnectorFactory* f = registry.connector(e.id.type);
    bool any = false;
    for (const ConnectorUse& r : uses.as_receiver) {
      any |= r.id == e.id && f->Supports(signal_of(e.pipeline), signal_of(r.pipeline));
    }
    if (!any) {
      ConfigError err = e.where;
      err.message = absl::StrCat("connector \"", e.id.ToString(), "\" is used as exporter in ",
                                 std::string(SignalName(signal_of(e.pipeline))),
                                 " pipeline but not used in any supported receiver pipeline");
      diag->Add(std::move(err));
      ok = false;
    }
  }
  for (const ConnectorUse& r : uses.as_receiver) {
    const ConnectorFactory* f = registry.connector(r.id.type);
    bool any = false;
    for (const ConnectorUse& e : uses.as_exporter) {
      any |= e.id == r.id && f->Supports(signal_of(e.pipeline), signal_of(r.pipeline));
    }
    if (!any) {
      ConfigError err = r.where;
      err.message = absl::StrCat("connector \"", r.id.ToString(), "\" is used as receiver in ",
                                 std::string(SignalName(signal_of(r.pipeline))),
                                 " pipeline but not used in any supported exporter pipeline");
      diag->Add(std::move(err));
      ok = false;
    }
  }
  if (!ok) return;

  // Edges p -> q: a connector exported by p and received by q, for a supported pair.
  const size_t n = pipelines.size();
  std::vector<std::vector<std::pair<size_t, const ConnectorUse*>>> edges(n);
  for (const ConnectorUse& e : uses.as_exporter) {
    const ConnectorFactory* f = registry.connector(e.id.type);
    for (const ConnectorUse& r : uses.as_receiver) {
      if (r.id == e.id && f->Supports(signal_of(e.pipeline), signal_of(r.pipeline))) {
        edges[e.pipeline].emplace_back(r.pipeline, &e);
      }
    }
  }
  // Depth-first search; a back edge is a cycle, reported at the connector entry closing it.
  enum class Mark { kNew, kActive, kDone };
  std::vector<Mark> mark(n, Mark::kNew);
  std::vector<size_t> stack;
  bool cycle = false;
  std::function<void(size_t)> visit = [&](size_t p) {
    mark[p] = Mark::kActive;
    stack.push_back(p);
    for (const auto& [q, use] : edges[p]) {
      if (cycle) return;
      if (mark[q] == Mark::kActive) {
        std::string path;
        auto from = std::find(stack.begin(), stack.end(), q);
        for (auto it = from; it != stack.end(); ++it) {
          absl::StrAppend(&path, pipelines[*it].id, " -> ");
        }
        absl::StrAppend(&path, pipelines[q].id);
        ConfigError err = use->where;
        err.message = absl::StrCat("cycle detected: connector \"", use->id.ToString(),
                                   "\" closes the loop ", path);
        diag->Add(std::move(err));
        cycle = true;
        return;
      }
      if (mark[q] == Mark::kNew) visit(q);
    }
    stack.pop_back();
    mark[p] = Mark::kDone;
  };
  for (size_t p = 0; p < n && !cycle; ++p) {
    if (mark[p] == Mark::kNew) visit(p);
  }
  if (cycle) return;
  // Kahn's algorithm, always taking the first ready pipeline in file order, so that
  // pipelines not joined by connectors keep their order.
  std::vector<size_t> indegree(n, 0);
  for (size_t p = 0; p < n; ++p) {
    for (const auto& [q, use] : edges[p]) ++indegree[q];
  }
  std::vector<bool> placed(n, false);
  std::vector<PipelineConfig> sorted;
  sorted.reserve(n);
  for (size_t round = 0; round < n; ++round) {
    size_t next = n;
    for (size_t p = 0; p < n && next == n; ++p) {
      if (!placed[p] && indegree[p] == 0) next = p;
    }
    placed[next] = true;
    for (const auto& [q, use] : edges[next]) --indegree[q];
    sorted.push_back(std::move(config->pipelines[next]));
  }
  config->pipelines = std::move(sorted);
}

void ParseService(const YAML::Node& root, const ComponentRegistry& registry, Diagnostics* diag,
                  Config* config) {
  ConfigNode service(Lookup(root, "service"), "service", diag);
  if (!service.IsDefined()) {
    AddError(diag, root, "service", "missing; a config needs service::pipelines");
    return;
  }
  // Extensions to start.
  std::vector<std::string> ext_names;
  if (service.Get("extensions", &ext_names)) {
    YAML::Node list = Lookup(Lookup(root, "service"), "extensions");
    for (size_t i = 0; i < ext_names.size(); ++i) {
      ComponentId id;
      std::string path = absl::StrCat("service::extensions[", i, "]");
      if (!ComponentId::Parse(ext_names[i], &id) ||
          config->extensions.find(id) == config->extensions.end()) {
        AddError(
            diag, list[i], path,
            absl::StrCat("references extension \"", ext_names[i], "\" which is not configured"));
        continue;
      }
      config->service_extensions.push_back(id);
    }
  }
  // Self-telemetry.
  ConfigNode telemetry = service.Child("telemetry");
  ConfigNode logs = telemetry.Child("logs");
  logs.GetEnum("level", &config->telemetry.log_level,
               {"debug", "info", "warn", "error", "DEBUG", "INFO", "WARN", "ERROR"});
  logs.GetEnum("encoding", &config->telemetry.log_encoding, {"console", "json"});
  ConfigNode metrics = telemetry.Child("metrics");
  std::string level;
  if (metrics.GetEnum("level", &level, {"none", "basic", "normal", "detailed"})) {
    config->telemetry.metrics_enabled = level != "none";
  }
  metrics.Get("address", &config->telemetry.metrics_address);

  // Pipelines.
  bool has_pipelines = false;
  ConfigNode pipelines = service.Child("pipelines", &has_pipelines);
  if (!has_pipelines || pipelines.Keys().empty()) {
    AddError(diag, Lookup(root, "service"), "service::pipelines",
             "at least one pipeline is required");
  }
  PipelineUses uses;
  for (const std::string& key : pipelines.Keys()) {
    ConfigNode p = pipelines.Child(key);
    PipelineConfig pc;
    pc.id = key;
    const std::string_view type = std::string_view(key).substr(0, key.find('/'));
    const std::optional<Signal> signal = ParseSignal(type);
    ComponentId pipeline_id;
    if (!signal || !ComponentId::Parse(key, &pipeline_id)) {
      pipelines.KeyError(key, signal ? "invalid pipeline id; expected \"signal\" or \"signal/name\""
                                     : absl::StrCat("unknown pipeline signal \"", std::string(type),
                                                    "\"; expected traces, metrics or logs"));
      p.MarkKnown("receivers");
      p.MarkKnown("processors");
      p.MarkKnown("exporters");
      continue;
    }
    pc.signal = *signal;
    const size_t index = config->pipelines.size();
    ParsePipelineList(p, "receivers", Kind::kReceiver, pc.signal, index, *config, registry, diag,
                      &pc.receivers, &uses.as_receiver);
    ParsePipelineList(p, "processors", Kind::kProcessor, pc.signal, index, *config, registry, diag,
                      &pc.processors, nullptr);
    ParsePipelineList(p, "exporters", Kind::kExporter, pc.signal, index, *config, registry, diag,
                      &pc.exporters, &uses.as_exporter);
    for (std::string_view needed : {"receivers", "exporters"}) {
      YAML::Node list = Lookup(p.yaml(), std::string(needed));
      if (!list.IsDefined() || list.IsNull() || (list.IsSequence() && list.size() == 0)) {
        pipelines.KeyError(key, needed == "receivers" ? "a pipeline needs at least one receiver"
                                                      : "a pipeline needs at least one exporter");
      }
    }
    config->pipelines.push_back(std::move(pc));
  }
  service.ReportUnknownKeys();
  if (diag->ok()) CheckConnectors(registry, uses, diag, config);
}

// A component id may not name both a connector and a receiver or exporter: pipelines
// could not tell which one they mean.
void CheckConnectorIds(const YAML::Node& root, const Config& config, Diagnostics* diag) {
  YAML::Node section = Lookup(root, "connectors");
  for (const auto& [id, cfg] : config.connectors) {
    const bool receiver = config.receivers.count(id) > 0;
    const bool exporter = config.exporters.count(id) > 0;
    if (!receiver && !exporter) continue;
    YAML::Node at;
    for (auto it = section.begin(); it != section.end(); ++it) {
      if (it->first.Scalar() == id.ToString()) at = it->first;
    }
    AddError(diag, at, absl::StrCat("connectors::", id.ToString()),
             absl::StrCat("id conflicts with the ", receiver ? "receiver" : "exporter", " \"",
                          id.ToString(), "\"; give one of them another name"));
  }
}

// Every extension a component names must be one the service starts.
void CheckExtensionRefs(const Config& config, Diagnostics* diag) {
  for (const ExtensionRef& ref : diag->extension_refs()) {
    const bool started =
        std::find(config.service_extensions.begin(), config.service_extensions.end(), ref.id) !=
        config.service_extensions.end();
    if (started) continue;
    ConfigError err = ref.where;
    err.message = config.extensions.count(ref.id) > 0
                      ? absl::StrCat("extension \"", ref.id.ToString(),
                                     "\" is configured but not enabled in service::extensions")
                      : absl::StrCat("references extension \"", ref.id.ToString(),
                                     "\" which is not configured");
    diag->Add(std::move(err));
  }
}

}  // namespace

std::unique_ptr<Config> ParseConfig(std::string_view yaml_text, const ComponentRegistry& registry,
                                    Diagnostics* diag) {
  auto config = std::make_unique<Config>();
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    ConfigError err;
    err.message = absl::StrCat("invalid YAML: ", e.msg);
    if (e.mark.line >= 0) {
      err.line = e.mark.line + 1;
      err.column = e.mark.column + 1;
    }
    diag->Add(std::move(err));
    return config;
  }
  if (!root.IsMap()) {
    AddError(diag, root, "", "the config must be a YAML map");
    return config;
  }
  try {
    static constexpr std::string_view kTopLevel[] = {"receivers",  "processors", "exporters",
                                                     "extensions", "service",    "connectors"};
    for (auto it = root.begin(); it != root.end(); ++it) {
      std::string key = it->first.Scalar();
      bool known = false;
      for (std::string_view k : kTopLevel) known |= key == k;
      if (!known) AddError(diag, it->first, key, "unknown key");
    }
    ParseSection(root, "receivers", Kind::kReceiver, registry, diag, &config->receivers);
    ParseSection(root, "processors", Kind::kProcessor, registry, diag, &config->processors);
    ParseSection(root, "exporters", Kind::kExporter, registry, diag, &config->exporters);
    ParseSection(root, "extensions", Kind::kExtension, registry, diag, &config->extensions);
    ParseSection(root, "connectors", Kind::kConnector, registry, diag, &config->connectors);
    CheckConnectorIds(root, *config, diag);
    ParseService(root, registry, diag, config.get());
    CheckExtensionRefs(*config, diag);
  } catch (const YAML::Exception& e) {
    ConfigError err;
    err.message = absl::StrCat("invalid config: ", e.msg);
    if (e.mark.line >= 0) {
      err.line = e.mark.line + 1;
      err.column = e.mark.column + 1;
    }
    diag->Add(std::move(err));
  }
  return config;
}

}  // namespace otlpd
