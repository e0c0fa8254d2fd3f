#include "core/otlp_wire.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/id_validation.h"
#include "core/telemetry.h"

// Heap allocations on this thread, counted by a replacement global operator new (not in
// sanitizer builds, where operator new belongs to the sanitizer).
#ifndef __SANITIZE_ADDRESS__
namespace {
thread_local size_t allocations = 0;
}  // namespace

// Not inlined: otherwise GCC pairs the malloc()/free() inside with new/delete and warns.
[[gnu::noinline]] void* operator new(size_t size) {
  ++allocations;
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) std::abort();
  return p;
}
[[gnu::noinline]] void* operator new[](size_t size) { return operator new(size); }
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, size_t) noexcept { std::free(p); }
#endif

namespace otlpd {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// --- What protobuf says ---------------------------------------------------------------

struct Reference {
  bool ok = false;
  size_t items = 0;
  size_t invalid = 0;
};

Reference Parse(Signal signal, std::string_view bytes) {
  Telemetry data(signal);
  Reference ref;
  ref.ok = data.mutable_message()->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  if (ref.ok) {
    ref.items = data.ItemCount();
    ref.invalid = RemoveInvalidItems(&data).rejected;
  }
  return ref;
}

std::string Hex(std::string_view bytes) {
  constexpr size_t kMax = 4000;
  const std::string_view head = bytes.substr(0, kMax);
  std::string hex = absl::BytesToHexString(absl::string_view(head.data(), head.size()));
  if (bytes.size() > kMax) absl::StrAppend(&hex, "...");
  return hex;
}

// The scanner and ParseFromArray agree on `bytes`: both accept it (with the same item and
// invalid-item counts) or both reject it.
::testing::AssertionResult Agrees(Signal signal, std::string_view bytes) {
  const Reference ref = Parse(signal, bytes);
  const absl::StatusOr<WireScan> scan = ScanOtlpRequest(signal, bytes);
  if (ref.ok != scan.ok()) {
    return ::testing::AssertionFailure()
           << SignalName(signal) << ": protobuf " << (ref.ok ? "accepts" : "rejects")
           << ", scanner " << (scan.ok() ? "accepts" : "rejects: " + scan.status().ToString())
           << "\n  input (" << bytes.size() << " bytes): " << Hex(bytes);
  }
  if (ref.ok && (ref.items != scan->items || ref.invalid != scan->invalid_items)) {
    return ::testing::AssertionFailure()
           << SignalName(signal) << ": protobuf items=" << ref.items << " invalid=" << ref.invalid
           << ", scanner items=" << scan->items << " invalid=" << scan->invalid_items
           << "\n  input (" << bytes.size() << " bytes): " << Hex(bytes);
  }
  return ::testing::AssertionSuccess();
}

// Checks agreement and returns the scan, for the expected-value assertions.
absl::StatusOr<WireScan> Scan(Signal signal, std::string_view bytes) {
  EXPECT_TRUE(Agrees(signal, bytes));
  return ScanOtlpRequest(signal, bytes);
}

// --- Hand-made wire format ------------------------------------------------------------------

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

// `v` padded with redundant continuation bytes to `bytes` bytes.
std::string PaddedVarint(uint64_t v, int bytes) {
  std::string out = Varint(v);
  while (static_cast<int>(out.size()) < bytes) {
    out.back() = static_cast<char>(out.back() | 0x80);
    out.push_back('\0');
  }
  return out;
}

std::string Tag(uint32_t field, int wire_type) {
  return Varint((uint64_t{field} << 3) | static_cast<uint32_t>(wire_type));
}
std::string Len(uint32_t field, std::string_view payload) {
  return Tag(field, 2) + Varint(payload.size()) + std::string(payload);
}
std::string VarintField(uint32_t field, uint64_t v) { return Tag(field, 0) + Varint(v); }
std::string Fixed64(uint32_t field) { return Tag(field, 1) + std::string(8, '\x11'); }
std::string Fixed32(uint32_t field) { return Tag(field, 5) + std::string(4, '\x22'); }
std::string Group(uint32_t field, std::string_view body) {
  return Tag(field, 3) + std::string(body) + Tag(field, 4);
}

const std::string kTraceId = "0123456789abcdef";
const std::string kSpanId = "01234567";

std::string SpanBody(std::string_view trace_id = kTraceId, std::string_view span_id = kSpanId) {
  return Len(1, trace_id) + Len(2, span_id) + Len(5, "name");
}
// A traces request with the given span bodies in one resource and scope.
std::string Traces(const std::vector<std::string>& spans) {
  std::string scope;
  for (const auto& s : spans) scope += Len(2, s);
  return Len(1, Len(2, scope));
}
std::string Logs(const std::vector<std::string>& records) {
  std::string scope;
  for (const auto& r : records) scope += Len(2, r);
  return Len(1, Len(2, scope));
}
// A metrics request with one metric of the given body.
std::string Metrics(std::string_view metric) { return Len(1, Len(2, Len(2, metric))); }
// A Gauge/Sum/... body with n data points.
std::string Points(int n) {
  std::string body;
  for (int i = 0; i < n; ++i) body += Len(1, Fixed64(3));
  return body;
}

constexpr Signal kT = Signal::kTraces;
constexpr Signal kM = Signal::kMetrics;
constexpr Signal kL = Signal::kLogs;

size_t Items(const absl::StatusOr<WireScan>& s) { return s.ok() ? s->items : ~size_t{0}; }
size_t Invalid(const absl::StatusOr<WireScan>& s) { return s.ok() ? s->invalid_items : ~size_t{0}; }

// --- Basic acceptance ------------------------------------------------------------------------

TEST(OtlpWireTest, EmptyRequestsAreValid) {
  for (Signal s : kAllSignals) {
    auto scan = Scan(s, "");
    ASSERT_TRUE(scan.ok());
    EXPECT_EQ(scan->items, 0u);
  }
}

TEST(OtlpWireTest, CountsSerializedRequests) {
  TracesRequest traces;
  for (int r = 0; r < 3; ++r) {
    auto* rs = traces.add_resource_spans();
    rs->mutable_resource()->add_attributes()->set_key("service.name");
    for (int s = 0; s < 2; ++s) {
      auto* ss = rs->add_scope_spans();
      for (int i = 0; i < r + s + 1; ++i) {
        auto* span = ss->add_spans();
        span->set_trace_id(kTraceId);
        span->set_span_id(i == 1 ? "short" : kSpanId);
      }
    }
  }
  auto scan = Scan(kT, traces.SerializeAsString());
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->items, 15u);         // 1+2, 2+3, 3+4
  EXPECT_EQ(scan->invalid_items, 5u);  // the second span of every scope with two or more

  MetricsRequest metrics;
  auto* sm = metrics.add_resource_metrics()->add_scope_metrics();
  sm->add_metrics()->mutable_gauge()->add_data_points()->set_as_int(1);
  auto* sum = sm->add_metrics()->mutable_sum();
  sum->add_data_points();
  sum->add_data_points();
  sm->add_metrics()->mutable_histogram()->add_data_points()->add_bucket_counts(3);
  sm->add_metrics()->mutable_exponential_histogram()->add_data_points();
  sm->add_metrics()->mutable_summary()->add_data_points()->add_quantile_values();
  sm->add_metrics()->set_name("no data");
  scan = Scan(kM, metrics.SerializeAsString());
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->items, 6u);
  EXPECT_EQ(scan->invalid_items, 0u);

  LogsRequest logs;
  auto* sl = logs.add_resource_logs()->add_scope_logs();
  sl->add_log_records();
  sl->add_log_records()->set_trace_id(kTraceId);
  sl->add_log_records()->set_span_id("123");
  scan = Scan(kL, logs.SerializeAsString());
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->items, 3u);
  EXPECT_EQ(scan->invalid_items, 1u);
}

