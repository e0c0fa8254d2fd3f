// The redaction processor on real requests: allowed, ignored and blocked keys, blocked and
// allowed values, the built-in masks in every attribute map and in log bodies, otelcol's
// summary attributes, requests with nothing to change passed on as they came, and config
// errors with their place.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "processors/attributes/attributes_test_util.h"
#include "processors/redaction/factory.h"
#include "testing/otlp_data.h"

namespace otlpd::attrtest {
namespace {

using ::testing::HasSubstr;
using Span = opentelemetry::proto::trace::v1::Span;

struct Redaction {
  Redaction(const std::string& yaml, Signal signal) : sink(std::make_shared<Sink>()) {
    Diagnostics diag;
    config = ParseWith(*NewRedactionProcessorFactory(), yaml, &diag, "processors::redaction");
    EXPECT_TRUE(diag.ok()) << diag.Format();
    auto created = NewRedactionProcessorFactory()->Create(
        CreateSettings{{"redaction", "test"}, &host}, *config, signal, sink);
    EXPECT_TRUE(created.ok()) << created.status();
    if (created.ok()) processor = std::move(*created);
  }
  TelemetryPtr Run(TelemetryPtr data) {
    absl::Status status = absl::InternalError("not completed");
    processor->Consume(std::move(data), [&](absl::Status s) { status = s; });
    EXPECT_TRUE(status.ok()) << status;
    ExpectValidWire(*sink->last());
    return sink->last();
  }

  testing::TestHost host;
  std::shared_ptr<Sink> sink;
  std::unique_ptr<ComponentConfig> config;
  std::unique_ptr<Processor> processor;
};

TracesRequest OneSpan(std::vector<KeyValue> attrs) {
  TracesRequest r;
  auto* rs = r.add_resource_spans();
  *rs->mutable_resource()->add_attributes() = Str("service.name", "pay");
  Span* s = rs->add_scope_spans()->add_spans();
  s->set_trace_id(std::string(16, '\x01'));
  s->set_span_id(std::string(8, '\x02'));
  s->set_name("charge");
  for (auto& kv : attrs) *s->add_attributes() = kv;
  return r;
}

const Span& FirstSpan(const TelemetryPtr& t) {
  return t->traces().resource_spans(0).scope_spans(0).spans(0);
}

TEST(RedactionProcessorTest, AllowedKeysMaskingAndDebugSummary) {
  Redaction p(R"yaml(
allowed_keys: [user.email, card, note, id]
summary: debug
)yaml",
              Signal::kTraces);
  auto out = p.Run(FromRequest(
      Signal::kTraces, OneSpan({Str("user.email", "alice@example.com"),
                                Str("card", "4111 1111 1111 1111"), Str("secret", "hunter2"),
                                Str("password", "p"), Str("note", "call 555"), Int("id", 7)})));
  // secret and password deleted (the last attribute takes a removed one's place, as in
  // pcommon), the card and the address masked, then the summary.
  EXPECT_EQ(Describe(FirstSpan(out).attributes()),
            "user.email=Str:**** card=Str:**** id=Int:7 note=Str:call 555 "
            "redaction.redacted.keys=Str:password,secret redaction.redacted.count=Int:2 "
            "redaction.masked.keys=Str:card,user.email redaction.masked.count=Int:2");
  // The resource's service.name is not allowed either.
  EXPECT_EQ(Describe(out->traces().resource_spans(0).resource().attributes()),
            "redaction.redacted.keys=Str:service.name redaction.redacted.count=Int:1");
  EXPECT_EQ(FirstSpan(out).name(), "charge");
}

TEST(RedactionProcessorTest, IgnoredBlockedAndAllowedValuesWithInfoSummary) {
  Redaction p(R"yaml(
allow_all_keys: true
ignored_keys: [raw.card]
blocked_key_patterns: ["^token"]
blocked_values: ["SSN-[0-9]{3}"]
allowed_values: ["@example\\.com$"]
summary: info
)yaml",
              Signal::kTraces);
  auto out = p.Run(FromRequest(
      Signal::kTraces,
      OneSpan({Str("raw.card", "4111111111111111"), Str("token.api", "abcdef"),
               Str("who", "ops@example.com"), Str("ssn", "id SSN-123 x"), Int("count", 3)})));
  EXPECT_EQ(Describe(FirstSpan(out).attributes()),
            "raw.card=Str:4111111111111111 token.api=Str:**** who=Str:ops@example.com "
            "ssn=Str:id **** x count=Int:3 redaction.masked.count=Int:2 "
            "redaction.allowed.count=Int:1 redaction.ignored.count=Int:1");
}

