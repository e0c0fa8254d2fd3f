#include "processors/redaction/factory.h"

#include <re2/re2.h>

#include "absl/strings/str_cat.h"
#include "processors/redaction/config.h"
#include "processors/redaction/redaction_processor.h"

namespace otlpd {

namespace {

// A list of regular expressions (Go's regexp syntax, which RE2 shares); each bad one is
// reported with its index.
RedactionProcessorConfig::Regexes ParseRegexes(ConfigNode& node, std::string_view key) {
  RedactionProcessorConfig::Regexes out;
  std::vector<std::string> patterns;
  if (!node.Get(key, &patterns)) return out;
  for (size_t i = 0; i < patterns.size(); ++i) {
    auto re = std::make_shared<re2::RE2>(patterns[i], re2::RE2::Quiet);
    if (!re->ok()) {
      node.Error(key, absl::StrCat("entry ", i, ": invalid regular expression \"", patterns[i],
                                   "\": ", re->error()));
      continue;
    }
    out.push_back(std::move(re));
  }
  return out;
}

class RedactionProcessorFactory : public ProcessorFactory {
 public:
  std::string_view type() const override { return "redaction"; }
  SignalSet signals() const override { return SignalSet::All(); }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto c = std::make_unique<RedactionProcessorConfig>();
    node.Get("allow_all_keys", &c->allow_all_keys);
    node.Get("allowed_keys", &c->allowed_keys);
    node.Get("ignored_keys", &c->ignored_keys);
    c->ignored_key_patterns = ParseRegexes(node, "ignored_key_patterns");
    c->blocked_key_patterns = ParseRegexes(node, "blocked_key_patterns");
    c->blocked_values = ParseRegexes(node, "blocked_values");
    c->allowed_values = ParseRegexes(node, "allowed_values");
    node.Get("redact_all_types", &c->redact_all_types);
    node.Get("mask_card_numbers", &c->mask_card_numbers);
    node.Get("mask_email_addresses", &c->mask_email_addresses);

    std::string hash;
    if (node.GetEnum("hash_function", &hash,
                     {"", "md5", "sha1", "sha3", "hmac-sha256", "hmac-sha512"})) {
      using Hash = RedactionProcessorConfig::Hash;
      c->hash_function = hash == "md5"           ? Hash::kMd5
                         : hash == "sha1"        ? Hash::kSha1
                         : hash == "sha3"        ? Hash::kSha3
                         : hash == "hmac-sha256" ? Hash::kHmacSha256
                         : hash == "hmac-sha512" ? Hash::kHmacSha512
                                                 : Hash::kNone;
    }
    node.Get("hmac_key", &c->hmac_key);
    if ((c->hash_function == RedactionProcessorConfig::Hash::kHmacSha256 ||
         c->hash_function == RedactionProcessorConfig::Hash::kHmacSha512) &&
        c->hmac_key.empty()) {
      node.Error("hash_function", "hmac_key must be set for HMAC hash functions");
    }

    std::string summary;
    if (node.GetEnum("summary", &summary, {"", "debug", "info", "silent"})) {
      using Summary = RedactionProcessorConfig::Summary;
      c->summary = summary == "debug"  ? Summary::kDebug
                   : summary == "info" ? Summary::kInfo
                                       : Summary::kSilent;
    }
    return c;
  }

  absl::StatusOr<std::unique_ptr<Processor>> Create(const CreateSettings& settings,
                                                    const ComponentConfig& config, Signal signal,
                                                    ConsumerPtr next) const override {
    if (next == nullptr) {
      return absl::InvalidArgumentError("redaction processor needs a next consumer");
    }
    return std::make_unique<RedactionProcessor>(
        settings, ConfigAs<RedactionProcessorConfig>(config), signal, std::move(next));
  }
};

}  // namespace

std::unique_ptr<ProcessorFactory> NewRedactionProcessorFactory() {
  return std::make_unique<RedactionProcessorFactory>();
}

}  // namespace otlpd