// A proto3 `string` field would make protobuf reject invalid UTF-8, which the scanner does
// not check: OTLP's text fields are declared `bytes` (otlpd.text) instead.
TEST(OtlpWireTest, RequestsHaveNoUtf8CheckedFields) {
  std::vector<const Descriptor*> pending = {
      TracesRequest::descriptor(), MetricsRequest::descriptor(), LogsRequest::descriptor()};
  std::vector<const Descriptor*> seen;
  while (!pending.empty()) {
    const Descriptor* d = pending.back();
    pending.pop_back();
    if (std::find(seen.begin(), seen.end(), d) != seen.end()) continue;
    seen.push_back(d);
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      EXPECT_NE(f->type(), FieldDescriptor::TYPE_STRING) << f->full_name();
      if (f->message_type() != nullptr) pending.push_back(f->message_type());
    }
  }
  EXPECT_GT(seen.size(), 20u);
}

TEST(OtlpWireTest, TextFieldsAreNotUtf8Checked) {
  const std::string bad_utf8 = "\xff\xfe\xc3";
  auto scan = Scan(kT, Traces({SpanBody() + Len(5, bad_utf8)}));
  EXPECT_EQ(Items(scan), 1u);
}

TEST(OtlpWireTest, ScanDoesNotAllocate) {
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "operator new belongs to the sanitizer";
#else
  const std::string traces =
      Traces({SpanBody(), SpanBody() + Len(13, SpanBody()) + Group(99, ""), SpanBody("bad")});
  const std::string metrics = Metrics(Len(5, Points(2)) + Len(9, Points(3)));
  const std::string logs = Logs({Len(9, kTraceId), ""});
  ASSERT_TRUE(Scan(kT, traces).ok());  // the first call builds the tables
  const size_t before = allocations;
  size_t items = 0;
  for (int i = 0; i < 100; ++i) {
    items += ScanOtlpRequest(kT, traces)->items;
    items += ScanOtlpRequest(kM, metrics)->items;
    items += ScanOtlpRequest(kL, logs)->items;
  }
  EXPECT_EQ(allocations, before);
  EXPECT_EQ(items, 100u * (3 + 3 + 2));
  // The counter works: an error builds its message on the heap.
  EXPECT_FALSE(ScanOtlpRequest(kT, std::string(1, '\0')).ok());
  EXPECT_GT(allocations, before);
#endif
}

// --- Varints and tags --------------------------------------------------------------------

TEST(OtlpWireTest, ValueVarintsUpToTenBytes) {
  // Span.dropped_attributes_count (uint32), Span.kind (enum) and an unknown varint field.
  for (uint32_t field : {10u, 6u, 99u}) {
    for (int bytes = 1; bytes <= 10; ++bytes) {
      EXPECT_EQ(Items(Scan(kT, Traces({SpanBody() + Tag(field, 0) + PaddedVarint(5, bytes)}))), 1u)
          << field << " " << bytes;
    }
    // The 10th byte may carry bits beyond 64; protobuf drops them.
    std::string ten(9, '\xff');
    for (char last : {'\x01', '\x02', '\x7f'}) {
      EXPECT_EQ(Items(Scan(kT, Traces({SpanBody() + Tag(field, 0) + ten + last}))), 1u);
    }
    // 11 bytes, or a varint cut off by the end of its message.
    EXPECT_FALSE(Scan(kT, Traces({SpanBody() + Tag(field, 0) + PaddedVarint(5, 11)})).ok());
    EXPECT_FALSE(Scan(kT, Traces({SpanBody() + Tag(field, 0) + "\x80"})).ok());
    EXPECT_FALSE(Scan(kT, Traces({SpanBody() + Tag(field, 0)})).ok());
  }
  // A bool and an int64 at the top of their range.
  EXPECT_TRUE(Scan(kL, Logs({VarintField(2, ~uint64_t{0})})).ok());
  EXPECT_TRUE(Scan(kM, Metrics(Len(7, VarintField(3, ~uint64_t{0})))).ok());
  // A varint cut off at the end of the whole input.
  EXPECT_FALSE(Scan(kT, Tag(99, 0) + "\xff\xff").ok());
}

TEST(OtlpWireTest, TagsUpToFiveBytes) {
  // Field 1 of the request, its tag padded to 2..5 bytes.
  const std::string rs = Len(2, Len(2, SpanBody()));
  for (int bytes = 1; bytes <= 5; ++bytes) {
    std::string input = PaddedVarint(10, bytes) + Varint(rs.size()) + rs;
    EXPECT_EQ(Items(Scan(kT, input)), 1u) << bytes;
  }
  // Six bytes is too long.
  EXPECT_FALSE(Scan(kT, PaddedVarint(10, 6) + Varint(rs.size()) + rs).ok());
  // The 5th byte's bits above 32 are dropped: 0x8a 0x80 0x80 0x80 0x10 reads as tag 10.
  EXPECT_EQ(Items(Scan(kT, std::string("\x8a\x80\x80\x80\x10", 5) + Varint(rs.size()) + rs)), 1u);
  // ...and the same trick can produce tag 0 or an end-group tag.
  EXPECT_FALSE(Scan(kT, std::string("\x80\x80\x80\x80\x10", 5)).ok());
  EXPECT_FALSE(Scan(kT, std::string("\x8c\x80\x80\x80\x70", 5)).ok());
  // The largest field number, unknown.
  EXPECT_TRUE(Scan(kT, VarintField((1u << 29) - 1, 1)).ok());
  // A tag cut off by the end of the input or of its message.
  EXPECT_FALSE(Scan(kT, "\x8a").ok());
  EXPECT_FALSE(Scan(kT, Traces({SpanBody() + "\xd0"})).ok());
}

TEST(OtlpWireTest, FieldNumberZeroIsRejected) {
  for (int wt : {0, 1, 2, 3, 4, 5}) {
    const std::string zero = Tag(0, wt) + std::string(9, '\0');
    EXPECT_FALSE(Scan(kT, zero).ok()) << wt;
    EXPECT_FALSE(Scan(kT, Traces({SpanBody() + zero})).ok()) << wt;
    EXPECT_FALSE(Scan(kT, Group(7, zero)).ok()) << wt;
  }
}

TEST(OtlpWireTest, InvalidWireTypes) {
  for (int wt : {6, 7}) {
    EXPECT_FALSE(Scan(kT, Tag(1, wt) + "\x00").ok());
    EXPECT_FALSE(Scan(kT, Tag(99, wt) + "\x00").ok());
    EXPECT_FALSE(Scan(kM, Metrics(Tag(1, wt) + "\x00")).ok());
    EXPECT_FALSE(Scan(kL, Group(5, Tag(3, wt) + "\x00")).ok());
  }
}

// --- Fixed-size fields and lengths -------------------------------------------------------

