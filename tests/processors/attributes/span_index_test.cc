// The attributes processor with the receiver's span index: a span whose key filter rules out
// every key the actions act on is edited without loading its attributes, and must come out
// exactly as when its attributes are loaded.
#include "core/span_index.h"

#include <gtest/gtest.h>

#include <random>

#include "processors/attributes/attributes_test_util.h"
#include "testing/realistic_traces.h"

namespace otlpd::attrtest {
namespace {

using opentelemetry::proto::trace::v1::Span;

// A request as the receiver hands it on, with the span index it attaches when `indexed`.
std::shared_ptr<Telemetry> Received(const std::string& bytes, bool indexed,
                                    std::shared_ptr<const Metadata> metadata) {
  auto index = std::make_shared<SpanIndex>();
  auto scan = ScanOtlpRequest(Signal::kTraces, bytes, index.get());
  EXPECT_TRUE(scan.ok()) << scan.status();
  auto data = Telemetry::FromWire(Signal::kTraces, absl::Cord(bytes), scan.ok() ? scan->items : 0);
  if (indexed) data->set_span_index(std::move(index));
  data->set_metadata(std::move(metadata));
  return data;
}

std::string Output(Harness& h, const std::string& bytes, bool indexed,
                   std::shared_ptr<const Metadata> metadata = nullptr) {
  TelemetryPtr out = h.Run(Received(bytes, indexed, std::move(metadata)));
  if (out == nullptr) return "(nothing)";
  ExpectValidWire(*out);
  return std::string(out->wire());
}

constexpr const char* kActionSets[] = {
    // A new key on every span (the benchmarked case).
    "- {key: deployment.environment.name, value: staging, action: upsert}",
    // Keys some spans have (loaded there) and others none has.
    R"yaml(- {key: http.route, value: "/x", action: insert}
- {key: team, value: shop, action: insert}
- {key: no.such.key, value: 1, action: update}
- {key: server.port, value: 1, action: upsert})yaml",
    // Read from an attribute some spans have; then chained on the result.
    R"yaml(- {key: route.copy, from_attribute: http.route, action: upsert}
- {key: route.copy, pattern: "^/(?P<first>[a-z]+)", action: extract}
- {key: route.copy, action: hash})yaml",
    // Nothing to do on most spans: the request passes on as it came.
    R"yaml(- {key: no.such.key, action: delete}
- {key: nor.this, action: hash}
- {key: nor.that, converted_type: int, action: convert})yaml",
    // From client metadata.
    "- {key: tenant, from_context: x-tenant, action: insert}",
    // A pattern: every span is loaded (no index used).
    R"yaml(- {pattern: "^thread\\.", action: delete}
- {key: pattern.seen, value: true, action: upsert})yaml",
};

TEST(AttributesSpanIndexTest, IndexedSpansComeOutAsLoadedOnes) {
  auto metadata = std::make_shared<Metadata>(Metadata{{"x-tenant", "acme"}});
  for (const char* actions : kActionSets) {
    Harness walked(Factory(), std::string("actions:\n") + actions, Signal::kTraces);
    Harness indexed(Factory(), std::string("actions:\n") + actions, Signal::kTraces);
    ASSERT_NE(walked.processor, nullptr) << actions;
    std::mt19937_64 rng(11);
    const absl::Time start = absl::FromUnixSeconds(1'700'000'000);
    std::string previous;
    size_t changed = 0;
    for (int i = 0; i < 20; ++i) {
      TracesRequest request = bench::MakeVariedTraces(rng, i, 60, start);
      if (i % 4 == 1)
        request.mutable_resource_spans(0)
            ->mutable_scope_spans(0)
            ->mutable_spans(0)
            ->clear_attributes();
      const std::string bytes = request.SerializeAsString();
      const std::string want = Output(walked, bytes, false, metadata);
      EXPECT_EQ(Output(indexed, bytes, true, metadata), want) << actions << "\nrequest " << i;
      if (want != bytes) ++changed;
      if (!previous.empty()) {
        // Another request's index is not followed.
        auto data = Received(bytes, false, metadata);
        auto other = std::make_shared<SpanIndex>();
        ASSERT_TRUE(ScanOtlpRequest(Signal::kTraces, previous, other.get()).ok());
        data->set_span_index(std::move(other));
        EXPECT_EQ(std::string(indexed.Run(std::move(data))->wire()), want) << actions;
      }
      previous = bytes;
    }
    // Without client metadata, from_context adds nothing.
    const std::string bytes = bench::MakeRealisticTraces(rng, 30, start).SerializeAsString();
    EXPECT_EQ(Output(indexed, bytes, true), Output(walked, bytes, false)) << actions;
    // Each set changes some requests, except the one with nothing to do.
    if (std::string_view(actions).find("no.such.key, action: delete") == std::string_view::npos) {
      EXPECT_GT(changed, 0u) << actions;
    } else {
      EXPECT_EQ(changed, 0u) << actions;
    }
  }
}

// A length-delimited field: tag, length, payload.
std::string LenField(int number, const std::string& payload) {
  std::string out(1, static_cast<char>(number << 3 | 2));
  for (uint64_t n = payload.size();; n >>= 7) {
    out.push_back(static_cast<char>((n & 0x7f) | (n >= 0x80 ? 0x80 : 0)));
    if (n < 0x80) break;
  }
  return out + payload;
}

// Attribute fields with other fields between them: the loaded path writes them all in the
// first one's place, the indexed path appends after the last; protobuf reads the same span.
TEST(AttributesSpanIndexTest, SplitAttributeFieldsReadTheSame) {
  Span span;
  span.set_trace_id(std::string(16, '\x01'));
  span.set_span_id(std::string(8, '\x02'));
  span.set_name("op");
  *span.add_attributes() = Str("a", "1");
  span.add_events()->set_name("ev");  // field 11, after the attributes (9)
  Span tail;
  *tail.add_attributes() = Str("b", "2");
  // Request.resource_spans (1) > ResourceSpans.scope_spans (2) > ScopeSpans.spans (2).
  const std::string bytes =
      LenField(1, LenField(2, LenField(2, span.SerializeAsString() + tail.SerializeAsString())));
  const char* actions = "actions:\n- {key: c, value: 3, action: insert}";
  Harness walked(Factory(), actions, Signal::kTraces);
  Harness indexed(Factory(), actions, Signal::kTraces);
  TracesRequest want;
  TracesRequest got;
  ASSERT_TRUE(want.ParseFromString(Output(walked, bytes, false)));
  ASSERT_TRUE(got.ParseFromString(Output(indexed, bytes, true)));
  EXPECT_EQ(Describe(got.resource_spans(0).scope_spans(0).spans(0).attributes()),
            "a=Str:1 b=Str:2 c=Int:3");
  EXPECT_EQ(got.SerializeAsString(), want.SerializeAsString());
}

}  // namespace
}  // namespace otlpd::attrtest
