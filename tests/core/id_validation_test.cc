#include "core/id_validation.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace otlpd {
namespace {

using opentelemetry::proto::logs::v1::LogRecord;
using opentelemetry::proto::trace::v1::Span;

const std::string kTraceId =
    std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10", 16);
const std::string kSpanId = std::string("\x11\x12\x13\x14\x15\x16\x17\x18", 8);

Span* AddSpan(TracesRequest* request, const std::string& name, int resource = 0, int scope = 0) {
  while (request->resource_spans_size() <= resource) request->add_resource_spans();
  auto* rs = request->mutable_resource_spans(resource);
  while (rs->scope_spans_size() <= scope) rs->add_scope_spans();
  Span* span = rs->mutable_scope_spans(scope)->add_spans();
  span->set_name(name);
  span->set_trace_id(kTraceId);
  span->set_span_id(kSpanId);
  return span;
}

std::vector<std::string> SpanNames(const TracesRequest& request) {
  std::vector<std::string> names;
  for (const auto& rs : request.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) names.push_back(span.name());
    }
  }
  return names;
}

TEST(IdValidationTest, IdPredicates) {
  EXPECT_TRUE(IsValidTraceId(kTraceId));
  EXPECT_FALSE(IsValidTraceId(std::string(16, '\0')));
  EXPECT_FALSE(IsValidTraceId(kTraceId.substr(0, 15)));
  EXPECT_FALSE(IsValidTraceId(kTraceId + "x"));
  EXPECT_FALSE(IsValidTraceId(""));
  std::string last_byte_set(16, '\0');
  last_byte_set[15] = 1;
  EXPECT_TRUE(IsValidTraceId(last_byte_set));

  EXPECT_TRUE(IsValidSpanId(kSpanId));
  EXPECT_FALSE(IsValidSpanId(std::string(8, '\0')));
  EXPECT_FALSE(IsValidSpanId(kSpanId.substr(0, 7)));
  EXPECT_FALSE(IsValidSpanId(""));
}

TEST(IdValidationTest, ValidSpansStayInPlace) {
  TracesRequest request;
  for (int i = 0; i < 5; ++i) AddSpan(&request, absl::StrCat("s", i), i % 2, i % 3);
  AddSpan(&request, "with-parent")->set_parent_span_id(kSpanId);
  Span* linked = AddSpan(&request, "with-link");
  linked->add_links()->set_trace_id(kTraceId);
  linked->mutable_links(0)->set_span_id(kSpanId);
  std::vector<const Span*> before;
  for (const auto& rs : request.resource_spans())
    for (const auto& ss : rs.scope_spans())
      for (const auto& span : ss.spans()) before.push_back(&span);

  IdValidation result = RemoveInvalidSpans(&request);
  EXPECT_EQ(result.kept, 7u);
  EXPECT_EQ(result.rejected, 0u);
  std::vector<const Span*> after;
  for (const auto& rs : request.resource_spans())
    for (const auto& ss : rs.scope_spans())
      for (const auto& span : ss.spans()) after.push_back(&span);
  EXPECT_EQ(before, after);  // same objects: nothing was copied or moved
}

TEST(IdValidationTest, RemovesEachKindOfBadSpanAndKeepsOrder) {
  TracesRequest request;
  AddSpan(&request, "ok1");
  AddSpan(&request, "short-trace")->set_trace_id(kTraceId.substr(0, 8));
  AddSpan(&request, "zero-trace")->set_trace_id(std::string(16, '\0'));
  AddSpan(&request, "ok2");
  AddSpan(&request, "long-span")->set_span_id(kSpanId + "9");
  AddSpan(&request, "zero-span")->set_span_id(std::string(8, '\0'));
  AddSpan(&request, "no-span")->clear_span_id();
  AddSpan(&request, "bad-parent")->set_parent_span_id("abcd");
  Span* bad_link_trace = AddSpan(&request, "bad-link-trace");
  bad_link_trace->add_links()->set_trace_id("x");
  bad_link_trace->mutable_links(0)->set_span_id(kSpanId);
  Span* bad_link_span = AddSpan(&request, "bad-link-span");
  bad_link_span->add_links()->set_trace_id(kTraceId);
  bad_link_span->mutable_links(0)->set_span_id(std::string(8, '\0'));
  AddSpan(&request, "ok3");
  AddSpan(&request, "other-scope-ok", 0, 1);
  AddSpan(&request, "other-resource-bad", 1, 0)->set_trace_id("");

  IdValidation result = RemoveInvalidSpans(&request);
  EXPECT_EQ(result.kept, 4u);
  EXPECT_EQ(result.rejected, 9u);
  EXPECT_EQ(SpanNames(request), (std::vector<std::string>{"ok1", "ok2", "ok3", "other-scope-ok"}));
  EXPECT_EQ(CountItems(request), 4u);
}

