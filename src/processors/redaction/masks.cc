#include "processors/redaction/masks.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <re2/re2.h>

#include <bit>
#include <cstring>

#ifdef __x86_64__
#include <immintrin.h>
#endif

namespace otlpd::redaction {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsWord(char c) { return IsDigit(c) || IsAlpha(c) || c == '_'; }
bool IsLocalChar(char c) {
  return IsDigit(c) || IsAlpha(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
bool IsLabelChar(char c) { return IsDigit(c) || IsAlpha(c) || c == '-'; }

constexpr size_t kMinCardDigits = 13;
constexpr size_t kMaxCardDigits = 19;

// The digest of `data` as lower-case hex.
std::string Digest(RedactionProcessorConfig::Hash hash, const std::string& key,
                   std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  using Hash = RedactionProcessorConfig::Hash;
  if (hash == Hash::kHmacSha256 || hash == Hash::kHmacSha512) {
    HMAC(hash == Hash::kHmacSha256 ? EVP_sha256() : EVP_sha512(), key.data(),
         static_cast<int>(key.size()), bytes, data.size(), out, &length);
  } else {
    const EVP_MD* md = hash == Hash::kMd5    ? EVP_md5()
                       : hash == Hash::kSha1 ? EVP_sha1()
                                             : EVP_sha3_256();
    EVP_Digest(bytes, data.size(), out, &length, md, nullptr);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * length, '0');
  for (unsigned int i = 0; i < length; ++i) {
    hex[2 * i] = kHex[out[i] >> 4];
    hex[2 * i + 1] = kHex[out[i] & 0xf];
  }
  return hex;
}

// Length of the UTF-8 sequence starting with `c` (1 for a stray byte), as Go steps a rune.
size_t RuneLength(unsigned char c) {
  if (c < 0xc0) return 1;
  if (c < 0xe0) return 2;
  if (c < 0xf0) return 3;
  return 4;
}

// Adds the card-byte mask of the next 64 bytes (bit i: byte i is a digit, a space or a dash)
// to `run`, the card bytes that ended the bytes before; true once a run of kMinCardDigits is
// seen. Both tests are almost never true, so neither branch is mispredicted; an empty or a
// full block needs no branch of its own.
inline bool CardRunStep(uint64_t m, size_t* run) {
  // A run carried in from the previous block, continued by this block's first bytes (all 64
  // of them for a full block).
  if (*run + static_cast<size_t>(std::countr_one(m)) >= kMinCardDigits) return true;
  // A run of 13 inside the block: bit i stays set when bytes i..i+12 all are card bytes.
  uint64_t x = m;
  x &= x >> 1;  // 2
  x &= x >> 2;  // 4
  x &= x >> 4;  // 8
  x &= x >> 5;  // 13
  if (x != 0) return true;
  *run = static_cast<size_t>(std::countl_one(m));
  return false;
}

// The bytes from `i` on, one at a time, continuing `run`.
bool CardRunInTail(std::string_view bytes, size_t i, size_t run) {
  for (; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (IsDigit(c) || c == ' ' || c == '-') {
      if (++run >= kMinCardDigits) return true;
    } else {
      run = 0;
    }
  }
  return false;
}

#ifdef __x86_64__
// Bit i set when byte i of the 64 at `p` can be part of a card number (a digit, a space or
// a dash), 16 bytes at a time.
inline uint64_t CardBytes64Sse2(const char* p) {
  const __m128i zero = _mm_set1_epi8('0');
  const __m128i nine = _mm_set1_epi8(9);
  const __m128i space = _mm_set1_epi8(' ');
  const __m128i dash = _mm_set1_epi8('-');
  uint64_t mask = 0;
  for (int k = 0; k < 4; ++k) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    // A digit: (v - '0') as unsigned is at most 9.
    const __m128i d = _mm_sub_epi8(v, zero);
    const __m128i digit = _mm_cmpeq_epi8(_mm_min_epu8(d, nine), d);
    const __m128i card =
        _mm_or_si128(digit, _mm_or_si128(_mm_cmpeq_epi8(v, space), _mm_cmpeq_epi8(v, dash)));
    mask |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(card))) << (16 * k);
  }
  return mask;
}

