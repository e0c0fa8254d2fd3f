#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace otlpd::storage {

// The words of a log body for word search: runs of letters and digits, lower-cased.
std::vector<std::string> LogWords(std::string_view text);

// A bloom filter over words, kept in the meta of a block of logs so that a word search
// skips blocks that cannot hold the words (~1 % false positives at 10 bits per word).
class WordBloom {
 public:
  void Add(std::string_view word);
  // The filter's bytes ("" when no word was added).
  std::string Finish() const;
  // False only when `bloom` (from Finish) cannot contain `word`; true for an empty bloom.
  static bool MayContain(std::string_view bloom, std::string_view word);

 private:
  std::vector<uint64_t> hashes_;
};

}  // namespace otlpd::storage
