#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/telemetry.h"
#include "processors/attraction/attr_map.h"
#include "processors/attraction/editor.h"
#include "processors/attraction/scratch.h"
#include "processors/attraction/wire.h"

namespace otlpd::attraction {

// What a processor needs to rewrite one request, kept per thread and reused, so that a
// request costs no allocation once a thread has seen a few: receivers call Consume on their
// own threads, and a processor finishes with the workspace (Finish) before it passes the
// request on, so a chain of such processors on one thread can share it.
struct Workspace {
  Scratch scratch;
  WireEditor editor;
  AttrMap attrs;     // the item being processed
  AttrMap resource;  // its resource, for matching
  std::vector<std::pair<const char*, const char*>> ranges;
  std::vector<WireField> fields;
  std::string flat;  // a request whose bytes are not contiguous, copied
  // The request's Cord when its bytes are used in place (for sharing them in the result).
  const absl::Cord* source = nullptr;

  static Workspace& ForThread();

  // The request's encoding as one view (encoded now if it was only decoded), ready for
  // editing.
  std::string_view Begin(const Telemetry& data);

  // `data` itself when nothing was edited (no copy, no new encoding); otherwise a new
  // Telemetry of the edited bytes with `data`'s client metadata.
  TelemetryPtr Finish(TelemetryPtr data);
};

// Writes `attrs` in place of the `repeated KeyValue` fields number `field_number` of `item`
// (a length-delimited span, log record, data point ...), which `fields` locates; with none,
// the attributes are appended to the item. Only what follows the attributes' stable prefix
// is written: after an insert, the new attribute alone. Returns how much the whole item
// field grew, for the enclosing field's delta.
int64_t RewriteAttributes(const WireField& item, const AttrMap& attrs, uint32_t field_number,
                          const AttrFields& fields, Workspace& ws);

}  // namespace otlpd::attraction