TEST(RedactionProcessorTest, SpanEventsResourceAndScopeAttributes) {
  Redaction p("allow_all_keys: true", Signal::kTraces);
  TracesRequest r = OneSpan({Str("k", "v")});
  auto* rs = r.mutable_resource_spans(0);
  *rs->mutable_resource()->add_attributes() = Str("owner", "bob@corp.example");
  *rs->mutable_scope_spans(0)->mutable_scope()->add_attributes() = Str("s", "4111111111111111");
  auto* ev = rs->mutable_scope_spans(0)->mutable_spans(0)->add_events();
  ev->set_name("payment");
  *ev->add_attributes() = Str("card", "card 5555-5555-5555-4444 ok");
  rs->mutable_scope_spans(0)->mutable_spans(0)->add_events()->set_name("clean");
  auto out = p.Run(FromRequest(Signal::kTraces, r));
  const auto& ors = out->traces().resource_spans(0);
  EXPECT_EQ(Describe(ors.resource().attributes()), "service.name=Str:pay owner=Str:****");
  EXPECT_EQ(Describe(ors.scope_spans(0).scope().attributes()), "s=Str:****");
  EXPECT_EQ(Describe(FirstSpan(out).attributes()), "k=Str:v");
  ASSERT_EQ(FirstSpan(out).events_size(), 2);
  EXPECT_EQ(Describe(FirstSpan(out).events(0).attributes()), "card=Str:card **** ok");
  EXPECT_EQ(FirstSpan(out).events(1).name(), "clean");
  // Everything else as sent.
  Span sent = r.resource_spans(0).scope_spans(0).spans(0);
  Span got = FirstSpan(out);
  sent.clear_events();
  got.clear_events();
  EXPECT_EQ(testing::ProtoDiff(sent, got), "");
}

TEST(RedactionProcessorTest, LogBodiesAndAttributes) {
  Redaction p("allow_all_keys: true\nsummary: debug", Signal::kLogs);
  LogsRequest r;
  auto* scope = r.add_resource_logs()->add_scope_logs();
  auto* a = scope->add_log_records();
  a->mutable_body()->set_string_value("refund to 4111-1111-1111-1111 for carol@shop.example");
  *a->add_attributes() = Str("user", "carol@shop.example");
  a->set_severity_text("INFO");
  auto* b = scope->add_log_records();
  b->mutable_body()->set_string_value("nothing sensitive");
  auto* c = scope->add_log_records();
  c->mutable_body()->set_int_value(4111111111111111);  // its string form is a card number
  auto out = p.Run(FromRequest(Signal::kLogs, r));
  const auto& records = out->logs().resource_logs(0).scope_logs(0).log_records();
  ASSERT_EQ(records.size(), 3);
  EXPECT_EQ(records[0].body().string_value(), "refund to **** for ****");
  EXPECT_EQ(Describe(records[0].attributes()),
            "user=Str:**** redaction.masked.keys=Str:user redaction.masked.count=Int:1 "
            "redaction.body.masked.keys=Str:body redaction.body.masked.count=Int:1");
  EXPECT_EQ(records[0].severity_text(), "INFO");
  EXPECT_EQ(testing::ProtoDiff(r.resource_logs(0).scope_logs(0).log_records(1), records[1]), "");
  EXPECT_EQ(records[2].body().string_value(), "****");
}

