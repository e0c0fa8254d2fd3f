#include "storage/s3_client.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace otlpd::storage {
namespace {

// Debian's Abseil has its own string_view type, not std::string_view: convert at the calls.
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

namespace s3_internal {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";
constexpr char kHexLower[] = "0123456789abcdef";

bool Unreserved(unsigned char c) {
  return absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

std::string HexLower(const unsigned char* data, size_t n) {
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHexLower[data[i] >> 4]);
    out.push_back(kHexLower[data[i] & 0xf]);
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

// SigV4 wants header values trimmed and inner runs of spaces collapsed to one.
std::string CanonicalHeaderValue(std::string_view v) {
  while (!v.empty() && absl::ascii_isspace(v.front())) v.remove_prefix(1);
  while (!v.empty() && absl::ascii_isspace(v.back())) v.remove_suffix(1);
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out.push_back(c);
  }
  return out;
}

// Lower-cased names, sorted; values of a repeated name joined with ','.
std::vector<std::pair<std::string, std::string>> CanonicalHeaders(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::vector<std::pair<std::string, std::string>> sorted;
  for (const auto& [name, value] : headers) {
    sorted.emplace_back(absl::AsciiStrToLower(name), CanonicalHeaderValue(value));
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<std::string, std::string>> merged;
  for (auto& h : sorted) {
    if (!merged.empty() && merged.back().first == h.first) {
      absl::StrAppend(&merged.back().second, ",", h.second);
    } else {
      merged.push_back(std::move(h));
    }
  }
  return merged;
}

std::string SignedHeaderNames(const std::vector<std::pair<std::string, std::string>>& canonical) {
  return absl::StrJoin(canonical, ";",
                       [](std::string* out, const auto& h) { out->append(h.first); });
}

std::string Scope(const SigningInput& in) {
  return absl::StrCat(in.amz_date.substr(0, 8), "/", in.region, "/", in.service, "/aws4_request");
}

// Appends the UTF-8 encoding of code point `cp`; false when it is not a valid scalar value.
bool AppendUtf8(uint32_t cp, std::string* out) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return true;
}

// Decodes the entity body between '&' and ';' (e.g. "amp", "#x41") into `out`.
bool AppendEntity(std::string_view name, std::string* out) {
  static constexpr std::pair<std::string_view, char> kNamed[] = {
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
  for (const auto& [n, c] : kNamed) {
    if (name == n) {
      out->push_back(c);
      return true;
    }
  }
  if (name.size() < 2 || name[0] != '#') return false;
  uint32_t cp = 0;
  bool ok = (name[1] == 'x' || name[1] == 'X') ? absl::SimpleHexAtoi(Av(name.substr(2)), &cp)
                                               : absl::SimpleAtoi(Av(name.substr(1)), &cp);
  return ok && AppendUtf8(cp, out);
}

// The text of the first <tag>...</tag> at or after `*pos` (attributes on the opening tag
// allowed), still escaped; advances `*pos` past the closing tag. nullopt if none.
std::optional<std::string_view> NextElement(std::string_view xml, std::string_view tag,
                                            size_t* pos) {
  const std::string open = absl::StrCat("<", Av(tag));
  const std::string close = absl::StrCat("</", Av(tag), ">");
  size_t at = *pos;
  while ((at = xml.find(open, at)) != std::string_view::npos) {
    size_t after = at + open.size();
    if (after < xml.size() && (xml[after] == '>' || xml[after] == ' ' || xml[after] == '/')) break;
    at = after;  // a longer tag name with the same start (e.g. <KeyCount> for <Key>)
  }
  if (at == std::string_view::npos) return std::nullopt;
  size_t gt = xml.find('>', at);
  if (gt == std::string_view::npos) return std::nullopt;
  if (xml[gt - 1] == '/') {  // <Tag/>: empty
    *pos = gt + 1;
    return xml.substr(gt, 0);
  }
  size_t end = xml.find(close, gt + 1);
  if (end == std::string_view::npos) return std::nullopt;
  *pos = end + close.size();
  return xml.substr(gt + 1, end - gt - 1);
}

std::optional<std::string> ElementText(std::string_view xml, std::string_view tag) {
  size_t pos = 0;
  auto text = NextElement(xml, tag, &pos);
  if (!text.has_value()) return std::nullopt;
  return XmlUnescape(*text);
}

}  // namespace

std::string UriEncode(std::string_view s, bool keep_slash) {
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (Unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return HexLower(md, len);
}

std::string CanonicalQuery(std::vector<std::pair<std::string, std::string>> params) {
  for (auto& [name, value] : params) {
    name = UriEncode(name, false);
    value = UriEncode(value, false);
  }
  std::sort(params.begin(), params.end());
  return absl::StrJoin(params, "&", [](std::string* out, const auto& p) {
    absl::StrAppend(out, p.first, "=", p.second);
  });
}

std::string CanonicalRequest(const SigningInput& in) {
  const auto headers = CanonicalHeaders(in.headers);
  std::string out = absl::StrCat(in.method, "\n", in.canonical_uri, "\n", in.canonical_query, "\n");
  for (const auto& [name, value] : headers) absl::StrAppend(&out, name, ":", value, "\n");
  absl::StrAppend(&out, "\n", SignedHeaderNames(headers), "\n", in.payload_sha256);
  return out;
}

std::string StringToSign(const SigningInput& in) {
  return absl::StrCat("AWS4-HMAC-SHA256\n", in.amz_date, "\n", Scope(in), "\n",
                      Sha256Hex(CanonicalRequest(in)));
}

std::string Authorization(const SigningInput& in, std::string_view access_key,
                          std::string_view secret_key) {
  std::string key = HmacSha256(absl::StrCat("AWS4", Av(secret_key)), in.amz_date.substr(0, 8));
  key = HmacSha256(key, in.region);
  key = HmacSha256(key, in.service);
  key = HmacSha256(key, "aws4_request");
  const std::string mac = HmacSha256(key, StringToSign(in));
  const std::string signature =
      HexLower(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
  return absl::StrCat("AWS4-HMAC-SHA256 Credential=", Av(access_key), "/", Scope(in),
                      ",SignedHeaders=", SignedHeaderNames(CanonicalHeaders(in.headers)),
                      ",Signature=", signature);
}

std::string XmlUnescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    size_t amp = s.find('&', i);
    if (amp == std::string_view::npos) break;
    out.append(s.substr(i, amp - i));
    size_t semi = s.find(';', amp + 1);
    // Entities are short; a far ';' means this '&' is literal.
    if (semi != std::string_view::npos && semi - amp <= 10 &&
        AppendEntity(s.substr(amp + 1, semi - amp - 1), &out)) {
      i = semi + 1;
    } else {
      out.push_back('&');
      i = amp + 1;
    }
  }
  out.append(s.substr(std::min(i, s.size())));
  return out;
}

absl::StatusOr<ListPage> ParseListObjectsV2(std::string_view xml) {
  if (!absl::StrContains(Av(xml), "<ListBucketResult")) {
    return absl::InternalError("S3 ListObjectsV2: response is not a ListBucketResult");
  }
  ListPage page;
  size_t pos = 0;
  while (auto contents = NextElement(xml, "Contents", &pos)) {
    auto key = ElementText(*contents, "Key");
    auto size = ElementText(*contents, "Size");
    S3Object object;
    if (!key.has_value() || !size.has_value() || !absl::SimpleAtoi(*size, &object.size)) {
      return absl::InternalError("S3 ListObjectsV2: <Contents> without a valid Key and Size");
    }
    object.key = std::move(*key);
    page.objects.push_back(std::move(object));
  }
  // Safe to search the whole document: '<' inside keys is always escaped.
  page.truncated = ElementText(xml, "IsTruncated").value_or("false") == "true";
  page.next_token = ElementText(xml, "NextContinuationToken").value_or("");
  if (page.truncated && page.next_token.empty()) {
    return absl::InternalError("S3 ListObjectsV2: truncated without NextContinuationToken");
  }
  return page;
}

}  // namespace s3_internal

namespace {

using s3_internal::UriEncode;

constexpr size_t kMaxIdleHandles = 16;
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(100);
constexpr absl::Duration kMaxBackoff = absl::Seconds(2);
constexpr absl::Duration kMaxConnectTimeout = absl::Seconds(10);

void GlobalInitCurl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t AppendBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// Keeps the Content-Range header (the only response header we need besides the length).
size_t KeepContentRange(char* data, size_t size, size_t n, void* user) {
  std::string_view line(data, size * n);
  constexpr std::string_view kName = "content-range:";
  if (line.size() > kName.size() &&
      absl::EqualsIgnoreCase(Av(line.substr(0, kName.size())), Av(kName))) {
    line.remove_prefix(kName.size());
    while (!line.empty() && absl::ascii_isspace(line.front())) line.remove_prefix(1);
    while (!line.empty() && absl::ascii_isspace(line.back())) line.remove_suffix(1);
    *static_cast<std::string*>(user) = std::string(line);
  }
  return size * n;
}

struct Upload {
  std::string_view rest;
};

size_t ReadBody(char* buffer, size_t size, size_t n, void* user) {
  auto* upload = static_cast<Upload*>(user);
  size_t len = std::min(size * n, upload->rest.size());
  memcpy(buffer, upload->rest.data(), len);
  upload->rest.remove_prefix(len);
  return len;
}

void SetMethod(CURL* h, const std::string& method, Upload* upload) {
  if (method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &ReadBody);
    curl_easy_setopt(h, CURLOPT_READDATA, upload);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload->rest.size()));
  } else if (method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
}

