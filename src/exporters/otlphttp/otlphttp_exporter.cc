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

constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();

absl::Time ShutdownDeadline(const std::atomic<int64_t>& ns) {
  const int64_t v = ns.load(std::memory_order_relaxed);
  return v == kNoDeadline ? absl::InfiniteFuture() : absl::FromUnixNanos(v);
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
void LogPartialSuccess(const std::string& id, const std::string& content_type,
                       const std::string& body, std::string_view item_name,
                       int64_t (*rejected)(const Response&)) {
  if (body.empty()) return;
  Response response;
  if (!DecodeBody(content_type, body, &response) || !response.has_partial_success()) return;
  const int64_t n = rejected(response);
  if (n == 0 && response.partial_success().error_message().empty()) return;
  spdlog::warn("exporter {}: upstream accepted the request partially: {} {} rejected: {}", id, n,
               item_name, response.partial_success().error_message());
}

absl::StatusCode CodeForHttpStatus(long status) {
  switch (status) {
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 502:
    case 503:
      return absl::StatusCode::kUnavailable;
    case 504:
      return absl::StatusCode::kDeadlineExceeded;
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 413:
      return absl::StatusCode::kInvalidArgument;
    default:
      // Not retried (otelcol retries only 429, 502, 503 and 504).
      return status >= 500 ? absl::StatusCode::kInternal : absl::StatusCode::kFailedPrecondition;
  }
}

}  // namespace

// One keep-alive connection: a multi handle around one easy handle, so that a transfer
// can be abandoned when the shutdown deadline passes.
struct OtlpHttpExporter::Connection {
  CURL* easy = nullptr;
  CURLM* multi = nullptr;
  std::string body;  // reused request buffer
  std::string response;
  std::string retry_after;
  std::string content_type;
  char error[CURL_ERROR_SIZE] = {0};

  ~Connection() {
    if (multi) curl_multi_cleanup(multi);
    if (easy) curl_easy_cleanup(easy);
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

OtlpHttpExporter::OtlpHttpExporter(const CreateSettings& settings,
                                   const OtlpHttpExporterConfig& config)
    : id_(settings.id.ToString()),
      config_(config),
      shutdown_deadline_ns_(kNoDeadline),
      sender_(
          id_, config.queue, config.retry, [this](const Telemetry& t) { return Export(t); },
          &settings.host->metrics()) {}

OtlpHttpExporter::~OtlpHttpExporter() {
  bool stopped;
  {
    absl::MutexLock lock(&mu_);
    stopped = stopped_;
  }
  if (!stopped) Shutdown(absl::Now());
  if (request_headers_) curl_slist_free_all(request_headers_);
}

absl::Status OtlpHttpExporter::Start() {
  InitCurlOnce();
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
    headers = curl_slist_append(headers, absl::StrCat(name, ": ", value).c_str());
  }
  if (headers == nullptr) return absl::InternalError("curl_slist_append failed");
  request_headers_ = headers;
  sender_.Start();
  return absl::OkStatus();
}

void OtlpHttpExporter::Shutdown(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  // Transfers in flight watch this and give up when it passes.
  shutdown_deadline_ns_.store(
      deadline == absl::InfiniteFuture() ? kNoDeadline : absl::ToUnixNanos(deadline),
      std::memory_order_relaxed);
  sender_.Shutdown(deadline);
  absl::MutexLock lock(&mu_);
  idle_.clear();
}

void OtlpHttpExporter::Consume(TelemetryPtr data, Completion done) {
  sender_.Submit(std::move(data), std::move(done));
}

std::unique_ptr<OtlpHttpExporter::Connection> OtlpHttpExporter::Acquire() {
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
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, request_headers_);
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

void OtlpHttpExporter::Release(std::unique_ptr<Connection> conn) {
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(conn));
}

