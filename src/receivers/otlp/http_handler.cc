#include "receivers/otlp/http_handler.h"

#include <algorithm>
#include <climits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/compression.h"
#include "core/otlp_json.h"
#include "core/status.h"
#include "receivers/otlp/export_response.h"
#include "receivers/otlp/request_decoder.h"

namespace otlpd {

namespace {

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

// The body as one contiguous string (it already is, unless it came chunked).
std::string_view Flat(absl::Cord& body) {
  absl::string_view flat = body.Flatten();
  return std::string_view(flat.data(), flat.size());
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
  HttpResponse response;
  response.status = http_status;
  response.headers.emplace_back(
      "Content-Type", encoding == Encoding::kJson ? kJsonContentType : kProtobufContentType);
  response.body = StatusBody(code, message, encoding == Encoding::kJson);
  return response;
}

HttpResponse ResponseFor(Signal signal, Encoding encoding, const ExportResult& result) {
  if (result.status.ok()) {
    HttpResponse response;
    response.headers.emplace_back(
        "Content-Type", encoding == Encoding::kJson ? kJsonContentType : kProtobufContentType);
    response.body = ExportResponseBody(signal, result.rejected, encoding == Encoding::kJson);
    return response;
  }
  const int http_status = HttpStatusFor(result.status);
  HttpResponse response = StatusResponse(http_status, encoding, result.status.code(),
                                         std::string(result.status.message()));
  if (http_status == 503 || http_status == 429) {
    response.headers.emplace_back(
        "Retry-After", absl::StrCat(RetryAfterSeconds(result.status, kDefaultRetryAfter)));
  }
  return response;
}

}  // namespace

OtlpHttpHandler::OtlpHttpHandler(const OtlpHttpConfig& config, std::shared_ptr<ExportCore> core,
                                 const ServerAuthenticator* auth)
    : core_(std::move(core)),
      auth_(auth),
      cors_(config.cors),
      include_metadata_(config.include_metadata),
      paths_{config.traces_url_path, config.metrics_url_path, config.logs_url_path},
      max_body_size_(static_cast<size_t>(config.max_request_body_size)) {}

void OtlpHttpHandler::Handle(HttpRequest&& request, HttpRespond respond) const {
  if (!cors_.enabled()) return HandleExport(std::move(request), std::move(respond));
  std::vector<std::pair<std::string, std::string>> cors_headers;
  if (std::optional<HttpResponse> preflight = HandleCors(cors_, request, &cors_headers)) {
    return std::move(respond)(*std::move(preflight));
  }
  HandleExport(
      std::move(request), [respond = std::move(respond),
                           cors_headers = std::move(cors_headers)](HttpResponse response) mutable {
        response.headers.insert(response.headers.end(), cors_headers.begin(), cors_headers.end());
        std::move(respond)(std::move(response));
      });
}

void OtlpHttpHandler::HandleExport(HttpRequest&& request, HttpRespond respond) const {
  const std::string* content_type = request.Header("content-type");
  const std::string media = content_type != nullptr ? MediaType(*content_type) : "";
  if (auth_ != nullptr) {
    // Before anything else (as otelcol): an unauthenticated client learns nothing more.
    absl::Status allowed = auth_->Authenticate(request.headers);
    if (!allowed.ok()) {
      return std::move(respond)(
          StatusResponse(401, media == kProtobufContentType ? Encoding::kProtobuf : Encoding::kJson,
                         absl::StatusCode::kUnauthenticated, std::string(allowed.message())));
    }
  }
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

  Encoding encoding;
  if (media == kProtobufContentType) {
    encoding = Encoding::kProtobuf;
  } else if (media == kJsonContentType) {
    encoding = Encoding::kJson;
  } else {
    return std::move(respond)(
        PlainResponse(415, absl::StrCat("415 unsupported media type, supported: [",
                                        kJsonContentType, ", ", kProtobufContentType, "]")));
  }

  absl::Cord body = std::move(request.body);
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
      absl::StatusOr<std::string> inflated = Decompress(*compression, Flat(body), max_body_size_);
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
      body = absl::Cord(std::move(*inflated));
    }
  }
  if (body.size() > static_cast<size_t>(INT_MAX)) {
    return std::move(respond)(StatusResponse(413, encoding, absl::StatusCode::kResourceExhausted,
                                             "request body too large"));
  }

  absl::StatusOr<DecodedRequest> decoded = encoding == Encoding::kProtobuf
                                               ? DecodeProtobufRequest(signal, std::move(body))
                                               : DecodeJsonRequest(signal, Flat(body));
  if (!decoded.ok()) {
    return std::move(respond)(StatusResponse(400, encoding, absl::StatusCode::kInvalidArgument,
                                             std::string(decoded.status().message())));
  }
  // The JSON text is no longer needed; free it before the pipeline holds the request.
  body.Clear();
  if (include_metadata_) {
    decoded->data->set_metadata(std::make_shared<Metadata>(std::move(request.headers)));
  }
  core_->Export(OtlpTransport::kHttp, std::move(decoded->data), decoded->rejected,
                [signal, encoding, respond = std::move(respond)](ExportResult result) mutable {
                  std::move(respond)(ResponseFor(signal, encoding, result));
                });
}

}  // namespace otlpd
