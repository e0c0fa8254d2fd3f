#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/factory.h"

namespace re2 {
class RE2;
}

namespace otlpd {

// otelcol-contrib's redaction processor settings (same keys), and two of otlpd's own:
// mask_card_numbers and mask_email_addresses (both on by default).
struct RedactionProcessorConfig : ComponentConfig {
  using Regexes = std::vector<std::shared_ptr<const re2::RE2>>;

  bool allow_all_keys = false;
  std::vector<std::string> allowed_keys;  // others are deleted unless allow_all_keys
  std::vector<std::string> ignored_keys;  // left as they are
  Regexes ignored_key_patterns;
  Regexes blocked_key_patterns;   // whole values masked
  Regexes blocked_values;         // matches masked
  Regexes allowed_values;         // values left unmasked
  bool redact_all_types = false;  // mask non-string values by their string form

  // What replaces a masked match: "****", or the hex digest of the match.
  enum class Hash { kNone, kMd5, kSha1, kSha3, kHmacSha256, kHmacSha512 };
  Hash hash_function = Hash::kNone;
  std::string hmac_key;

  // The redaction.* attributes added to what was changed: none (silent, otelcol's default
  // when unset), counts (info), counts and keys (debug).
  enum class Summary { kSilent, kInfo, kDebug };
  Summary summary = Summary::kSilent;

  bool mask_card_numbers = true;
  bool mask_email_addresses = true;
};

}  // namespace otlpd