// The <Code> and <Message> of an S3 error body, for status messages.
std::string ErrorDetail(const std::string& body) {
  auto code = s3_internal::ElementText(body, "Code");
  auto message = s3_internal::ElementText(body, "Message");
  if (!code.has_value() && !message.has_value()) return "";
  return absl::StrCat(": ", code.value_or("?"), ": ", message.value_or(""));
}

bool Retryable(long status) { return status == 429 || status >= 500; }

// Transport errors that another attempt cannot fix: a bad URL or TLS setup.
bool PermanentCurlError(CURLcode code) {
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_FAILED_INIT:
      return true;
    default:
      return false;
  }
}

}  // namespace

struct S3Client::Request {
  Request(std::string method, std::string path, std::string what)
      : method(std::move(method)), path(std::move(path)), what(std::move(what)) {}

  std::string method;
  std::string path;                                          // encoded canonical URI
  std::string what;                                          // for messages: "GET key"
  std::vector<std::pair<std::string, std::string>> query;    // not encoded
  std::vector<std::pair<std::string, std::string>> headers;  // signed, besides the standard
  std::string_view body;
};

struct S3Client::Response {
  CURLcode code = CURLE_OK;
  std::string curl_error;
  long status = 0;
  std::string body;
  int64_t content_length = -1;
  std::string content_range;  // "bytes FIRST-LAST/TOTAL" of a 206
};

