#include "processors/attraction/actions.h"

#include <re2/re2.h>

#include <cctype>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "processors/attraction/config_value.h"
#include "processors/attraction/hash.h"
#include "processors/attraction/value.h"

namespace otlpd::attraction {

namespace {

YAML::Node FindKey(const YAML::Node& map, std::string_view key) {
  if (!map.IsDefined() || !map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::string DoesNotUse(std::string_view action, std::string_view what) {
  return absl::StrCat("action \"", std::string(action), "\" does not use ", std::string(what));
}

// One entry of the list; problems go to `item`. False if it is not valid.
bool ParseAction(ConfigNode& item, Action* a) {
  std::string action;
  item.Get("key", &a->key);
  item.Get("action", &action);
  std::string pattern;
  item.Get("pattern", &pattern);
  item.Get("from_attribute", &a->from_attribute);
  item.Get("from_context", &a->from_context);
  std::string converted_type;
  item.Get("converted_type", &converted_type);
  item.MarkKnown("value");
  const YAML::Node value = FindKey(item.yaml(), "value");
  a->has_value = !IsNullNode(value);
  if (a->has_value) {
    std::string error;
    if (!YamlToAnyValue(value, &a->value, &error)) {
      item.Error("value", error);
      return false;
    }
  }
  const int sources =
      int{a->has_value} + int{!a->from_attribute.empty()} + int{!a->from_context.empty()};

  // As otelcol: the action name in any case; `key` (or, for delete and hash, `pattern`)
  // checked before anything else.
  action = absl::AsciiStrToLower(action);
  if (action == "delete" || action == "hash") {
    if (a->key.empty() && pattern.empty()) {
      item.Error("",
                 "missing required field (at least one of \"key\" and \"pattern\" have to "
                 "be used)");
      return false;
    }
  } else if (a->key.empty()) {
    item.Error("", "missing required field \"key\"");
    return false;
  }

  auto compile = [&]() {
    std::string error;
    a->regex = CompileRegex(pattern, &error);
    a->regex_prefix = RegexLiteralPrefix(pattern);
    if (a->regex == nullptr) {
      item.Error("pattern",
                 absl::StrCat("field \"pattern\" has invalid pattern: \"", pattern, "\": ", error));
      return false;
    }
    return true;
  };
  auto no_converted_type = [&]() {
    if (converted_type.empty()) return true;
    item.Error("converted_type",
               DoesNotUse(action, "the \"converted_type\" field. This must not be specified"));
    return false;
  };

  if (action == "insert" || action == "update" || action == "upsert") {
    a->type = action == "insert"   ? ActionType::kInsert
              : action == "update" ? ActionType::kUpdate
                                   : ActionType::kUpsert;
    if (sources == 0) {
      item.Error("",
                 "either field \"value\", \"from_attribute\" or \"from_context\" setting "
                 "must be specified");
      return false;
    }
    if (sources > 1) {
      item.Error("", "multiple value sources being set");
      return false;
    }
    if (!pattern.empty()) {
      item.Error("pattern",
                 DoesNotUse(action, "the \"pattern\" field. This must not be specified"));
      return false;
    }
    return no_converted_type();
  }
  if (action == "delete" || action == "hash") {
    a->type = action == "delete" ? ActionType::kDelete : ActionType::kHash;
    if (a->has_value || !a->from_attribute.empty()) {
      item.Error(a->has_value ? "value" : "from_attribute",
                 DoesNotUse(action,
                            "\"value\" or \"from_attribute\" field. These must not be "
                            "specified"));
      return false;
    }
    if (!pattern.empty() && !compile()) return false;
    return no_converted_type();
  }
  if (action == "extract") {
    a->type = ActionType::kExtract;
    if (sources > 0) {
      item.Error("", DoesNotUse(action, "a value source field. These must not be specified"));
      return false;
    }
    if (pattern.empty()) {
      item.Error("", "missing required field \"pattern\" for action \"extract\"");
      return false;
    }
    if (!no_converted_type() || !compile()) return false;
    const int groups = a->regex->NumberOfCapturingGroups();
    if (groups < 1) {
      item.Error("pattern", "field \"pattern\" contains no named matcher groups");
      return false;
    }
    const std::map<int, std::string>& names = a->regex->CapturingGroupNames();
    for (int g = 1; g <= groups; ++g) {
      auto it = names.find(g);
      if (it == names.end() || it->second.empty()) {
        item.Error("pattern", "field \"pattern\" contains at least one unnamed matcher group");
        return false;
      }
      a->group_names.push_back(it->second);
    }
    return true;
  }
  if (action == "convert") {
    a->type = ActionType::kConvert;
    if (sources > 0 || !pattern.empty()) {
      item.Error("", DoesNotUse(action,
                                "value sources or \"pattern\" field. These must not be "
                                "specified"));
      return false;
    }
    if (converted_type.empty()) {
      item.Error("", "missing required field \"converted_type\" for action \"convert\"");
      return false;
    }
    if (converted_type == "int") {
      a->converted_type = ConvertedType::kInt;
    } else if (converted_type == "double") {
      a->converted_type = ConvertedType::kDouble;
    } else if (converted_type == "string") {
      a->converted_type = ConvertedType::kString;
    } else {
      item.Error("converted_type",
                 absl::StrCat("invalid value \"", converted_type,
                              "\" in field \"converted_type\" for action \"convert\"; expected "
                              "one of: int, double, string"));
      return false;
    }
    return true;
  }
  item.Error(item.Has("action") ? "action" : "",
             absl::StrCat("unsupported action \"", action,
                          "\"; expected one of: insert, update, upsert, delete, hash, extract, "
                          "convert"));
  return false;
}

// The bytes the hash action digests: a string's bytes, a bool as one byte, an int or a
// double as its 8 little-endian bytes; nothing for other types (which hash to "").
std::string_view HashInput(const Value& v, char (&buf)[8]) {
  switch (v.type) {
    case ValueType::kStr:
      return v.bytes;
    case ValueType::kBool:
      buf[0] = v.bool_value ? 1 : 0;
      return {buf, 1};
    case ValueType::kInt:
      std::memcpy(buf, &v.int_value, 8);  // little-endian host (x86-64, aarch64)
      return {buf, 8};
    case ValueType::kDouble:
      std::memcpy(buf, &v.double_value, 8);
      return {buf, 8};
    default:
      return {};
  }
}

}  // namespace

std::shared_ptr<const re2::RE2> CompileRegex(std::string_view pattern, std::string* error) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<const RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok()) {
    *error = re->error();
    return nullptr;
  }
  return re;
}

std::string RegexLiteralPrefix(std::string_view pattern) {
  if (pattern.empty() || pattern[0] != '^' || pattern.find('|') != std::string_view::npos) {
    return "";
  }
  static constexpr std::string_view kMeta = ".[]{}()*+?^$\\";
  static constexpr std::string_view kQuantifiers = "*+?{";
  std::string prefix;
  size_t i = 1;
  while (i < pattern.size()) {
    char c = pattern[i];
    size_t next = i + 1;
    if (c == '\\') {
      // An escaped ASCII punctuation character is itself; other escapes (\d, \Q ...) end it.
      if (next >= pattern.size() || !std::ispunct(static_cast<unsigned char>(pattern[next]))) break;
      c = pattern[next];
      next = i + 2;
    } else if (kMeta.find(c) != std::string_view::npos) {
      break;
    }
    // A quantified character is not required.
    if (next < pattern.size() && kQuantifiers.find(pattern[next]) != std::string_view::npos) break;
    prefix.push_back(c);
    i = next;
  }
  return prefix;
}

std::vector<Action> ParseActions(ConfigNode& node, std::string_view list_key) {
  std::vector<Action> actions;
  node.MarkKnown(list_key);
  const YAML::Node list = FindKey(node.yaml(), list_key);
  const std::string missing =
      absl::StrCat("missing required field \"", std::string(list_key), "\"");
  if (IsNullNode(list) || (list.IsSequence() && list.size() == 0)) {
    node.Error(node.Has(list_key) ? list_key : "", missing);
    return actions;
  }
  if (!list.IsSequence()) {
    node.Error(list_key, "expected a list");
    return actions;
  }
  // The entries are parsed by hand (ConfigNode reads maps, not lists of maps), so their
  // unknown keys are reported here too.
  const std::string prefix = node.path().empty()
                                 ? std::string(list_key)
                                 : absl::StrCat(node.path(), "::", std::string(list_key));
  for (size_t i = 0; i < list.size(); ++i) {
    ConfigNode item(list[i], absl::StrCat(prefix, "[", i, "]"), node.diagnostics());
    if (!item.IsDefined()) {
      if (IsNullNode(list[i])) item.Error("", "missing required field \"key\"");
      continue;
    }
    Action a;
    if (ParseAction(item, &a)) actions.push_back(std::move(a));
    item.ReportUnknownKeys();
  }
  return actions;
}

AttrProc::AttrProc(std::vector<Action> actions) : actions_(std::move(actions)) {
  for (const Action& a : actions_) {
    ContextSource source;
    std::string_view key = a.from_context;
    // otelcol: "metadata.X" and (for compatibility) a bare X read client metadata, whose
    // lookup is case-insensitive; "auth.X" reads the authenticator's attributes and
    // "client.address" the peer address, neither of which otlpd keeps with the data.
    if (!key.empty() && key != "client.address" && key.substr(0, 5) != "auth.") {
      if (key.substr(0, 9) == "metadata.") key.remove_prefix(9);
      source.metadata = true;
      source.name = absl::AsciiStrToLower(std::string(key));
    }
    contexts_.push_back(std::move(source));
  }
}

bool AttrProc::Source(size_t index, const AttrMap& attrs, const Metadata* metadata,
                      Scratch* scratch, std::string_view* value) const {
  const Action& a = actions_[index];
  if (a.has_value) {
    *value = a.value;
    return true;
  }
  if (!a.from_context.empty()) {
    const ContextSource& source = contexts_[index];
    if (!source.metadata || metadata == nullptr) return false;
    // Several values are joined with ';', as otelcol does.
    std::string joined;
    bool found = false;
    for (const auto& [name, v] : *metadata) {
      if (name != source.name) continue;
      if (found) joined.push_back(';');
      joined.append(v);
      found = true;
    }
    if (!found) return false;
    *value = EncodeStr(joined, scratch);
    return true;
  }
  const int i = attrs.Find(a.from_attribute);
  if (i < 0) return false;
  *value = attrs[static_cast<size_t>(i)].value;
  return true;
}

void AttrProc::Process(AttrMap& attrs, const Metadata* metadata, Scratch* scratch) const {
  // Keys matched by a pattern, collected before acting on them (as otelcol does).
  thread_local std::vector<std::string_view> matched;
  for (size_t n = 0; n < actions_.size(); ++n) {
    const Action& a = actions_[n];
    switch (a.type) {
      case ActionType::kDelete:
        attrs.Remove(a.key);
        if (a.regex != nullptr) {
          MatchingKeys(a, attrs, &matched);
          for (std::string_view k : matched) attrs.Remove(k);
        }
        break;
      case ActionType::kInsert: {
        std::string_view value;
        if (!Source(n, attrs, metadata, scratch, &value)) break;
        if (attrs.Find(a.key) >= 0) break;
        attrs.Append(a.key, value);
        break;
      }
      case ActionType::kUpdate: {
        std::string_view value;
        if (!Source(n, attrs, metadata, scratch, &value)) break;
        const int i = attrs.Find(a.key);
        if (i >= 0) attrs.Set(static_cast<size_t>(i), value);
        break;
      }
      case ActionType::kUpsert: {
        std::string_view value;
        if (!Source(n, attrs, metadata, scratch, &value)) break;
        attrs.Put(a.key, value);
        break;
      }
      case ActionType::kHash:
        Hash(attrs, a.key, scratch);
        if (a.regex != nullptr) {
          MatchingKeys(a, attrs, &matched);
          for (std::string_view k : matched) Hash(attrs, k, scratch);
        }
        break;
      case ActionType::kExtract:
        Extract(a, attrs, scratch);
        break;
      case ActionType::kConvert:
        Convert(a, attrs, scratch);
        break;
    }
  }
}

bool AttrProc::KeysActedOn(std::vector<std::string_view>* keys) const {
  keys->clear();
  for (const Action& a : actions_) {
    switch (a.type) {
      case ActionType::kDelete:
      case ActionType::kHash:
        if (a.regex != nullptr) return false;
        break;
      case ActionType::kInsert:
      case ActionType::kUpdate:
      case ActionType::kUpsert:
        if (!a.from_attribute.empty()) keys->push_back(a.from_attribute);
        break;
      case ActionType::kExtract:
        // Reads `key`, writes one key per capture group.
        for (const std::string& group : a.group_names) keys->push_back(group);
        break;
      case ActionType::kConvert:
        break;
    }
    keys->push_back(a.key);
  }
  return true;
}

void AttrProc::MatchingKeys(const Action& a, const AttrMap& attrs,
                            std::vector<std::string_view>* keys) const {
  keys->clear();
  const std::string_view prefix = a.regex_prefix;
  for (size_t i = 0; i < attrs.size(); ++i) {
    const std::string_view k = attrs[i].key;
    if (!StartsWithPrefix(k, prefix)) continue;
    if (RE2::PartialMatch(re2::StringPiece(k.data(), k.size()), *a.regex)) keys->push_back(k);
  }
}

void AttrProc::Hash(AttrMap& attrs, std::string_view key, Scratch* scratch) const {
  const int i = attrs.Find(key);
  if (i < 0) return;
  char buf[8];
  const std::string_view input = HashInput(attrs.Get(static_cast<size_t>(i), scratch), buf);
  // An empty input (empty string, or a type without a hash input) becomes "", as otelcol.
  const std::string hashed = input.empty() ? std::string() : Sha256Hex(input);
  attrs.Set(static_cast<size_t>(i), EncodeStr(hashed, scratch));
}

void AttrProc::Extract(const Action& a, AttrMap& attrs, Scratch* scratch) const {
  const int i = attrs.Find(a.key);
  if (i < 0) return;
  const Value v = attrs.Get(static_cast<size_t>(i), scratch);
  if (v.type != ValueType::kStr) return;  // extraction only reads strings
  thread_local std::vector<re2::StringPiece> groups;
  groups.assign(a.group_names.size() + 1, re2::StringPiece());
  const re2::StringPiece text(v.bytes.data(), v.bytes.size());
  if (!a.regex->Match(text, 0, text.size(), RE2::UNANCHORED, groups.data(),
                      static_cast<int>(groups.size()))) {
    return;
  }
  for (size_t g = 1; g < groups.size(); ++g) {
    // An optional group that did not take part is "", as Go's FindStringSubmatch gives.
    const std::string_view match = groups[g].data() == nullptr
                                       ? std::string_view()
                                       : std::string_view(groups[g].data(), groups[g].size());
    attrs.Put(a.group_names[g - 1], EncodeStr(match, scratch));
  }
}

void AttrProc::Convert(const Action& a, AttrMap& attrs, Scratch* scratch) const {
  const int found = attrs.Find(a.key);
  if (found < 0) return;
  const auto i = static_cast<size_t>(found);
  const Value v = attrs.Get(i, scratch);
  // otelcol's type_converter: what cannot be converted keeps its value and type.
  switch (a.converted_type) {
    case ConvertedType::kString:
      if (v.type != ValueType::kStr) attrs.Set(i, EncodeStr(AsString(v, scratch), scratch));
      break;
    case ConvertedType::kInt:
      switch (v.type) {
        case ValueType::kDouble:
          attrs.Set(i, EncodeInt(GoFloatToInt(v.double_value), scratch));
          break;
        case ValueType::kBool:
          attrs.Set(i, EncodeInt(v.bool_value ? 1 : 0, scratch));
          break;
        case ValueType::kStr: {
          int64_t n;
          if (ParseGoInt(v.bytes, &n)) attrs.Set(i, EncodeInt(n, scratch));
          break;
        }
        default:
          break;
      }
      break;
    case ConvertedType::kDouble:
      switch (v.type) {
        case ValueType::kInt:
          attrs.Set(i, EncodeDouble(static_cast<double>(v.int_value), scratch));
          break;
        case ValueType::kBool:
          attrs.Set(i, EncodeDouble(v.bool_value ? 1 : 0, scratch));
          break;
        case ValueType::kStr: {
          double d;
          if (ParseGoFloat(v.bytes, &d)) attrs.Set(i, EncodeDouble(d, scratch));
          break;
        }
        default:
          break;
      }
      break;
    case ConvertedType::kNone:
      break;
  }
}

}  // namespace otlpd::attraction