TEST(IdValidationTest, AllSpansRejected) {
  TracesRequest request;
  AddSpan(&request, "a")->set_trace_id("");
  AddSpan(&request, "b")->set_span_id("");
  IdValidation result = RemoveInvalidSpans(&request);
  EXPECT_EQ(result.kept, 0u);
  EXPECT_EQ(result.rejected, 2u);
  EXPECT_EQ(CountItems(request), 0u);
}

TEST(IdValidationTest, WorksOnArenaMessages) {
  Telemetry data(Signal::kTraces, 4096);
  AddSpan(data.mutable_traces(), "ok");
  AddSpan(data.mutable_traces(), "bad")->set_span_id("1");
  AddSpan(data.mutable_traces(), "ok2");
  IdValidation result = RemoveInvalidItems(&data);
  EXPECT_EQ(result.kept, 2u);
  EXPECT_EQ(result.rejected, 1u);
  EXPECT_EQ(SpanNames(data.traces()), (std::vector<std::string>{"ok", "ok2"}));
}

TEST(IdValidationTest, LogRecords) {
  LogsRequest request;
  auto* records = request.add_resource_logs()->add_scope_logs()->mutable_log_records();
  auto add = [&](const std::string& body, const std::string& trace, const std::string& span) {
    LogRecord* r = records->Add();
    r->mutable_body()->set_string_value(body);
    r->set_trace_id(trace);
    r->set_span_id(span);
  };
  add("no-ids", "", "");
  add("both", kTraceId, kSpanId);
  add("zero-ids-are-fine", std::string(16, '\0'), std::string(8, '\0'));
  add("short-trace", kTraceId.substr(1), "");
  add("long-span", "", kSpanId + "0");
  add("trace-only", kTraceId, "");

  IdValidation result = RemoveInvalidLogRecords(&request);
  EXPECT_EQ(result.kept, 4u);
  EXPECT_EQ(result.rejected, 2u);
  std::vector<std::string> bodies;
  for (const auto& r : request.resource_logs(0).scope_logs(0).log_records()) {
    bodies.push_back(r.body().string_value());
  }
  EXPECT_EQ(bodies,
            (std::vector<std::string>{"no-ids", "both", "zero-ids-are-fine", "trace-only"}));
}

TEST(IdValidationTest, MetricsAreCountedNotValidated) {
  Telemetry data(Signal::kMetrics);
  auto* metric = data.mutable_metrics()->add_resource_metrics()->add_scope_metrics()->add_metrics();
  auto* gauge = metric->mutable_gauge();
  gauge->add_data_points()->set_as_int(1);
  auto* exemplar = gauge->add_data_points()->add_exemplars();
  exemplar->set_trace_id("bad");
  IdValidation result = RemoveInvalidItems(&data);
  EXPECT_EQ(result.kept, 2u);
  EXPECT_EQ(result.rejected, 0u);
}

TEST(IdValidationTest, Messages) {
  EXPECT_EQ(RejectedItemsMessage(Signal::kTraces, 2),
            "2 spans with invalid trace_id/span_id rejected");
  EXPECT_EQ(RejectedItemsMessage(Signal::kLogs, 1),
            "1 log records with invalid trace_id/span_id rejected");
}

}  // namespace
}  // namespace otlpd
