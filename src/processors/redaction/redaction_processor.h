#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "core/component.h"
#include "core/log_throttle.h"
#include "processors/attraction/attr_map.h"
#include "processors/attraction/scratch.h"
#include "processors/redaction/config.h"
#include "processors/redaction/masks.h"

namespace otlpd {

// otelcol's redaction processor for one pipeline, on the request's protobuf bytes (as the
// attributes processor): the attributes of resources, scopes, spans, span events, log
// records and data points, and string log bodies, are read as views; only what changed is
// re-encoded. When only the built-in masks can change anything (allow_all_keys, no patterns
// or blocked keys), a scan of the request's bytes finds most requests with nothing to mask
// and passes them on without a walk.
class RedactionProcessor : public Processor {
 public:
  RedactionProcessor(const CreateSettings& settings, const RedactionProcessorConfig& config,
                     Signal signal, ConsumerPtr next);

  void Consume(TelemetryPtr data, Completion done) override;

  // The request after redaction: `data` itself when nothing changed.
  TelemetryPtr Process(TelemetryPtr data) const;

  // Redacts one attribute map as otelcol's processAttrs does: keys not allowed deleted,
  // values masked, the summary attributes added. Returns whether anything changed.
  bool RedactAttributes(attraction::AttrMap& attrs, attraction::Scratch* scratch) const;
  // The masked form of a log body's string form, `s` itself when unchanged or allowed.
  std::string_view RedactBody(std::string_view s, attraction::Scratch* scratch) const;
  // Adds the body's summary attributes (after a body was masked).
  void AddBodySummary(attraction::AttrMap& attrs, attraction::Scratch* scratch) const;
  // A map or slice log body (`any_value`, an AnyValue's encoding) redacted as attribute maps
  // are, at every level: keys not allowed deleted, values masked (slice elements by the value
  // rules alone); the redaction.body.* summary (keys as dotted paths, "[i]" for slice
  // elements) added to `attrs`. Returns the new encoding, or "" when nothing changed.
  std::string RedactStructuredBody(std::string_view any_value, attraction::AttrMap& attrs,
                                   attraction::Scratch* scratch) const;

 private:
  friend class RedactionWalker;
  friend class BodyRedactor;

  bool Ignored(std::string_view key) const;
  bool Allowed(std::string_view key) const;
  bool AllowedValue(std::string_view value) const;
  bool BlockedKey(std::string_view key) const;
  void AddSummary(attraction::AttrMap& attrs, const std::vector<std::string_view>& keys,
                  std::string_view keys_attr, std::string_view count_attr,
                  attraction::Scratch* scratch) const;

  const std::string id_;
  const Signal signal_;
  const RedactionProcessorConfig config_;
  const redaction::Masker masker_;
  absl::flat_hash_set<std::string> allowed_keys_;
  absl::flat_hash_set<std::string> ignored_keys_;
  // Whether only the built-in masks can change a request (see the class comment).
  bool only_builtin_masks_ = false;
  const ConsumerPtr next_;
  mutable LogThrottle malformed_log_;
};

}  // namespace otlpd
