// What the redaction processor masks in a string: configured patterns (blocked_values),
// card numbers and e-mail addresses, each match replaced by "****" or its digest.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "processors/attraction/scratch.h"
#include "processors/redaction/config.h"

namespace re2 {
class RE2;
}

namespace otlpd::redaction {

// Whether `digits` (ASCII digits only) passes the Luhn check.
bool LuhnValid(std::string_view digits);

// The card numbers in `s`: runs of 13 to 19 digits, single spaces or dashes allowed between
// digits, that pass the Luhn check and are not part of a longer word or number. As
// [begin, end) offsets.
std::vector<std::pair<size_t, size_t>> FindCardNumbers(std::string_view s);

// Whether an e-mail address's domain ("x.yz": labels, a dot, a final label of two or more
// letters) starts at `s[at + 1]` and a local-part character precedes `s[at]` ('@').
bool EmailAround(std::string_view s, size_t at);

// A cheap test over a whole request's bytes: false means no string in it can hold a card
// number or an e-mail address (the bytes of every string value appear in the request as
// they are), so the request needs no walk for the built-in masks.
bool MayHoldCardOrEmail(std::string_view bytes, bool cards, bool emails);

// Its card test, one version per instruction set (the fastest the CPU has is used; tests
// compare each with the bytewise one): whether a run of 13 bytes that can be part of a card
// number (digits, spaces, dashes) is in `bytes`.
namespace internal {
#ifdef __x86_64__
bool HasCardRunSse2(std::string_view bytes);
bool HasCardRunAvx2(std::string_view bytes);  // only on a CPU with AVX2
#endif
bool HasCardRunBytewise(std::string_view bytes);
}  // namespace internal

class Masker {
 public:
  explicit Masker(const RedactionProcessorConfig& config);

  // `s` with every configured pattern's matches, then card numbers, then e-mail
  // addresses masked: `s` itself when nothing matched, else a string in `scratch`.
  std::string_view Mask(std::string_view s, attraction::Scratch* scratch) const;
  // `s` masked whole (a blocked key's value): "****" or the digest of `s`.
  std::string_view MaskWhole(std::string_view s, attraction::Scratch* scratch) const;

 private:
  // What replaces `match`.
  std::string Replacement(std::string_view match) const;
  // Go's Regexp.ReplaceAllStringFunc with Replacement.
  std::string ReplaceAll(std::string_view s, const re2::RE2& re) const;

  const RedactionProcessorConfig& config_;
  std::unique_ptr<re2::RE2> email_;
};

}  // namespace otlpd::redaction
