#include "processors/resource/resource_processor.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "processors/attraction/workspace.h"

namespace otlpd {

namespace {

using attraction::WireField;
using attraction::WireReader;
using attraction::Workspace;

// Export*ServiceRequest.resource_* (1), Resource*.resource (1), Resource.attributes (1): the
// same numbers for the three signals.
constexpr uint32_t kResourceEntries = 1;
constexpr uint32_t kResource = 1;
constexpr uint32_t kAttributes = 1;

}  // namespace

ResourceProcessor::ResourceProcessor(const CreateSettings& settings,
                                     const ResourceProcessorConfig& config, Signal signal,
                                     ConsumerPtr next)
    : id_(settings.id.ToString()), signal_(signal), proc_(config.actions), next_(std::move(next)) {}

bool ResourceProcessor::Walk(std::string_view request, const Metadata* metadata) const {
  Workspace& ws = Workspace::ForThread();
  WireReader r(request);
  WireField rx;
  while (r.Next(&rx)) {
    if (!rx.IsLen(kResourceEntries)) continue;
    // Every occurrence of the resource field (protobuf merges them; one is usual).
    ws.fields.clear();
    ws.attrs.Clear();
    WireReader rr(rx.payload);
    WireField f;
    while (rr.Next(&f)) {
      if (!f.IsLen(kResource)) continue;
      ws.fields.push_back(f);
      WireReader ra(f.payload);
      WireField a;
      while (ra.Next(&a)) {
        if (a.IsLen(kAttributes)) ws.attrs.AddField(a, &ws.scratch);
      }
      if (ra.error()) return false;
    }
    if (rr.error()) return false;

    proc_.Process(ws.attrs, metadata, &ws.scratch);
    if (!ws.attrs.changed()) continue;

    // The new resource: the other fields of every occurrence (their order keeps protobuf's
    // merge result), then the attributes, in the first occurrence's place; a resource-less
    // entry gets one at its start.
    size_t other_fields = 0;
    for (const WireField& occurrence : ws.fields) {
      WireReader ro(occurrence.payload);
      WireField o;
      while (ro.Next(&o)) {
        if (!o.IsLen(kAttributes)) other_fields += o.end - o.begin;
      }
    }
    const size_t content = other_fields + ws.attrs.EncodedSize(kAttributes);
    const size_t header_size =
        attraction::VarintSize(attraction::Tag(kResource, attraction::kWireLen)) +
        attraction::VarintSize(content);
    char* header = ws.scratch.Alloc(header_size);
    attraction::WriteVarint(
        attraction::WriteVarint(header, attraction::Tag(kResource, attraction::kWireLen)), content);

    const auto open = ws.editor.OpenField(rx);
    int64_t delta = static_cast<int64_t>(header_size + content);
    if (ws.fields.empty()) {
      ws.editor.Replace(rx.payload.data(), rx.payload.data());
    } else {
      ws.editor.Replace(ws.fields[0].begin, ws.fields[0].end);
    }
    ws.editor.Append(std::string_view(header, header_size));
    for (const WireField& occurrence : ws.fields) {
      WireReader ro(occurrence.payload);
      WireField o;
      while (ro.Next(&o)) {
        if (!o.IsLen(kAttributes)) ws.editor.Append(std::string_view(o.begin, o.end - o.begin));
      }
    }
    ws.attrs.Emit(kAttributes, &ws.editor, &ws.scratch);
    for (size_t i = 0; i < ws.fields.size(); ++i) {
      delta -= ws.fields[i].end - ws.fields[i].begin;
      if (i > 0) ws.editor.Replace(ws.fields[i].begin, ws.fields[i].end);
    }
    ws.editor.CloseField(open, delta, &ws.scratch);
  }
  return !r.error();
}

TelemetryPtr ResourceProcessor::Process(TelemetryPtr data) const {
  Workspace& ws = Workspace::ForThread();
  const std::string_view request = ws.Begin(*data);
  if (!Walk(request, data->metadata().get())) {
    // Not expected: receivers only pass on requests that passed the wire scan.
    if (uint64_t n = malformed_log_.Add(1)) {
      spdlog::warn("{}: {} malformed {} request(s) passed on unchanged", id_, n,
                   SignalName(signal_));
    }
    ws.editor.Reset({});
    return data;
  }
  return ws.Finish(std::move(data));
}

void ResourceProcessor::Consume(TelemetryPtr data, Completion done) {
  next_->Consume(Process(std::move(data)), std::move(done));
}

}  // namespace otlpd