// Map and slice bodies (structured logs) get the attribute rules at every level: keys not
// allowed removed, blocked keys masked whole, values masked, slice elements by value; the
// body summary names the dotted paths.
TEST(RedactionProcessorTest, StructuredLogBodies) {
  Redaction p(R"yaml(
allowed_keys: [msg, user, email, cards, note, id]
blocked_key_patterns: ["^note$"]
summary: debug
)yaml",
              Signal::kLogs);
  LogsRequest r;
  auto* scope = r.add_resource_logs()->add_scope_logs();
  auto* a = scope->add_log_records();
  auto* map = a->mutable_body()->mutable_kvlist_value();
  *map->add_values() = Str("msg", "refund for carol@shop.example");
  *map->add_values() = Str("secret", "hunter2");  // not allowed: removed
  KeyValue user;
  user.set_key("user");
  auto* inner = user.mutable_value()->mutable_kvlist_value();
  *inner->add_values() = Str("email", "dave@shop.example");
  *inner->add_values() = Str("password", "pw");  // not allowed at the inner level either
  *inner->add_values() = Int("id", 7);
  *map->add_values() = user;
  KeyValue cards;
  cards.set_key("cards");
  auto* list = cards.mutable_value()->mutable_array_value();
  list->add_values()->set_string_value("4111 1111 1111 1111");
  list->add_values()->set_string_value("none");
  *map->add_values() = cards;
  *map->add_values() = Str("note", "anything");  // blocked key: masked whole
  auto* b = scope->add_log_records();            // a slice body
  auto* slice = b->mutable_body()->mutable_array_value();
  slice->add_values()->set_string_value("mail erin@shop.example");
  slice->add_values()->set_int_value(3);
  auto* c = scope->add_log_records();  // nothing to change
  *c->mutable_body()->mutable_kvlist_value()->add_values() = Str("msg", "hello");

  auto out = p.Run(FromRequest(Signal::kLogs, r));
  const auto& records = out->logs().resource_logs(0).scope_logs(0).log_records();
  ASSERT_EQ(records.size(), 3);
  const auto& body = records[0].body().kvlist_value();
  ASSERT_EQ(body.values_size(), 4);
  EXPECT_EQ(body.values(0).key(), "msg");
  EXPECT_EQ(body.values(0).value().string_value(), "refund for ****");
  EXPECT_EQ(body.values(1).key(), "user");
  const auto& user_out = body.values(1).value().kvlist_value();
  ASSERT_EQ(user_out.values_size(), 2);
  EXPECT_EQ(user_out.values(0).value().string_value(), "****");
  EXPECT_EQ(user_out.values(1).key(), "id");
  EXPECT_EQ(user_out.values(1).value().int_value(), 7);
  const auto& cards_out = body.values(2).value().array_value();
  ASSERT_EQ(cards_out.values_size(), 2);
  EXPECT_EQ(cards_out.values(0).string_value(), "****");
  EXPECT_EQ(cards_out.values(1).string_value(), "none");
  EXPECT_EQ(body.values(3).value().string_value(), "****");
  EXPECT_EQ(Describe(records[0].attributes()),
            "redaction.body.redacted.keys=Str:secret,user.password "
            "redaction.body.redacted.count=Int:2 "
            "redaction.body.masked.keys=Str:cards[0],msg,note,user.email "
            "redaction.body.masked.count=Int:4");
  const auto& slice_out = records[1].body().array_value();
  ASSERT_EQ(slice_out.values_size(), 2);
  EXPECT_EQ(slice_out.values(0).string_value(), "mail ****");
  EXPECT_EQ(slice_out.values(1).int_value(), 3);
  EXPECT_EQ(Describe(records[1].attributes()),
            "redaction.body.masked.keys=Str:[0] redaction.body.masked.count=Int:1");
  EXPECT_EQ(testing::ProtoDiff(r.resource_logs(0).scope_logs(0).log_records(2), records[2]), "");

  // With the built-in masks only, the request's bytes are pre-scanned: a nested value is
  // found there too.
  Redaction builtin("allow_all_keys: true\nsummary: silent", Signal::kLogs);
  LogsRequest nested;
  auto* d = nested.add_resource_logs()->add_scope_logs()->add_log_records();
  KeyValue deep;
  deep.set_key("ctx");
  *deep.mutable_value()->mutable_kvlist_value()->add_values() = Str("to", "frank@shop.example");
  *d->mutable_body()->mutable_kvlist_value()->add_values() = deep;
  auto masked = builtin.Run(FromRequest(Signal::kLogs, nested));
  const auto& d_out = masked->logs().resource_logs(0).scope_logs(0).log_records(0);
  EXPECT_EQ(
      d_out.body().kvlist_value().values(0).value().kvlist_value().values(0).value().string_value(),
      "****");
  EXPECT_EQ(d_out.attributes_size(), 0);
}

