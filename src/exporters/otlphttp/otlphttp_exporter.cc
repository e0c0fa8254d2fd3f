#include "exporters/otlphttp/otlphttp_exporter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/compression.h"
#include "core/otlp_json.h"
#include "core/status.h"
#include "google/rpc/status.pb.h"

namespace otlpd {

namespace {

void InitCurlOnce() {
  static const bool initialized = [] {
    curl_global_init(CURL_GLOBAL_ALL);
    return true;
  }();
  (void)initialized;
}

// Decodes an OTLP response body (protobuf or JSON, per its Content-Type).
bool DecodeBody(const std::string& content_type, const std::string& body,
                google::protobuf::Message* out) {
  if (absl::StrContains(absl::AsciiStrToLower(content_type), "json")) {
    return DecodeOtlpJson(body, out).ok();
  }
  return out->ParseFromString(body);
}

template <class Response>
void ReadPartialSuccess(const std::string& content_type, const std::string& body,
                        SendResult* result, int64_t (*rejected)(const Response&)) {
  if (body.empty()) return;
  Response response;
  if (!DecodeBody(content_type, body, &response) || !response.has_partial_success()) return;
  result->rejected = static_cast<size_t>(std::max<int64_t>(0, rejected(response)));
  result->rejection_message = response.partial_success().error_message();
}

// A header line for curl_slist: "name: value", or "name;" for an empty value (curl would
// treat "name:" as "remove this header").
std::string CurlHeaderLine(const std::string& name, const std::string& value) {
  return value.empty() ? absl::StrCat(name, ";") : absl::StrCat(name, ": ", value);
}

// "https://host:port/path" -> {host, port}; port defaults by scheme.
bool SplitUrl(const std::string& url, std::string* host, std::string* port) {
  absl::string_view rest = url;
  std::string default_port = "80";
  if (absl::ConsumePrefix(&rest, "https://")) {
    default_port = "443";
  } else if (!absl::ConsumePrefix(&rest, "http://")) {
    return false;
  }
  absl::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  size_t colon = authority.rfind(':');
  if (colon != absl::string_view::npos && authority.find(']', colon) == absl::string_view::npos) {
    *host = std::string(authority.substr(0, colon));
    *port = std::string(authority.substr(colon + 1));
  } else {
    *host = std::string(authority);
    *port = default_port;
  }
  return true;
}

}  // namespace

// One keep-alive connection: a multi handle around one easy handle, so that a transfer
// can be abandoned when the exporter gives up (CancelAll).
struct OtlpHttpSender::Connection {
  CURL* easy = nullptr;
  CURLM* multi = nullptr;
  std::string body;  // reused request buffer
  std::string response;
  std::string retry_after;
  std::string content_type;
  curl_slist* connect_to = nullptr;
  char error[CURL_ERROR_SIZE] = {0};

  ~Connection() {
    if (multi) curl_multi_cleanup(multi);
    if (easy) curl_easy_cleanup(easy);
    if (connect_to) curl_slist_free_all(connect_to);
  }

  static size_t OnBody(char* data, size_t size, size_t n, void* self) {
    auto* conn = static_cast<Connection*>(self);
    // Error and partial-success bodies are small; do not buffer an endless one.
    if (conn->response.size() < (1 << 20)) conn->response.append(data, size * n);
    return size * n;
  }

  static size_t OnHeader(char* data, size_t size, size_t n, void* self) {
    auto* conn = static_cast<Connection*>(self);
    std::string_view line(data, size * n);
    if (line.rfind("HTTP/", 0) == 0) {  // a new response (after 100 Continue, say)
      conn->retry_after.clear();
      conn->content_type.clear();
    }
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name = absl::AsciiStrToLower(std::string(line.substr(0, colon)));
      std::string value(absl::StripAsciiWhitespace(std::string(line.substr(colon + 1))));
      if (name == "retry-after") conn->retry_after = std::move(value);
      if (name == "content-type") conn->content_type = std::move(value);
    }
    return size * n;
  }
};

std::optional<absl::Duration> ParseRetryAfter(std::string_view value, absl::Time now) {
  std::string v(absl::StripAsciiWhitespace(std::string(value)));
  if (v.empty()) return std::nullopt;
  int64_t seconds = 0;
  if (absl::SimpleAtoi(v, &seconds)) {
    if (seconds < 0) return std::nullopt;
    return absl::Seconds(seconds);
  }
  // HTTP-date, e.g. "Wed, 21 Oct 2015 07:28:00 GMT" (always GMT per RFC 9110).
  absl::string_view date = v;
  absl::ConsumeSuffix(&date, " GMT");
  absl::Time when;
  std::string err;
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S", date, absl::UTCTimeZone(), &when, &err)) {
    return std::nullopt;
  }
  return std::max(absl::ZeroDuration(), when - now);
}