absl::StatusOr<std::unique_ptr<S3Client>> S3Client::Create(const S3Config& config) {
  std::string_view rest = config.endpoint;
  const std::string lower = absl::AsciiStrToLower(config.endpoint);
  std::string scheme;
  if (absl::StartsWith(lower, "http://")) {
    scheme = "http://";
  } else if (absl::StartsWith(lower, "https://")) {
    scheme = "https://";
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "s3.endpoint: must start with http:// or https://, got \"", config.endpoint, "\""));
  }
  rest.remove_prefix(scheme.size());
  const size_t slash = rest.find('/');
  const std::string host(rest.substr(0, slash));
  std::string base_path(slash == std::string_view::npos ? "" : rest.substr(slash));
  while (!base_path.empty() && base_path.back() == '/') base_path.pop_back();
  if (host.empty() || absl::StrContains(config.endpoint, "?") ||
      absl::StrContains(config.endpoint, "#") || absl::StrContains(host, "@")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "s3.endpoint: expected scheme://host[:port][/path], got \"", config.endpoint, "\""));
  }
  if (config.bucket.empty()) return absl::InvalidArgumentError("s3.bucket: must not be empty");
  if (config.region.empty()) return absl::InvalidArgumentError("s3.region: must not be empty");
  if (config.access_key.empty()) {
    return absl::InvalidArgumentError("s3.access_key: must not be empty");
  }
  if (config.secret_key.empty()) {
    return absl::InvalidArgumentError("s3.secret_key: must not be empty");
  }
  if (config.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("s3.timeout: must be positive");
  }
  if (config.max_attempts < 1) {
    return absl::InvalidArgumentError("s3.max_attempts: must be at least 1");
  }
  GlobalInitCurl();
  return std::unique_ptr<S3Client>(
      new S3Client(config, scheme + host, absl::AsciiStrToLower(host), std::move(base_path)));
}

