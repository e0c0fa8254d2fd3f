#include "core/config_node.h"

#include <cstdlib>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace otlpd {

std::string Diagnostics::Format() const {
  std::string out;
  for (const ConfigError& e : errors_) {
    if (!file_.empty()) absl::StrAppend(&out, file_, ":");
    if (e.line > 0) absl::StrAppend(&out, e.line, ":", e.column, ":");
    if (!out.empty() && out.back() == ':') out += " ";
    absl::StrAppend(&out, e.path.empty() ? "(root)" : e.path, ": ", e.message);
    out += "\n";
  }
  return out;
}

ConfigNode::ConfigNode(YAML::Node node, std::string path, Diagnostics* diag)
    : state_(std::make_shared<State>()) {
  state_->node = node;
  state_->path = std::move(path);
  state_->diag = diag;
  if (node.IsDefined() && !node.IsNull() && !node.IsMap()) {
    ErrorAt(node, state_->path, "expected a map of settings");
    state_->node = YAML::Node(YAML::NodeType::Undefined);
  }
}

std::string ConfigNode::KeyPath(std::string_view key) const {
  if (key.empty()) return state_->path;
  if (state_->path.empty()) return std::string(key);
  return absl::StrCat(state_->path, "::", std::string(key));
}

void ConfigNode::ErrorAt(const YAML::Node& n, std::string path, std::string_view message) {
  ConfigError e;
  e.path = std::move(path);
  e.message = std::string(message);
  if (n.IsDefined()) {
    YAML::Mark m = n.Mark();
    if (m.line >= 0) {
      e.line = m.line + 1;
      e.column = m.column + 1;
    }
  }
  state_->diag->Add(std::move(e));
}

void ConfigNode::Error(std::string_view key, std::string_view message) {
  YAML::Node n = key.empty() ? state_->node : Lookup(key);
  if (!n.IsDefined()) n = state_->node;
  ErrorAt(n, KeyPath(key), message);
}

void ConfigNode::KeyError(std::string_view key, std::string_view message) {
  const YAML::Node& node = state_->node;
  if (node.IsDefined() && node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) {
        ErrorAt(it->first, KeyPath(key), message);
        return;
      }
    }
  }
  Error(key, message);
}

YAML::Node ConfigNode::Lookup(std::string_view key) {
  const YAML::Node& node = state_->node;
  if (!node.IsDefined() || !node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

bool ConfigNode::Has(std::string_view key) const {
  const YAML::Node& node = state_->node;
  if (!node.IsDefined() || !node.IsMap()) return false;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return true;
  }
  return false;
}

std::vector<std::string> ConfigNode::Keys() const {
  std::vector<std::string> keys;
  const YAML::Node& node = state_->node;
  if (!node.IsDefined() || !node.IsMap()) return keys;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (it->first.IsScalar()) keys.push_back(it->first.Scalar());
  }
  return keys;
}

void ConfigNode::MarkKnown(std::string_view key) { state_->seen.emplace(key); }

bool ConfigNode::Scalar(std::string_view key, YAML::Node n, std::string* out) {
  if (!n.IsScalar()) {
    ErrorAt(n, KeyPath(key), "expected a scalar value");
    return false;
  }
  *out = ExpandEnv(n.Scalar());
  return true;
}

bool ConfigNode::Get(std::string_view key, std::string* out) {
  MarkKnown(key);
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return false;
  return Scalar(key, n, out);
}

bool ConfigNode::Get(std::string_view key, bool* out) {
  MarkKnown(key);
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return false;
  std::string s;
  if (!Scalar(key, n, &s)) return false;
  std::string lower = absl::AsciiStrToLower(s);
  if (lower == "true") {
    *out = true;
  } else if (lower == "false") {
    *out = false;
  } else {
    ErrorAt(n, KeyPath(key), absl::StrCat("expected true or false, got \"", s, "\""));
    return false;
  }
  return true;
}