OtlpHttpSender::OtlpHttpSender(std::string id, const OtlpHttpExporterConfig& config)
    : id_(std::move(id)), config_(config) {}

OtlpHttpSender::~OtlpHttpSender() {
  Shutdown();
  if (base_headers_) curl_slist_free_all(base_headers_);
}

absl::Status OtlpHttpSender::Start(Host* host) {
  InitCurlOnce();
  if (config_.authenticator) {
    if (host == nullptr) return absl::FailedPreconditionError("auth needs a host");
    absl::StatusOr<ClientAuthenticator*> auth = GetExtensionAs<ClientAuthenticator>(
        *host, *config_.authenticator, "a client authenticator");
    if (!auth.ok()) return auth.status();
    auth_ = *auth;
  }
  const bool json = config_.encoding == OtlpHttpEncoding::kJson;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(
      headers, json ? "Content-Type: application/json" : "Content-Type: application/x-protobuf");
  if (config_.compression != Compression::kNone) {
    headers = curl_slist_append(
        headers,
        absl::StrCat("Content-Encoding: ", std::string(CompressionName(config_.compression)))
            .c_str());
  }
  // No "Expect: 100-continue" round trip before large bodies.
  headers = curl_slist_append(headers, "Expect:");
  for (const auto& [name, value] : config_.headers) {
    headers = curl_slist_append(headers, CurlHeaderLine(name, value).c_str());
  }
  if (headers == nullptr) return absl::InternalError("curl_slist_append failed");
  base_headers_ = headers;
  return absl::OkStatus();
}

void OtlpHttpSender::CancelAll() { cancelled_.store(true, std::memory_order_release); }

void OtlpHttpSender::Shutdown() {
  absl::MutexLock lock(&mu_);
  idle_.clear();
}

std::unique_ptr<OtlpHttpSender::Connection> OtlpHttpSender::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
  }
  auto conn = std::make_unique<Connection>();
  conn->easy = curl_easy_init();
  conn->multi = curl_multi_init();
  if (!conn->easy || !conn->multi) return nullptr;
  CURL* h = conn->easy;
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "otlpd/" OTLPD_VERSION);
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // any response encoding curl knows
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Connection::OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, conn.get());
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &Connection::OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, conn.get());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, conn->error);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  const TlsClientSettings& tls = config_.tls;
  if (!tls.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, tls.ca_file.c_str());
  if (!tls.cert_file.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, tls.cert_file.c_str());
  if (!tls.key_file.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, tls.key_file.c_str());
  if (tls.insecure_skip_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  return conn;
}

void OtlpHttpSender::Release(std::unique_ptr<Connection> conn) {
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(conn));
}

