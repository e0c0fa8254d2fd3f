#include "storage/log_words.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"

namespace otlpd::storage {

namespace {

constexpr int kProbes = 7;  // optimal for 10 bits per key

uint64_t Hash(std::string_view word) { return XXH3_64bits(word.data(), word.size()); }

// Double hashing: probe i is h1 + i*h2 over `bits` bits.
bool Probe(std::string_view bloom, uint64_t h, bool set, std::string* out) {
  const uint64_t bits = static_cast<uint64_t>(bloom.size()) * 8;
  const uint64_t h1 = h, h2 = (h >> 32) | (h << 32) | 1;
  for (int i = 0; i < kProbes; ++i) {
    uint64_t bit = (h1 + static_cast<uint64_t>(i) * h2) % bits;
    if (set) {
      (*out)[bit / 8] = static_cast<char>((*out)[bit / 8] | (1 << (bit % 8)));
    } else if ((static_cast<uint8_t>(bloom[bit / 8]) & (1 << (bit % 8))) == 0) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::vector<std::string> LogWords(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      cur.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

void WordBloom::Add(std::string_view word) { hashes_.push_back(Hash(word)); }

std::string WordBloom::Finish() const {
  std::vector<uint64_t> unique = hashes_;
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  if (unique.empty()) return "";
  std::string out(std::max<size_t>(64, unique.size() * 10 / 8 + 1), '\0');
  for (uint64_t h : unique) Probe(out, h, /*set=*/true, &out);
  return out;
}

bool WordBloom::MayContain(std::string_view bloom, std::string_view word) {
  if (bloom.empty()) return true;
  return Probe(bloom, Hash(word), /*set=*/false, nullptr);
}

}  // namespace otlpd::storage