bool ConfigNode::Get(std::string_view key, int64_t* out) {
  MarkKnown(key);
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return false;
  std::string s;
  if (!Scalar(key, n, &s)) return false;
  if (!absl::SimpleAtoi(s, out)) {
    ErrorAt(n, KeyPath(key), absl::StrCat("expected an integer, got \"", s, "\""));
    return false;
  }
  return true;
}

bool ConfigNode::Get(std::string_view key, int* out) {
  int64_t v = 0;
  if (!Get(key, &v)) return false;
  if (v < INT32_MIN || v > INT32_MAX) {
    Error(key, "integer out of range");
    return false;
  }
  *out = static_cast<int>(v);
  return true;
}

bool ConfigNode::Get(std::string_view key, double* out) {
  MarkKnown(key);
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return false;
  std::string s;
  if (!Scalar(key, n, &s)) return false;
  if (!absl::SimpleAtod(s, out)) {
    ErrorAt(n, KeyPath(key), absl::StrCat("expected a number, got \"", s, "\""));
    return false;
  }
  return true;
}

bool ConfigNode::Get(std::string_view key, std::vector<std::string>* out) {
  MarkKnown(key);
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return false;
  if (!n.IsSequence()) {
    ErrorAt(n, KeyPath(key), "expected a list");
    return false;
  }
  std::vector<std::string> values;
  bool ok = true;
  for (size_t i = 0; i < n.size(); ++i) {
    YAML::Node item = n[i];
    if (!item.IsScalar()) {
      ErrorAt(item, absl::StrCat(KeyPath(key), "[", i, "]"), "expected a scalar value");
      ok = false;
      continue;
    }
    values.push_back(ExpandEnv(item.Scalar()));
  }
  if (ok) *out = std::move(values);
  return ok;
}

bool ConfigNode::Get(std::string_view key, std::vector<std::pair<std::string, std::string>>* out) {
  MarkKnown(key);
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return false;
  if (!n.IsMap()) {
    ErrorAt(n, KeyPath(key), "expected a map");
    return false;
  }
  std::vector<std::pair<std::string, std::string>> values;
  bool ok = true;
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->first.IsScalar() || !it->second.IsScalar()) {
      ErrorAt(it->second, KeyPath(key), "expected string keys and values");
      ok = false;
      continue;
    }
    values.emplace_back(it->first.Scalar(), ExpandEnv(it->second.Scalar()));
  }
  if (ok) *out = std::move(values);
  return ok;
}

bool ConfigNode::GetExtensionRef(std::string_view key, ComponentId* out) {
  std::string text;
  if (!Get(key, &text)) return false;
  ComponentId id;
  if (!ComponentId::Parse(text, &id)) {
    Error(key,
          absl::StrCat("invalid extension id \"", text, "\"; expected \"type\" or \"type/name\""));
    return false;
  }
  ExtensionRef ref;
  ref.id = id;
  ref.where.path = KeyPath(key);
  YAML::Node n = Lookup(key);
  if (n.IsDefined() && n.Mark().line >= 0) {
    ref.where.line = n.Mark().line + 1;
    ref.where.column = n.Mark().column + 1;
  }
  state_->diag->AddExtensionRef(std::move(ref));
  *out = std::move(id);
  return true;
}

bool ConfigNode::GetDuration(std::string_view key, absl::Duration* out) {
  MarkKnown(key);
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return false;
  std::string s;
  if (!Scalar(key, n, &s)) return false;
  absl::Duration d;
  // "0" is the one unit-less duration Go accepts.
  if (s == "0") {
    *out = absl::ZeroDuration();
    return true;
  }
  if (!absl::ParseDuration(s, &d) || d < absl::ZeroDuration()) {
    ErrorAt(n, KeyPath(key),
            absl::StrCat("expected a duration such as 200ms, 5s or 1m, got \"", s, "\""));
    return false;
  }
  *out = d;
  return true;
}