TEST(OtlpWireTest, TruncatedFixedFields) {
  // Span.start_time_unix_nano (fixed64) and Span.flags (fixed32), known and unknown.
  for (uint32_t field : {7u, 99u}) {
    EXPECT_TRUE(Scan(kT, Traces({SpanBody() + Tag(field, 1) + std::string(8, 'x')})).ok());
    for (int n = 0; n < 8; ++n) {
      // Cut off by the end of the span (the rest of the input would have enough bytes).
      std::string input =
          Traces({SpanBody() + Tag(field, 1) + std::string(n, 'x'), SpanBody() + SpanBody()});
      EXPECT_FALSE(Scan(kT, input).ok()) << n;
      EXPECT_FALSE(Scan(kT, Tag(field, 1) + std::string(n, 'x')).ok()) << n;
    }
  }
  for (uint32_t field : {16u, 99u}) {
    EXPECT_TRUE(Scan(kT, Traces({SpanBody() + Tag(field, 5) + std::string(4, 'x')})).ok());
    for (int n = 0; n < 4; ++n) {
      EXPECT_FALSE(Scan(kT, Traces({SpanBody() + Tag(field, 5) + std::string(n, 'x'),
                                    SpanBody() + SpanBody()}))
                       .ok());
      EXPECT_FALSE(Scan(kT, Tag(field, 5) + std::string(n, 'x')).ok()) << n;
    }
  }
}

TEST(OtlpWireTest, Lengths) {
  const std::string span = SpanBody();
  // A span whose length claims one byte more than there is, at the end of the input and
  // in the middle of its scope (where the parser reads on into the next span).
  std::string scope = Tag(2, 2) + Varint(span.size() + 1) + span;
  EXPECT_FALSE(Scan(kT, Len(1, Len(2, scope))).ok());
  EXPECT_FALSE(Scan(kT, Len(1, Len(2, scope + Len(2, span))) + Len(1, "")).ok());
  // A child longer than its parent, but within the input (and valid on its own: the four
  // extra bytes are two empty ScopeSpans.scope fields).
  std::string rs = Tag(2, 2) + Varint(span.size() + 4) + span;
  EXPECT_FALSE(Scan(kT, Tag(1, 2) + Varint(rs.size()) + rs + Len(1, "") + Len(1, "")).ok());
  // Bytes fields past their message or the input.
  EXPECT_FALSE(Scan(kT, Traces({Tag(1, 2) + Varint(17) + kTraceId})).ok());
  EXPECT_FALSE(Scan(kT, Tag(99, 2) + Varint(3) + "ab").ok());
  // Lengths up to 5 bytes (non-canonical encodings are fine), the 5th byte below 8.
  for (int bytes = 1; bytes <= 5; ++bytes) {
    EXPECT_EQ(
        Items(Scan(kT, Traces({Tag(1, 2) + PaddedVarint(16, bytes) + kTraceId + Len(2, kSpanId)}))),
        1u)
        << bytes;
  }
  EXPECT_FALSE(
      Scan(kT, Traces({Tag(1, 2) + PaddedVarint(16, 6) + kTraceId + Len(2, kSpanId)})).ok());
  // Lengths of 2 GiB and above, and just below: past the end either way.
  EXPECT_FALSE(Scan(kT, Tag(99, 2) + std::string("\x80\x80\x80\x80\x08", 5) + "abc").ok());
  EXPECT_FALSE(Scan(kT, Tag(99, 2) + std::string("\xff\xff\xff\xff\x07", 5) + "abc").ok());
  EXPECT_FALSE(Scan(kT, Tag(99, 2) + std::string("\xef\xff\xff\xff\x07", 5) + "abc").ok());
  EXPECT_FALSE(Scan(kT, Tag(1, 2) + std::string("\xff\xff\xff\xff\x0f", 5) + "abc").ok());
  // A length cut off.
  EXPECT_FALSE(Scan(kT, Tag(99, 2) + "\x80").ok());
  EXPECT_FALSE(Scan(kT, Tag(1, 2)).ok());
}

// --- Groups -----------------------------------------------------------------------------------

TEST(OtlpWireTest, UnknownGroups) {
  const std::string inner = VarintField(1, 5) + Fixed64(2) + Len(3, "xyz") + Fixed32(4);
  // Groups in the request, in a span, nested, empty; known field numbers inside a group are
  // unknown fields of the group.
  EXPECT_TRUE(Scan(kT, Group(7, inner)).ok());
  EXPECT_EQ(Items(Scan(kT, Traces({SpanBody() + Group(99, inner)}))), 1u);
  EXPECT_EQ(Items(Scan(kT, Traces({SpanBody() + Group(99, Group(98, inner) + Group(1, ""))}))), 1u);
  EXPECT_EQ(Items(Scan(kT, Group(1, Len(2, Len(2, SpanBody()))))), 0u);
  // A known number with the group wire type is an unknown group.
  EXPECT_EQ(Items(Scan(kT, Traces({SpanBody() + Group(1, "")}))), 1u);
  EXPECT_EQ(Invalid(Scan(kT, Traces({SpanBody() + Group(1, "")}))), 0u);
  // Malformed contents inside a group.
  EXPECT_FALSE(Scan(kT, Group(7, Tag(3, 2) + "\x05" + "ab")).ok());
  EXPECT_FALSE(Scan(kT, Group(7, Tag(3, 6))).ok());
}

TEST(OtlpWireTest, GroupErrors) {
  // END_GROUP without START_GROUP, at the top, in a span, with a known number.
  EXPECT_FALSE(Scan(kT, Tag(7, 4)).ok());
  EXPECT_FALSE(Scan(kT, Traces({SpanBody() + Tag(99, 4)})).ok());
  EXPECT_FALSE(Scan(kT, Traces({SpanBody() + Tag(1, 4)})).ok());
  // Unterminated: at the end of the input, and at the end of the enclosing span.
  EXPECT_FALSE(Scan(kT, Tag(7, 3) + VarintField(1, 1)).ok());
  EXPECT_FALSE(Scan(kT, Traces({SpanBody() + Tag(99, 3), SpanBody() + Tag(99, 4)})).ok());
  // Mismatched end.
  EXPECT_FALSE(Scan(kT, Tag(7, 3) + Tag(8, 4)).ok());
  EXPECT_FALSE(Scan(kT, Tag(7, 3) + Tag(8, 3) + Tag(7, 4) + Tag(8, 4)).ok());
  // A zero tag inside a group.
  EXPECT_FALSE(Scan(kT, Tag(7, 3) + std::string(1, '\0') + Tag(7, 4)).ok());
}

// --- Recursion limit --------------------------------------------------------------------------

// A logs request whose deepest message is `depth` levels below the request: the log
// record (level 3) has a body AnyValue (4), then ArrayValue (5), AnyValue (6), ... down to
// an empty AnyValue or ArrayValue at level `depth`.
std::string DeepLog(int depth) {
  std::string content;
  for (int level = depth; level > 4; --level) {
    // An ArrayValue (odd level) sits in AnyValue.array_value = 5; an AnyValue (even) in
    // ArrayValue.values = 1.
    content = Len(level % 2 == 1 ? 5 : 1, content);
  }
  return Logs({Len(5, content)});
}

// `levels` nested unknown groups.
std::string DeepGroups(int levels) {
  std::string body = VarintField(1, 1);
  for (int i = 0; i < levels; ++i) body = Group(9, body);
  return body;
}