SendResult OtlpHttpSender::Send(const Telemetry& data, SendContext* context, absl::Time deadline) {
  SendResult result;
  std::string url = config_.UrlFor(data.signal());
  if (url.empty()) {
    result.status = absl::FailedPreconditionError(
        absl::StrCat("no endpoint configured for ", std::string(SignalName(data.signal()))));
    return result;
  }
  if (cancelled_.load(std::memory_order_acquire)) {
    result.status = absl::CancelledError("exporter is shutting down");
    return result;
  }
  std::unique_ptr<Connection> conn = Acquire();
  if (!conn) {
    result.status = absl::UnavailableError("cannot create a libcurl handle");
    return result;
  }
  CURL* h = conn->easy;

  // The body: the encoding as it is for protobuf, compressed once per attempt.
  // The body: the encoding as it is for uncompressed protobuf; otherwise encoded and
  // compressed once for all attempts of this batch.
  std::string_view body;
  absl::optional<absl::string_view> flat;
  if (config_.encoding == OtlpHttpEncoding::kProto) flat = data.wire().TryFlat();
  if (flat && config_.compression == Compression::kNone) {
    body = std::string_view(flat->data(), flat->size());
  } else {
    if (context->prepared == nullptr) {
      std::string encoded;
      std::string_view input;
      if (config_.encoding == OtlpHttpEncoding::kJson) {
        encoded = EncodeOtlpJson(data.message());
        input = encoded;
      } else if (flat) {
        input = std::string_view(flat->data(), flat->size());
      } else {
        absl::CopyCordToString(data.wire(), &encoded);
        input = encoded;
      }
      if (config_.compression != Compression::kNone) {
        absl::StatusOr<std::string> c = Compress(config_.compression, input);
        if (!c.ok()) {
          Release(std::move(conn));
          result.status =
              absl::InternalError(absl::StrCat("compression failed: ", c.status().ToString()));
          return result;
        }
        encoded = *std::move(c);
      }
      context->prepared = std::make_shared<std::string>(std::move(encoded));
    }
    body = *static_cast<const std::string*>(context->prepared.get());
  }

  // Per-request headers: the authenticator's, on top of the fixed ones.
  curl_slist* headers = nullptr;
  for (curl_slist* it = base_headers_; it != nullptr; it = it->next) {
    headers = curl_slist_append(headers, it->data);
  }
  if (auth_ != nullptr) {
    absl::StatusOr<Metadata> extra = auth_->Headers(data.metadata().get());
    if (!extra.ok()) {
      curl_slist_free_all(headers);
      Release(std::move(conn));
      result.status =
          absl::UnavailableError(absl::StrCat("client authenticator: ", extra.status().message()));
      return result;
    }
    for (const auto& [name, value] : *extra) {
      headers = curl_slist_append(headers, CurlHeaderLine(name, value).c_str());
    }
  }

  // server_name_override: connect to the URL's host, but name (SNI, certificate check,
  // Host) the override.
  if (!config_.tls.server_name_override.empty() && conn->connect_to == nullptr) {
    std::string host, port;
    if (SplitUrl(url, &host, &port)) {
      conn->connect_to = curl_slist_append(
          nullptr,
          absl::StrCat(config_.tls.server_name_override, ":", port, ":", host, ":", port).c_str());
      curl_easy_setopt(h, CURLOPT_CONNECT_TO, conn->connect_to);
    }
  }
  if (!config_.tls.server_name_override.empty()) {
    std::string host, port;
    if (SplitUrl(url, &host, &port)) {
      const size_t at = url.find(host);
      url.replace(at, host.size(), config_.tls.server_name_override);
    }
  }

  conn->response.clear();
  conn->retry_after.clear();
  conn->content_type.clear();
  conn->error[0] = '\0';
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  long timeout_ms = 0;  // none
  if (deadline != absl::InfiniteFuture()) {
    timeout_ms =
        std::max<long>(1, static_cast<long>(absl::ToInt64Milliseconds(deadline - absl::Now())));
  }
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);

  // Drive the transfer ourselves so that CancelAll can interrupt it.
  CURLcode code = CURLE_OK;
  bool abandoned = false;
  curl_multi_add_handle(conn->multi, h);
  while (true) {
    int running = 0;
    if (curl_multi_perform(conn->multi, &running) != CURLM_OK) {
      code = CURLE_FAILED_INIT;
      break;
    }
    if (running == 0) {
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(conn->multi, &left)) {
        if (msg->msg == CURLMSG_DONE) code = msg->data.result;
      }
      break;
    }
    if (cancelled_.load(std::memory_order_acquire)) {
      abandoned = true;
      break;
    }
    curl_multi_poll(conn->multi, nullptr, 0, 50, nullptr);
  }
  curl_multi_remove_handle(conn->multi, h);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);

  if (abandoned) {
    // The connection is mid-request; do not reuse it.
    result.status = absl::CancelledError("exporter shut down while the request was in flight");
    return result;
  }
  if (code != CURLE_OK) {
    std::string message =
        absl::StrCat("POST ", url, ": ", conn->error[0] ? conn->error : curl_easy_strerror(code));
    switch (code) {
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
        result.status = absl::InvalidArgumentError(message);
        break;
      case CURLE_OPERATION_TIMEDOUT:
        result.status = absl::DeadlineExceededError(message);
        break;
      default:
        result.status = absl::UnavailableError(message);  // connection problems are retried
        break;
    }
  } else {
    long http_status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http_status);
    result = Response(data.signal(), *conn, http_status);
  }
  Release(std::move(conn));
  return result;
}

SendResult OtlpHttpSender::Response(Signal signal, const Connection& conn, long http_status) const {
  SendResult result;
  if (http_status >= 200 && http_status < 300) {
    switch (signal) {
      case Signal::kTraces:
        ReadPartialSuccess<opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse>(
            conn.content_type, conn.response, &result,
            [](const auto& r) { return r.partial_success().rejected_spans(); });
        break;
      case Signal::kMetrics:
        ReadPartialSuccess<
            opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceResponse>(
            conn.content_type, conn.response, &result,
            [](const auto& r) { return r.partial_success().rejected_data_points(); });
        break;
      case Signal::kLogs:
        ReadPartialSuccess<opentelemetry::proto::collector::logs::v1::ExportLogsServiceResponse>(
            conn.content_type, conn.response, &result,
            [](const auto& r) { return r.partial_success().rejected_log_records(); });
        break;
    }
    return result;
  }
  // Error bodies are a google.rpc.Status in the request's encoding (often plain text).
  std::string detail;
  google::rpc::Status rpc_status;
  if (!conn.response.empty() && DecodeBody(conn.content_type, conn.response, &rpc_status) &&
      !rpc_status.message().empty()) {
    detail = rpc_status.message();
  } else {
    detail = conn.response.substr(0, 256);
  }
  result.status = FromHttpStatus(static_cast<int>(http_status), detail,
                                 ParseRetryAfter(conn.retry_after, absl::Now()));
  return result;
}

}  // namespace otlpd
