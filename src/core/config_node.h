#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/component.h"

namespace otlpd {

// One configuration problem, with where it is.
struct ConfigError {
  std::string path;  // otelcol style key path: "receivers::otlp::protocols::grpc::endpoint"
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;
  std::string message;
};

// A component's reference to an extension (auth::authenticator, sending_queue::storage,
// ...), checked against service::extensions once the whole config is read.
struct ExtensionRef {
  ComponentId id;
  ConfigError where;  // path, line and column of the reference; message unused
};

// Collects every error of a config (validation reports them all, not just the first).
class Diagnostics {
 public:
  explicit Diagnostics(std::string file = "") : file_(std::move(file)) {}
  void Add(ConfigError e) { errors_.push_back(std::move(e)); }
  bool ok() const { return errors_.empty(); }
  const std::vector<ConfigError>& errors() const { return errors_; }
  // "FILE:LINE:COL: PATH: MESSAGE", one per line.
  std::string Format() const;

  void AddExtensionRef(ExtensionRef ref) { extension_refs_.push_back(std::move(ref)); }
  const std::vector<ExtensionRef>& extension_refs() const { return extension_refs_; }

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
  std::vector<ExtensionRef> extension_refs_;
};

// A typed, error-collecting view of one YAML map in the config, used by component
// factories to parse their settings:
//
//   void ParseConfig(ConfigNode& node) {
//     node.Get("endpoint", &cfg.endpoint);
//     node.GetDuration("timeout", &cfg.timeout);
//     ConfigNode tls = node.Child("tls");
//     tls.Get("insecure", &cfg.insecure);
//   }
//
// Getters leave the output untouched when the key is absent (so defaults stay), record a
// "wrong type" error when the value does not fit, and mark the key as known. After parsing,
// the caller runs ReportUnknownKeys() on the root to flag every key nobody read (nested
// children included). Scalars go through ${env:VAR} / ${env:VAR:-default} expansion.
class ConfigNode {
 public:
  ConfigNode(YAML::Node node, std::string path, Diagnostics* diag);

  const std::string& path() const { return state_->path; }
  bool IsDefined() const { return state_->node.IsDefined() && !state_->node.IsNull(); }
  bool Has(std::string_view key) const;
  // Keys of this map in file order (marks none as known).
  std::vector<std::string> Keys() const;

  // Each returns true if the key was present and parsed.
  bool Get(std::string_view key, std::string* out);
  bool Get(std::string_view key, bool* out);
  bool Get(std::string_view key, int64_t* out);
  bool Get(std::string_view key, int* out);
  bool Get(std::string_view key, double* out);
  bool Get(std::string_view key, std::vector<std::string>* out);
  // Go-style durations: "200ms", "5s", "1m30s".
  bool GetDuration(std::string_view key, absl::Duration* out);
  // A size in bytes: a plain number, or a number with a unit B, KB, MB, GB, TB (powers
  // of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. "512MiB", "1.5GB".
  bool GetBytes(std::string_view key, uint64_t* out);
  // A string that must be one of `allowed`.
  bool GetEnum(std::string_view key, std::string* out,
               std::initializer_list<std::string_view> allowed);
  // Map of string to string (e.g. headers).
  bool Get(std::string_view key, std::vector<std::pair<std::string, std::string>>* out);
  // The id of an extension this component uses ("bearertokenauth", "file_storage/q").
  // Recorded in the diagnostics, so that one missing from service::extensions is an error.
  bool GetExtensionRef(std::string_view key, ComponentId* out);

  // Nested map; an absent key gives an undefined node whose getters find nothing.
  // `present` (optional) tells whether the key exists even when its value is null
  // (otelcol's "protocols: {grpc:}" enables grpc with defaults).
  ConfigNode Child(std::string_view key, bool* present = nullptr);

  // Marks a key as known without reading it (for keys parsed by hand).
  void MarkKnown(std::string_view key);
  // Records an error at `key` of this node (or at the node itself if key is empty), placed
  // at the key's value.
  void Error(std::string_view key, std::string_view message);
  // Same, placed at the key itself (for errors about the key, e.g. a bad pipeline id).
  void KeyError(std::string_view key, std::string_view message);

  // Flags every key of this node and its children that no getter read.
  void ReportUnknownKeys();

  Diagnostics* diagnostics() const { return state_->diag; }
  const YAML::Node& yaml() const { return state_->node; }

 private:
  struct State {
    YAML::Node node;
    std::string path;
    Diagnostics* diag;
    std::set<std::string, std::less<>> seen;
    std::vector<std::shared_ptr<State>> children;
  };
  explicit ConfigNode(std::shared_ptr<State> s) : state_(std::move(s)) {}
  YAML::Node Lookup(std::string_view key);
  bool Scalar(std::string_view key, YAML::Node n, std::string* out);
  void ErrorAt(const YAML::Node& n, std::string path, std::string_view message);
  std::string KeyPath(std::string_view key) const;

  std::shared_ptr<State> state_;
};

// Expands ${env:VAR}, ${env:VAR:-default}, ${VAR} and $$ in a scalar. Unset variables
// without a default expand to "" (as otelcol does).
std::string ExpandEnv(std::string_view value);

}  // namespace otlpd
