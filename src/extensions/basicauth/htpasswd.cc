#include "extensions/basicauth/htpasswd.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <initializer_list>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace otlpd {

namespace {

constexpr absl::string_view kCrypt64 =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool IsCrypt64(absl::string_view s) {
  for (char c : s) {
    if (kCrypt64.find(c) == absl::string_view::npos) return false;
  }
  return true;
}

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// Incremental digest; a failure (e.g. MD5 disabled by a FIPS policy) yields an empty
// digest, which matches no stored hash.
class Hasher {
 public:
  explicit Hasher(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
    ok_ = ctx_ != nullptr && md != nullptr && EVP_DigestInit_ex(ctx_.get(), md, nullptr) == 1;
  }
  Hasher& Update(absl::string_view data) {
    if (ok_ && !data.empty()) ok_ = EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) == 1;
    return *this;
  }
  std::string Final() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!ok_ || EVP_DigestFinal_ex(ctx_.get(), out, &n) != 1) return "";
    return std::string(reinterpret_cast<const char*>(out), n);
  }

 private:
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx_;
  bool ok_ = false;
};

std::string Digest(const EVP_MD* md, std::initializer_list<absl::string_view> parts) {
  Hasher h(md);
  for (absl::string_view p : parts) h.Update(p);
  return h.Final();
}

// "<salt>$<hash>" with a crypt64 hash of `hash_len` characters; salt without '$'.
bool SaltAndHash(absl::string_view rest, size_t hash_len) {
  const size_t dollar = rest.find('$');
  if (dollar == absl::string_view::npos) return false;
  absl::string_view hash = rest.substr(dollar + 1);
  return hash.size() == hash_len && IsCrypt64(hash);
}

bool ValidBcrypt(absl::string_view rest) {  // after "$2?$": "NN$" + 22 salt + 31 hash
  if (rest.size() != 3 + 53 || rest[2] != '$' || !AllDigits(rest.substr(0, 2))) return false;
  const int cost = (rest[0] - '0') * 10 + (rest[1] - '0');
  return cost >= 4 && cost <= 31 && IsCrypt64(rest.substr(3));
}

bool ValidShaCrypt(absl::string_view rest, size_t hash_len) {  // after "$5$" / "$6$"
  if (absl::ConsumePrefix(&rest, "rounds=")) {
    const size_t dollar = rest.find('$');
    if (dollar == absl::string_view::npos || !AllDigits(rest.substr(0, dollar))) return false;
    rest.remove_prefix(dollar + 1);
  }
  return SaltAndHash(rest, hash_len);
}

}  // namespace

std::string Md5Crypt(absl::string_view password, absl::string_view salt, absl::string_view magic) {
  salt = salt.substr(0, std::min(salt.find('$'), size_t{8}));
  std::string alt = Digest(EVP_md5(), {password, salt, password});
  if (alt.size() != 16) return "";

  Hasher ctx(EVP_md5());
  ctx.Update(password).Update(magic).Update(salt);
  for (size_t n = password.size(); n > 0; n -= std::min(n, size_t{16})) {
    ctx.Update(absl::string_view(alt).substr(0, std::min(n, size_t{16})));
  }
  const char zero = '\0';
  for (size_t i = password.size(); i > 0; i >>= 1) {
    ctx.Update((i & 1) != 0 ? absl::string_view(&zero, 1) : password.substr(0, 1));
  }
  std::string final = ctx.Final();
  if (final.size() != 16) return "";

  // 1000 rounds, meant to slow down brute force.
  for (int i = 0; i < 1000; ++i) {
    Hasher round(EVP_md5());
    round.Update((i & 1) != 0 ? password : absl::string_view(final));
    if (i % 3 != 0) round.Update(salt);
    if (i % 7 != 0) round.Update(password);
    round.Update((i & 1) != 0 ? absl::string_view(final) : password);
    final = round.Final();
    if (final.size() != 16) return "";
  }

  std::string out = absl::StrCat(magic, salt, "$");
  const auto* f = reinterpret_cast<const unsigned char*>(final.data());
  auto to64 = [&out](uint32_t v, int n) {
    for (; n > 0; --n, v >>= 6) out.push_back(kCrypt64[v & 0x3f]);
  };
  to64((f[0] << 16) | (f[6] << 8) | f[12], 4);
  to64((f[1] << 16) | (f[7] << 8) | f[13], 4);
  to64((f[2] << 16) | (f[8] << 8) | f[14], 4);
  to64((f[3] << 16) | (f[9] << 8) | f[15], 4);
  to64((f[4] << 16) | (f[10] << 8) | f[5], 4);
  to64(f[11], 2);
  return out;
}

