#pragma once

// A small client for S3-compatible object stores (AWS S3, s3rver, MinIO, ...): what the cold
// tier needs and nothing more. Path-style URLs (endpoint/bucket/key), AWS Signature Version 4,
// libcurl for HTTP and OpenSSL's libcrypto for SHA-256/HMAC.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

typedef void CURL;  // libcurl's handle type, as <curl/curl.h> declares it.
struct curl_slist;

namespace otlpd::storage {

struct S3Config {
  // "http://127.0.0.1:4569" or "https://host[:port]" (TLS verified against the system's CA
  // store); an optional path after the authority, already URI-safe, is kept in front of the
  // bucket (for stores mounted under a path).
  std::string endpoint;
  std::string bucket;
  std::string region = "us-east-1";
  // Prepended to every key (joined with '/' unless empty or already ending in '/').
  std::string prefix;
  std::string access_key;
  std::string secret_key;
  // Bounds one HTTP attempt (connect + transfer). A call takes at most
  // max_attempts * timeout plus the backoff between attempts (capped at 2 s each).
  absl::Duration timeout = absl::Seconds(30);
  int max_attempts = 4;
};

struct S3Object {
  std::string key;  // relative to S3Config::prefix
  uint64_t size = 0;
  bool operator==(const S3Object&) const = default;
};

// Thread-safe: one instance serves any number of threads. Each call blocks until it is done
// (including retries). Errors:
//   NotFound          404 (missing key on Get/GetRange, missing bucket elsewhere)
//   PermissionDenied  403, with S3's <Code> and <Message>
//   OutOfRange        416 (GetRange starting past the end of the object)
//   Unavailable       network errors, timeouts, 5xx and 429, after max_attempts attempts
//   InvalidArgument   any other 4xx, or a bad argument (e.g. an empty key)
//   FailedPrecondition  a transport error no retry can fix (bad URL, TLS verification)
// The secret key never appears in a status message or a log line.
class S3Client {
 public:
  // Fails with InvalidArgument naming the offending S3Config field.
  static absl::StatusOr<std::unique_ptr<S3Client>> Create(const S3Config& config);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  absl::Status Put(std::string_view key, std::string_view data);
  absl::StatusOr<std::string> Get(std::string_view key);
  // Bytes [offset, offset + length) of the object; fewer when the object ends before.
  absl::StatusOr<std::string> GetRange(std::string_view key, uint64_t offset, uint64_t length);
  // The object's size, or nullopt when it does not exist.
  absl::StatusOr<std::optional<uint64_t>> Head(std::string_view key);
  // Deleting a missing object is OK.
  absl::Status Delete(std::string_view key);
  // Every object whose key (relative to S3Config::prefix) starts with key_prefix, in the
  // store's order (S3: ascending UTF-8 bytes), following continuation tokens.
  absl::StatusOr<std::vector<S3Object>> List(std::string_view key_prefix);
  // Creates the bucket unless it exists already.
  absl::Status EnsureBucket();

  const S3Config& config() const { return config_; }

 private:
  struct Request;
  struct Response;

  S3Client(S3Config config, std::string origin, std::string host, std::string base_path);

  absl::StatusOr<std::string> ObjectPath(std::string_view key) const;
  std::string BucketPath() const;
  absl::StatusOr<bool> BucketExists();
  // Sends `request` until it gets a final answer: retries transport errors, 5xx and 429
  // with exponential backoff. Unavailable once attempts are exhausted.
  absl::StatusOr<Response> Execute(const Request& request);
  Response PerformOnce(const Request& request);
  // Host, x-amz-date, x-amz-content-sha256, the request's own headers and Authorization.
  curl_slist* SignedHeaders(const Request& request, const std::string& query) const;
  static absl::StatusOr<std::string> SliceRangeAnswer(Response response, uint64_t offset,
                                                      uint64_t length, std::string_view what);
  CURL* AcquireHandle();
  void ReleaseHandle(CURL* handle);

  const S3Config config_;
  const std::string origin_;     // scheme://authority, what URLs start with
  const std::string host_;       // the Host header, signed
  const std::string base_path_;  // "" or "/path" in front of the bucket
  const std::string key_prefix_;

  // Idle easy handles: reusing them keeps their connections alive between calls.
  absl::Mutex mu_;
  std::vector<CURL*> idle_ ABSL_GUARDED_BY(mu_);
};

// Building blocks, exposed so tests can check them against AWS's published examples.
namespace s3_internal {

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters (A-Z a-z 0-9 - . _ ~)
// kept, every other byte %XX in upper-case hex; '/' kept when keep_slash.
std::string UriEncode(std::string_view s, bool keep_slash);

std::string Sha256Hex(std::string_view data);

// "name=value&..." with both sides UriEncode'd, sorted by encoded name then value.
std::string CanonicalQuery(std::vector<std::pair<std::string, std::string>> params);

struct SigningInput {
  std::string method;
  std::string canonical_uri;    // the encoded path, exactly as sent
  std::string canonical_query;  // see CanonicalQuery, exactly as sent
  // Every header to sign (name in any case); must hold host, x-amz-date and
  // x-amz-content-sha256.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_sha256;  // hex
  std::string amz_date;        // "YYYYMMDDTHHMMSSZ"
  std::string region;
  std::string service = "s3";
};

std::string CanonicalRequest(const SigningInput& in);
std::string StringToSign(const SigningInput& in);
// The value of the Authorization header.
std::string Authorization(const SigningInput& in, std::string_view access_key,
                          std::string_view secret_key);

// Decodes &amp; &lt; &gt; &quot; &apos; and numeric references (&#N; &#xH;); anything else
// is kept as it is.
std::string XmlUnescape(std::string_view s);

struct ListPage {
  std::vector<S3Object> objects;  // keys as in the bucket (with S3Config::prefix)
  bool truncated = false;
  std::string next_token;
};
absl::StatusOr<ListPage> ParseListObjectsV2(std::string_view xml);

}  // namespace s3_internal
}  // namespace otlpd::storage