TEST(OtlpWireTest, RecursionLimitForMessages) {
  // Messages may nest 100 levels below the request, not 101.
  for (int depth = 90; depth <= 110; ++depth) {
    EXPECT_EQ(Scan(kL, DeepLog(depth)).ok(), depth <= 100) << depth;
  }
}

TEST(OtlpWireTest, RecursionLimitForGroups) {
  // At the top: 100 nested groups are fine, 101 are not.
  for (int levels = 95; levels <= 105; ++levels) {
    EXPECT_EQ(Scan(kT, DeepGroups(levels)).ok(), levels <= 100) << levels;
  }
  // Groups below messages share the same budget: in a span (3 levels down) 97 fit.
  for (int levels = 94; levels <= 100; ++levels) {
    EXPECT_EQ(Scan(kT, Traces({SpanBody() + DeepGroups(levels)})).ok(), levels <= 97) << levels;
  }
  // And groups at the top use up levels for nothing (they hold only unknown fields).
  EXPECT_TRUE(Scan(kL, DeepGroups(100) + DeepLog(100)).ok());
}

// --- Packed fields -------------------------------------------------------------------------

// A histogram metric with one data point of the given body.
std::string HistogramPoint(std::string_view point) { return Metrics(Len(9, Len(1, point))); }
// An exponential histogram point with positive buckets of the given body.
std::string ExpBuckets(std::string_view buckets) {
  return Metrics(Len(10, Len(1, Len(8, buckets))));
}

TEST(OtlpWireTest, PackedFixedFields) {
  // HistogramDataPoint.bucket_counts (repeated fixed64 = 6), explicit_bounds (double = 7).
  for (uint32_t field : {6u, 7u}) {
    for (int n = 0; n <= 24; ++n) {
      auto scan = Scan(kM, HistogramPoint(Len(field, std::string(n, '\x01'))));
      EXPECT_EQ(scan.ok(), n % 8 == 0) << field << " " << n;
      if (scan.ok()) {
        EXPECT_EQ(scan->items, 1u);
      }
    }
    // Unpacked elements, mixed with packed ones.
    EXPECT_EQ(Items(Scan(kM, HistogramPoint(Fixed64(field) + Fixed64(field) +
                                            Len(field, std::string(8, 'x')) + Fixed64(field)))),
              1u);
    // A packed length past the data point.
    EXPECT_FALSE(
        Scan(kM, HistogramPoint(Tag(field, 2) + Varint(16) + std::string(8, 'x')) + Points(3))
            .ok());
    // The wrong fixed width (fixed32) is an unknown field.
    EXPECT_TRUE(Scan(kM, HistogramPoint(Fixed32(field))).ok());
  }
}

TEST(OtlpWireTest, PackedVarintFields) {
  // ExponentialHistogramDataPoint.Buckets.bucket_counts (repeated uint64 = 2).
  const std::vector<std::pair<std::string, bool>> cases = {
      {"", true},
      {Varint(1) + Varint(300) + Varint(~uint64_t{0}), true},
      {PaddedVarint(3, 10), true},
      {std::string(9, '\xff') + '\x7f', true},
      {PaddedVarint(3, 11), false},
      {Varint(1) + "\x80", false},  // the last element runs past the packed length
      {"\xff", false},
  };
  for (const auto& [payload, ok] : cases) {
    EXPECT_EQ(Scan(kM, ExpBuckets(Len(2, payload))).ok(), ok) << Hex(payload);
    // Also when more bytes follow inside the buckets message.
    EXPECT_EQ(Scan(kM, ExpBuckets(Len(2, payload) + VarintField(1, 3))).ok(), ok) << Hex(payload);
  }
  EXPECT_TRUE(Scan(kM, ExpBuckets(VarintField(2, 1) + VarintField(2, 2) + Len(2, "\x01"))).ok());
}

// --- Known fields with another wire type -------------------------------------------------------

TEST(OtlpWireTest, KnownFieldWithOtherWireTypeIsUnknown) {
  // ScopeSpans.spans as a varint: not a span.
  EXPECT_EQ(Items(Scan(kT, Len(1, Len(2, VarintField(2, 1) + Len(2, SpanBody()))))), 1u);
  EXPECT_EQ(Items(Scan(kT, Len(1, Len(2, Fixed32(2) + Fixed64(2))))), 0u);
  // Span.trace_id as fixed64, varint or fixed32: the span has no trace_id, so it is invalid.
  for (const std::string& trace_id :
       {Fixed64(1), VarintField(1, 16), Fixed32(1), Group(1, Len(1, kTraceId))}) {
    auto scan = Scan(kT, Traces({trace_id + Len(2, kSpanId) + Len(99, kTraceId)}));
    EXPECT_EQ(Items(scan), 1u) << Hex(trace_id);
    EXPECT_EQ(Invalid(scan), 1u) << Hex(trace_id);
  }
  auto scan = Scan(kL, Logs({VarintField(9, 5) + VarintField(10, 3) + Len(99, kTraceId)}));
  EXPECT_EQ(Items(scan), 1u);
  EXPECT_EQ(Invalid(scan), 0u);
  // ... and a valid trace_id followed by a fixed64 field 1 keeps the valid one.
  scan = Scan(kT, Traces({SpanBody() + Fixed64(1)}));
  EXPECT_EQ(Invalid(scan), 0u);
  // Span.kind (enum) as length-delimited: an unknown field (enums are not packed here).
  EXPECT_EQ(Items(Scan(kT, Traces({SpanBody() + Len(6, "\x01\x02")}))), 1u);
  // Span.flags (fixed32) as fixed64, Span.dropped_attributes_count (uint32) as fixed32.
  EXPECT_EQ(Items(Scan(kT, Traces({SpanBody() + Fixed64(16) + Fixed32(10)}))), 1u);
  // Metric.gauge as a varint neither counts nor replaces the current member.
  EXPECT_EQ(Items(Scan(kM, Metrics(Len(7, Points(2)) + VarintField(5, 1)))), 2u);
  // Request field 1 with another wire type.
  EXPECT_EQ(Items(Scan(kL, Fixed32(1) + Logs({""}))), 1u);
}

// --- Item counting semantics ---------------------------------------------------------------------

TEST(OtlpWireTest, RepeatedMessagesAddUp) {
  // Two resources, the first with two scopes; resource fields in between.
  std::string input = Len(1, Len(2, Len(2, SpanBody())) + Len(1, "") +
                                 Len(2, Len(2, SpanBody()) + Len(2, SpanBody()))) +
                      Len(1, Len(2, Len(2, SpanBody())));
  EXPECT_EQ(Items(Scan(kT, input)), 4u);
  // A gauge's data_points with an unknown field between them.
  EXPECT_EQ(Items(Scan(kM, Metrics(Len(5, Points(1) + Len(2, "") + Points(2))))), 3u);
}

TEST(OtlpWireTest, SingularMessageFieldsMerge) {
  // Metric.gauge twice: its data points merge.
  EXPECT_EQ(Items(Scan(kM, Metrics(Len(5, Points(2)) + Len(1, "m") + Len(5, Points(3))))), 5u);
  // The same for every member of Metric.data.
  for (uint32_t field : {5u, 7u, 9u, 10u, 11u}) {
    EXPECT_EQ(Items(Scan(kM, Metrics(Len(field, Points(1)) + Len(field, Points(4))))), 5u);
  }
  // A whole Metric sent as two concatenated halves.
  EXPECT_EQ(Items(Scan(kM, Metrics(Len(1, "a") + Len(7, Points(1)) + Len(1, "b") +
                                   Len(7, Points(1)) + Len(12, "")))),
            2u);
}

