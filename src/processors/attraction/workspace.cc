#include "processors/attraction/workspace.h"

namespace otlpd::attraction {

Workspace& Workspace::ForThread() {
  thread_local Workspace ws;
  return ws;
}

std::string_view Workspace::Begin(const Telemetry& data) {
  scratch.Reset();
  const absl::Cord& wire = data.wire();
  std::string_view bytes;
  source = nullptr;
  if (absl::optional<absl::string_view> f = wire.TryFlat()) {
    bytes = std::string_view(f->data(), f->size());
    source = &wire;
  } else {
    // A concatenation (e.g. a merged batch): one copy.
    flat.clear();
    absl::CopyCordToString(wire, &flat);
    bytes = flat;
  }
  editor.Reset(bytes);
  return bytes;
}

TelemetryPtr Workspace::Finish(TelemetryPtr data) {
  if (editor.empty()) return data;
  auto out = Telemetry::FromWire(data->signal(), editor.Build(source), data->ItemCount());
  out->set_metadata(data->metadata());
  editor.Reset({});
  source = nullptr;
  return out;
}

int64_t RewriteAttributes(const WireField& item, const AttrMap& attrs, uint32_t field_number,
                          const AttrFields& fields, Workspace& ws) {
  const WireEditor::Open open = ws.editor.OpenField(item);
  int64_t delta = 0;
  if (fields.begin == nullptr) {
    ws.editor.Replace(item.end, item.end);
    delta += static_cast<int64_t>(attrs.Emit(field_number, &ws.editor, &ws.scratch));
  } else if (fields.contiguous) {
    // The stable prefix stays where it is; the rest of the region is rewritten.
    const size_t from = attrs.stable();
    const char* region = attrs.StableEnd(fields.begin);
    ws.editor.Replace(region, fields.end);
    delta -= fields.end - region;
    delta += static_cast<int64_t>(attrs.Emit(field_number, &ws.editor, &ws.scratch, from));
  } else {
    // Attribute fields with other fields between them (rare): the list is written in the
    // first one's place and the others go.
    ws.ranges.clear();
    WireReader r(item.payload);
    WireField f;
    while (r.Next(&f)) {
      if (f.IsLen(field_number)) ws.ranges.emplace_back(f.begin, f.end);
    }
    for (size_t i = 0; i < ws.ranges.size(); ++i) {
      ws.editor.Replace(ws.ranges[i].first, ws.ranges[i].second);
      delta -= ws.ranges[i].second - ws.ranges[i].first;
      if (i == 0) delta += static_cast<int64_t>(attrs.Emit(field_number, &ws.editor, &ws.scratch));
    }
  }
  return ws.editor.CloseField(open, delta, &ws.scratch);
}

}  // namespace otlpd::attraction
