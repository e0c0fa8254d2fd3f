// AttrMap must behave as pcommon.Map does: random operation sequences against a plain model
// of it, including what a rewrite writes (the stable prefix left in place, the rest emitted).
#include "processors/attraction/attr_map.h"

#include <gtest/gtest.h>

#include <random>

#include "processors/attraction/editor.h"
#include "processors/attraction/value.h"
#include "processors/attraction/wire.h"
#include "processors/attributes/attributes_test_util.h"

namespace otlpd::attrtest {
namespace {

using attraction::AttrMap;
using attraction::Scratch;
using attraction::WireEditor;
using attraction::WireField;
using attraction::WireReader;

// pcommon.Map on (key, value-bytes) pairs.
struct Model {
  std::vector<std::pair<std::string, std::string>> kv;
  int Find(const std::string& k) const {
    for (size_t i = 0; i < kv.size(); ++i) {
      if (kv[i].first == k) return static_cast<int>(i);
    }
    return -1;
  }
  void Put(const std::string& k, const std::string& v) {
    const int i = Find(k);
    if (i >= 0) {
      kv[i].second = v;
    } else {
      kv.emplace_back(k, v);
    }
  }
  void Remove(const std::string& k) {
    const int i = Find(k);
    if (i < 0) return;
    kv[i] = kv.back();
    kv.pop_back();
  }
};

// The bytes the map writes for attributes [from, size()).
std::string Emitted(const AttrMap& attrs, Scratch* scratch, size_t from = 0) {
  static const std::string kEmpty = "x";
  WireEditor editor;
  editor.Reset(kEmpty);
  editor.Replace(kEmpty.data(), kEmpty.data() + 1);
  attrs.Emit(9, &editor, scratch, from);
  return std::string(editor.Build());
}

// "key=value-bytes-hex ..." of the attribute fields in `bytes`.
std::string Describe(const std::string& bytes) {
  std::string out;
  WireReader r(bytes);
  WireField f;
  while (r.Next(&f)) {
    KeyValue kv;
    EXPECT_TRUE(kv.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size())));
    absl::StrAppend(&out, kv.key(), "=", absl::BytesToHexString(kv.value().SerializeAsString()),
                    " ");
  }
  return out;
}

std::string Expected(const Model& m) {
  std::string out;
  for (const auto& [k, v] : m.kv) absl::StrAppend(&out, k, "=", absl::BytesToHexString(v), " ");
  return out;
}

TEST(AttrMapTest, AgreesWithPcommon) {
  std::mt19937_64 rng(7);
  Scratch scratch;
  for (int iteration = 0; iteration < 3000; ++iteration) {
    // The attribute fields (Span.attributes, field 9), possibly with duplicate keys.
    std::string region;
    Model model;
    const int n = static_cast<int>(rng() % 7);
    for (int i = 0; i < n; ++i) {
      KeyValue kv = Str(absl::StrCat("k", rng() % 5), absl::StrCat("v", i));
      attraction::AppendLenField(&region, 9, kv.SerializeAsString());
      model.kv.emplace_back(kv.key(), kv.value().SerializeAsString());
    }
    AttrMap eager;
    WireReader r(region);
    WireField f;
    while (r.Next(&f)) eager.AddField(f, &scratch);

    const int ops = 1 + static_cast<int>(rng() % 4);
    for (int o = 0; o < ops; ++o) {
      const std::string key = absl::StrCat("k", rng() % 6);
      AnyValue v;
      v.set_string_value(absl::StrCat("new", o));
      const std::string value = v.SerializeAsString();
      const std::string_view stored = scratch.Copy(value);
      const std::string_view stored_key = scratch.Copy(key);
      switch (rng() % 4) {
        case 0:  // insert
          if (eager.Find(stored_key) < 0) eager.Append(stored_key, stored);
          if (model.Find(key) < 0) model.kv.emplace_back(key, value);
          break;
        case 1:  // upsert
          eager.Put(stored_key, stored);
          model.Put(key, value);
          break;
        case 2:  // delete
          eager.Remove(stored_key);
          model.Remove(key);
          break;
        default: {  // update
          const int j = eager.Find(stored_key);
          if (j >= 0) eager.Set(static_cast<size_t>(j), stored);
          const int m = model.Find(key);
          if (m >= 0) model.kv[m].second = value;
        }
      }
    }
    const std::string expected = Expected(model);
    const std::string full = Emitted(eager, &scratch);
    ASSERT_EQ(Describe(full), expected) << "iteration " << iteration;
    // A rewrite keeps the stable prefix's bytes where they are and writes the rest.
    ASSERT_LE(eager.stable(), eager.size());
    const size_t kept = static_cast<size_t>(eager.StableEnd(region.data()) - region.data());
    EXPECT_EQ(region.substr(0, kept) + Emitted(eager, &scratch, eager.stable()), full)
        << "iteration " << iteration;
    // Nothing changed: the list writes its original bytes.
    if (!eager.changed()) {
      EXPECT_EQ(full, region) << "iteration " << iteration;
    }
    scratch.Reset();
  }
}

}  // namespace
}  // namespace otlpd::attrtest