S3Client::S3Client(S3Config config, std::string origin, std::string host, std::string base_path)
    : config_(std::move(config)),
      origin_(std::move(origin)),
      host_(std::move(host)),
      base_path_(std::move(base_path)),
      key_prefix_(config_.prefix.empty() || absl::EndsWith(config_.prefix, "/")
                      ? config_.prefix
                      : config_.prefix + "/") {}

S3Client::~S3Client() {
  absl::MutexLock lock(&mu_);
  for (CURL* h : idle_) curl_easy_cleanup(h);
}

std::string S3Client::BucketPath() const {
  return absl::StrCat(base_path_, "/", UriEncode(config_.bucket, false));
}

absl::StatusOr<std::string> S3Client::ObjectPath(std::string_view key) const {
  if (key.empty()) return absl::InvalidArgumentError("S3: empty object key");
  return absl::StrCat(BucketPath(), "/", UriEncode(absl::StrCat(key_prefix_, Av(key)), true));
}

CURL* S3Client::AcquireHandle() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      CURL* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void S3Client::ReleaseHandle(CURL* handle) {
  absl::MutexLock lock(&mu_);
  if (idle_.size() < kMaxIdleHandles) {
    idle_.push_back(handle);
    return;
  }
  curl_easy_cleanup(handle);
}

curl_slist* S3Client::SignedHeaders(const Request& request, const std::string& query) const {
  s3_internal::SigningInput sign;
  sign.method = request.method;
  sign.canonical_uri = request.path;
  sign.canonical_query = query;
  sign.payload_sha256 = s3_internal::Sha256Hex(request.body);
  sign.amz_date = absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone());
  sign.region = config_.region;
  sign.headers = request.headers;
  sign.headers.emplace_back("host", host_);
  sign.headers.emplace_back("x-amz-date", sign.amz_date);
  sign.headers.emplace_back("x-amz-content-sha256", sign.payload_sha256);

  curl_slist* list = nullptr;
  for (const auto& [name, value] : sign.headers) {
    list = curl_slist_append(list, absl::StrCat(name, ": ", value).c_str());
  }
  const std::string authorization =
      s3_internal::Authorization(sign, config_.access_key, config_.secret_key);
  list = curl_slist_append(list, absl::StrCat("Authorization: ", authorization).c_str());
  // No 100-continue round trip; no default Accept that could confuse S3.
  list = curl_slist_append(list, "Expect:");
  return curl_slist_append(list, "Accept:");
}

S3Client::Response S3Client::PerformOnce(const Request& request) {
  Response response;
  CURL* h = AcquireHandle();
  if (h == nullptr) {
    response.code = CURLE_FAILED_INIT;
    response.curl_error = "curl_easy_init failed";
    return response;
  }
  // Keeps the handle's connection cache, drops every option of the previous call.
  curl_easy_reset(h);

  const std::string query = s3_internal::CanonicalQuery(request.query);
  const std::string url = absl::StrCat(origin_, request.path, query.empty() ? "" : "?", query);
  curl_slist* header_list = SignedHeaders(request, query);
  Upload upload{request.body};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  // Keys like "a/../b" must reach the server as signed, not normalized by curl.
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(config_.timeout)));
  curl_easy_setopt(
      h, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(absl::ToInt64Milliseconds(std::min(config_.timeout, kMaxConnectTimeout))));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &KeepContentRange);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &response.content_range);
  SetMethod(h, request.method, &upload);

  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  response.code = curl_easy_perform(h);
  if (response.code != CURLE_OK) {
    response.curl_error = error[0] != '\0' ? error : curl_easy_strerror(response.code);
  } else {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    curl_off_t length = -1;
    curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    response.content_length = length;
  }
  // The handle outlives this frame's buffers: detach them before pooling it.
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(header_list);
  ReleaseHandle(h);
  return response;
}