TEST(OtlpWireTest, MetricDataOneof) {
  // A later member replaces an earlier one.
  EXPECT_EQ(Items(Scan(kM, Metrics(Len(5, Points(3)) + Len(7, Points(1))))), 1u);
  EXPECT_EQ(Items(Scan(kM, Metrics(Len(11, Points(2)) + Len(9, "")))), 0u);
  // gauge, sum, gauge: the second gauge starts empty.
  EXPECT_EQ(Items(Scan(kM, Metrics(Len(5, Points(3)) + Len(7, Points(2)) + Len(5, Points(1))))),
            1u);
  // gauge, gauge, sum, sum.
  EXPECT_EQ(Items(Scan(kM, Metrics(Len(5, Points(3)) + Len(5, Points(1)) + Len(7, Points(2)) +
                                   Len(7, Points(4))))),
            6u);
  // Every pair of members.
  for (uint32_t a : {5u, 7u, 9u, 10u, 11u}) {
    for (uint32_t b : {5u, 7u, 9u, 10u, 11u}) {
      EXPECT_EQ(Items(Scan(kM, Metrics(Len(a, Points(2)) + Len(b, Points(3))))), a == b ? 5u : 3u);
    }
  }
  // Data points under another field number of a data container are not points.
  EXPECT_EQ(Items(Scan(kM, Metrics(Len(7, Len(1, "") + Len(4, "") + VarintField(2, 1))))), 1u);
}

// --- Ids -----------------------------------------------------------------------------------------

TEST(OtlpWireTest, SpanIds) {
  const std::string zero16(16, '\0');
  const std::string zero8(8, '\0');
  struct Case {
    std::string body;
    bool valid;
  };
  const std::vector<Case> cases = {
      {SpanBody(), true},
      {SpanBody(zero16), false},
      {SpanBody(kTraceId, zero8), false},
      {SpanBody("short"), false},
      {SpanBody(kTraceId, "123456789"), false},
      {Len(2, kSpanId), false},  // no trace_id
      {Len(1, kTraceId), false},
      // The last occurrence of a singular field wins.
      {SpanBody("bad") + Len(1, kTraceId), true},
      {SpanBody() + Len(1, "bad"), false},
      {SpanBody() + Len(2, "") + Len(2, kSpanId), true},
      // parent_span_id: empty or 8 bytes (zeros allowed).
      {SpanBody() + Len(4, ""), true},
      {SpanBody() + Len(4, zero8), true},
      {SpanBody() + Len(4, "1234"), false},
      {SpanBody() + Len(4, "1234") + Len(4, ""), true},
      // Links: each needs a valid trace_id and span_id; each occurrence is a new link.
      {SpanBody() + Len(13, SpanBody()), true},
      {SpanBody() + Len(13, SpanBody()) + Len(13, SpanBody(zero16)), false},
      {SpanBody() + Len(13, Len(1, kTraceId)) + Len(13, Len(2, kSpanId)), false},
      {SpanBody() + Len(13, SpanBody("bad") + Len(1, kTraceId)), true},
      {SpanBody() + Len(13, ""), false},
      // Events and the status carry no ids.
      {SpanBody() + Len(11, Len(2, "ev")) + Len(15, ""), true},
  };
  for (const Case& c : cases) {
    auto scan = Scan(kT, Traces({c.body}));
    ASSERT_TRUE(scan.ok()) << Hex(c.body);
    EXPECT_EQ(scan->items, 1u);
    EXPECT_EQ(scan->invalid_items, c.valid ? 0u : 1u) << Hex(c.body);
  }
}

// The index's key filter has exactly the bits of the span's attribute keys, as protobuf reads
// them (the last key field of a KeyValue wins), however the KeyValues are encoded.
TEST(OtlpWireTest, SpanIndexAttributeKeyFilter) {
  auto keys_of = [](const std::string& body) {
    SpanIndex index;
    const std::string request = Traces({body});
    EXPECT_TRUE(ScanOtlpRequest(Signal::kTraces, request, &index).ok());
    return index.size() == 1 ? index[0].attribute_keys : 0;
  };
  const std::string string_value = Len(1, "GET");  // AnyValue.string_value
  const uint64_t both = AttributeKeyBits("http.method") | AttributeKeyBits("peer.service");
  EXPECT_EQ(keys_of(SpanBody() + Len(9, Len(1, "http.method") + Len(2, string_value)) +
                    Len(9, Len(1, "peer.service") + Len(2, string_value))),
            both);
  EXPECT_EQ(keys_of(SpanBody()), 0u);
  // A key without a value, and an empty key.
  EXPECT_EQ(keys_of(SpanBody() + Len(9, Len(1, "http.method"))), AttributeKeyBits("http.method"));
  EXPECT_EQ(keys_of(SpanBody() + Len(9, Len(1, ""))), AttributeKeyBits(""));
  // Values with one-, two- and three-byte lengths.
  const std::string long_value = Len(1, std::string(200, 'v'));
  const std::string huge_value = Len(1, std::string(20000, 'v'));
  EXPECT_EQ(keys_of(SpanBody() + Len(9, Len(1, "http.method") + Len(2, long_value))),
            AttributeKeyBits("http.method"));
  EXPECT_EQ(keys_of(SpanBody() + Len(9, Len(1, "http.method") + Len(2, huge_value))),
            AttributeKeyBits("http.method"));
  // Unusual encodings: the value first, the key twice (the last wins), an empty KeyValue (an
  // empty key), a key with a long length, an unknown field, a key field of another wire type
  // (an unknown field to protobuf, so the key stays empty).
  EXPECT_EQ(keys_of(SpanBody() + Len(9, Len(2, string_value) + Len(1, "http.method"))),
            AttributeKeyBits("http.method"));
  EXPECT_EQ(keys_of(SpanBody() + Len(9, Len(1, "a") + Len(2, string_value) + Len(1, "b"))),
            AttributeKeyBits("b"));
  EXPECT_EQ(keys_of(SpanBody() + Len(9, "")), AttributeKeyBits(""));
  const std::string long_key(300, 'k');
  EXPECT_EQ(keys_of(SpanBody() + Len(9, Len(1, long_key) + Len(2, string_value))),
            AttributeKeyBits(long_key));
  EXPECT_EQ(keys_of(SpanBody() + Len(9, Len(1, "http.method") + Len(7, "x"))),
            AttributeKeyBits("http.method"));
  EXPECT_EQ(keys_of(SpanBody() + Len(9, std::string("\x08\x01", 2))), AttributeKeyBits(""));
  // Other KeyValues (resource, scope, events, links) do not count.
  EXPECT_EQ(keys_of(SpanBody() + Len(11, Len(2, "event") + Len(3, Len(1, "http.method")))), 0u);
  // The bits separate the keys a sampler looks for from common ones.
  const uint64_t priority = AttributeKeyBits("sampling.priority");
  EXPECT_NE(both & priority, priority);
}

