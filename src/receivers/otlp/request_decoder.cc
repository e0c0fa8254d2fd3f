#include "receivers/otlp/request_decoder.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "core/id_validation.h"
#include "core/otlp_json.h"
#include "core/otlp_wire.h"

namespace otlpd {

namespace {

// Spans whose summaries a receiver thread's scratch index may keep room for (~1.4 MB).
constexpr size_t kKeptIndexCapacity = 16384;

const google::protobuf::Descriptor* RequestDescriptor(Signal signal) {
  switch (signal) {
    case Signal::kTraces:
      return TracesRequest::descriptor();
    case Signal::kMetrics:
      return MetricsRequest::descriptor();
    case Signal::kLogs:
      return LogsRequest::descriptor();
  }
  return nullptr;
}

// The request's index, from the one the scan filled in the thread's `scratch`. A vector at
// most half empty is handed over whole (its 88 bytes per span are not copied) and the thread
// reserves a new one with a quarter more room, so that a slightly larger next request does
// not reallocate (copying them after all); a roomier one (a small request after a large one)
// is copied, so that a request does not carry a large one's capacity.
std::shared_ptr<const SpanIndex> TakeIndex(SpanIndex& scratch) {
  if (scratch.capacity() > 2 * scratch.size()) {
    return std::make_shared<const SpanIndex>(scratch.begin(), scratch.end());
  }
  const size_t size = scratch.size();
  auto taken = std::make_shared<const SpanIndex>(std::move(scratch));
  scratch = SpanIndex();
  scratch.reserve(std::min(size + size / 4, kKeptIndexCapacity));
  return taken;
}

// The protobuf encoding of a request, received (`what` = "as an OTLP protobuf message") or
// transcoded from OTLP/JSON (`what` = "body as OTLP/JSON"): checked by the wire scan and kept
// as it is, decoded here only when some items have invalid ids, to drop them.
absl::StatusOr<DecodedRequest> DecodeWire(Signal signal, absl::Cord wire, const char* what) {
  std::string flat_copy;
  absl::string_view flat;
  if (absl::optional<absl::string_view> f = wire.TryFlat()) {
    flat = *f;
  } else {
    absl::CopyCordToString(wire, &flat_copy);
    flat = flat_copy;
  }
  // The span index, when a processor reads it (see core/span_index.h). The scan fills this
  // thread's vector, which has room from the last request (a fresh vector growing span by
  // span reallocates about seven times per 100 spans), and the request takes it (TakeIndex).
  thread_local SpanIndex index_scratch;
  SpanIndex* index = nullptr;
  if (signal == Signal::kTraces && SpanIndexRequested()) index = &index_scratch;
  absl::StatusOr<WireScan> scan =
      ScanOtlpRequest(signal, std::string_view(flat.data(), flat.size()), index);
  absl::Cleanup trim_scratch = [&] {
    // A huge request's capacity is not kept for the thread's life.
    if (index != nullptr && index->capacity() > kKeptIndexCapacity) SpanIndex().swap(*index);
  };
  if (!scan.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot decode the request ", what, ": ", scan.status().message()));
  }
  DecodedRequest out;
  if (scan->invalid_items == 0) {
    out.data = Telemetry::FromWire(signal, std::move(wire), scan->items);
    if (index != nullptr) out.data->set_span_index(TakeIndex(*index));
    return out;
  }
  // Rare: some items have malformed ids. Decode, drop them, and let the rest be re-encoded
  // if an exporter needs the bytes.
  out.data = std::make_shared<Telemetry>(signal, std::max<size_t>(2 * flat.size(), 1024));
  if (!out.data->mutable_message()->ParseFromArray(flat.data(), static_cast<int>(flat.size()))) {
    return absl::InvalidArgumentError(absl::StrCat("cannot decode the request ", what));
  }
  const IdValidation ids = RemoveInvalidItems(out.data.get());
  out.data->SetItemCount(ids.kept);
  out.rejected = ids.rejected;
  return out;
}

}  // namespace

absl::StatusOr<DecodedRequest> DecodeProtobufRequest(Signal signal, absl::Cord wire) {
  return DecodeWire(signal, std::move(wire), "as an OTLP protobuf message");
}

absl::StatusOr<DecodedRequest> DecodeJsonRequest(Signal signal, std::string_view json) {
  // Straight to the protobuf encoding, several times faster than decoding into a message;
  // the message is then decoded only if a component needs it.
  absl::StatusOr<std::string> wire = TranscodeOtlpJson(json, RequestDescriptor(signal));
  if (!wire.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot decode the request body as OTLP/JSON: ", wire.status().message()));
  }
  // An exactly sized string: the Cord adopts it without a copy.
  return DecodeWire(signal, absl::Cord(std::move(*wire)), "body as OTLP/JSON");
}

}  // namespace otlpd
