#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <string_view>

namespace otlpd {

// service.telemetry.logs.encoding: json. Formats every record as one JSON object per line,
// like otelcol's zap production encoder:
//   {"level":"info","ts":"2026-11-30T15:11:31.123Z","msg":"..."}
// level is zap's lower-case name, ts is ISO8601 in UTC with milliseconds; msg is escaped as
// every JSON string otlpd writes (AppendJsonString: valid JSON always, U+FFFD for bytes that
// are not well-formed UTF-8). Unlike zap there is no "caller" (our records carry no source
// location) and no "resource".
class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace otlpd
