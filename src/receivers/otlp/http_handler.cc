#include "receivers/otlp/http_handler.h"

#include <algorithm>
#include <climits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/compression.h"
#include "core/id_validation.h"
#include "core/otlp_json.h"
#include "core/status.h"
#include "google/rpc/status.pb.h"

namespace otlpd {

namespace {

using opentelemetry::proto::collector::logs::v1::ExportLogsServiceResponse;
using opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceResponse;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;

enum class Encoding { kProtobuf, kJson };

constexpr char kProtobufContentType[] = "application/x-protobuf";
constexpr char kJsonContentType[] = "application/json";

// "application/json; charset=utf-8" -> "application/json".
std::string MediaType(const std::string& content_type) {
  std::string media = content_type.substr(0, content_type.find(';'));
  absl::StripAsciiWhitespace(&media);
  absl::AsciiStrToLower(&media);
  return media;
}

std::string Encode(Encoding encoding, const google::protobuf::Message& message) {
  return encoding == Encoding::kJson ? EncodeOtlpJson(message) : message.SerializeAsString();
}

HttpResponse PlainResponse(int status, std::string text) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  response.body = std::move(text);
  response.body += "\n";
  return response;
}

// An error answer with a google.rpc.Status body in the request's encoding.
HttpResponse StatusResponse(int http_status, Encoding encoding, absl::StatusCode code,
                            std::string message) {
  google::rpc::Status status;
  status.set_code(static_cast<int32_t>(code));
  status.set_message(std::move(message));
  HttpResponse response;
  response.status = http_status;
  response.headers.emplace_back(
      "Content-Type", encoding == Encoding::kJson ? kJsonContentType : kProtobufContentType);
  response.body = Encode(encoding, status);
  return response;
}

HttpResponse SuccessResponse(Signal signal, Encoding encoding, size_t rejected) {
  HttpResponse response;
  response.headers.emplace_back(
      "Content-Type", encoding == Encoding::kJson ? kJsonContentType : kProtobufContentType);
  const int64_t n = static_cast<int64_t>(rejected);
  switch (signal) {
    case Signal::kTraces: {
      ExportTraceServiceResponse message;
      if (n > 0) {
        message.mutable_partial_success()->set_rejected_spans(n);
        message.mutable_partial_success()->set_error_message(
            RejectedItemsMessage(signal, rejected));
      }
      response.body = Encode(encoding, message);
      break;
    }
    case Signal::kMetrics: {
      ExportMetricsServiceResponse message;
      if (n > 0) {
        message.mutable_partial_success()->set_rejected_data_points(n);
        message.mutable_partial_success()->set_error_message(
            RejectedItemsMessage(signal, rejected));
      }
      response.body = Encode(encoding, message);
      break;
    }
    case Signal::kLogs: {
      ExportLogsServiceResponse message;
      if (n > 0) {
        message.mutable_partial_success()->set_rejected_log_records(n);
        message.mutable_partial_success()->set_error_message(
            RejectedItemsMessage(signal, rejected));
      }
      response.body = Encode(encoding, message);
      break;
    }
  }
  return response;
}

HttpResponse ResponseFor(Signal signal, Encoding encoding, const ExportResult& result) {
  if (result.status.ok()) return SuccessResponse(signal, encoding, result.rejected);
  const int http_status = HttpStatusFor(result.status);
  HttpResponse response = StatusResponse(http_status, encoding, result.status.code(),
                                         std::string(result.status.message()));
  if (http_status == 503 || http_status == 429) {
    const absl::Duration delay = RetryAfter(result.status).value_or(kDefaultRetryAfter);
    const int64_t seconds =
        std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(delay, absl::Seconds(1))));
    response.headers.emplace_back("Retry-After", absl::StrCat(seconds));
  }
  return response;
}

}  // namespace

OtlpHttpHandler::OtlpHttpHandler(const OtlpHttpConfig& config, std::shared_ptr<ExportCore> core)
    : core_(std::move(core)),
      paths_{config.traces_url_path, config.metrics_url_path, config.logs_url_path},
      max_body_size_(static_cast<size_t>(config.max_request_body_size)) {}

