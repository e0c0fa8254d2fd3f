#include "extensions/jaegerremotesampling/factory.h"

#include "absl/strings/str_cat.h"
#include "extensions/jaegerremotesampling/config.h"
#include "extensions/jaegerremotesampling/jaeger_remote_sampling_extension.h"

namespace otlpd {

namespace {

void ParseProbability(ConfigNode& node, std::string_view key, double* out) {
  if (node.Get(key, out) && !(*out >= 0 && *out <= 1)) {
    node.Error(key, absl::StrCat(std::string(key), " must be within [0, 1]"));
  }
}

class JaegerRemoteSamplingExtensionFactory : public ExtensionFactory {
 public:
  std::string_view type() const override { return "jaegerremotesampling"; }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<JaegerRemoteSamplingConfig>();
    ConfigNode http = node.Child("http");
    if (http.Get("endpoint", &config->http_endpoint) && config->http_endpoint.empty()) {
      http.Error("endpoint", "endpoint must not be empty");
    }
    if (node.Has("grpc")) {
      node.Error("grpc",
                 "the gRPC sampling endpoint is not supported; clients use http.endpoint "
                 "(GET /sampling?service=NAME)");
    }
    ConfigNode source = node.Child("source");
    int sources = 0;
    if (source.Has("remote")) {
      source.Error("remote",
                   "source.remote (a Jaeger gRPC sampling endpoint) is not supported; use "
                   "source.file or source.adaptive");
      ++sources;
    }
    if (source.Get("file", &config->file)) {
      if (config->file.empty()) source.Error("file", "file must not be empty");
      ++sources;
    }
    if (source.GetDuration("reload_interval", &config->reload_interval) &&
        config->reload_interval < absl::ZeroDuration()) {
      source.Error("reload_interval", "reload_interval must not be negative");
    }
    bool adaptive_present = false;
    ConfigNode adaptive = source.Child("adaptive", &adaptive_present);
    if (adaptive_present) {
      ++sources;
      AdaptiveSamplingConfig a;
      if (adaptive.Get("target_traces_per_second", &a.target_traces_per_second) &&
          !(a.target_traces_per_second > 0)) {
        adaptive.Error("target_traces_per_second", "target_traces_per_second must be positive");
      }
      ParseProbability(adaptive, "min_sampling_probability", &a.min_sampling_probability);
      ParseProbability(adaptive, "max_sampling_probability", &a.max_sampling_probability);
      ParseProbability(adaptive, "initial_sampling_probability", &a.initial_sampling_probability);
      if (a.min_sampling_probability > a.max_sampling_probability) {
        adaptive.Error("min_sampling_probability",
                       "min_sampling_probability must not exceed max_sampling_probability");
      }
      if (adaptive.GetDuration("calculation_interval", &a.calculation_interval) &&
          a.calculation_interval <= absl::ZeroDuration()) {
        adaptive.Error("calculation_interval", "calculation_interval must be positive");
      }
      config->adaptive = a;
      if (config->reload_interval > absl::ZeroDuration()) {
        source.Error("reload_interval", "reload_interval applies to source.file only");
      }
    }
    if (sources == 0) {
      node.Error("source", "one of source.file or source.adaptive is required");
    } else if (sources > 1) {
      node.Error("source", "only one of source.file, source.remote and source.adaptive may be set");
    }
    return config;
  }

  absl::StatusOr<std::unique_ptr<Extension>> Create(const CreateSettings& settings,
                                                    const ComponentConfig& config) const override {
    return std::make_unique<JaegerRemoteSamplingExtension>(
        settings, ConfigAs<JaegerRemoteSamplingConfig>(config));
  }
};

}  // namespace

std::unique_ptr<ExtensionFactory> NewJaegerRemoteSamplingExtensionFactory() {
  return std::make_unique<JaegerRemoteSamplingExtensionFactory>();
}

}  // namespace otlpd
