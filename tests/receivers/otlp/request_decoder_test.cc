// The receiver's decoding of traces requests attaches the span index once a component asks
// for it: one summary per span of the request's own bytes, each request its own index, none
// for a request rewritten to drop invalid spans or for other signals.
#include "receivers/otlp/request_decoder.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "absl/strings/cord.h"
#include "absl/time/time.h"
#include "core/span_index.h"
#include "testing/realistic_traces.h"

namespace otlpd {
namespace {

using bench::TracesRequest;

// The index describes `data`'s spans, in order, as protobuf parses them.
void ExpectIndexOf(const Telemetry& data) {
  ASSERT_NE(data.span_index(), nullptr);
  const SpanIndex& index = *data.span_index();
  const std::string wire(data.wire());
  TracesRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  size_t i = 0;
  for (const auto& rs : parsed.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        ASSERT_LT(i, index.size());
        const SpanSummary& s = index[i++];
        EXPECT_EQ(wire.substr(s.trace_id, s.trace_id_size), span.trace_id());
        EXPECT_EQ(wire.substr(s.name, s.name_size), span.name());
        opentelemetry::proto::trace::v1::Span own;
        ASSERT_TRUE(own.ParseFromString(wire.substr(s.begin, s.end - s.begin)));
        EXPECT_EQ(own.SerializeAsString(), span.SerializeAsString());
      }
    }
  }
  EXPECT_EQ(i, index.size());
}

TEST(RequestDecoderTest, AttachesEachRequestItsOwnSpanIndex) {
  RequestSpanIndex();
  std::mt19937_64 rng(3);
  const absl::Time start = absl::FromUnixSeconds(1'700'000'000);
  const TracesRequest big = bench::MakeRandomAttributeTraces(rng, 100, start);
  const TracesRequest small = bench::MakeRealisticTraces(rng, 5, start);

  auto first = DecodeProtobufRequest(Signal::kTraces, absl::Cord(big.SerializeAsString()));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = DecodeProtobufRequest(Signal::kTraces, absl::Cord(small.SerializeAsString()));
  ASSERT_TRUE(second.ok()) << second.status();
  // Each request keeps an index of its own: the receiver thread's vector handed over, or a
  // copy of it when it is roomier than twice the request's spans (the small request).
  ASSERT_NE(first->data->span_index(), nullptr);
  EXPECT_EQ(first->data->span_index()->size(), 100u);
  ASSERT_NE(second->data->span_index(), nullptr);
  ASSERT_LT(2 * second->data->span_index()->size(), 100u);
  ExpectIndexOf(*first->data);
  ExpectIndexOf(*second->data);
  // Handed over whole (the first) or copied (the second, much smaller than the vector the
  // first left): never more than twice the room a request's spans need.
  for (const auto* d : {&*first, &*second}) {
    EXPECT_LE(d->data->span_index()->capacity(), 2 * d->data->span_index()->size());
  }
  auto again = DecodeProtobufRequest(Signal::kTraces, absl::Cord(big.SerializeAsString()));
  ASSERT_TRUE(again.ok()) << again.status();
  ExpectIndexOf(*again->data);
  ExpectIndexOf(*first->data);

  // A request larger than the vector's kept capacity (16,384 spans), then a small one.
  const TracesRequest huge = bench::MakeRandomAttributeTraces(rng, 20'000, start);
  auto third = DecodeProtobufRequest(Signal::kTraces, absl::Cord(huge.SerializeAsString()));
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->data->span_index()->size(), 20'000u);
  EXPECT_LE(third->data->span_index()->capacity(), 2 * 20'000u);
  auto fourth = DecodeProtobufRequest(Signal::kTraces, absl::Cord(small.SerializeAsString()));
  ASSERT_TRUE(fourth.ok()) << fourth.status();
  ExpectIndexOf(*fourth->data);
  ExpectIndexOf(*third->data);
  EXPECT_LE(fourth->data->span_index()->capacity(), 2 * fourth->data->span_index()->size());

  // The same through OTLP/JSON's transcoding.
  auto json = DecodeJsonRequest(Signal::kTraces, R"({"resourceSpans":[{"scopeSpans":[{"spans":[
      {"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"a"}]}]}]})");
  ASSERT_TRUE(json.ok()) << json.status();
  ExpectIndexOf(*json->data);
}

TEST(RequestDecoderTest, NoIndexForRewrittenRequestsOrOtherSignals) {
  RequestSpanIndex();
  std::mt19937_64 rng(5);
  TracesRequest request =
      bench::MakeRandomAttributeTraces(rng, 10, absl::FromUnixSeconds(1'700'000'000));
  request.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(3)->set_trace_id(
      "short");
  auto rewritten = DecodeProtobufRequest(Signal::kTraces, absl::Cord(request.SerializeAsString()));
  ASSERT_TRUE(rewritten.ok()) << rewritten.status();
  EXPECT_EQ(rewritten->rejected, 1u);
  EXPECT_EQ(rewritten->data->span_index(), nullptr);

  auto logs = DecodeProtobufRequest(Signal::kLogs, absl::Cord(std::string()));
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_EQ(logs->data->span_index(), nullptr);

  // A request that does not parse gets its error, and the next one its index.
  EXPECT_FALSE(DecodeProtobufRequest(Signal::kTraces, absl::Cord(std::string("\x0a\xff", 2))).ok());
  auto next = DecodeProtobufRequest(Signal::kTraces, absl::Cord(request.SerializeAsString()));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->data->span_index(), nullptr);  // still rewritten: span 3's id is invalid
  request.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(3)->set_trace_id(
      std::string(16, '\x07'));
  auto valid = DecodeProtobufRequest(Signal::kTraces, absl::Cord(request.SerializeAsString()));
  ASSERT_TRUE(valid.ok());
  ExpectIndexOf(*valid->data);
}

}  // namespace
}  // namespace otlpd
