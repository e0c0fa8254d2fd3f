#include "exporters/edge_sync/dead_letter.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/signal.h"

namespace otlpd {

namespace {

absl::Status WriteFile(const std::string& path, const absl::Cord& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    for (absl::string_view chunk : bytes.Chunks())
      out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    out.flush();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot rename ", tmp, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace

absl::Status DeadLetterDir::Write(const Telemetry& data, const absl::Status& why, size_t rejected,
                                  const std::string& message) {
  std::error_code ec;
  std::filesystem::create_directories(directory_, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot create ", directory_, ": ", ec.message()));
  const std::string base =
      absl::StrCat(directory_, "/", absl::ToUnixNanos(absl::Now()), "-", seq_.fetch_add(1), ".",
                   std::string(SignalName(data.signal())));
  const std::string reason =
      absl::StrCat(why.ok() ? "partial success" : why.ToString(), "\nrejected items: ", rejected,
                   " of ", data.ItemCount(), "\nmessage: ", message, "\n");
  if (absl::Status s = WriteFile(base + ".txt", absl::Cord(reason)); !s.ok()) return s;
  return WriteFile(base + ".binpb", data.wire());
}

}  // namespace otlpd
