#include "exporters/nop/nop_exporter.h"

#include <utility>

namespace otlpd {

NopExporter::NopExporter(const CreateSettings& settings) : metrics_(settings) {}

void NopExporter::Consume(TelemetryPtr data, Completion done) {
  metrics_.Record(data->signal(), data->ItemCount(), absl::OkStatus());
  data.reset();  // release it before acknowledging, as if it had been sent
  std::move(done)(absl::OkStatus());
}

}  // namespace otlpd
