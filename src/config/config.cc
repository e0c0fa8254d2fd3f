#include "config/config.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace otlpd {

bool ParseComponentId(std::string_view text, ComponentId* id) {
  size_t slash = text.find('/');
  std::string_view type = text.substr(0, slash);
  std::string_view name = slash == std::string_view::npos ? "" : text.substr(slash + 1);
  if (type.empty() || (slash != std::string_view::npos && name.empty())) return false;
  for (char c : type) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  id->type = std::string(type);
  id->name = std::string(name);
  return true;
}

namespace {

enum class Kind { kReceiver, kProcessor, kExporter, kExtension };

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

void AddError(Diagnostics* diag, const YAML::Node& at, std::string path, std::string message) {
  ConfigError e;
  e.path = std::move(path);
  e.message = std::move(message);
  if (at.IsDefined() && at.Mark().line >= 0) {
    e.line = at.Mark().line + 1;
    e.column = at.Mark().column + 1;
  }
  diag->Add(std::move(e));
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
    if (!ParseComponentId(key, &id)) {
      AddError(diag, it->first, path, "invalid component id; expected \"type\" or \"type/name\"");
      continue;
    }
    ConfigNode cfg(it->second, path, diag);
    std::unique_ptr<ComponentConfig> parsed;
    switch (kind) {
      case Kind::kReceiver:
        if (auto* f = registry.receiver(id.type)) parsed = f->ParseConfig(cfg);
        break;
      case Kind::kProcessor:
        if (auto* f = registry.processor(id.type)) parsed = f->ParseConfig(cfg);
        break;
      case Kind::kExporter:
        if (auto* f = registry.exporter(id.type)) parsed = f->ParseConfig(cfg);
        break;
      case Kind::kExtension:
        if (auto* f = registry.extension(id.type)) parsed = f->ParseConfig(cfg);
        break;
    }
    if (!parsed) {
      bool known = (kind == Kind::kReceiver && registry.receiver(id.type)) ||
                   (kind == Kind::kProcessor && registry.processor(id.type)) ||
                   (kind == Kind::kExporter && registry.exporter(id.type)) ||
                   (kind == Kind::kExtension && registry.extension(id.type));
      if (!known) {
        AddError(diag, it->first, path,
                 absl::StrCat("unknown ", std::string(KindName(kind)), " type \"", id.type, "\""));
      }
      continue;
    }
    cfg.ReportUnknownKeys();
    (*out)[id] = std::move(parsed);
  }
}

SignalSet SupportedSignals(Kind kind, const ComponentRegistry& registry, const std::string& type) {
  switch (kind) {
    case Kind::kReceiver:
      return registry.receiver(type)->signals();
    case Kind::kProcessor:
      return registry.processor(type)->signals();
    case Kind::kExporter:
      return registry.exporter(type)->signals();
    case Kind::kExtension:
      return SignalSet::All();
  }
  return {};
}

void ParsePipelineList(ConfigNode& pipeline, std::string_view key, Kind kind, Signal signal,
                       const std::map<ComponentId, std::unique_ptr<ComponentConfig>>& defined,
                       const ComponentRegistry& registry, Diagnostics* diag,
                       std::vector<ComponentId>* out) {
  std::vector<std::string> names;
  if (!pipeline.Get(key, &names)) return;
  YAML::Node list = Lookup(pipeline.yaml(), std::string(key));
  std::set<ComponentId> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    std::string path = absl::StrCat(pipeline.path(), "::", std::string(key), "[", i, "]");
    YAML::Node at = list[i];
    ComponentId id;
    if (!ParseComponentId(names[i], &id)) {
      AddError(diag, at, path, absl::StrCat("invalid component id \"", names[i], "\""));
      continue;
    }
    if (defined.find(id) == defined.end()) {
      AddError(diag, at, path,
               absl::StrCat("references ", std::string(KindName(kind)), " \"", names[i],
                            "\" which is not configured"));
      continue;
    }
    if (!SupportedSignals(kind, registry, id.type).Has(signal)) {
      AddError(diag, at, path,
               absl::StrCat(std::string(KindName(kind)), " \"", names[i], "\" does not support ",
                            std::string(SignalName(signal))));
      continue;
    }
    if (!seen.insert(id).second) {
      AddError(diag, at, path, absl::StrCat("\"", names[i], "\" is listed twice"));
      continue;
    }
    out->push_back(id);
  }
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
      if (!ParseComponentId(ext_names[i], &id) ||
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
  std::string encoding;
  logs.GetEnum("encoding", &encoding, {"console", "json"});
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
  for (const std::string& key : pipelines.Keys()) {
    ConfigNode p = pipelines.Child(key);
    PipelineConfig pc;
    pc.id = key;
    std::string_view type = std::string_view(key).substr(0, key.find('/'));
    std::optional<Signal> signal = ParseSignal(type);
    if (!signal) {
      pipelines.KeyError(key, absl::StrCat("unknown pipeline signal \"", std::string(type),
                                           "\"; expected traces, metrics or logs"));
      p.MarkKnown("receivers");
      p.MarkKnown("processors");
      p.MarkKnown("exporters");
      continue;
    }
    pc.signal = *signal;
    ParsePipelineList(p, "receivers", Kind::kReceiver, pc.signal, config->receivers, registry, diag,
                      &pc.receivers);
    ParsePipelineList(p, "processors", Kind::kProcessor, pc.signal, config->processors, registry,
                      diag, &pc.processors);
    ParsePipelineList(p, "exporters", Kind::kExporter, pc.signal, config->exporters, registry, diag,
                      &pc.exporters);
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
      if (key == "connectors" && !it->second.IsNull() && it->second.size() > 0) {
        AddError(diag, it->first, key, "connectors are not supported by otlpd");
      }
    }
    ParseSection(root, "receivers", Kind::kReceiver, registry, diag, &config->receivers);
    ParseSection(root, "processors", Kind::kProcessor, registry, diag, &config->processors);
    ParseSection(root, "exporters", Kind::kExporter, registry, diag, &config->exporters);
    ParseSection(root, "extensions", Kind::kExtension, registry, diag, &config->extensions);
    ParseService(root, registry, diag, config.get());
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

std::string_view DefaultConfigYaml() {
  return R"(# otlpd's embedded default: OTLP in on loopback, everything to files under ./data.
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
      http:
        endpoint: 127.0.0.1:4318
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 1024
    spike_limit_mib: 256
  batch:
    send_batch_size: 8192
    timeout: 200ms
exporters:
  file:
    path: ./data/otlp.jsonl
    rotation:
      max_megabytes: 100
      max_backups: 10
extensions:
  health_check:
    endpoint: 127.0.0.1:13133
service:
  extensions: [health_check]
  telemetry:
    logs:
      level: info
    metrics:
      address: 127.0.0.1:8888
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [file]
    metrics:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [file]
    logs:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [file]
)";
}

}  // namespace otlpd
