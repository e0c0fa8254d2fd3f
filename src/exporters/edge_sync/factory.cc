#include "exporters/edge_sync/factory.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "exporters/edge_sync/config.h"
#include "exporters/edge_sync/edge_sync_exporter.h"

namespace otlpd {

namespace {

bool ValidGrpcEndpoint(absl::string_view endpoint) {
  if (!absl::ConsumePrefix(&endpoint, "http://")) absl::ConsumePrefix(&endpoint, "https://");
  const size_t colon = endpoint.rfind(':');
  int port = 0;
  return colon != absl::string_view::npos && colon > 0 &&
         endpoint.substr(0, colon).find_first_of("/ ") == absl::string_view::npos &&
         absl::SimpleAtoi(endpoint.substr(colon + 1), &port) && port > 0 && port <= 65535;
}

class EdgeSyncExporterFactory final : public ExporterFactory {
 public:
  std::string_view type() const override { return "edge_sync"; }
  SignalSet signals() const override { return SignalSet::All(); }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto cfg = std::make_unique<EdgeSyncConfig>();
    node.Get("directory", &cfg->directory);
    std::string text;
    if (node.GetEnum("durability", &text, {"fsync", "batch"})) {
      cfg->durability = *storage::ParseDurability(text);
    }
    if (node.GetEnum("protocol", &text, {"grpc", "http"})) {
      cfg->protocol = text == "http" ? EdgeProtocol::kHttp : EdgeProtocol::kGrpc;
    }
    if (!node.Get("endpoints", &cfg->endpoints) || cfg->endpoints.empty()) {
      node.Error("endpoints", "requires a non-empty list of \"endpoints\"");
    }
    for (const std::string& e : cfg->endpoints) {
      if (cfg->protocol == EdgeProtocol::kGrpc && !ValidGrpcEndpoint(e)) {
        node.Error("endpoints", absl::StrCat("invalid endpoint \"", e, "\": expected host:port"));
      }
      if (cfg->protocol == EdgeProtocol::kHttp && !absl::StartsWith(e, "http://") &&
          !absl::StartsWith(e, "https://")) {
        node.Error("endpoints",
                   absl::StrCat("invalid endpoint \"", e,
                                "\": with protocol http, a base URL (http://host:port)"));
      }
    }
    ParseTlsClient(node.Child("tls"), &cfg->tls);
    node.Get("headers", &cfg->headers);
    ComponentId authenticator;
    if (node.Child("auth").GetExtensionRef("authenticator", &authenticator)) {
      cfg->authenticator = authenticator;
    }
    node.GetDuration("timeout", &cfg->timeout);
    node.GetBytes("max_size", &cfg->max_size);
    if (node.GetEnum("when_full", &text, {"block", "drop_oldest", "drop_newest"})) {
      cfg->when_full = text == "drop_oldest"   ? storage::WhenFull::kDropOldest
                       : text == "drop_newest" ? storage::WhenFull::kDropNewest
                                               : storage::WhenFull::kRefuse;
    }
    node.GetBytes("max_batch_bytes", &cfg->max_batch_bytes);
    if (cfg->max_batch_bytes == 0) node.Error("max_batch_bytes", "must be positive");
    if (node.Get("compression", &text) && text != "auto") {
      cfg->compression = ParseCompression(text);
      if (!cfg->compression || *cfg->compression == Compression::kDeflate) {
        cfg->compression.reset();
        node.Error("compression", absl::StrCat("unsupported compression \"", text,
                                               "\"; expected zstd, gzip, lz4, snappy, none "
                                               "or auto"));
      } else if (cfg->protocol == EdgeProtocol::kGrpc && *cfg->compression != Compression::kGzip &&
                 *cfg->compression != Compression::kNone) {
        node.Error("compression", absl::StrCat(text,
                                               " is not available over gRPC (gRPC C++ "
                                               "compresses gzip only); use protocol: "
                                               "http, gzip, none or auto"));
      }
    }
    if (node.GetEnum("prefer", &text, {"bandwidth", "cpu"})) {
      cfg->prefer_bandwidth = text == "bandwidth";
    }
    node.Get("concurrency", &cfg->concurrency);
    if (cfg->concurrency < 1) node.Error("concurrency", "must be at least 1");
    // Retries: full jitter, and no time limit unless max_elapsed_time is set (it is a
    // store-and-forward queue: outages of days are what it is for).
    cfg->retry.initial_interval = absl::Seconds(1);
    cfg->retry.max_interval = absl::Seconds(30);
    cfg->retry.max_elapsed_time = absl::ZeroDuration();
    cfg->retry.full_jitter = true;
    ParseRetrySettings(node.Child("retry_on_failure"), &cfg->retry);
    if (cfg->retry.max_elapsed_time_set) {
      // kept: the helper only honours it when set
    }
    node.Child("dead_letter").Get("directory", &cfg->dead_letter_directory);
    ConfigNode breaker = node.Child("circuit_breaker");
    breaker.Get("failure_threshold", &cfg->circuit_breaker.failure_threshold);
    breaker.GetDuration("open_duration", &cfg->circuit_breaker.open_duration);
    breaker.Get("half_open_requests", &cfg->circuit_breaker.half_open_requests);
    if (cfg->circuit_breaker.failure_threshold < 1) {
      breaker.Error("failure_threshold", "must be at least 1");
    }
    if (cfg->circuit_breaker.half_open_requests < 1) {
      breaker.Error("half_open_requests", "must be at least 1");
    }
    if (node.GetEnum("balancing", &text, {"round_robin", "least_pending", "trace_id"})) {
      cfg->balancing = text == "least_pending" ? EdgeBalancing::kLeastPending
                       : text == "trace_id"    ? EdgeBalancing::kTraceId
                                               : EdgeBalancing::kRoundRobin;
    }
    node.GetBytes("max_bandwidth", &cfg->max_bandwidth);
    if (node.GetEnum("drain_order", &text, {"oldest_first", "newest_first", "priority"})) {
      cfg->drain_order = text == "newest_first" ? storage::ReadOrder::kNewestFirst
                         : text == "priority"   ? storage::ReadOrder::kPriority
                                                : storage::ReadOrder::kOldestFirst;
    }
    node.GetDuration("live_window", &cfg->live_window);
    return cfg;
  }

  absl::StatusOr<std::unique_ptr<Exporter>> Create(const CreateSettings& settings,
                                                   const ComponentConfig& config) const override {
    EdgeSyncConfig cfg = ConfigAs<EdgeSyncConfig>(config);
    if (settings.host == nullptr) return absl::FailedPreconditionError("edge_sync needs a host");
    if (cfg.directory.empty()) {
      std::string name = settings.id.ToString();
      for (char& c : name) {
        if (c == '/') c = '_';
      }
      cfg.directory = "./data/edge_sync/" + name;
    }
    if (cfg.dead_letter_directory.empty())
      cfg.dead_letter_directory = cfg.directory + "/dead_letter";
    return std::unique_ptr<Exporter>(new EdgeSyncExporter(settings, cfg));
  }
};

}  // namespace

std::unique_ptr<ExporterFactory> NewEdgeSyncExporterFactory() {
  return std::make_unique<EdgeSyncExporterFactory>();
}

}  // namespace otlpd
