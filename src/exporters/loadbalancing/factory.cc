#include "exporters/loadbalancing/factory.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "exporters/loadbalancing/config.h"
#include "exporters/loadbalancing/loadbalancing_exporter.h"
#include "exporters/loadbalancing/resolver.h"

namespace otlpd {

namespace {

constexpr int kDefaultPort = 4317;

// protocol.otlp as the otlp exporter of one backend sees it: the backend's endpoint, and
// no queue or retries of its own (this exporter keeps those per backend, to re-route).
YAML::Node BackendOtlpNode(const YAML::Node& otlp, const std::string& endpoint, int num_consumers) {
  YAML::Node node = otlp.IsMap() ? YAML::Clone(otlp) : YAML::Node(YAML::NodeType::Map);
  node["endpoint"] = endpoint;
  YAML::Node queue(YAML::NodeType::Map);
  queue["enabled"] = false;
  queue["num_consumers"] = std::max(1, num_consumers);
  node["sending_queue"] = queue;
  YAML::Node retry(YAML::NodeType::Map);
  retry["enabled"] = false;
  node["retry_on_failure"] = retry;
  return node;
}

void ParseResolver(ConfigNode node, LoadBalancingConfig* cfg) {
  bool has_static = false, has_dns = false;
  ConfigNode st = node.Child("static", &has_static);
  ConfigNode dns = node.Child("dns", &has_dns);
  for (std::string_view other : {"k8s", "aws_cloud_map"}) {
    if (node.Has(other)) {
      node.MarkKnown(other);
      node.Error(other, absl::StrCat("the ", std::string(other),
                                     " resolver is not supported by otlpd; use static or dns"));
      return;
    }
  }
  if (has_static == has_dns) {
    node.Error("", has_static ? "set only one of resolver::static and resolver::dns"
                              : "requires resolver::static or resolver::dns");
  }
  if (has_static) {
    std::vector<std::string> hostnames;
    st.Get("hostnames", &hostnames);
    if (hostnames.empty()) st.Error("hostnames", "requires a non-empty list of backend hostnames");
    for (const std::string& h : hostnames) {
      absl::StatusOr<std::string> endpoint = NormalizeBackendEndpoint(h, kDefaultPort);
      if (!endpoint.ok()) {
        st.Error("hostnames", std::string(endpoint.status().message()));
        continue;
      }
      cfg->static_hostnames.push_back(*std::move(endpoint));
    }
  }
  if (!has_dns) return;
  DnsResolverConfig d;
  if (!dns.Get("hostname", &d.hostname) || d.hostname.empty()) {
    dns.Error("hostname", "requires a non-empty \"hostname\"");
  }
  std::string port;
  if (dns.Get("port", &port)) {
    if (!absl::SimpleAtoi(port, &d.port) || d.port < 1 || d.port > 65535) {
      dns.Error("port", absl::StrCat("invalid port \"", port, "\""));
    }
  }
  if (dns.GetDuration("interval", &d.interval) && d.interval <= absl::ZeroDuration()) {
    dns.Error("interval", "must be larger than zero");
  }
  if (dns.GetDuration("timeout", &d.timeout) && d.timeout <= absl::ZeroDuration()) {
    dns.Error("timeout", "must be larger than zero");
  }
  cfg->dns = std::move(d);
}

void ParseOutlierDetection(ConfigNode node, OutlierDetectionConfig* out) {
  node.Get("enabled", &out->enabled);
  if (node.Get("consecutive_errors", &out->consecutive_errors) && out->consecutive_errors < 1) {
    node.Error("consecutive_errors", "must be at least 1");
  }
  if (node.GetDuration("base_ejection_time", &out->base_ejection_time) &&
      out->base_ejection_time <= absl::ZeroDuration()) {
    node.Error("base_ejection_time", "must be larger than zero");
  }
  if (node.GetDuration("max_ejection_time", &out->max_ejection_time) &&
      out->max_ejection_time < out->base_ejection_time) {
    node.Error("max_ejection_time", "must not be less than base_ejection_time");
  }
  if (node.Get("max_ejection_percent", &out->max_ejection_percent) &&
      (out->max_ejection_percent < 0 || out->max_ejection_percent > 100)) {
    node.Error("max_ejection_percent", "must be between 0 and 100");
  }
}

class LoadBalancingExporterFactory final : public ExporterFactory {
 public:
  explicit LoadBalancingExporterFactory(std::unique_ptr<ExporterFactory> otlp)
      : otlp_(std::move(otlp)) {}

