#include "app/log_format.h"

#include "absl/time/time.h"
#include "core/otlp_json.h"

namespace otlpd {

namespace {

std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "fatal";
    default:
      return "info";
  }
}

}  // namespace

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  const absl::Time ts = absl::FromChrono(msg.time);
  std::string line = "{\"level\":\"";
  line.append(LevelName(msg.level));
  line.append("\",\"ts\":\"");
  line.append(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", ts, absl::UTCTimeZone()));
  line.append("\",\"msg\":");
  AppendJsonString(std::string_view(msg.payload.data(), msg.payload.size()), &line);
  line.append("}\n");
  dest.append(line.data(), line.data() + line.size());
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>();
}

}  // namespace otlpd
