#pragma once

#include <string>
#include <vector>

#include "core/component.h"
#include "core/log_throttle.h"
#include "processors/attraction/actions.h"
#include "processors/attributes/config.h"

namespace otlpd {

// otelcol's attributes processor for one pipeline. It works on the request's protobuf
// encoding without decoding it: items are found by walking the bytes, their attributes
// loaded as views, and only the items the actions changed are re-encoded (with the lengths
// of the messages around them); a request nothing changed in is passed on as it came.
class AttributesProcessor : public Processor {
 public:
  AttributesProcessor(const CreateSettings& settings, const AttributesProcessorConfig& config,
                      Signal signal, ConsumerPtr next);

  void Consume(TelemetryPtr data, Completion done) override;

  // The request after the actions: `data` itself when nothing changed.
  TelemetryPtr Process(TelemetryPtr data) const;

 private:
  friend class AttributesWalker;

  const std::string id_;
  const Signal signal_;
  const attraction::AttrProc proc_;
  const std::optional<MatchProperties> include_;
  const std::optional<MatchProperties> exclude_;
  const ConsumerPtr next_;
  // For spans, when the actions' keys are known (AttrProc::KeysActedOn) and nothing is
  // matched: their AttributeKeyBits. A span whose key filter in the receiver's span index
  // rules them all out is edited without loading its attributes.
  std::vector<uint64_t> action_key_bits_;
  bool span_index_ = false;
  mutable LogThrottle malformed_log_;
};

}  // namespace otlpd
