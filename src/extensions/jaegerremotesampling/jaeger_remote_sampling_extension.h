#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "core/component.h"
#include "core/http_server.h"
#include "core/traffic_observer.h"
#include "extensions/jaegerremotesampling/adaptive.h"
#include "extensions/jaegerremotesampling/config.h"
#include "extensions/jaegerremotesampling/strategies.h"

namespace otlpd {

// otelcol's jaegerremotesampling extension, HTTP side: GET /sampling?service=NAME (and
// Jaeger collector's /api/sampling) answers the service's SamplingStrategyResponse JSON.
// Strategies come from a Jaeger strategies file (a path or an http(s):// URL, read at Start, where
// a bad file fails the start; re-read every reload_interval, keeping the last good one on an
// error), or, with source.adaptive, from the traffic the pipelines report through
// TraceTrafficObserver (fed by the traffic_observer processor), recomputed every
// calculation_interval.
class JaegerRemoteSamplingExtension : public Extension, public TraceTrafficObserver {
 public:
  JaegerRemoteSamplingExtension(const CreateSettings& settings,
                                const JaegerRemoteSamplingConfig& config);
  ~JaegerRemoteSamplingExtension() override;

  absl::Status Start() override;
  void Shutdown(absl::Time deadline) override;

  void ObserveTraces(std::string_view service, std::string_view operation,
                     uint64_t traces) override;

  // The port actually bound (after Start), for endpoints with port 0.
  int port() const;

 private:
  HttpResponse Answer(const HttpRequest& request) const;
  absl::Status LoadFile();
  void BackgroundLoop();

  const std::string id_;
  const JaegerRemoteSamplingConfig config_;
  std::unique_ptr<AdaptiveSampler> adaptive_;  // with source.adaptive

  mutable absl::Mutex mu_;
  std::shared_ptr<const SamplingStrategies> strategies_ ABSL_GUARDED_BY(mu_);  // source.file
  std::string loaded_text_ ABSL_GUARDED_BY(mu_);  // the file's text behind strategies_
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::unique_ptr<HttpServer> server_;
  std::thread background_;
};

}  // namespace otlpd