void OtlpHttpHandler::Handle(HttpRequest&& request, HttpRespond respond) const {
  int signal_index = -1;
  for (int i = 0; i < 3; ++i) {
    if (request.path == paths_[i]) {
      signal_index = i;
      break;
    }
  }
  if (signal_index < 0) return std::move(respond)(PlainResponse(404, "404 page not found"));
  const Signal signal = static_cast<Signal>(signal_index);
  if (request.method != "POST") {
    HttpResponse response =
        PlainResponse(405, absl::StrCat("405 method not allowed, supported: [POST]"));
    response.headers.emplace_back("Allow", "POST");
    return std::move(respond)(std::move(response));
  }
  if (!core_->HasConsumer(signal))
    return std::move(respond)(PlainResponse(404, "404 page not found"));

  const std::string* content_type = request.Header("content-type");
  Encoding encoding;
  const std::string media = content_type != nullptr ? MediaType(*content_type) : "";
  if (media == kProtobufContentType) {
    encoding = Encoding::kProtobuf;
  } else if (media == kJsonContentType) {
    encoding = Encoding::kJson;
  } else {
    return std::move(respond)(
        PlainResponse(415, absl::StrCat("415 unsupported media type, supported: [",
                                        kJsonContentType, ", ", kProtobufContentType, "]")));
  }

  std::string body = std::move(request.body);
  const std::string* content_encoding = request.Header("content-encoding");
  if (content_encoding != nullptr) {
    std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(*content_encoding));
    std::optional<Compression> compression = ParseCompression(name);
    if (!compression) {
      return std::move(respond)(
          StatusResponse(415, encoding, absl::StatusCode::kInvalidArgument,
                         absl::StrCat("unsupported Content-Encoding \"", *content_encoding, "\"")));
    }
    if (*compression != Compression::kNone) {
      absl::StatusOr<std::string> inflated = Decompress(*compression, body, max_body_size_);
      if (!inflated.ok()) {
        if (inflated.status().code() == absl::StatusCode::kResourceExhausted) {
          return std::move(respond)(
              StatusResponse(413, encoding, absl::StatusCode::kResourceExhausted,
                             absl::StrCat("request body exceeds max_request_body_size (",
                                          max_body_size_, " bytes) after decompression")));
        }
        return std::move(respond)(StatusResponse(
            400, encoding, absl::StatusCode::kInvalidArgument,
            absl::StrCat("cannot decompress the request body: ", inflated.status().message())));
      }
      body = std::move(*inflated);
    }
  }
  if (body.size() > static_cast<size_t>(INT_MAX)) {
    return std::move(respond)(StatusResponse(413, encoding, absl::StatusCode::kResourceExhausted,
                                             "request body too large"));
  }

  auto data = std::make_unique<Telemetry>(
      signal, std::max<size_t>(encoding == Encoding::kJson ? body.size() : 2 * body.size(), 1024));
  if (encoding == Encoding::kProtobuf) {
    if (!data->mutable_message()->ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      return std::move(respond)(
          StatusResponse(400, encoding, absl::StatusCode::kInvalidArgument,
                         "cannot decode the request body as an OTLP protobuf message"));
    }
  } else {
    absl::Status decoded = DecodeOtlpJson(body, data->mutable_message());
    if (!decoded.ok()) {
      return std::move(respond)(StatusResponse(
          400, encoding, absl::StatusCode::kInvalidArgument,
          absl::StrCat("cannot decode the request body as OTLP/JSON: ", decoded.message())));
    }
  }
  // The raw body is no longer needed; free it before the pipeline holds the request.
  std::string().swap(body);
  core_->Export(OtlpTransport::kHttp, std::move(data),
                [signal, encoding, respond = std::move(respond)](ExportResult result) mutable {
                  std::move(respond)(ResponseFor(signal, encoding, result));
                });
}

}  // namespace otlpd