TEST(OtlpWireTest, LogRecordIds) {
  struct Case {
    std::string body;
    bool valid;
  };
  const std::vector<Case> cases = {
      {"", true},
      {Len(9, kTraceId), true},
      {Len(9, std::string(16, '\0')) + Len(10, std::string(8, '\0')), true},
      {Len(10, kSpanId), true},
      {Len(9, "short"), false},
      {Len(10, kTraceId), false},
      {Len(9, "short") + Len(9, ""), true},
      {Len(10, kSpanId) + Len(10, "x"), false},
      {Len(9, "short") + Len(9, kTraceId) + Len(5, Len(1, "body")), true},
  };
  for (const Case& c : cases) {
    auto scan = Scan(kL, Logs({c.body}));
    ASSERT_TRUE(scan.ok());
    EXPECT_EQ(scan->items, 1u);
    EXPECT_EQ(scan->invalid_items, c.valid ? 0u : 1u) << Hex(c.body);
  }
}

TEST(OtlpWireTest, MetricsAreNeverInvalid) {
  // Exemplars carry ids too, but metrics are not id-validated.
  auto scan = Scan(kM, Metrics(Len(5, Len(1, Len(5, Len(4, "bad") + Len(5, "bad"))))));
  EXPECT_EQ(Items(scan), 1u);
  EXPECT_EQ(Invalid(scan), 0u);
}

TEST(OtlpWireTest, UnknownFieldsInEveryMessage) {
  // Every message type reachable from the three requests gets one unknown field of each wire
  // type added through protobuf's UnknownFieldSet; the counts must not change.
  auto add_unknown = [](google::protobuf::Message* m) {
    auto* unknown = m->GetReflection()->MutableUnknownFields(m);
    unknown->AddVarint(900, 1);
    unknown->AddFixed32(901, 2);
    unknown->AddFixed64(902, 3);
    unknown->AddLengthDelimited(903, "abc");
    unknown->AddGroup(904)->AddVarint(1, 5);
  };
  std::function<void(google::protobuf::Message*)> fill_all = [&](google::protobuf::Message* m) {
    add_unknown(m);
    const auto* d = m->GetDescriptor();
    const auto* r = m->GetReflection();
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (f->type() != FieldDescriptor::TYPE_MESSAGE) continue;
      if (f->real_containing_oneof() != nullptr &&
          r->GetOneofFieldDescriptor(*m, f->real_containing_oneof()) != nullptr) {
        continue;  // one member per oneof
      }
      if (d->full_name() == "opentelemetry.proto.common.v1.AnyValue" || f->message_type() == d) {
        continue;  // no endless recursion
      }
      google::protobuf::Message* child =
          f->is_repeated() ? r->AddMessage(m, f) : r->MutableMessage(m, f);
      fill_all(child);
    }
  };
  for (Signal s : kAllSignals) {
    Telemetry data(s);
    fill_all(data.mutable_message());
    const std::string bytes = data.message().SerializeAsString();
    auto scan = Scan(s, bytes);
    ASSERT_TRUE(scan.ok()) << scan.status();
    EXPECT_EQ(scan->items, data.ItemCount());
    EXPECT_GT(scan->items, 0u);
  }
}

// --- Differential fuzzing against protobuf
// ---------------------------------------------------------

// A wire-format field tree, so that random requests can be built (and mutated) with
// correct lengths.
struct Node {
  uint32_t number = 0;
  int wire_type = 0;
  std::string raw;             // varint/fixed bytes, or length-delimited content
  std::vector<Node> children;  // message content (wire type 2) or group content (3)
  bool nested = false;         // wire type 2 with `children` as content
};

void Serialize(const std::vector<Node>& nodes, std::string* out) {
  for (const Node& n : nodes) {
    out->append(Tag(n.number, n.wire_type));
    switch (n.wire_type) {
      case 2:
        if (n.nested) {
          std::string content;
          Serialize(n.children, &content);
          out->append(Varint(content.size()));
          out->append(content);
        } else {
          out->append(Varint(n.raw.size()));
          out->append(n.raw);
        }
        break;
      case 3:
        Serialize(n.children, out);
        out->append(Tag(n.number, 4));
        break;
      default:
        out->append(n.raw);
    }
  }
}

