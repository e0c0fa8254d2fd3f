#include "exporters/file/file_exporter.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/otlp_json.h"

namespace otlpd {

FileExporter::FileExporter(const CreateSettings& settings, const FileExporterConfig& config)
    : path_(config.path),
      flush_interval_(config.flush_interval),
      file_(config.path, config.rotation, config.append),
      metrics_(settings) {}

FileExporter::~FileExporter() { Shutdown(absl::Now()); }

absl::Status FileExporter::Start() {
  absl::Status s = file_.Open();
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat("file exporter: ", s.message()));
  }
  if (flush_interval_ > absl::ZeroDuration() && !writer_.joinable()) {
    {
      absl::MutexLock lock(&mu_);
      running_ = true;
    }
    writer_ = std::thread([this] { WriterLoop(); });
  }
  return absl::OkStatus();
}

void FileExporter::Shutdown(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    cv_.SignalAll();
  }
  // The writer writes what is buffered before it exits: every caller gets its answer.
  if (writer_.joinable()) writer_.join();
  file_.Close(deadline);
}

absl::Status FileExporter::WriteLine(const std::string& line) {
  absl::Status s = file_.Write(line);
  if (!s.ok()) s = absl::Status(s.code(), absl::StrCat("file exporter: ", s.message()));
  return s;
}

void FileExporter::Consume(TelemetryPtr data, Completion done) {
  // Encode outside any lock: it is the expensive part.
  std::string line = EncodeOtlpJson(data->message());
  line.push_back('\n');
  const Signal signal = data->signal();
  const size_t items = data->ItemCount();
  if (flush_interval_ == absl::ZeroDuration()) {
    absl::Status s = WriteLine(line);
    metrics_.Record(signal, items, s);
    std::move(done)(std::move(s));
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (running_ && !stopping_) {
      bool wake = false;
      // A line that would take the filling batch past kFlushBytes starts the next one.
      if (batches_.empty() || batches_.back().data.size() + line.size() > kFlushBytes) {
        batches_.push_back(Batch{{}, {}, absl::Now() + flush_interval_});
        wake = true;
      }
      Batch& batch = batches_.back();
      batch.data += line;
      batch.waiters.push_back(Waiter{signal, items, std::move(done)});
      if (wake || batch.data.size() >= kFlushBytes) cv_.Signal();
      return;
    }
  }
  absl::Status s =
      absl::FailedPreconditionError(absl::StrCat("file exporter: ", path_, " is not open"));
  metrics_.Record(signal, items, s);
  std::move(done)(std::move(s));
}

bool FileExporter::FrontDue() const {
  const Batch& front = batches_.front();
  return stopping_ || batches_.size() > 1 || front.data.size() >= kFlushBytes ||
         absl::Now() >= front.flush_at;
}

void FileExporter::WriterLoop() {
  absl::MutexLock lock(&mu_);
  while (true) {
    if (batches_.empty()) {
      if (stopping_) return;
      cv_.Wait(&mu_);
      continue;
    }
    if (!FrontDue()) {
      cv_.WaitWithDeadline(&mu_, batches_.front().flush_at);
      continue;
    }
    Batch batch = std::move(batches_.front());
    batches_.pop_front();
    // Write and complete without the lock, so that Consume never waits for the disk or
    // for a completion.
    mu_.Unlock();
    const absl::Status s = WriteLine(batch.data);
    for (Waiter& w : batch.waiters) {
      metrics_.Record(w.signal, w.items, s);
      std::move(w.done)(s);
    }
    batch = Batch();
    mu_.Lock();
  }
}

}  // namespace otlpd