  std::string_view type() const override { return "loadbalancing"; }
  SignalSet signals() const override { return SignalSet::All(); }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto cfg = std::make_unique<LoadBalancingConfig>();
    std::string key;
    if (node.Get("routing_key", &key)) {
      cfg->routing_key = ParseRoutingKey(key);
      if (!cfg->routing_key) {
        node.Error("routing_key",
                   absl::StrCat("unsupported routing_key \"", key,
                                "\"; expected one of: traceID, service, resource, metric, "
                                "streamID"));
      }
    }
    ConfigNode protocol = node.Child("protocol");
    protocol.MarkKnown("otlp");
    const YAML::Node& doc = protocol.yaml();
    const bool has_otlp = doc.IsMap() && doc["otlp"].IsDefined() && !doc["otlp"].IsNull();
    // Shares the document's node when there is one.
    YAML::Node otlp = has_otlp ? YAML::Node(doc["otlp"]) : YAML::Node(YAML::NodeType::Map);
    if (!otlp.IsMap()) {
      protocol.Error("otlp", "must be a map of the otlp exporter's settings");
    } else {
      // The otlp exporter's own parser checks protocol.otlp, on the document itself so that
      // errors carry their line. The endpoint is each backend's: one written here is
      // ignored (as otelcol does); a placeholder stands in while parsing.
      const bool had_endpoint = otlp["endpoint"].IsDefined();
      if (!had_endpoint) otlp["endpoint"] = "localhost:4317";
      ConfigNode otlp_node(otlp, absl::StrCat(protocol.path(), "::otlp"), node.diagnostics());
      otlp_->ParseConfig(otlp_node);
      otlp_node.ReportUnknownKeys();
      // Read again for the settings this exporter applies per backend (already checked).
      Diagnostics ignored;
      ConfigNode helper_node(otlp, "", &ignored);
      ParseExporterHelperSettings(helper_node, &cfg->helper);
      if (!had_endpoint) otlp.remove("endpoint");
      cfg->otlp = YAML::Clone(otlp);
    }
    ParseResolver(node.Child("resolver"), cfg.get());
    ParseOutlierDetection(node.Child("outlier_detection"), &cfg->outlier);
    return cfg;
  }

  absl::StatusOr<std::unique_ptr<Exporter>> Create(const CreateSettings& settings,
                                                   const ComponentConfig& config) const override {
    const auto& cfg = ConfigAs<LoadBalancingConfig>(config);
    LoadBalancingConfig own = cfg;
    own.otlp = YAML::Clone(cfg.otlp);
    const ExporterFactory* otlp = otlp_.get();
    Host* host = settings.host;
    const int num_consumers = cfg.helper.queue.num_consumers;
    // Called under the exporter's membership lock only, so the YAML is never used by two
    // threads at once.
    BackendExporterFactory backends =
        [otlp, host, num_consumers, yaml = YAML::Clone(cfg.otlp)](
            const ComponentId& id,
            const std::string& endpoint) -> absl::StatusOr<std::unique_ptr<Exporter>> {
      Diagnostics diag;
      ConfigNode node(BackendOtlpNode(yaml, endpoint, num_consumers), id.ToString(), &diag);
      std::unique_ptr<ComponentConfig> backend_config = otlp->ParseConfig(node);
      node.ReportUnknownKeys();
      if (!diag.ok()) return absl::InvalidArgumentError(diag.Format());
      return otlp->Create(CreateSettings{id, host}, *backend_config);
    };
    return std::unique_ptr<Exporter>(new LoadBalancingExporter(settings, own, std::move(backends)));
  }

 private:
  std::unique_ptr<ExporterFactory> otlp_;
};

}  // namespace

std::unique_ptr<ExporterFactory> NewLoadBalancingExporterFactory(
    std::unique_ptr<ExporterFactory> otlp_factory) {
  return std::make_unique<LoadBalancingExporterFactory>(std::move(otlp_factory));
}

}  // namespace otlpd
