#pragma once

#include <memory>
#include <string>

#include "core/http_server.h"
#include "receivers/otlp/config.h"
#include "receivers/otlp/export_core.h"

namespace otlpd {

// OTLP/HTTP (https://opentelemetry.io/docs/specs/otlp/#otlphttp) on top of HttpServer:
// POST of a protobuf or JSON Export*ServiceRequest, optionally compressed, to the signal's
// url path; the answer is encoded like the request.
class OtlpHttpHandler {
 public:
  OtlpHttpHandler(const OtlpHttpConfig& config, std::shared_ptr<ExportCore> core);

  void Handle(HttpRequest&& request, HttpRespond respond) const;

 private:
  std::shared_ptr<ExportCore> core_;
  std::string paths_[3];  // by Signal
  size_t max_body_size_;
};

}  // namespace otlpd