absl::Status OtlpHttpExporter::Export(const Telemetry& data) {
  const std::string& url = config_.UrlFor(data.signal());
  if (url.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no endpoint configured for ", std::string(SignalName(data.signal()))));
  }
  std::unique_ptr<Connection> conn = Acquire();
  if (!conn) return absl::UnavailableError("cannot create a libcurl handle");

  if (config_.encoding == OtlpHttpEncoding::kJson) {
    conn->body = EncodeOtlpJson(data.message());
  } else if (!data.message().SerializeToString(&conn->body)) {
    Release(std::move(conn));
    return absl::InvalidArgumentError("cannot serialize the request");
  }
  std::string compressed;
  const std::string* body = &conn->body;
  if (config_.compression != Compression::kNone) {
    absl::StatusOr<std::string> c = Compress(config_.compression, conn->body);
    if (!c.ok()) {
      Release(std::move(conn));
      return absl::InternalError(absl::StrCat("compression failed: ", c.status().ToString()));
    }
    compressed = *std::move(c);
    body = &compressed;
  }

  const absl::Time shutdown_deadline = ShutdownDeadline(shutdown_deadline_ns_);
  absl::Time deadline = shutdown_deadline;
  if (config_.timeout > absl::ZeroDuration()) {
    deadline = std::min(deadline, absl::Now() + config_.timeout);
  }
  CURL* h = conn->easy;
  conn->response.clear();
  conn->retry_after.clear();
  conn->content_type.clear();
  conn->error[0] = '\0';
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  long timeout_ms = 0;  // none
  if (deadline != absl::InfiniteFuture()) {
    timeout_ms =
        std::max<long>(1, static_cast<long>(absl::ToInt64Milliseconds(deadline - absl::Now())));
  }
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);

  // Drive the transfer ourselves so that Shutdown's deadline can interrupt it.
  CURLcode result = CURLE_OK;
  bool abandoned = false;
  curl_multi_add_handle(conn->multi, h);
  while (true) {
    int running = 0;
    if (curl_multi_perform(conn->multi, &running) != CURLM_OK) {
      result = CURLE_FAILED_INIT;
      break;
    }
    if (running == 0) {
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(conn->multi, &left)) {
        if (msg->msg == CURLMSG_DONE) result = msg->data.result;
      }
      break;
    }
    const absl::Time stop = ShutdownDeadline(shutdown_deadline_ns_);
    const absl::Time now = absl::Now();
    if (now >= stop) {
      abandoned = true;
      break;
    }
    const int wait_ms =
        static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(stop - now), 0, 99) + 1);
    curl_multi_poll(conn->multi, nullptr, 0, wait_ms, nullptr);
  }
  curl_multi_remove_handle(conn->multi, h);

  if (abandoned) {
    // The connection is mid-request; do not reuse it.
    return absl::CancelledError("exporter shut down while the request was in flight");
  }
  absl::Status status;
  if (result != CURLE_OK) {
    std::string message =
        absl::StrCat("POST ", url, ": ", conn->error[0] ? conn->error : curl_easy_strerror(result));
    switch (result) {
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
        status = absl::InvalidArgumentError(message);
        break;
      case CURLE_OPERATION_TIMEDOUT:
        status = absl::DeadlineExceededError(message);
        break;
      default:
        status = absl::UnavailableError(message);  // connection problems are retried
        break;
    }
  } else {
    long http_status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http_status);
    status = Response(data, *conn, http_status);
  }
  Release(std::move(conn));
  return status;
}

absl::Status OtlpHttpExporter::Response(const Telemetry& data, const Connection& conn,
                                        long http_status) const {
  if (http_status >= 200 && http_status < 300) {
    switch (data.signal()) {
      case Signal::kTraces:
        LogPartialSuccess<opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse>(
            id_, conn.content_type, conn.response, "spans",
            [](const auto& r) { return r.partial_success().rejected_spans(); });
        break;
      case Signal::kMetrics:
        LogPartialSuccess<
            opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceResponse>(
            id_, conn.content_type, conn.response, "metric points",
            [](const auto& r) { return r.partial_success().rejected_data_points(); });
        break;
      case Signal::kLogs:
        LogPartialSuccess<opentelemetry::proto::collector::logs::v1::ExportLogsServiceResponse>(
            id_, conn.content_type, conn.response, "log records",
            [](const auto& r) { return r.partial_success().rejected_log_records(); });
        break;
    }
    return absl::OkStatus();
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
  absl::Status status(
      CodeForHttpStatus(http_status),
      absl::StrCat("upstream answered HTTP ", http_status, detail.empty() ? "" : ": ", detail));
  const bool retryable =
      http_status == 429 || http_status == 502 || http_status == 503 || http_status == 504;
  if (retryable) {
    if (std::optional<absl::Duration> after = ParseRetryAfter(conn.retry_after, absl::Now())) {
      status = WithRetryAfter(std::move(status), *after);
    }
  }
  return status;
}

}  // namespace otlpd