std::string Serialize(const std::vector<Node>& nodes) {
  std::string out;
  Serialize(nodes, &out);
  return out;
}

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  std::mt19937_64& rng() { return rng_; }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  std::vector<Node> Request(Signal signal) {
    const Descriptor* d = signal == Signal::kTraces    ? TracesRequest::descriptor()
                          : signal == Signal::kMetrics ? MetricsRequest::descriptor()
                                                       : LogsRequest::descriptor();
    node_budget_ = Uniform(20, 400);
    std::vector<Node> request = Message(d, 12);
    if (Chance(0.03)) {
      // A resource attribute whose value nests to 96..104 levels below the request (the
      // limit is 100): AnyValue at level 4, then ArrayValue, AnyValue, ...
      const int depth = Uniform(96, 104);
      std::vector<Node> content;
      for (int level = depth; level > 4; --level) {
        // An ArrayValue (odd level) in AnyValue.array_value, an AnyValue in ArrayValue.values.
        content = {Nest(level % 2 == 1 ? 5 : 1, std::move(content))};
      }
      request.push_back(
          Nest(1, {Nest(1, {Nest(1, {Leaf(1, 2, "k"), Nest(2, std::move(content))})})}));
    }
    if (Chance(0.03)) {
      // Unknown groups nested close to the recursion limit.
      std::vector<Node> body = {Leaf(1, 0, Varint(1))};
      const int levels = Uniform(95, 102);
      for (int i = 0; i < levels; ++i) body = {Grp(Uniform(20, 30), std::move(body))};
      request.push_back(std::move(body[0]));
    }
    return request;
  }

  std::string RandomBytes(int n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng_());
    return s;
  }

  // A random varint encoding of a random value, sometimes padded.
  std::string RandomVarint() {
    uint64_t v;
    switch (Uniform(0, 3)) {
      case 0:
        v = Uniform(0, 127);
        break;
      case 1:
        v = Uniform(0, 1 << 20);
        break;
      case 2:
        v = ~uint64_t{0} - Uniform(0, 5);  // negative int32/int64: 10 bytes
        break;
      default:
        v = rng_();
    }
    std::string enc = Varint(v);
    if (Chance(0.1)) enc = PaddedVarint(v, Uniform(static_cast<int>(enc.size()), 10));
    return enc;
  }

  // Random unknown fields for message type `d` (numbers it does not declare).
  Node Unknown(const Descriptor* d, int depth) {
    uint32_t number;
    do {
      static constexpr uint32_t kNumbers[] = {1,  2,  3,  4,   5,    6,     7,         8,
                                              9,  13, 17, 20,  31,   100,   1000,      4,
                                              33, 64, 99, 127, 2047, 65535, 536870911, 16};
      number = kNumbers[Uniform(0, std::size(kNumbers) - 1)];
    } while (d != nullptr && d->FindFieldByNumber(static_cast<int>(number)) != nullptr);
    return AnyWireType(number, depth);
  }

  // A field of `number` with a random wire type and matching contents.
  Node AnyWireType(uint32_t number, int depth, int avoid = -1) {
    static constexpr int kTypes[] = {0, 1, 2, 3, 5};
    int wt;
    do {
      wt = kTypes[Uniform(0, 4)];
    } while (wt == avoid || (wt == 3 && depth <= 0));
    switch (wt) {
      case 0:
        return Leaf(number, 0, RandomVarint());
      case 1:
        return Leaf(number, 1, RandomBytes(8));
      case 2:
        return Leaf(number, 2, RandomBytes(Uniform(0, 10)));
      case 3: {
        std::vector<Node> body;
        for (int i = Uniform(0, 2); i > 0; --i) body.push_back(Unknown(nullptr, depth - 1));
        return Grp(number, std::move(body));
      }
      default:
        return Leaf(number, 5, RandomBytes(4));
    }
  }

  std::vector<Node> Message(const Descriptor* d, int depth) {
    std::vector<Node> out;
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (f->real_containing_oneof() != nullptr) continue;
      int n;
      if (f->is_repeated()) {
        n = f->type() == FieldDescriptor::TYPE_MESSAGE ? Uniform(0, depth > 8 ? 3 : 2)
                                                       : Uniform(0, 3);
      } else {
        n = Chance(0.6) ? 1 : 0;
        if (n == 1 && Chance(0.08)) n = 2;
      }
      if (f->type() == FieldDescriptor::TYPE_MESSAGE && (depth <= 0 || node_budget_ <= 0)) {
        n = std::min(n, 1);
      }
      if (f->is_packable() && f->is_repeated() && n > 0 && Chance(0.5)) {
        std::string packed;
        for (int k = 0; k < n; ++k) packed += Value(f, depth).raw;
        out.push_back(Leaf(f->number(), 2, packed));
        continue;
      }
      for (int k = 0; k < n; ++k) out.push_back(Value(f, depth));
    }
    for (int i = 0; i < d->real_oneof_decl_count(); ++i) {
      const auto* oneof = d->oneof_decl(i);  // real oneofs come first
      // Often one member, sometimes none, sometimes a sequence (switches and merges).
      int n = Chance(0.75) ? 1 : Uniform(0, 3);
      for (int k = 0; k < n; ++k) {
        out.push_back(Value(oneof->field(Uniform(0, oneof->field_count() - 1)), depth));
      }
    }
    if (Chance(0.1)) {
      for (int i = Uniform(1, 2); i > 0; --i) out.push_back(Unknown(d, 3));
    }
    if (Chance(0.04) && d->field_count() > 0) {
      // A declared field with another wire type.
      const FieldDescriptor* f = d->field(Uniform(0, d->field_count() - 1));
      out.push_back(AnyWireType(f->number(), 2, DeclaredWireType(f)));
    }
    if (Chance(0.2)) std::shuffle(out.begin(), out.end(), rng_);
    return out;
  }

 private:
  static Node Leaf(uint32_t number, int wt, std::string raw) {
    Node n;
    n.number = number;
    n.wire_type = wt;
    n.raw = std::move(raw);
    return n;
  }
  static Node Nest(uint32_t number, std::vector<Node> children) {
    Node n;
    n.number = number;
    n.wire_type = 2;
    n.nested = true;
    n.children = std::move(children);
    return n;
  }
  static Node Grp(uint32_t number, std::vector<Node> children) {
    Node n;
    n.number = number;
    n.wire_type = 3;
    n.children = std::move(children);
    return n;
  }

  static int DeclaredWireType(const FieldDescriptor* f) {
    switch (f->type()) {
      case FieldDescriptor::TYPE_DOUBLE:
      case FieldDescriptor::TYPE_FIXED64:
      case FieldDescriptor::TYPE_SFIXED64:
        return 1;
      case FieldDescriptor::TYPE_FLOAT:
      case FieldDescriptor::TYPE_FIXED32:
      case FieldDescriptor::TYPE_SFIXED32:
        return 5;
      case FieldDescriptor::TYPE_STRING:
      case FieldDescriptor::TYPE_BYTES:
      case FieldDescriptor::TYPE_MESSAGE:
        return 2;
      case FieldDescriptor::TYPE_GROUP:
        return 3;
      default:
        return 0;
    }
  }

  std::string Id(size_t size) {
    switch (Uniform(0, 9)) {
      case 0:
        return "";
      case 1:
        return std::string(size, '\0');
      case 2:
        return RandomBytes(Uniform(1, 20));
      default:
        return RandomBytes(static_cast<int>(size));
    }
  }

  Node Value(const FieldDescriptor* f, int depth) {
    --node_budget_;
    const int wt = DeclaredWireType(f);
    switch (f->type()) {
      case FieldDescriptor::TYPE_MESSAGE:
        if (depth <= 0 || node_budget_ <= 0) return Nest(f->number(), {});
        return Nest(f->number(), Message(f->message_type(), depth - 1));
      case FieldDescriptor::TYPE_STRING:
      case FieldDescriptor::TYPE_BYTES:
        if (f->name() == "trace_id") return Leaf(f->number(), 2, Id(16));
        if (f->name() == "span_id" || f->name() == "parent_span_id") {
          return Leaf(f->number(), 2, Id(8));
        }
        return Leaf(f->number(), 2, RandomBytes(Uniform(0, 12)));
      default:
        if (wt == 1) return Leaf(f->number(), 1, RandomBytes(8));
        if (wt == 5) return Leaf(f->number(), 5, RandomBytes(4));
        return Leaf(f->number(), 0, RandomVarint());
    }
  }

  std::mt19937_64 rng_;
  int node_budget_ = 0;
};

void CollectLists(std::vector<Node>* list, std::vector<std::vector<Node>*>* out) {
  out->push_back(list);
  for (Node& n : *list) {
    if (n.nested || n.wire_type == 3) CollectLists(&n.children, out);
  }
}

// Structural mutations: the lengths stay right, so most results still parse.
void MutateTree(Generator& g, std::vector<Node>* root) {
  std::vector<std::vector<Node>*> lists;
  CollectLists(root, &lists);
  std::vector<Node>* list = lists[g.Uniform(0, static_cast<int>(lists.size()) - 1)];
  if (list->empty()) return;
  const int i = g.Uniform(0, static_cast<int>(list->size()) - 1);
  switch (g.Uniform(0, 4)) {
    case 0: {  // duplicate a field, next to it or at the end
      Node copy = (*list)[i];
      if (g.Chance(0.5)) {
        list->insert(list->begin() + i + 1, std::move(copy));
      } else {
        list->push_back(std::move(copy));
      }
      break;
    }
    case 1:  // drop a field
      list->erase(list->begin() + i);
      break;
    case 2:  // another wire type
      (*list)[i] = g.AnyWireType((*list)[i].number, 2, (*list)[i].wire_type);
      break;
    case 3:  // swap two fields
      std::swap((*list)[i], (*list)[g.Uniform(0, static_cast<int>(list->size()) - 1)]);
      break;
    default:  // another field number
      (*list)[i].number = static_cast<uint32_t>(g.Uniform(0, 17));
  }
}