absl::StatusOr<HtpasswdHash> HtpasswdHash::Parse(absl::string_view encoded) {
  HtpasswdHash h;
  absl::string_view rest = encoded;
  if (absl::ConsumePrefix(&rest, "$apr1$")) {
    const size_t dollar = rest.find('$');
    if (!SaltAndHash(rest, 22)) return absl::InvalidArgumentError("malformed $apr1$ hash");
    h.format_ = Format::kApr1;
    h.salt_ = std::string(rest.substr(0, dollar));
    h.stored_ = std::string(rest.substr(dollar + 1));
    return h;
  }
  if (absl::ConsumePrefix(&rest, "$1$")) {
    if (!SaltAndHash(rest, 22)) return absl::InvalidArgumentError("malformed $1$ (MD5-crypt) hash");
    h.format_ = Format::kCrypt;
    h.stored_ = std::string(encoded);
    return h;
  }
  if (absl::StartsWith(rest, "$2a$") || absl::StartsWith(rest, "$2b$") ||
      absl::StartsWith(rest, "$2y$")) {
    if (!ValidBcrypt(rest.substr(4))) return absl::InvalidArgumentError("malformed bcrypt hash");
    h.format_ = Format::kCrypt;
    h.stored_ = std::string(encoded);
    return h;
  }
  if (absl::StartsWith(rest, "$5$") || absl::StartsWith(rest, "$6$")) {
    const bool sha256 = rest[1] == '5';
    if (!ValidShaCrypt(rest.substr(3), sha256 ? 43 : 86)) {
      return absl::InvalidArgumentError(sha256 ? "malformed $5$ (SHA-256-crypt) hash"
                                               : "malformed $6$ (SHA-512-crypt) hash");
    }
    h.format_ = Format::kCrypt;
    h.stored_ = std::string(encoded);
    return h;
  }
  if (absl::ConsumePrefix(&rest, "{SHA}")) {
    if (!absl::Base64Unescape(rest, &h.digest_) || h.digest_.size() != 20) {
      return absl::InvalidArgumentError("malformed {SHA} hash");
    }
    h.format_ = Format::kSha1;
    return h;
  }
  if (absl::ConsumePrefix(&rest, "{SSHA}")) {
    std::string raw;
    if (!absl::Base64Unescape(rest, &raw) || raw.size() < 20) {
      return absl::InvalidArgumentError("malformed {SSHA} hash");
    }
    h.format_ = Format::kSsha1;
    h.digest_ = raw.substr(0, 20);
    h.salt_ = raw.substr(20);
    return h;
  }
  // Plain text. Kept as a digest so that comparing takes the same time whatever the
  // lengths.
  h.format_ = Format::kPlain;
  h.digest_ = Digest(EVP_sha256(), {encoded});
  return h;
}

bool HtpasswdHash::Matches(absl::string_view password) const {
  switch (format_) {
    case Format::kApr1: {
      const std::string computed = Md5Crypt(password, salt_, "$apr1$");
      const size_t dollar = computed.rfind('$');
      return dollar != std::string::npos &&
             ConstantTimeEquals(absl::string_view(computed).substr(dollar + 1), stored_);
    }
    case Format::kCrypt: {
      // crypt_r takes C strings: a password with a NUL would be cut short.
      if (password.find('\0') != absl::string_view::npos) return false;
      auto data = std::make_unique<crypt_data>();  // zeroed, as crypt_r wants
      const std::string pw(password);
      const char* out = crypt_r(pw.c_str(), stored_.c_str(), data.get());
      const bool match = out != nullptr && out[0] != '*' && ConstantTimeEquals(out, stored_);
      OPENSSL_cleanse(data.get(), sizeof(crypt_data));
      return match;
    }
    case Format::kSha1:
      return ConstantTimeEquals(Digest(EVP_sha1(), {password}), digest_);
    case Format::kSsha1:
      return ConstantTimeEquals(Digest(EVP_sha1(), {password, salt_}), digest_);
    case Format::kPlain: {
      // nginx writes plain passwords as "{PLAIN}<pw>"; go-htpasswd accepts both forms.
      const bool bare = ConstantTimeEquals(Digest(EVP_sha256(), {password}), digest_);
      const bool tagged = ConstantTimeEquals(Digest(EVP_sha256(), {"{PLAIN}", password}), digest_);
      return bare | tagged;
    }
  }
  return false;
}

absl::Status ParseHtpasswd(absl::string_view text, absl::string_view source, HtpasswdUsers* users) {
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, " line ", line_number, ": expected \"user:hash\""));
    }
    absl::StatusOr<HtpasswdHash> hash = HtpasswdHash::Parse(line.substr(colon + 1));
    if (!hash.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, " line ", line_number, ": ", hash.status().message()));
    }
    users->insert_or_assign(std::string(line.substr(0, colon)), *std::move(hash));
  }
  return absl::OkStatus();
}

}  // namespace otlpd