bool ConfigNode::GetBytes(std::string_view key, uint64_t* out) {
  MarkKnown(key);
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return false;
  std::string s;
  if (!Scalar(key, n, &s)) return false;
  static constexpr std::pair<absl::string_view, double> kUnits[] = {
      {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
      {"KB", 1e3},     {"MB", 1e6},        {"GB", 1e9},           {"TB", 1e12},
      {"B", 1.0}};
  absl::string_view text = absl::StripAsciiWhitespace(s);
  double scale = 1.0;
  for (const auto& [unit, factor] : kUnits) {
    if (absl::EndsWith(text, unit)) {
      text = absl::StripAsciiWhitespace(text.substr(0, text.size() - unit.size()));
      scale = factor;
      break;
    }
  }
  double v = 0;
  if (!absl::SimpleAtod(text, &v) || v < 0 || v * scale > 1.8e19) {
    ErrorAt(n, KeyPath(key),
            absl::StrCat("expected a size such as 1048576, 512MiB or 2GB, got \"", s, "\""));
    return false;
  }
  *out = static_cast<uint64_t>(v * scale);
  return true;
}

bool ConfigNode::GetEnum(std::string_view key, std::string* out,
                         std::initializer_list<std::string_view> allowed) {
  std::string v;
  if (!Get(key, &v)) return false;
  for (std::string_view a : allowed) {
    if (v == a) {
      *out = v;
      return true;
    }
  }
  std::string options;
  for (std::string_view a : allowed) {
    if (!options.empty()) options += ", ";
    options += a;
  }
  Error(key, absl::StrCat("invalid value \"", v, "\"; expected one of: ", options));
  return false;
}

ConfigNode ConfigNode::Child(std::string_view key, bool* present) {
  MarkKnown(key);
  if (present != nullptr) *present = Has(key);
  YAML::Node n = Lookup(key);
  auto child = std::make_shared<State>();
  child->path = KeyPath(key);
  child->diag = state_->diag;
  child->node = n;
  if (n.IsDefined() && !n.IsNull() && !n.IsMap()) {
    ErrorAt(n, child->path, "expected a map of settings");
    child->node = YAML::Node(YAML::NodeType::Undefined);
  }
  state_->children.push_back(child);
  return ConfigNode(child);
}

void ConfigNode::ReportUnknownKeys() {
  const YAML::Node& node = state_->node;
  if (node.IsDefined() && node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string& key = it->first.Scalar();
      if (state_->seen.find(key) == state_->seen.end()) {
        ErrorAt(it->first, KeyPath(key), "unknown key");
      }
    }
  }
  for (auto& child : state_->children) ConfigNode(child).ReportUnknownKeys();
}

std::string ExpandEnv(std::string_view value) {
  if (value.find('$') == std::string_view::npos) return std::string(value);
  std::string out;
  size_t i = 0;
  while (i < value.size()) {
    char c = value[i];
    if (c != '$') {
      out.push_back(c);
      ++i;
      continue;
    }
    if (i + 1 < value.size() && value[i + 1] == '$') {
      out.push_back('$');
      i += 2;
      continue;
    }
    if (i + 1 < value.size() && value[i + 1] == '{') {
      size_t end = value.find('}', i + 2);
      if (end == std::string_view::npos) {
        out.append(value.substr(i));
        break;
      }
      std::string_view expr = value.substr(i + 2, end - i - 2);
      if (expr.substr(0, 4) == "env:") expr.remove_prefix(4);
      std::string_view name = expr;
      std::optional<std::string_view> fallback;
      size_t sep = expr.find(":-");
      if (sep != std::string_view::npos) {
        name = expr.substr(0, sep);
        fallback = expr.substr(sep + 2);
      }
      const char* env = std::getenv(std::string(name).c_str());
      if (env != nullptr && (*env != '\0' || !fallback)) {
        out.append(env);
      } else if (fallback) {
        out.append(*fallback);
      }
      i = end + 1;
      continue;
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

}  // namespace otlpd
