#pragma once

#include <string>

#include "core/component.h"
#include "core/log_throttle.h"
#include "processors/attraction/actions.h"
#include "processors/resource/config.h"

namespace otlpd {

// otelcol's resource processor for one pipeline: the attribute actions on the attributes of
// every resource of a request. Like the attributes processor it edits the request's
// encoding (only the resources change; the spans, records and points are copied as they
// are) and passes an unchanged request on as it came.
class ResourceProcessor : public Processor {
 public:
  ResourceProcessor(const CreateSettings& settings, const ResourceProcessorConfig& config,
                    Signal signal, ConsumerPtr next);

  void Consume(TelemetryPtr data, Completion done) override;

  // The request after the actions: `data` itself when nothing changed.
  TelemetryPtr Process(TelemetryPtr data) const;

 private:
  bool Walk(std::string_view request, const Metadata* metadata) const;

  const std::string id_;
  const Signal signal_;
  const attraction::AttrProc proc_;
  const ConsumerPtr next_;
  mutable LogThrottle malformed_log_;
};

}  // namespace otlpd
