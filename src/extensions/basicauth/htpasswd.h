#pragma once

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace otlpd {

// One password hash from an htpasswd line, in the formats go-htpasswd (used by
// otelcol-contrib's basicauth) reads, plus those libcrypt verifies:
//   $apr1$salt$hash            Apache MD5
//   $1$ $5$ $6$                MD5-crypt, SHA-256-crypt, SHA-512-crypt (crypt_r)
//   $2a$ $2b$ $2y$             bcrypt (crypt_r)
//   {SHA}base64(sha1(pw))
//   {SSHA}base64(sha1(pw+salt)+salt)
//   anything else              plain text (also matching "{PLAIN}<pw>", as go-htpasswd does)
// Comparisons of derived values run in constant time.
class HtpasswdHash {
 public:
  enum class Format { kApr1, kCrypt, kSha1, kSsha1, kPlain };

  // Recognises the format from the prefix. A recognised prefix with a malformed rest is
  // an error whose message names the format only, never the hash.
  static absl::StatusOr<HtpasswdHash> Parse(absl::string_view encoded);

  bool Matches(absl::string_view password) const;
  Format format() const { return format_; }

 private:
  HtpasswdHash() = default;

  Format format_ = Format::kPlain;
  std::string stored_;  // the whole entry (crypt) or the 22-character hash ($apr1$)
  std::string salt_;    // $apr1$ and {SSHA}
  std::string digest_;  // SHA-1 ({SHA}, {SSHA}); SHA-256 of the stored text (plain)
};

using HtpasswdUsers = absl::flat_hash_map<std::string, HtpasswdHash>;

// Adds the entries of htpasswd `text` ("user:hash" lines; blank lines and lines starting
// with '#' skipped) to `users`, a later entry replacing an earlier one of the same user.
// A malformed line is an InvalidArgument error naming `source` and the line number but
// not the line's content.
absl::Status ParseHtpasswd(absl::string_view text, absl::string_view source, HtpasswdUsers* users);

// MD5-crypt as in FreeBSD ("$1$") and Apache ("$apr1$", the same algorithm with another
// magic): "<magic><salt>$<22 characters>", the salt cut at 8 characters.
std::string Md5Crypt(absl::string_view password, absl::string_view salt, absl::string_view magic);

}  // namespace otlpd
