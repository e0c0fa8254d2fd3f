#pragma once

#include <memory>
#include <string>

#include "core/auth.h"
#include "core/http_cors.h"
#include "core/http_server.h"
#include "receivers/otlp/config.h"
#include "receivers/otlp/export_core.h"

namespace otlpd {

// OTLP/HTTP (https://opentelemetry.io/docs/specs/otlp/#otlphttp) on top of HttpServer:
// POST of a protobuf or JSON Export*ServiceRequest, optionally compressed, to the signal's
// url path; the answer is encoded like the request. CORS preflights are answered before
// authentication (as otelcol), and every answer carries the CORS headers.
class OtlpHttpHandler {
 public:
  // `auth` (may be null) checks every request's headers before its body is read.
  OtlpHttpHandler(const OtlpHttpConfig& config, std::shared_ptr<ExportCore> core,
                  const ServerAuthenticator* auth);

  void Handle(HttpRequest&& request, HttpRespond respond) const;

 private:
  void HandleExport(HttpRequest&& request, HttpRespond respond) const;

  std::shared_ptr<ExportCore> core_;
  const ServerAuthenticator* const auth_;
  const CorsSettings cors_;
  const bool include_metadata_;
  std::string paths_[3];  // by Signal
  size_t max_body_size_;
};

}  // namespace otlpd
