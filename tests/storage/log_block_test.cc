#include "storage/log_block.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "storage/record_block.h"
#include "testing/realistic_logs.h"

namespace otlpd::storage {
namespace {

using google::protobuf::util::MessageDifferencer;
using opentelemetry::proto::logs::v1::LogRecord;
using LogsRequest = LogBlockBuilder::LogsRequest;

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

struct Received {
  int64_t receive_ns;
  LogsRequest request;
};

std::vector<Received> ReadBack(const std::string& block) {
  std::vector<Received> out;
  absl::Status s = ForEachLogsRequest(block, [&](int64_t receive_ns, LogsRequest&& r) {
    out.push_back({receive_ns, std::move(r)});
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

void ExpectRoundTrip(const std::vector<Received>& in, int level = 3) {
  LogBlockBuilder b;
  for (const Received& r : in) b.Add(r.receive_ns, r.request);
  absl::StatusOr<std::string> block = b.Finish(level);
  ASSERT_TRUE(block.ok()) << block.status();
  std::vector<Received> out = ReadBack(*block);
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].receive_ns, in[i].receive_ns) << "request " << i;
    std::string diff;
    MessageDifferencer d;
    d.ReportDifferencesToString(&diff);
    EXPECT_TRUE(d.Compare(in[i].request, out[i].request)) << "request " << i << ": " << diff;
    // Byte-identical re-serialization: nothing reordered, nothing defaulted in.
    EXPECT_EQ(in[i].request.SerializeAsString(), out[i].request.SerializeAsString());
  }
}

LogRecord* OneRecord(LogsRequest* req) {
  return req->add_resource_logs()->add_scope_logs()->add_log_records();
}

TEST(LogBlockTest, RealisticLogsRoundTripAndShrink) {
  std::mt19937_64 rng(7);
  std::vector<Received> in;
  size_t proto_bytes = 0;
  for (int i = 0; i < 20; ++i) {
    in.push_back({absl::ToUnixNanos(kStart) + i * 1'000'000'000LL,
                  bench::MakeRealisticLogs(rng, 500, kStart + absl::Seconds(i))});
    proto_bytes += in.back().request.ByteSizeLong();
  }
  ExpectRoundTrip(in);
  LogBlockBuilder b;
  for (const Received& r : in) b.Add(r.receive_ns, r.request);
  EXPECT_EQ(b.record_count(), 10'000u);
  EXPECT_EQ(b.request_count(), 20u);
  absl::StatusOr<std::string> block = b.Finish(3);
  ASSERT_TRUE(block.ok());
  // Not a figure (bench/storage_bench measures those): a regression guard well below them.
  EXPECT_LT(block->size() * 6, proto_bytes) << block->size() << " of " << proto_bytes;
}

TEST(LogBlockTest, BodiesTemplatesAndTheirEdges) {
  const std::vector<std::string> bodies = {
      "",
      "plain words only",
      "GET /api/users/123 200 in 12.5ms",
      "at 2026-01-05T09:05:03.007Z job 0 ran 00 times",
      "big 12345678901234567890 and 999999999999999999 and 1000000000000000000",
      "ids 550e8400-e29b-41d4-a716-446655440000 deadbeef0123 cafe01 a1b2c3",
      "digits-soup 1a2b3c4d5e6f7g8h9i0j and v1.2.3.4.5.6.7.8.9.10",
      "neg -5 and +7 and 3e10 and 0x1F and 1,234,567",
      "placeholder bytes \x11 \x12 \x13 5 inside",
      "unicode caf\xc3\xa9 12 \xe2\x82\xac 34 \xf0\x9f\x98\x80 56",
      "trailing digit 7",
      "7",
      "007",
      "0",
      "multi\nline 12\n\tstack 34",
      std::string("nul \0 byte 9", 12),
  };
  LogsRequest req;
  for (const std::string& body : bodies) {
    // Twice each: the second use goes through the template and string dictionaries.
    for (int i = 0; i < 2; ++i) OneRecord(&req)->mutable_body()->set_string_value(body);
  }
  ExpectRoundTrip({{1, req}});
}

TEST(LogBlockTest, RandomBodiesRoundTrip) {
  std::mt19937_64 rng(11);
  const std::string alphabet = "0123456789abcdefxyzABC .-_:/=,\n\x11\x80\xff";
  LogsRequest req;
  for (int i = 0; i < 3000; ++i) {
    std::string body;
    const size_t len = rng() % 60;
    for (size_t j = 0; j < len; ++j) body.push_back(alphabet[rng() % alphabet.size()]);
    OneRecord(&req)->mutable_body()->set_string_value(body);
  }
  ExpectRoundTrip({{5, req}});
}

TEST(LogBlockTest, EveryFieldAndValueKind) {
  LogsRequest req;
  auto* rl = req.add_resource_logs();  // no resource message at all
  rl->set_schema_url("https://opentelemetry.io/schemas/1.26.0");
  auto* sl = rl->add_scope_logs();  // no scope message
  LogRecord* r = sl->add_log_records();
  r->set_time_unix_nano(0);
  r->set_observed_time_unix_nano(42);
  r->set_severity_number(static_cast<opentelemetry::proto::logs::v1::SeverityNumber>(-3));
  r->set_severity_text("weird");
  r->mutable_body()->mutable_kvlist_value()->add_values()->set_key("k");
  r->set_dropped_attributes_count(9);
  r->set_flags(0x101);
  r->set_trace_id("short");
  r->set_event_name("browser.click");
  r->GetReflection()->MutableUnknownFields(r)->AddVarint(99, 12345);
  auto* attrs = r->mutable_attributes();
  auto add = [&](const std::string& key) {
    auto* kv = attrs->Add();
    kv->set_key(key);
    return kv;
  };
  add("no_value");
  add("empty")->mutable_value();
  add("s")->mutable_value()->set_string_value("text");
  add("b")->mutable_value()->set_bool_value(true);
  add("i")->mutable_value()->set_int_value(-77);
  add("d")->mutable_value()->set_double_value(2.5);
  add("bytes")->mutable_value()->set_bytes_value(std::string("\0\1\2", 3));
  add("arr")->mutable_value()->mutable_array_value()->add_values()->set_int_value(1);
  add("s")->mutable_value()->set_string_value("duplicate key kept");

  LogRecord* empty_body = sl->add_log_records();
  empty_body->mutable_body();  // set, but no value
  empty_body->set_time_unix_nano(UINT64_MAX);
  empty_body->set_observed_time_unix_nano(1);  // far before the time: wrapping offsets

  auto* rl2 = req.add_resource_logs();
  rl2->mutable_resource()->set_dropped_attributes_count(1);
  auto* sl2 = rl2->add_scope_logs();
  sl2->mutable_scope()->set_name("scope");
  sl2->set_schema_url("s");
  sl2->add_log_records();   // all defaults
  rl2->add_scope_logs();    // no records
  req.add_resource_logs();  // nothing at all
  ExpectRoundTrip({{-5, req}, {INT64_MAX, LogsRequest()}, {0, req}});
}

TEST(LogBlockTest, ManyIdsAndReferencesFarBack) {
  std::mt19937_64 rng(3);
  std::vector<std::string> traces;
  for (int i = 0; i < 200; ++i) {
    std::string id(16, '\0');
    for (char& c : id) c = static_cast<char>(rng());
    traces.push_back(id);
  }
  LogsRequest req;
  for (int i = 0; i < 5000; ++i) {
    LogRecord* r = OneRecord(&req);
    // Mostly recent ids, sometimes one more than 64 distinct ids ago.
    const size_t pick = rng() % 4 == 0 ? rng() % traces.size() : (i / 7) % traces.size();
    r->set_trace_id(traces[pick]);
    r->set_span_id(traces[(pick * 7) % traces.size()].substr(0, 8));
  }
  ExpectRoundTrip({{1, req}}, 19);
}

TEST(LogBlockTest, RecordBlocksOfLogsReadTheSameWay) {
  std::mt19937_64 rng(9);
  std::vector<LogsRequest> in;
  RecordBlockBuilder records;
  for (int i = 0; i < 3; ++i) {
    in.push_back(bench::MakeRealisticLogs(rng, 50, kStart));
    records.Add(Signal::kLogs, 100 + i, in.back().SerializeAsString());
  }
  absl::StatusOr<std::string> block = records.Finish(3);
  ASSERT_TRUE(block.ok());
  std::vector<Received> out;
  ASSERT_TRUE(
      ForEachLogsRequestIn(kRecordBlockFormat, *block, [&](int64_t receive_ns, LogsRequest&& r) {
        out.push_back({receive_ns, std::move(r)});
      }).ok());
  ASSERT_EQ(out.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i].receive_ns, 100 + i);
    EXPECT_TRUE(MessageDifferencer::Equals(out[i].request, in[i]));
  }
  // A record block of metrics is not logs, and an unknown format is refused.
  RecordBlockBuilder metrics;
  metrics.Add(Signal::kMetrics, 1, "");
  auto noop = [](int64_t, LogsRequest&&) {};
  EXPECT_EQ(ForEachLogsRequestIn(kRecordBlockFormat, *metrics.Finish(3), noop).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(ForEachLogsRequestIn("trace_block", *block, noop).code(), absl::StatusCode::kDataLoss);
}

TEST(LogBlockTest, EmptyBlock) {
  LogBlockBuilder b;
  absl::StatusOr<std::string> block = b.Finish(3);
  ASSERT_TRUE(block.ok());
  EXPECT_TRUE(ReadBack(*block).empty());
}

TEST(LogBlockTest, DamageIsReportedNeverCrashes) {
  std::mt19937_64 rng(5);
  LogBlockBuilder b;
  for (int i = 0; i < 3; ++i) b.Add(i, bench::MakeRealisticLogs(rng, 200, kStart));
  absl::StatusOr<std::string> block = b.Finish(3);
  ASSERT_TRUE(block.ok());
  auto noop = [](int64_t, LogsRequest&&) {};
  for (size_t at = 0; at < block->size(); at += std::max<size_t>(1, block->size() / 400)) {
    std::string bad = *block;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    absl::Status s = ForEachLogsRequest(bad, noop);
    EXPECT_FALSE(s.ok()) << "flip at " << at;
    if (!s.ok()) {
      EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
      EXPECT_NE(s.message().find("log block"), std::string::npos) << s;
    }
  }
  for (size_t len : {size_t{0}, size_t{4}, block->size() / 2, block->size() - 1}) {
    EXPECT_FALSE(ForEachLogsRequest(block->substr(0, len), noop).ok()) << "cut at " << len;
  }
}

}  // namespace
}  // namespace otlpd::storage