// The same, 32 bytes at a time.
[[gnu::target("avx2")]] inline uint64_t CardBytes64Avx2(const char* p) {
  const __m256i zero = _mm256_set1_epi8('0');
  const __m256i nine = _mm256_set1_epi8(9);
  const __m256i space = _mm256_set1_epi8(' ');
  const __m256i dash = _mm256_set1_epi8('-');
  uint64_t mask = 0;
  for (int k = 0; k < 2; ++k) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * k));
    const __m256i d = _mm256_sub_epi8(v, zero);
    const __m256i digit = _mm256_cmpeq_epi8(_mm256_min_epu8(d, nine), d);
    const __m256i card = _mm256_or_si256(
        digit, _mm256_or_si256(_mm256_cmpeq_epi8(v, space), _mm256_cmpeq_epi8(v, dash)));
    mask |= static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(card))) << (32 * k);
  }
  return mask;
}

#endif

// Whether `bytes` holds a card run, with `Block` giving each 64-byte block's card-byte mask.
template <uint64_t (*Block)(const char*)>
[[gnu::always_inline]] inline bool HasCardRunBy(std::string_view bytes) {
  size_t run = 0;
  size_t i = 0;
  for (; i + 64 <= bytes.size(); i += 64) {
    if (CardRunStep(Block(bytes.data() + i), &run)) return true;
  }
  return CardRunInTail(bytes, i, run);
}

#ifdef __x86_64__
[[gnu::target("avx2")]] bool HasCardRunAvx2Impl(std::string_view bytes) {
  return HasCardRunBy<CardBytes64Avx2>(bytes);
}
#endif

// Whether a run of at least 13 bytes that can be part of a card number (digits, spaces,
// dashes) is in `bytes`. 64 bytes a step: the request is scanned at a fraction of a cycle a
// byte, well below what walking it costs.
bool HasCardRun(std::string_view bytes) {
#ifdef __x86_64__
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2 ? internal::HasCardRunAvx2(bytes) : internal::HasCardRunSse2(bytes);
#else
  return CardRunInTail(bytes, 0, 0);
#endif
}

}  // namespace

namespace internal {
#ifdef __x86_64__
bool HasCardRunSse2(std::string_view bytes) { return HasCardRunBy<CardBytes64Sse2>(bytes); }
bool HasCardRunAvx2(std::string_view bytes) { return HasCardRunAvx2Impl(bytes); }
#endif
bool HasCardRunBytewise(std::string_view bytes) { return CardRunInTail(bytes, 0, 0); }
}  // namespace internal

