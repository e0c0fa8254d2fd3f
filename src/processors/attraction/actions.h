// The attribute actions shared by the attributes and resource processors: otelcol's
// internal/coreinternal/attraction (insert, update, upsert, delete, hash, extract, convert),
// with its configuration keys, validation rules and results.
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/auth.h"
#include "core/config_node.h"
#include "processors/attraction/attr_map.h"
#include "processors/attraction/scratch.h"

namespace re2 {
class RE2;
}

namespace otlpd::attraction {

enum class ActionType : uint8_t { kInsert, kUpdate, kUpsert, kDelete, kHash, kExtract, kConvert };
enum class ConvertedType : uint8_t { kNone, kInt, kDouble, kString };

// One validated action of the configuration.
struct Action {
  ActionType type = ActionType::kInsert;
  std::string key;
  // insert/update/upsert: exactly one source.
  bool has_value = false;
  std::string value;  // the AnyValue encoding of `value`
  std::string from_attribute;
  std::string from_context;
  ConvertedType converted_type = ConvertedType::kNone;
  // delete/hash (optional) and extract: `pattern`, compiled once here. Go's regexp syntax is
  // RE2's, named groups (?P<name>...) included.
  std::shared_ptr<const re2::RE2> regex;
  // What every key `regex` can match starts with (from a leading ^literal), so that most
  // keys are ruled out without running it.
  std::string regex_prefix;
  // extract: the name of each capture group, in order.
  std::vector<std::string> group_names;
};

// Parses the list under `list_key` of `node` (`actions` of the attributes processor,
// `attributes` of the resource processor). Every problem goes to the node's diagnostics at
// its place (otelcol's wording), and unknown keys in the entries too. Returns the valid
// actions.
std::vector<Action> ParseActions(ConfigNode& node, std::string_view list_key);

// Compiles `pattern` as Go's regexp package would (RE2 syntax); null with `error` set if it
// is invalid.
std::shared_ptr<const re2::RE2> CompileRegex(std::string_view pattern, std::string* error);

// The literal text every match of `pattern` (a valid RE2 pattern, matched anywhere as Go's
// MatchString does) starts with: the literal characters after a leading '^'. "" when there
// is none or the pattern is not that simple (e.g. it has an alternation).
std::string RegexLiteralPrefix(std::string_view pattern);

// Whether `text` starts with `prefix` (a RegexLiteralPrefix, "" for none), the test run before
// RE2 on every text: the prefix's first and last bytes are compared inline, so most texts that
// fail (names sharing a first word such as "GET /") fail without a call to memcmp.
inline bool StartsWithPrefix(std::string_view text, std::string_view prefix) {
  const size_t n = prefix.size();
  if (n == 0) return true;
  if (text.size() < n || text[0] != prefix[0] || text[n - 1] != prefix[n - 1]) return false;
  return n <= 2 || std::memcmp(text.data() + 1, prefix.data() + 1, n - 2) == 0;
}

// Runs actions over attribute maps (otelcol's attraction.AttrProc). Immutable and safe to
// share between threads.
class AttrProc {
 public:
  explicit AttrProc(std::vector<Action> actions);

  // Applies every action in order to `attrs`. `metadata` is the request's client metadata
  // for from_context (null when the receiver kept none). New bytes go to `scratch`.
  void Process(AttrMap& attrs, const Metadata* metadata, Scratch* scratch) const;

  // The attribute keys the actions read or write, when those are all the actions depend on
  // (no action matches keys by `pattern`). Then Process leaves the attributes of a map that
  // holds none of them as they are, in place, and adds after them exactly what it would add
  // to an empty map. False when an action's keys are not known in advance.
  bool KeysActedOn(std::vector<std::string_view>* keys) const;

 private:
  // Where a from_context action reads: client metadata (lower-cased name), or nothing
  // otlpd keeps (auth.* attributes, client.address).
  struct ContextSource {
    bool metadata = false;
    std::string name;
  };

  void Hash(AttrMap& attrs, std::string_view key, Scratch* scratch) const;
  // Keys of `attrs` that `a`'s pattern matches (otelcol's getMatchingKeys).
  void MatchingKeys(const Action& a, const AttrMap& attrs,
                    std::vector<std::string_view>* keys) const;
  void Extract(const Action& a, AttrMap& attrs, Scratch* scratch) const;
  void Convert(const Action& a, AttrMap& attrs, Scratch* scratch) const;
  bool Source(size_t index, const AttrMap& attrs, const Metadata* metadata, Scratch* scratch,
              std::string_view* value) const;

  std::vector<Action> actions_;
  std::vector<ContextSource> contexts_;  // per action
};

}  // namespace otlpd::attraction