// Byte-level mutations.
void MutateBytes(Generator& g, std::string* bytes, const std::string& other) {
  const int n = static_cast<int>(bytes->size());
  auto pos = [&](int size) { return size == 0 ? 0 : g.Uniform(0, size - 1); };
  switch (g.Uniform(0, 7)) {
    case 0:  // flip a bit
      if (n > 0) (*bytes)[pos(n)] ^= static_cast<char>(1 << g.Uniform(0, 7));
      break;
    case 1: {  // set a byte to an interesting value
      static constexpr char kValues[] = {'\0',   '\x01', '\x7f', '\x80', '\xff', '\x08', '\x04',
                                         '\x03', '\x0a', '\x12', '\x06', '\x07', '\x0f'};
      if (n > 0) (*bytes)[pos(n)] = kValues[g.Uniform(0, std::size(kValues) - 1)];
      break;
    }
    case 2:  // insert bytes
      bytes->insert(static_cast<size_t>(g.Uniform(0, n)), g.RandomBytes(g.Uniform(1, 3)));
      break;
    case 3:  // delete bytes
      if (n > 0) {
        const int at = pos(n);
        bytes->erase(static_cast<size_t>(at), static_cast<size_t>(g.Uniform(1, 4)));
      }
      break;
    case 4:  // truncate
      bytes->resize(static_cast<size_t>(g.Uniform(0, n)));
      break;
    case 5:  // splice: a prefix of this request and a suffix of another
      *bytes = bytes->substr(0, static_cast<size_t>(g.Uniform(0, n))) +
               other.substr(static_cast<size_t>(g.Uniform(0, static_cast<int>(other.size()))));
      break;
    case 6: {  // duplicate a range
      if (n > 0) {
        const int at = pos(n);
        const int len = g.Uniform(1, std::min(64, n - at));
        bytes->insert(static_cast<size_t>(at + len), bytes->substr(at, len));
      }
      break;
    }
    default:  // concatenate with another request (a valid merge when both are valid)
      *bytes += other;
  }
}

// For a traces request protobuf accepts: the span index the scan builds describes each span
// as the parsed message has it, in order, and its offsets locate the span's own bytes and its
// attribute fields.
::testing::AssertionResult IndexAgrees(std::string_view bytes) {
  using opentelemetry::proto::trace::v1::Span;
  TracesRequest parsed;
  if (!parsed.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return ::testing::AssertionSuccess();  // Agrees covers rejections
  }
  SpanIndex index;
  if (!ScanOtlpRequest(Signal::kTraces, bytes, &index).ok()) {
    return ::testing::AssertionFailure() << "the scan with an index rejects what protobuf accepts";
  }
  std::vector<const Span*> spans;
  for (const auto& rs : parsed.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) spans.push_back(&span);
    }
  }
  if (spans.size() != index.size()) {
    return ::testing::AssertionFailure() << "index has " << index.size() << " spans, protobuf "
                                         << spans.size() << "\n  input: " << Hex(bytes);
  }
  auto view = [&](uint32_t offset, uint32_t size) {
    return std::string(bytes.substr(offset, size));
  };
  for (size_t i = 0; i < spans.size(); ++i) {
    const Span& want = *spans[i];
    const SpanSummary& got = index[i];
    std::string why;
    Span own;
    if (!own.ParseFromString(view(got.begin, got.end - got.begin)) ||
        own.SerializeAsString() != want.SerializeAsString()) {
      why = "span bytes";
    } else if (view(got.trace_id, got.trace_id_size) != want.trace_id()) {
      why = "trace_id";
    } else if (view(got.trace_state, got.trace_state_size) != want.trace_state()) {
      why = "trace_state";
    } else if ((got.trace_state_field_size == 0) != want.trace_state().empty() &&
               !(got.trace_state_field_size != 0 && got.trace_state_size == 0)) {
      why = "trace_state field presence";
    } else if (got.trace_state_field_size != 0 && [&] {
                 Span t;  // the last trace_state field alone parses to the span's value
                 return !t.ParseFromString(
                            view(got.trace_state_field, got.trace_state_field_size)) ||
                        t.trace_state() != want.trace_state() ||
                        got.trace_state != got.trace_state_field + got.trace_state_field_size -
                                               got.trace_state_size;
               }()) {
      why = "trace_state field";
    } else if (view(got.name, got.name_size) != want.name()) {
      why = "name";
    } else if (got.kind != static_cast<int32_t>(want.kind())) {
      why = "kind";
    } else if (got.status_code != static_cast<int32_t>(want.status().code())) {
      why = "status code";
    } else if (got.start_unix_nano != want.start_time_unix_nano() ||
               got.end_unix_nano != want.end_time_unix_nano()) {
      why = "times";
    } else if (got.has_parent != !want.parent_span_id().empty()) {
      why = "parent";
    } else if (got.attribute_keys != [&] {
                 uint64_t bits = 0;
                 for (const auto& kv : want.attributes()) bits |= AttributeKeyBits(kv.key());
                 return bits;
               }()) {
      why = "attribute key filter";  // exactly the bits of the keys protobuf reads
    } else {
      // The attribute fields within [attributes_begin, attributes_end) are the span's.
      Span attrs;
      if (!attrs.ParseFromString(
              view(got.attributes_begin, got.attributes_end - got.attributes_begin))) {
        why = "attribute range";
      } else {
        Span only;
        *only.mutable_attributes() = want.attributes();
        if (only.SerializeAsString() != [&] {
              Span a;
              *a.mutable_attributes() = attrs.attributes();
              return a.SerializeAsString();
            }()) {
          why = "attributes";
        }
      }
    }
    if (!why.empty()) {
      return ::testing::AssertionFailure()
             << "span " << i << ": index " << why << " differs\n  input: " << Hex(bytes);
    }
  }
  return ::testing::AssertionSuccess();
}

int FuzzIterations() {
  const char* env = std::getenv("OTLPD_FUZZ_ITERATIONS");
  if (env != nullptr && *env != '\0') return std::max(1, std::atoi(env));
  return 20000;
}

TEST(OtlpWireFuzzTest, AgreesWithProtobufOnRandomRequests) {
  const int iterations = FuzzIterations();
  Generator g(0x07e1'0417'2024ull);
  size_t accepted = 0;
  size_t rejected = 0;
  size_t items = 0;
  size_t invalid = 0;
  int failures = 0;
  std::string previous[3];
  for (int i = 0; i < iterations && failures < 5; ++i) {
    const Signal signal = kAllSignals[i % 3];
    std::vector<Node> tree = g.Request(signal);
    const int mode = g.Uniform(0, 9);
    if (mode >= 3 && mode < 6) {
      for (int k = g.Uniform(1, 3); k > 0; --k) MutateTree(g, &tree);
    }
    std::string bytes = Serialize(tree);
    std::string& other = previous[static_cast<int>(signal)];
    if (mode >= 6) {
      for (int k = g.Uniform(1, 3); k > 0; --k) MutateBytes(g, &bytes, other);
    }
    if (mode < 3) other = bytes;
    ::testing::AssertionResult result = Agrees(signal, bytes);
    if (result && signal == Signal::kTraces) result = IndexAgrees(bytes);
    if (!result) {
      ++failures;
      ADD_FAILURE() << "iteration " << i << " mode " << mode << ": " << result.message();
      continue;
    }
    auto scan = ScanOtlpRequest(signal, bytes);
    if (scan.ok()) {
      ++accepted;
      items += scan->items;
      invalid += scan->invalid_items;
    } else {
      ++rejected;
    }
  }
  std::printf("%d inputs: %zu accepted (%zu items, %zu invalid), %zu rejected\n", iterations,
              accepted, items, invalid, rejected);
  // The mix must exercise both outcomes and the counts, or the test proves little.
  EXPECT_GT(accepted, static_cast<size_t>(iterations) / 4);
  EXPECT_GT(rejected, static_cast<size_t>(iterations) / 10);
  EXPECT_GT(items, accepted);
  EXPECT_GT(invalid, 0u);
}

}  // namespace
}  // namespace otlpd
