#include "receivers/otlp/request_decoder.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/id_validation.h"
#include "core/otlp_json.h"
#include "core/otlp_wire.h"

namespace otlpd {

absl::StatusOr<DecodedRequest> DecodeProtobufRequest(Signal signal, absl::Cord wire) {
  std::string flat_copy;
  absl::string_view flat;
  if (absl::optional<absl::string_view> f = wire.TryFlat()) {
    flat = *f;
  } else {
    absl::CopyCordToString(wire, &flat_copy);
    flat = flat_copy;
  }
  absl::StatusOr<WireScan> scan =
      ScanOtlpRequest(signal, std::string_view(flat.data(), flat.size()));
  if (!scan.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot decode the request as an OTLP protobuf message: ", scan.status().message()));
  }
  DecodedRequest out;
  if (scan->invalid_items == 0) {
    out.data = Telemetry::FromWire(signal, std::move(wire), scan->items);
    return out;
  }
  // Rare: some items have malformed ids. Decode, drop them, and let the rest be re-encoded
  // if an exporter needs the bytes.
  out.data = std::make_shared<Telemetry>(signal, std::max<size_t>(2 * flat.size(), 1024));
  if (!out.data->mutable_message()->ParseFromArray(flat.data(), static_cast<int>(flat.size()))) {
    return absl::InvalidArgumentError("cannot decode the request as an OTLP protobuf message");
  }
  const IdValidation ids = RemoveInvalidItems(out.data.get());
  out.data->SetItemCount(ids.kept);
  out.rejected = ids.rejected;
  return out;
}

absl::StatusOr<DecodedRequest> DecodeJsonRequest(Signal signal, std::string_view json) {
  DecodedRequest out;
  out.data = std::make_shared<Telemetry>(signal, std::max<size_t>(json.size(), 1024));
  absl::Status decoded = DecodeOtlpJson(json, out.data->mutable_message());
  if (!decoded.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot decode the request body as OTLP/JSON: ", decoded.message()));
  }
  const IdValidation ids = RemoveInvalidItems(out.data.get());
  out.data->SetItemCount(ids.kept);
  out.rejected = ids.rejected;
  return out;
}

}  // namespace otlpd