absl::StatusOr<S3Client::Response> S3Client::Execute(const Request& request) {
  std::string last_error;
  absl::Duration backoff = kFirstBackoff;
  for (int attempt = 1; attempt <= config_.max_attempts; ++attempt) {
    if (attempt > 1) {
      // Jitter keeps many writers that failed together from retrying together.
      thread_local std::minstd_rand gen(std::random_device{}());
      absl::SleepFor(backoff * std::uniform_real_distribution<double>(0.5, 1.0)(gen));
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
    Response response = PerformOnce(request);
    if (PermanentCurlError(response.code)) {
      return absl::FailedPreconditionError(
          absl::StrCat("S3 ", request.what, ": ", response.curl_error));
    }
    if (response.code != CURLE_OK) {
      last_error = response.curl_error;
    } else if (Retryable(response.status)) {
      last_error = absl::StrCat("HTTP ", response.status, ErrorDetail(response.body));
    } else {
      return response;
    }
  }
  return absl::UnavailableError(absl::StrCat("S3 ", request.what, ": failed after ",
                                             config_.max_attempts, " attempts: ", last_error));
}

namespace {

// Maps a final non-2xx answer to a status (see the class comment).
absl::Status HttpError(long status, const std::string& body, std::string_view what) {
  const std::string message = absl::StrCat("S3 ", Av(what), ": HTTP ", status, ErrorDetail(body));
  switch (status) {
    case 404:
      return absl::NotFoundError(message);
    case 401:
    case 403:
      return absl::PermissionDeniedError(message);
    case 416:
      return absl::OutOfRangeError(message);
    default:
      return status >= 400 && status < 500 ? absl::InvalidArgumentError(message)
                                           : absl::UnknownError(message);
  }
}

bool Ok(long status) { return status >= 200 && status < 300; }

// The first of "bytes FIRST-LAST/TOTAL"; nullopt if it does not parse.
std::optional<uint64_t> RangeStart(std::string_view content_range) {
  constexpr std::string_view kUnit = "bytes ";
  if (content_range.substr(0, kUnit.size()) != kUnit) return std::nullopt;
  content_range.remove_prefix(kUnit.size());
  uint64_t first = 0;
  if (!absl::SimpleAtoi(Av(content_range.substr(0, content_range.find('-'))), &first)) {
    return std::nullopt;
  }
  return first;
}

}  // namespace

// The requested bytes out of a 2xx answer to a ranged GET. Servers differ: one that ignores
// Range answers 200 with the whole object; s3rver 3.7.1 answers "bytes=0-0" with the whole
// object as a 206. So the body is cut to what was asked, checked against Content-Range.
absl::StatusOr<std::string> S3Client::SliceRangeAnswer(Response response, uint64_t offset,
                                                       uint64_t length, std::string_view what) {
  std::string& body = response.body;
  if (response.status == 206) {
    std::optional<uint64_t> first = RangeStart(response.content_range);
    if (first != offset) {
      return absl::InternalError(absl::StrCat("S3 ", Av(what), ": answer has Content-Range \"",
                                              response.content_range, "\""));
    }
    if (body.size() > length) body.resize(length);
    return std::move(body);
  }
  if (offset >= body.size()) return std::string();
  return body.substr(offset, length);
}

absl::Status S3Client::Put(std::string_view key, std::string_view data) {
  auto path = ObjectPath(key);
  if (!path.ok()) return path.status();
  Request request("PUT", *std::move(path), absl::StrCat("PUT ", Av(key)));
  request.body = data;
  request.headers = {{"content-type", "application/octet-stream"}};
  auto response = Execute(request);
  if (!response.ok()) return response.status();
  if (!Ok(response->status)) return HttpError(response->status, response->body, request.what);
  return absl::OkStatus();
}

absl::StatusOr<std::string> S3Client::Get(std::string_view key) {
  auto path = ObjectPath(key);
  if (!path.ok()) return path.status();
  Request request("GET", *std::move(path), absl::StrCat("GET ", Av(key)));
  auto response = Execute(request);
  if (!response.ok()) return response.status();
  if (!Ok(response->status)) return HttpError(response->status, response->body, request.what);
  return std::move(response->body);
}

absl::StatusOr<std::string> S3Client::GetRange(std::string_view key, uint64_t offset,
                                               uint64_t length) {
  if (length == 0) {
    // HTTP ranges cannot be empty; still report a missing key or an offset past the end.
    auto size = Head(key);
    if (!size.ok()) return size.status();
    if (!size->has_value()) {
      return absl::NotFoundError(absl::StrCat("S3 GET ", Av(key), ": NoSuchKey"));
    }
    if (offset > **size) {
      return absl::OutOfRangeError(absl::StrCat("S3 GET ", Av(key), ": offset ", offset,
                                                " past the end (size ", **size, ")"));
    }
    return std::string();
  }
  auto path = ObjectPath(key);
  if (!path.ok()) return path.status();
  const uint64_t last = length > UINT64_MAX - offset ? UINT64_MAX : offset + length - 1;
  Request request("GET", *std::move(path),
                  absl::StrCat("GET ", Av(key), " bytes ", offset, "+", length));
  request.headers = {{"range", absl::StrCat("bytes=", offset, "-", last)}};
  auto response = Execute(request);
  if (!response.ok()) return response.status();
  if (!Ok(response->status)) return HttpError(response->status, response->body, request.what);
  return SliceRangeAnswer(*std::move(response), offset, length, request.what);
}

absl::StatusOr<std::optional<uint64_t>> S3Client::Head(std::string_view key) {
  auto path = ObjectPath(key);
  if (!path.ok()) return path.status();
  Request request("HEAD", *std::move(path), absl::StrCat("HEAD ", Av(key)));
  auto response = Execute(request);
  if (!response.ok()) return response.status();
  if (response->status == 404) return std::optional<uint64_t>();
  if (!Ok(response->status)) return HttpError(response->status, response->body, request.what);
  if (response->content_length < 0) {
    return absl::InternalError(absl::StrCat("S3 HEAD ", Av(key), ": no Content-Length"));
  }
  return std::optional<uint64_t>(static_cast<uint64_t>(response->content_length));
}

absl::Status S3Client::Delete(std::string_view key) {
  auto path = ObjectPath(key);
  if (!path.ok()) return path.status();
  Request request("DELETE", *std::move(path), absl::StrCat("DELETE ", Av(key)));
  auto response = Execute(request);
  if (!response.ok()) return response.status();
  if (Ok(response->status) || response->status == 404) return absl::OkStatus();
  return HttpError(response->status, response->body, request.what);
}

absl::StatusOr<std::vector<S3Object>> S3Client::List(std::string_view key_prefix) {
  const std::string full_prefix = absl::StrCat(key_prefix_, Av(key_prefix));
  std::vector<S3Object> objects;
  std::string token;
  do {
    Request request("GET", BucketPath(), absl::StrCat("LIST ", Av(key_prefix)));
    request.query = {{"list-type", "2"}};
    if (!full_prefix.empty()) request.query.emplace_back("prefix", full_prefix);
    if (!token.empty()) request.query.emplace_back("continuation-token", token);
    auto response = Execute(request);
    if (!response.ok()) return response.status();
    if (!Ok(response->status)) return HttpError(response->status, response->body, request.what);
    auto page = s3_internal::ParseListObjectsV2(response->body);
    if (!page.ok()) return page.status();
    for (S3Object& object : page->objects) {
      // Strip config.prefix: callers see the keys they passed to Put.
      if (absl::StartsWith(object.key, key_prefix_)) object.key.erase(0, key_prefix_.size());
      objects.push_back(std::move(object));
    }
    if (page->truncated && page->next_token == token) {
      return absl::InternalError(absl::StrCat("S3 ", request.what, ": continuation token repeats"));
    }
    token = page->truncated ? std::move(page->next_token) : "";
  } while (!token.empty());
  return objects;
}

absl::StatusOr<bool> S3Client::BucketExists() {
  const Request request("HEAD", BucketPath(), absl::StrCat("HEAD bucket ", config_.bucket));
  auto response = Execute(request);
  if (!response.ok()) return response.status();
  if (response->status == 404) return false;
  if (!Ok(response->status)) return HttpError(response->status, response->body, request.what);
  return true;
}

absl::Status S3Client::EnsureBucket() {
  auto found = BucketExists();
  if (!found.ok() || *found) return found.status();

  Request request("PUT", BucketPath(), absl::StrCat("create bucket ", config_.bucket));
  // Outside us-east-1, S3 wants the region in the body.
  std::string body;
  if (config_.region != "us-east-1") {
    body = absl::StrCat(
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>",
        config_.region, "</LocationConstraint></CreateBucketConfiguration>");
  }
  request.body = body;
  auto response = Execute(request);
  if (!response.ok()) return response.status();
  if (Ok(response->status)) return absl::OkStatus();
  if (response->status == 409) {
    // Someone created it meanwhile (or it is ours already): fine if we can reach it now.
    found = BucketExists();
    if (found.ok() && *found) return absl::OkStatus();
  }
  return HttpError(response->status, response->body, request.what);
}

}  // namespace otlpd::storage
