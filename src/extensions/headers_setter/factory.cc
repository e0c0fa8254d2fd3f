#include "extensions/headers_setter/factory.h"

#include <yaml-cpp/yaml.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "extensions/headers_setter/config.h"
#include "extensions/headers_setter/headers_setter_extension.h"

namespace otlpd {

namespace {

using Action = HeadersSetterConfig::Action;

constexpr char kBadValue[] =
    "header value must contain only printable ASCII characters (no CR, LF or other control "
    "characters)";

// One `headers` entry; problems go to `item`'s diagnostics.
HeadersSetterConfig::Header ParseHeader(ConfigNode& item) {
  HeadersSetterConfig::Header header;
  std::string key;
  item.Get("key", &key);
  if (key.empty()) {
    item.Error("key", "missing header name");
  } else if (!IsValidHeaderName(key)) {
    item.Error("key", absl::StrCat("invalid header name \"", absl::CEscape(key),
                                   "\": only letters, digits, '-', '_' and '.' are allowed (it "
                                   "must be valid as an HTTP header and as gRPC metadata)"));
  }
  header.key = absl::AsciiStrToLower(key);

  std::string action = "upsert";
  item.GetEnum("action", &action, {"insert", "update", "upsert", "delete"});
  if (action == "insert") {
    header.action = Action::kInsert;
  } else if (action == "update") {
    header.action = Action::kUpdate;
  } else if (action == "delete") {
    header.action = Action::kDelete;
  }

  std::string value, from_context, from_attribute, default_value;
  const bool has_value = item.Get("value", &value);
  const bool has_context = item.Get("from_context", &from_context);
  const bool has_attribute = item.Get("from_attribute", &from_attribute);
  const bool has_default = item.Get("default_value", &default_value);
  if (has_attribute) {
    item.Error("from_attribute",
               "from_attribute is not supported by otlpd: requests carry no client auth "
               "attributes; use from_context (with include_metadata on the receiver) or value");
  }
  // As otelcol-contrib: a delete needs no source (and ignores one).
  if (header.action != Action::kDelete) {
    const int sources = int{has_value} + int{has_context} + int{has_attribute};
    if (sources == 0) {
      item.Error("", "missing header source, must be 'from_context', 'from_attribute' or 'value'");
    } else if (sources > 1) {
      item.Error("",
                 "invalid header source, must either 'from_context', 'from_attribute' or 'value'");
    }
  }
  if (has_value && !IsValidHeaderValue(value)) item.Error("value", kBadValue);
  if (has_default && !IsValidHeaderValue(default_value)) item.Error("default_value", kBadValue);
  // An empty key would silently never match.
  if (has_context && from_context.empty()) {
    item.Error("from_context", "from_context must name a client metadata key");
  }
  if (has_value) header.value = value;
  if (has_context) header.from_context = absl::AsciiStrToLower(from_context);
  if (has_default) header.default_value = default_value;
  return header;
}

class HeadersSetterExtensionFactory : public ExtensionFactory {
 public:
  std::string_view type() const override { return "headers_setter"; }

  std::unique_ptr<ComponentConfig> ParseConfig(ConfigNode& node) const override {
    auto config = std::make_unique<HeadersSetterConfig>();
    node.MarkKnown("headers");
    const YAML::Node& root = node.yaml();
    YAML::Node list = root.IsDefined() && root.IsMap() ? root["headers"] : YAML::Node();
    if (!list.IsDefined() || list.IsNull() || (list.IsSequence() && list.size() == 0)) {
      node.Error("headers", "missing headers configuration");
      return config;
    }
    if (!list.IsSequence()) {
      node.Error("headers", "expected a list");
      return config;
    }
    // The entries are parsed by hand (ConfigNode reads maps, not lists of maps), so their
    // unknown keys are reported here too.
    const std::string prefix =
        node.path().empty() ? std::string("headers") : absl::StrCat(node.path(), "::headers");
    for (size_t i = 0; i < list.size(); ++i) {
      ConfigNode item(list[i], absl::StrCat(prefix, "[", i, "]"), node.diagnostics());
      if (!item.IsDefined()) {
        if (list[i].IsNull()) item.Error("", "missing header name");
        continue;
      }
      config->headers.push_back(ParseHeader(item));
      item.ReportUnknownKeys();
    }
    return config;
  }

  absl::StatusOr<std::unique_ptr<Extension>> Create(const CreateSettings& settings,
                                                    const ComponentConfig& config) const override {
    return std::make_unique<HeadersSetterExtension>(settings,
                                                    ConfigAs<HeadersSetterConfig>(config));
  }
};

}  // namespace

std::unique_ptr<ExtensionFactory> NewHeadersSetterExtensionFactory() {
  return std::make_unique<HeadersSetterExtensionFactory>();
}

}  // namespace otlpd