bool LuhnValid(std::string_view digits) {
  int sum = 0;
  bool twice = false;
  for (size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

std::vector<std::pair<size_t, size_t>> FindCardNumbers(std::string_view s) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t i = 0;
  char digits[kMaxCardDigits];
  while (i < s.size()) {
    if (!IsDigit(s[i]) || (i > 0 && IsWord(s[i - 1]))) {
      ++i;
      continue;
    }
    // A run: digits, with single separators between them.
    size_t n = 0;
    size_t end = i;
    size_t j = i;
    while (j < s.size()) {
      if (IsDigit(s[j])) {
        if (n < kMaxCardDigits) digits[n] = s[j];
        ++n;
        end = ++j;
      } else if ((s[j] == ' ' || s[j] == '-') && j + 1 < s.size() && IsDigit(s[j + 1])) {
        ++j;
      } else {
        break;
      }
    }
    const bool bounded = end == s.size() || !IsWord(s[end]);
    if (bounded && n >= kMinCardDigits && n <= kMaxCardDigits &&
        LuhnValid(std::string_view(digits, n))) {
      out.emplace_back(i, end);
    }
    i = end;
  }
  return out;
}

bool EmailAround(std::string_view s, size_t at) {
  if (at == 0 || !IsLocalChar(s[at - 1])) return false;
  // label ("." label)* where the last label has two or more letters and is not the first.
  size_t i = at + 1;
  int labels = 0;
  bool last_alpha = false;
  size_t last_length = 0;
  while (true) {
    const size_t start = i;
    bool alpha = true;
    while (i < s.size() && IsLabelChar(s[i])) {
      if (!IsAlpha(s[i])) alpha = false;
      ++i;
    }
    if (i == start) break;
    ++labels;
    last_alpha = alpha;
    last_length = i - start;
    if (labels >= 2 && last_alpha && last_length >= 2) return true;
    if (i < s.size() && s[i] == '.') {
      ++i;
      continue;
    }
    break;
  }
  return false;
}

bool MayHoldCardOrEmail(std::string_view bytes, bool cards, bool emails) {
  if (cards && HasCardRun(bytes)) return true;
  if (emails) {
    const char* p = bytes.data();
    const char* end = p + bytes.size();
    while (p < end) {
      const void* at = std::memchr(p, '@', static_cast<size_t>(end - p));
      if (at == nullptr) break;
      const size_t pos = static_cast<size_t>(static_cast<const char*>(at) - bytes.data());
      if (EmailAround(bytes, pos)) return true;
      p = static_cast<const char*>(at) + 1;
    }
  }
  return false;
}

Masker::Masker(const RedactionProcessorConfig& config)
    : config_(config),
      email_(std::make_unique<re2::RE2>(
          R"([A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})")) {}

std::string Masker::Replacement(std::string_view match) const {
  if (config_.hash_function == RedactionProcessorConfig::Hash::kNone) return "****";
  return Digest(config_.hash_function, config_.hmac_key, match);
}

std::string Masker::ReplaceAll(std::string_view s, const re2::RE2& re) const {
  std::string out;
  size_t pos = 0;
  size_t last_end = std::string_view::npos;
  re2::StringPiece text(s.data(), s.size());
  re2::StringPiece m;
  while (pos <= s.size()) {
    if (!re.Match(text, pos, s.size(), re2::RE2::UNANCHORED, &m, 1)) break;
    const size_t start = static_cast<size_t>(m.data() - s.data());
    const size_t end = start + m.size();
    if (m.empty() && start == last_end) {
      // Go does not take an empty match right after the previous match.
      if (start >= s.size()) break;
      const size_t step = RuneLength(static_cast<unsigned char>(s[start]));
      out.append(s.substr(pos, start + step - pos));
      pos = start + step;
      continue;
    }
    out.append(s.substr(pos, start - pos));
    out.append(Replacement(std::string_view(m.data(), m.size())));
    pos = end;
    last_end = end;
    if (m.empty()) {
      if (pos >= s.size()) break;
      const size_t step = RuneLength(static_cast<unsigned char>(s[pos]));
      out.append(s.substr(pos, step));
      pos += step;
    }
  }
  if (pos < s.size()) out.append(s.substr(pos));
  return out;
}

std::string_view Masker::Mask(std::string_view s, attraction::Scratch* scratch) const {
  std::string current;
  bool changed = false;
  auto view = [&]() { return changed ? std::string_view(current) : s; };
  for (const auto& re : config_.blocked_values) {
    const std::string_view v = view();
    if (!re2::RE2::PartialMatch(re2::StringPiece(v.data(), v.size()), *re)) continue;
    current = ReplaceAll(v, *re);
    changed = true;
  }
  if (config_.mask_card_numbers) {
    const std::string_view v = view();
    auto cards = FindCardNumbers(v);
    if (!cards.empty()) {
      std::string out;
      size_t pos = 0;
      for (const auto& [b, e] : cards) {
        out.append(v.substr(pos, b - pos));
        out.append(Replacement(v.substr(b, e - b)));
        pos = e;
      }
      out.append(v.substr(pos));
      current = std::move(out);
      changed = true;
    }
  }
  if (config_.mask_email_addresses) {
    const std::string_view v = view();
    bool candidate = false;
    for (size_t at = v.find('@'); at != std::string_view::npos; at = v.find('@', at + 1)) {
      if (EmailAround(v, at)) {
        candidate = true;
        break;
      }
    }
    if (candidate) {
      current = ReplaceAll(v, *email_);
      changed = true;
    }
  }
  if (!changed || current == s) return s;
  return scratch->Copy(current);
}

std::string_view Masker::MaskWhole(std::string_view s, attraction::Scratch* scratch) const {
  // otelcol masks with the pattern ".*": the whole value, or "" alone when empty.
  return scratch->Copy(Replacement(s));
}

}  // namespace otlpd::redaction