TEST(RedactionProcessorTest, DataPointAttributes) {
  Redaction p("allowed_keys: [host]", Signal::kMetrics);
  MetricsRequest r;
  auto* m = r.add_resource_metrics()->add_scope_metrics()->add_metrics();
  m->set_name("logins");
  auto* pt = m->mutable_sum()->add_data_points();
  pt->set_as_int(1);
  *pt->add_attributes() = Str("host", "h1");
  *pt->add_attributes() = Str("user", "dave@example.net");
  auto* m2 = r.mutable_resource_metrics(0)->mutable_scope_metrics(0)->add_metrics();
  m2->set_name("latency");
  auto* hp = m2->mutable_histogram()->add_data_points();
  hp->set_count(2);
  *hp->add_attributes() = Str("host", "mail dave@example.net");
  auto out = p.Run(FromRequest(Signal::kMetrics, r));
  const auto& metrics = out->metrics().resource_metrics(0).scope_metrics(0).metrics();
  ASSERT_EQ(metrics.size(), 2);
  EXPECT_EQ(metrics[0].name(), "logins");
  EXPECT_EQ(metrics[0].sum().data_points(0).as_int(), 1);
  EXPECT_EQ(Describe(metrics[0].sum().data_points(0).attributes()), "host=Str:h1");
  EXPECT_EQ(Describe(metrics[1].histogram().data_points(0).attributes()), "host=Str:mail ****");
  EXPECT_EQ(metrics[1].histogram().data_points(0).count(), 2u);
}

TEST(RedactionProcessorTest, NothingToChangePassesTheRequestOnAsItCame) {
  // Built-in masks only: the pre-scan passes the request without a walk.
  Redaction scan_only("allow_all_keys: true", Signal::kTraces);
  auto in = FromRequest(Signal::kTraces, OneSpan({Str("k", "v"), Int("n", 4111111111111111)}));
  EXPECT_EQ(scan_only.Run(in).get(), in.get());
  // With patterns the walk runs, and still changes nothing.
  Redaction walked("allow_all_keys: true\nblocked_values: [nomatch]\nsummary: debug",
                   Signal::kTraces);
  EXPECT_EQ(walked.Run(in).get(), in.get());
  Redaction allowed("allowed_keys: [k, n, service.name]", Signal::kTraces);
  EXPECT_EQ(allowed.Run(in).get(), in.get());
}

TEST(RedactionProcessorTest, SummaryAccumulatesThroughTwoProcessors) {
  Redaction first("allowed_keys: [a]\nsummary: debug", Signal::kTraces);
  Redaction second("allowed_keys: [a]\nsummary: debug", Signal::kTraces);
  auto out = second.Run(first.Run(FromRequest(
      Signal::kTraces, OneSpan({Str("a", "x@y.example"), Str("b", "1"), Str("c", "2")}))));
  // The second one found the first one's summary allowed and the address already masked.
  EXPECT_EQ(Describe(FirstSpan(out).attributes()),
            "a=Str:**** redaction.redacted.keys=Str:b,c redaction.redacted.count=Int:2 "
            "redaction.masked.keys=Str:a redaction.masked.count=Int:1");
}

TEST(RedactionProcessorTest, ConfigErrorsCarryKeyPathAndLine) {
  Diagnostics diag;
  ParseWith(*NewRedactionProcessorFactory(), R"yaml(allow_all_keys: true
blocked_values: ["ok", "(unclosed"]
summary: loud
hash_function: hmac-sha256
url_sanitizer: {enabled: true}
)yaml",
            &diag, "processors::redaction");
  const std::string text = diag.Format();
  EXPECT_THAT(text, HasSubstr("2:17: processors::redaction::blocked_values: entry 1: invalid "
                              "regular expression \"(unclosed\""));
  EXPECT_THAT(text, HasSubstr("3:10: processors::redaction::summary: invalid value \"loud\""));
  EXPECT_THAT(text, HasSubstr("4:16: processors::redaction::hash_function: hmac_key must be set"));
  EXPECT_THAT(text, HasSubstr("5:1: processors::redaction::url_sanitizer: unknown key"));
  EXPECT_EQ(diag.errors().size(), 4u) << text;
}

}  // namespace
}  // namespace otlpd::attrtest
