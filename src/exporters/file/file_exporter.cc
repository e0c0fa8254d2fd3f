#include "exporters/file/file_exporter.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/otlp_json.h"

namespace otlpd {

FileExporter::FileExporter(const CreateSettings& settings, const FileExporterConfig& config)
    : path_(config.path), file_(config.path, config.rotation, config.append), metrics_(settings) {}

absl::Status FileExporter::Start() {
  absl::Status s = file_.Open();
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat("file exporter: ", s.message()));
  }
  return absl::OkStatus();
}

void FileExporter::Shutdown(absl::Time deadline) { file_.Close(deadline); }

void FileExporter::Consume(TelemetryPtr data, Completion done) {
  // Encode outside the file's lock: it is the expensive part.
  std::string line = EncodeOtlpJson(data->message());
  line.push_back('\n');
  absl::Status s = file_.Write(line);
  if (!s.ok()) s = absl::Status(s.code(), absl::StrCat("file exporter: ", s.message()));
  metrics_.Record(data->signal(), data->ItemCount(), s);
  std::move(done)(std::move(s));
}

}  // namespace otlpd
