#include "extensions/jaegerremotesampling/jaeger_remote_sampling_extension.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace otlpd {

namespace {

HttpResponse TextResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  response.body = std::move(body);
  return response;
}

size_t AppendToString(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// GET `url` (otelcol's file source also takes http:// and https:// URLs).
absl::StatusOr<std::string> Fetch(const std::string& url) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  std::string body;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &AppendToString);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(64 << 20));
  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  if (code != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat("cannot fetch ", url, ": ", curl_easy_strerror(code)));
  }
  if (status != 200) {
    return absl::UnavailableError(absl::StrCat("cannot fetch ", url, ": HTTP status ", status));
  }
  return body;
}

absl::StatusOr<std::string> ReadSource(const std::string& source) {
  if (absl::StartsWith(source, "http://") || absl::StartsWith(source, "https://")) {
    return Fetch(source);
  }
  std::ifstream in(source, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", source));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat("cannot read ", source));
  return text.str();
}

}  // namespace

JaegerRemoteSamplingExtension::JaegerRemoteSamplingExtension(
    const CreateSettings& settings, const JaegerRemoteSamplingConfig& config)
    : id_(settings.id.ToString()), config_(config) {
  if (config_.adaptive.has_value())
    adaptive_ = std::make_unique<AdaptiveSampler>(*config_.adaptive);
}

JaegerRemoteSamplingExtension::~JaegerRemoteSamplingExtension() { Shutdown(absl::Now()); }

absl::Status JaegerRemoteSamplingExtension::LoadFile() {
  absl::StatusOr<std::string> text = ReadSource(config_.file);
  if (!text.ok()) return text.status();
  {
    absl::MutexLock lock(&mu_);
    if (strategies_ != nullptr && *text == loaded_text_) return absl::OkStatus();
  }
  absl::StatusOr<SamplingStrategies> parsed = ParseSamplingStrategies(*text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(config_.file, ": ", parsed.status().message()));
  }
  auto strategies = std::make_shared<const SamplingStrategies>(std::move(*parsed));
  absl::MutexLock lock(&mu_);
  const bool reload = strategies_ != nullptr;
  strategies_ = std::move(strategies);
  loaded_text_ = std::move(*text);
  if (reload) spdlog::info("{}: reloaded the sampling strategies from {}", id_, config_.file);
  return absl::OkStatus();
}

absl::Status JaegerRemoteSamplingExtension::Start() {
  if (server_ != nullptr) return absl::OkStatus();
  if (!config_.file.empty()) {
    if (absl::Status status = LoadFile(); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(id_, ": source::file: ", status.message()));
    }
  }
  HttpServerOptions options;
  options.endpoint = config_.http_endpoint;
  options.max_body_bytes = 64 << 10;  // GETs carry no body
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(
      options,
      [this](HttpRequest&& request, HttpRespond respond) { std::move(respond)(Answer(request)); });
  if (!server.ok()) {
    return absl::Status(server.status().code(),
                        absl::StrCat(id_, ": cannot serve on ", config_.http_endpoint, ": ",
                                     server.status().message()));
  }
  server_ = std::move(*server);
  if (adaptive_ != nullptr || config_.reload_interval > absl::ZeroDuration()) {
    background_ = std::thread([this] { BackgroundLoop(); });
  }
  return absl::OkStatus();
}

void JaegerRemoteSamplingExtension::BackgroundLoop() {
  const absl::Duration interval =
      adaptive_ != nullptr ? adaptive_->calculation_interval() : config_.reload_interval;
  absl::Time last = absl::Now();
  std::string last_reload_error;
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithDeadline(absl::Condition(&stopping_), last + interval);
    if (stopping_) break;
    const absl::Time now = absl::Now();
    mu_.Unlock();
    if (adaptive_ != nullptr) {
      adaptive_->Recalculate(now - last);
    } else if (absl::Status status = LoadFile(); !status.ok()) {
      // Once per distinct problem, not every interval.
      if (status.message() != last_reload_error) {
        spdlog::warn("{}: {}; keeping the previous sampling strategies", id_,
                     std::string(status.message()));
        last_reload_error = std::string(status.message());
      }
    } else {
      last_reload_error.clear();
    }
    mu_.Lock();
    last = now;
  }
}

void JaegerRemoteSamplingExtension::Shutdown(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (background_.joinable()) background_.join();
  if (server_ != nullptr) {
    server_->Stop(deadline);
    server_.reset();
  }
}

void JaegerRemoteSamplingExtension::ObserveTraces(std::string_view service,
                                                  std::string_view operation, uint64_t traces) {
  if (adaptive_ != nullptr) adaptive_->ObserveTraces(service, operation, traces);
}

int JaegerRemoteSamplingExtension::port() const { return server_ != nullptr ? server_->port() : 0; }

HttpResponse JaegerRemoteSamplingExtension::Answer(const HttpRequest& request) const {
  if (request.path != "/sampling" && request.path != "/api/sampling") {
    return TextResponse(404, "404 page not found\n");
  }
  if (request.method != "GET") {
    HttpResponse response = TextResponse(405, "method not allowed: use GET\n");
    response.headers.emplace_back("Allow", "GET");
    return response;
  }
  const size_t count = request.ParamCount("service");
  if (count == 0) {
    return TextResponse(400, "'service' parameter must be provided\n");
  }
  if (count > 1) {
    return TextResponse(400, "'service' parameter must occur only once\n");
  }
  const std::string& service = *request.Param("service");
  HttpResponse response;
  response.headers.emplace_back("Content-Type", "application/json");
  if (adaptive_ != nullptr) {
    response.body = SamplingStrategyJson(adaptive_->StrategyFor(service));
  } else {
    std::shared_ptr<const SamplingStrategies> strategies;
    {
      absl::MutexLock lock(&mu_);
      strategies = strategies_;
    }
    if (strategies == nullptr) return TextResponse(503, "sampling strategies not loaded\n");
    response.body = SamplingStrategyJson(strategies->For(service));
  }
  return response;
}

}  // namespace otlpd
