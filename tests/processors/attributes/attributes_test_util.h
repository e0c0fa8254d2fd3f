// Helpers for the attributes processor tests: requests built with the protobuf API, a
// processor built from YAML through its factory, and readable forms of attribute lists.
#pragma once

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "core/config_node.h"
#include "core/factory.h"
#include "core/otlp_wire.h"
#include "core/telemetry.h"
#include "processors/attributes/factory.h"
#include "testing/test_host.h"

namespace otlpd::attrtest {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;
using KeyValues = google::protobuf::RepeatedPtrField<KeyValue>;

inline KeyValue Str(std::string key, std::string v) {
  KeyValue kv;
  kv.set_key(std::move(key));
  kv.mutable_value()->set_string_value(std::move(v));
  return kv;
}
inline KeyValue Int(std::string key, int64_t v) {
  KeyValue kv;
  kv.set_key(std::move(key));
  kv.mutable_value()->set_int_value(v);
  return kv;
}
inline KeyValue Dbl(std::string key, double v) {
  KeyValue kv;
  kv.set_key(std::move(key));
  kv.mutable_value()->set_double_value(v);
  return kv;
}
inline KeyValue Bool(std::string key, bool v) {
  KeyValue kv;
  kv.set_key(std::move(key));
  kv.mutable_value()->set_bool_value(v);
  return kv;
}
inline KeyValue Bytes(std::string key, std::string v) {
  KeyValue kv;
  kv.set_key(std::move(key));
  kv.mutable_value()->set_bytes_value(std::move(v));
  return kv;
}
inline KeyValue Empty(std::string key) {
  KeyValue kv;
  kv.set_key(std::move(key));
  kv.mutable_value();
  return kv;
}
// A map {"a": "x", "b": 2}.
inline KeyValue MapValue(std::string key) {
  KeyValue kv;
  kv.set_key(std::move(key));
  auto* list = kv.mutable_value()->mutable_kvlist_value();
  *list->add_values() = Str("b", "x");
  *list->add_values() = Int("a", 2);
  return kv;
}
// A slice ["x", 2].
inline KeyValue SliceValue(std::string key) {
  KeyValue kv;
  kv.set_key(std::move(key));
  auto* array = kv.mutable_value()->mutable_array_value();
  array->add_values()->set_string_value("x");
  array->add_values()->set_int_value(2);
  return kv;
}

// "Str:abc", "Int:5", "Double:1.5", "Bool:true", "Bytes:0a0b", "Map{a=Int:2 b=Str:x}",
// "Slice[Str:x Int:2]", "Empty".
inline std::string Describe(const AnyValue& v);
inline std::string Describe(const KeyValues& attrs) {
  std::vector<std::string> parts;
  for (const KeyValue& kv : attrs)
    parts.push_back(absl::StrCat(kv.key(), "=", Describe(kv.value())));
  return absl::StrJoin(parts, " ");
}
inline std::string Describe(const AnyValue& v) {
  switch (v.value_case()) {
    case AnyValue::kStringValue:
      return "Str:" + v.string_value();
    case AnyValue::kIntValue:
      return absl::StrCat("Int:", v.int_value());
    case AnyValue::kDoubleValue:
      return absl::StrCat("Double:", v.double_value());
    case AnyValue::kBoolValue:
      return v.bool_value() ? "Bool:true" : "Bool:false";
    case AnyValue::kBytesValue:
      return "Bytes:" + absl::BytesToHexString(v.bytes_value());
    case AnyValue::kKvlistValue:
      return "Map{" + Describe(v.kvlist_value().values()) + "}";
    case AnyValue::kArrayValue: {
      std::vector<std::string> parts;
      for (const AnyValue& e : v.array_value().values()) parts.push_back(Describe(e));
      return "Slice[" + absl::StrJoin(parts, " ") + "]";
    }
    default:
      return "Empty";
  }
}

// Records what reaches it; completes at once.
class Sink : public Consumer {
 public:
  void Consume(TelemetryPtr data, Completion done) override {
    {
      absl::MutexLock lock(&mu_);
      received_.push_back(data);
    }
    std::move(done)(absl::OkStatus());
  }
  std::vector<TelemetryPtr> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }
  TelemetryPtr last() {
    absl::MutexLock lock(&mu_);
    return received_.empty() ? nullptr : received_.back();
  }

 private:
  absl::Mutex mu_;
  std::vector<TelemetryPtr> received_;
};

// The attributes processor's factory, made once.
inline const ProcessorFactory& Factory() {
  static const auto* factory = NewAttributesProcessorFactory().release();
  return *factory;
}

// Parses `yaml` as the settings of factory `factory` at `path`; errors go to `diag`.
inline std::unique_ptr<ComponentConfig> ParseWith(const ProcessorFactory& factory,
                                                  const std::string& yaml, Diagnostics* diag,
                                                  const std::string& path) {
  ConfigNode node(YAML::Load(yaml), path, diag);
  auto config = factory.ParseConfig(node);
  node.ReportUnknownKeys();
  return config;
}

// A processor of `factory` for `signal` with config `yaml` (which must be valid), feeding a
// Sink.
struct Harness {
  Harness(const ProcessorFactory& factory, const std::string& yaml, Signal signal,
          const std::string& path = "processors::attributes")
      : sink(std::make_shared<Sink>()) {
    Diagnostics diag;
    config = ParseWith(factory, yaml, &diag, path);
    EXPECT_TRUE(diag.ok()) << diag.Format();
    auto created =
        factory.Create(CreateSettings{{"attributes", "test"}, &host}, *config, signal, sink);
    EXPECT_TRUE(created.ok()) << created.status();
    if (created.ok()) processor = std::move(*created);
  }

  // Passes `data` through; returns what came out.
  TelemetryPtr Run(TelemetryPtr data) {
    absl::Status status = absl::InternalError("not completed");
    processor->Consume(std::move(data), [&](absl::Status s) { status = s; });
    EXPECT_TRUE(status.ok()) << status;
    return sink->last();
  }

  testing::TestHost host;
  std::shared_ptr<Sink> sink;
  std::unique_ptr<ComponentConfig> config;
  std::unique_ptr<Processor> processor;
};

// A request as the receiver hands it on: its encoding, checked by the wire scan, in a Cord
// of one chunk (receivers adopt gRPC's slice or the HTTP body).
template <class Request>
TelemetryPtr FromRequest(Signal signal, const Request& request) {
  auto* bytes = new std::string(request.SerializeAsString());
  auto scan = ScanOtlpRequest(signal, *bytes);
  EXPECT_TRUE(scan.ok()) << scan.status();
  absl::Cord wire =
      absl::MakeCordFromExternal(*bytes, [bytes](absl::string_view) { delete bytes; });
  return Telemetry::FromWire(signal, std::move(wire), scan.ok() ? scan->items : 0);
}

// Checks that `data`'s encoding is a valid request (what receivers guarantee downstream).
inline void ExpectValidWire(const Telemetry& data) {
  const std::string bytes(data.wire());
  auto scan = ScanOtlpRequest(data.signal(), bytes);
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->items, data.ItemCount());
}

}  // namespace otlpd::attrtest
