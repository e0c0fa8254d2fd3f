#include "storage/trace_block.h"

#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "storage/attribute_text.h"
#include "storage/column_file.h"

namespace otlpd::storage {
namespace {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::InstrumentationScope;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::resource::v1::Resource;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::ScopeSpans;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;
using opentelemetry::proto::trace::v1::TracesData;
using KeyValues = google::protobuf::RepeatedPtrField<KeyValue>;

using columns::AttrCursor;
using columns::AttrWriter;
using columns::DecodeDict;
using columns::Delta;
using columns::Dict;
using columns::In;
using columns::Key;
using columns::PutBytes;
using columns::PutFixed64;
using columns::PutVarint;
using columns::SplitIn;
using columns::SplitNumbers;
using columns::Undelta;
using columns::UnZigZag;
using columns::ValueView;
using columns::ZigZag;

constexpr std::string_view kMetaMagic = "OTBM";

// --- sections ---------------------------------------------------------------------------

enum Sec : uint32_t {
  kInfo = 1,
  kResources,
  kScopes,
  kGroups,
  kTraceIds,
  kBloom,
  kTraceSpans,
  kTraceStarts,
  kSpanIds,
  kParents,
  kExtParents,
  kStarts,
  kDurations,
  kNames,
  kNameIds,
  kKinds,
  kGroupIds,
  kFlags,
  kStrings,
  kTraceStates,
  kStatus,
  kDropped,
  kEventCounts,
  kEventTimes,
  kEventNames,
  kEventDropped,
  kLinkCounts,
  kLinkIds,
  kLinkStates,
  kLinkFlags,
  kLinkDropped,
  kOperations,
  kAttrKeys,    // sub = attribute set
  kAttrShapes,  // sub = attribute set
  kAttrShapeIds,
  kAttrValues,   // sub = set << 24 | key
  kAttrStrings,  // sub = set << 24 | key
  kAttrTags,     // sub = set << 24 | key
  kSpanIdLens,
  kStartsLo,
  kDurationsLo,
  kSecEnd,
};

std::string SectionName(uint32_t type, uint32_t sub) {
  static constexpr const char* kNamesTable[] = {"?",
                                                "info",
                                                "resources",
                                                "scopes",
                                                "groups",
                                                "trace_ids",
                                                "bloom",
                                                "trace_spans",
                                                "trace_starts",
                                                "span_ids",
                                                "parents",
                                                "ext_parents",
                                                "starts",
                                                "durations",
                                                "names",
                                                "name_ids",
                                                "kinds",
                                                "group_ids",
                                                "flags",
                                                "strings",
                                                "trace_states",
                                                "status",
                                                "dropped",
                                                "event_counts",
                                                "event_times",
                                                "event_names",
                                                "event_dropped",
                                                "link_counts",
                                                "link_ids",
                                                "link_states",
                                                "link_flags",
                                                "link_dropped",
                                                "operations",
                                                "attr_keys",
                                                "attr_shapes",
                                                "attr_shape_ids",
                                                "attr_values",
                                                "attr_strings",
                                                "attr_tags",
                                                "span_id_lens",
                                                "starts_lo",
                                                "durations_lo"};
  const char* name = type < std::size(kNamesTable) ? kNamesTable[type] : "?";
  if (type >= kAttrKeys && type <= kAttrTags)
    return absl::StrFormat("%s[%d/%d]", name, sub >> 24, sub & 0xffffff);
  return name;
}

constexpr columns::Format kFormat{"OTB1", 1, "OTBF", "trace block", &SectionName};
constexpr columns::AttrSections kAttrSections{kAttrKeys,   kAttrShapes,  kAttrShapeIds,
                                              kAttrValues, kAttrStrings, kAttrTags};

enum AttrSet : uint32_t { kSpanAttrs = 0, kEventAttrs = 1, kLinkAttrs = 2, kAttrSetCount = 3 };

// --- bloom filter over trace ids -------------------------------------------------------

constexpr int kBloomHashes = 7;
constexpr int kBloomBitsPerKey = 10;

void BloomPositions(std::string_view id, uint64_t bits, uint64_t* pos) {
  const XXH128_hash_t h = XXH3_128bits(id.data(), id.size());
  const uint64_t step = h.high64 | 1;
  for (int i = 0; i < kBloomHashes; ++i) pos[i] = (h.low64 + i * step) % bits;
}

std::string KindName(int kind) {
  switch (kind) {
    case Span::SPAN_KIND_INTERNAL:
      return "internal";
    case Span::SPAN_KIND_SERVER:
      return "server";
    case Span::SPAN_KIND_CLIENT:
      return "client";
    case Span::SPAN_KIND_PRODUCER:
      return "producer";
    case Span::SPAN_KIND_CONSUMER:
      return "consumer";
    default:
      return "";
  }
}

std::string StatusName(int code) {
  switch (code) {
    case Status::STATUS_CODE_OK:
      return "OK";
    case Status::STATUS_CODE_ERROR:
      return "ERROR";
    default:
      return "UNSET";
  }
}

std::string ServiceOf(const Resource& r) {
  for (const KeyValue& kv : r.attributes()) {
    if (kv.key() == "service.name" && kv.value().has_string_value())
      return kv.value().string_value();
  }
  return "";
}

}  // namespace

// =========================================================================================
// Meta

std::string TraceBlockMeta::Encode() const {
  std::string body;
  PutVarint(&body, 1);  // version
  PutVarint(&body, min_start_unix_nano);
  PutVarint(&body, max_end_unix_nano);
  PutVarint(&body, span_count);
  PutVarint(&body, trace_count);
  PutVarint(&body, services.size());
  for (const std::string& s : services) PutBytes(&body, s);
  PutVarint(&body, input_bytes);
  PutVarint(&body, block_bytes);
  PutFixed64(&body, checksum);
  std::string out(kMetaMagic);
  out.append(body);
  PutFixed64(&out, XXH64(body.data(), body.size(), 0));
  return out;
}

absl::StatusOr<TraceBlockMeta> TraceBlockMeta::Decode(std::string_view bytes) {
  if (bytes.size() < kMetaMagic.size() + 8 || bytes.substr(0, 4) != kMetaMagic) {
    return absl::DataLossError("trace block meta: bad magic or too short");
  }
  const std::string_view body = bytes.substr(4, bytes.size() - 12);
  In tail(bytes.substr(bytes.size() - 8));
  if (tail.Fixed64() != XXH64(body.data(), body.size(), 0)) {
    return absl::DataLossError("trace block meta: checksum mismatch");
  }
  In in(body);
  TraceBlockMeta m;
  if (in.Varint() != 1) return absl::DataLossError("trace block meta: unknown version");
  m.min_start_unix_nano = in.Varint();
  m.max_end_unix_nano = in.Varint();
  m.span_count = in.Varint();
  m.trace_count = in.Varint();
  const uint64_t n = in.Varint();
  for (uint64_t i = 0; i < n && in.ok(); ++i) m.services.emplace_back(in.Bytes());
  m.input_bytes = in.Varint();
  m.block_bytes = in.Varint();
  m.checksum = in.Fixed64();
  if (!in.ok() || !in.done()) return absl::DataLossError("trace block meta: malformed");
  return m;
}

// =========================================================================================
// Builder

struct TraceBlockBuilder::State {
  // Spans are kept serialized until Finish: a third of the memory of Span objects and no
  // allocation per field.
  struct Row {
    uint64_t offset;           // into `spans`
    uint64_t trace_id_offset;  // into `trace_ids`
    uint64_t start;
    uint32_t size;
    uint32_t group;
    uint32_t trace_id_size;
  };
  std::vector<Row> rows;
  std::string spans, trace_ids;
  uint64_t min_start = UINT64_MAX, max_start = 0, max_end = 0;
  // Deduplicated resources and scopes, encoded as they are stored.
  absl::flat_hash_map<std::string, uint32_t> resource_ids, scope_ids;
  std::vector<std::string> resources, scopes;
  std::vector<Resource> resource_protos;
  absl::flat_hash_map<std::pair<uint32_t, uint32_t>, uint32_t> group_ids;
  std::vector<std::pair<uint32_t, uint32_t>> groups;
  size_t input_bytes = 0;

  static uint32_t Intern(std::string key, absl::flat_hash_map<std::string, uint32_t>* ids,
                         std::vector<std::string>* list, bool* inserted) {
    auto [it, ins] = ids->try_emplace(key, static_cast<uint32_t>(list->size()));
    if (ins) list->push_back(std::move(key));
    *inserted = ins;
    return it->second;
  }
};

TraceBlockBuilder::TraceBlockBuilder() : state_(std::make_unique<State>()) {}
TraceBlockBuilder::~TraceBlockBuilder() = default;
size_t TraceBlockBuilder::span_count() const { return state_->rows.size(); }
size_t TraceBlockBuilder::approx_input_bytes() const { return state_->input_bytes; }

void TraceBlockBuilder::Add(const ResourceSpans& rs) {
  State& s = *state_;
  std::string rkey;
  PutVarint(&rkey, rs.has_resource() ? 1 : 0);
  PutBytes(&rkey, rs.resource().SerializeAsString());
  PutBytes(&rkey, rs.schema_url());
  bool inserted = false;
  const uint32_t resource =
      State::Intern(std::move(rkey), &s.resource_ids, &s.resources, &inserted);
  if (inserted) s.resource_protos.push_back(rs.resource());
  for (const ScopeSpans& ss : rs.scope_spans()) {
    if (ss.spans().empty()) continue;
    std::string skey;
    PutVarint(&skey, ss.has_scope() ? 1 : 0);
    PutBytes(&skey, ss.scope().SerializeAsString());
    PutBytes(&skey, ss.schema_url());
    const uint32_t scope = State::Intern(std::move(skey), &s.scope_ids, &s.scopes, &inserted);
    auto [git, ginserted] = s.group_ids.try_emplace(std::make_pair(resource, scope),
                                                    static_cast<uint32_t>(s.groups.size()));
    if (ginserted) s.groups.emplace_back(resource, scope);
    for (const Span& span : ss.spans()) {
      State::Row row;
      row.offset = s.spans.size();
      span.AppendToString(&s.spans);
      row.size = static_cast<uint32_t>(s.spans.size() - row.offset);
      row.trace_id_offset = s.trace_ids.size();
      row.trace_id_size = static_cast<uint32_t>(span.trace_id().size());
      s.trace_ids.append(span.trace_id());
      row.start = span.start_time_unix_nano();
      row.group = git->second;
      s.rows.push_back(row);
      s.min_start = std::min<uint64_t>(s.min_start, span.start_time_unix_nano());
      s.max_start = std::max<uint64_t>(s.max_start, span.start_time_unix_nano());
      s.max_end = std::max<uint64_t>(s.max_end, span.end_time_unix_nano());
      s.input_bytes += row.size + 3;  // with the field tag and length
    }
  }
}

namespace {

// Column buffers of the per-span data, filled in block order.
struct SpanColumns {
  std::string trace_ids, trace_spans, trace_starts;
  std::string span_id_lens, span_ids, parents, ext_parents, name_ids, kinds, group_ids;
  std::vector<uint64_t> starts, durations;
  std::string flags, trace_states, status, dropped;
  std::string event_counts, event_times, event_names, event_dropped;
  std::string link_counts, link_ids, link_states, link_flags, link_dropped;
  Dict names, strings;
  AttrWriter attrs[kAttrSetCount];
};

void EncodeSpan(const Span& span, size_t row_in_trace, uint64_t prev_start,
                const absl::flat_hash_map<std::string_view, size_t>& row_of_id, uint32_t group,
                SpanColumns* c) {
  PutVarint(&c->span_id_lens, span.span_id().size());
  c->span_ids.append(span.span_id());
  if (span.parent_span_id().empty()) {
    PutVarint(&c->parents, 0);
  } else if (auto it = row_of_id.find(span.parent_span_id()); it != row_of_id.end()) {
    PutVarint(&c->parents,
              2 + ZigZag(static_cast<int64_t>(row_in_trace) - static_cast<int64_t>(it->second)));
  } else {
    PutVarint(&c->parents, 1);
    PutBytes(&c->ext_parents, span.parent_span_id());
  }
  c->starts.push_back(Delta(span.start_time_unix_nano(), prev_start));
  c->durations.push_back(Delta(span.end_time_unix_nano(), span.start_time_unix_nano()));
  PutVarint(&c->name_ids, c->names.Id(span.name()));
  PutVarint(&c->kinds, static_cast<uint32_t>(span.kind()));
  PutVarint(&c->group_ids, group);
  PutVarint(&c->flags, span.flags());
  PutVarint(&c->trace_states, c->strings.Id(span.trace_state()));
  if (span.has_status()) {
    PutVarint(&c->status, 1ULL + static_cast<uint32_t>(span.status().code()));
    PutVarint(&c->status, c->strings.Id(span.status().message()));
  } else {
    PutVarint(&c->status, 0);
  }
  PutVarint(&c->dropped, span.dropped_attributes_count());
  PutVarint(&c->dropped, span.dropped_events_count());
  PutVarint(&c->dropped, span.dropped_links_count());
  c->attrs[kSpanAttrs].Add(span.attributes());
  PutVarint(&c->event_counts, span.events_size());
  for (const Span::Event& e : span.events()) {
    PutVarint(&c->event_times, Delta(e.time_unix_nano(), span.start_time_unix_nano()));
    PutVarint(&c->event_names, c->strings.Id(e.name()));
    PutVarint(&c->event_dropped, e.dropped_attributes_count());
    c->attrs[kEventAttrs].Add(e.attributes());
  }
  PutVarint(&c->link_counts, span.links_size());
  for (const Span::Link& l : span.links()) {
    PutBytes(&c->link_ids, l.trace_id());
    PutBytes(&c->link_ids, l.span_id());
    PutVarint(&c->link_states, c->strings.Id(l.trace_state()));
    PutVarint(&c->link_flags, l.flags());
    PutVarint(&c->link_dropped, l.dropped_attributes_count());
    c->attrs[kLinkAttrs].Add(l.attributes());
  }
}

}  // namespace

absl::StatusOr<std::string> TraceBlockBuilder::Finish(int zstd_level, TraceBlockMeta* meta) {
  State& s = *state_;
  // Rows by trace id, then start time (then arrival, for a stable order).
  auto trace_id = [&s](const State::Row& r) {
    return std::string_view(s.trace_ids).substr(r.trace_id_offset, r.trace_id_size);
  };
  std::vector<uint32_t> order(s.rows.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const State::Row& x = s.rows[a];
    const State::Row& y = s.rows[b];
    if (int c = trace_id(x).compare(trace_id(y)); c != 0) return c < 0;
    if (x.start != y.start) return x.start < y.start;
    return a < b;
  });
  const uint64_t min_start = s.rows.empty() ? 0 : s.min_start;
  const uint64_t max_start = s.max_start, max_end = s.max_end;

  SpanColumns c;
  std::vector<std::string_view> trace_ids;
  absl::flat_hash_set<std::tuple<uint32_t, uint32_t, uint32_t>> ops;
  std::vector<Span> spans;  // of one trace, reused
  for (size_t begin = 0; begin < order.size();) {
    const std::string_view tid = trace_id(s.rows[order[begin]]);
    size_t end = begin;
    while (end < order.size() && trace_id(s.rows[order[end]]) == tid) ++end;
    if (spans.size() < end - begin) spans.resize(end - begin);
    absl::flat_hash_map<std::string_view, size_t> row_of_id;
    for (size_t i = begin; i < end; ++i) {
      const State::Row& row = s.rows[order[i]];
      Span& span = spans[i - begin];
      span.Clear();
      if (!span.ParseFromArray(s.spans.data() + row.offset, static_cast<int>(row.size))) {
        return absl::InternalError("trace block: a span does not parse back");
      }
      row_of_id.try_emplace(span.span_id(), i - begin);
    }
    trace_ids.push_back(tid);
    PutBytes(&c.trace_ids, tid);
    PutVarint(&c.trace_spans, end - begin);
    const uint64_t trace_start = spans[0].start_time_unix_nano();
    PutVarint(&c.trace_starts, trace_start - min_start);
    uint64_t prev = trace_start;
    for (size_t i = begin; i < end; ++i) {
      const State::Row& row = s.rows[order[i]];
      const Span& span = spans[i - begin];
      EncodeSpan(span, i - begin, prev, row_of_id, row.group, &c);
      prev = span.start_time_unix_nano();
      ops.insert(
          {s.groups[row.group].first, c.names.Id(span.name()), static_cast<uint32_t>(span.kind())});
    }
    begin = end;
  }

  // Bloom filter.
  const uint64_t bits =
      std::max<uint64_t>(64, (trace_ids.size() * kBloomBitsPerKey + 63) / 64 * 64);
  std::string bloom_bits(bits / 8, '\0');
  for (std::string_view id : trace_ids) {
    uint64_t pos[kBloomHashes];
    BloomPositions(id, bits, pos);
    for (uint64_t p : pos)
      bloom_bits[p / 8] = static_cast<char>(bloom_bits[p / 8] | (1 << (p % 8)));
  }
  std::string bloom;
  PutVarint(&bloom, bits);
  bloom.append(bloom_bits);

  std::string info;
  PutVarint(&info, s.rows.size());
  PutVarint(&info, trace_ids.size());
  PutVarint(&info, min_start);
  PutVarint(&info, max_end);
  PutVarint(&info, max_start);
  auto list = [](const std::vector<std::string>& items) {
    std::string out;
    PutVarint(&out, items.size());
    for (const std::string& i : items) PutBytes(&out, i);
    return out;
  };
  std::string groups;
  PutVarint(&groups, s.groups.size());
  for (const auto& [r, sc] : s.groups) {
    PutVarint(&groups, r);
    PutVarint(&groups, sc);
  }
  std::vector<std::tuple<uint32_t, uint32_t, uint32_t>> sorted_ops(ops.begin(), ops.end());
  std::sort(sorted_ops.begin(), sorted_ops.end());
  std::string operations;
  PutVarint(&operations, sorted_ops.size());
  for (const auto& [r, n, k] : sorted_ops) {
    PutVarint(&operations, r);
    PutVarint(&operations, n);
    PutVarint(&operations, k);
  }

  columns::Writer w(kFormat, zstd_level);
  const std::pair<uint32_t, const std::string*> kStored[] = {
      {kInfo, &info}, {kTraceIds, &c.trace_ids}, {kBloom, &bloom}};
  for (const auto& [type, data] : kStored) {
    if (absl::Status st = w.Add(type, 0, *data, /*compress=*/false); !st.ok()) return st;
  }
  const std::string resources = list(s.resources), scopes = list(s.scopes);
  const std::string names = c.names.Encode(), strings = c.strings.Encode();
  std::string starts, starts_lo, durations, durations_lo;
  SplitNumbers(c.starts, &starts, &starts_lo);
  SplitNumbers(c.durations, &durations, &durations_lo);
  const std::pair<uint32_t, const std::string*> kColumns[] = {{kResources, &resources},
                                                              {kScopes, &scopes},
                                                              {kGroups, &groups},
                                                              {kOperations, &operations},
                                                              {kTraceSpans, &c.trace_spans},
                                                              {kTraceStarts, &c.trace_starts},
                                                              {kSpanIds, &c.span_ids},
                                                              {kParents, &c.parents},
                                                              {kExtParents, &c.ext_parents},
                                                              {kStarts, &starts},
                                                              {kStartsLo, &starts_lo},
                                                              {kDurationsLo, &durations_lo},
                                                              {kSpanIdLens, &c.span_id_lens},
                                                              {kDurations, &durations},
                                                              {kNames, &names},
                                                              {kNameIds, &c.name_ids},
                                                              {kKinds, &c.kinds},
                                                              {kGroupIds, &c.group_ids},
                                                              {kFlags, &c.flags},
                                                              {kStrings, &strings},
                                                              {kTraceStates, &c.trace_states},
                                                              {kStatus, &c.status},
                                                              {kDropped, &c.dropped},
                                                              {kEventCounts, &c.event_counts},
                                                              {kEventTimes, &c.event_times},
                                                              {kEventNames, &c.event_names},
                                                              {kEventDropped, &c.event_dropped},
                                                              {kLinkCounts, &c.link_counts},
                                                              {kLinkIds, &c.link_ids},
                                                              {kLinkStates, &c.link_states},
                                                              {kLinkFlags, &c.link_flags},
                                                              {kLinkDropped, &c.link_dropped}};
  for (const auto& [type, data] : kColumns) {
    if (absl::Status st = w.Add(type, 0, *data); !st.ok()) return st;
  }
  for (uint32_t set = 0; set < kAttrSetCount; ++set) {
    if (absl::Status st = c.attrs[set].Emit(kAttrSections, set, &w); !st.ok()) return st;
  }
  std::string block = w.Finish();

  if (meta != nullptr) {
    *meta = TraceBlockMeta{};
    meta->min_start_unix_nano = min_start;
    meta->max_end_unix_nano = max_end;
    meta->span_count = s.rows.size();
    meta->trace_count = trace_ids.size();
    absl::flat_hash_set<std::string> services;
    for (const auto& [r, sc] : s.groups) services.insert(ServiceOf(s.resource_protos[r]));
    services.erase("");
    meta->services.assign(services.begin(), services.end());
    std::sort(meta->services.begin(), meta->services.end());
    meta->input_bytes = s.input_bytes;
    meta->block_bytes = block.size();
    meta->checksum = XXH64(block.data(), block.size(), 0);
  }
  state_ = std::make_unique<State>();
  return block;
}

// =========================================================================================
// Reader

namespace {

struct ResourceEntry {
  bool present = false;
  Resource resource;
  std::string schema_url;
  std::string service;
};
struct ScopeEntry {
  bool present = false;
  InstrumentationScope scope;
  std::string schema_url;
};

absl::Status Malformed(uint32_t type, uint32_t sub, const In& in) {
  return absl::DataLossError(absl::StrFormat("trace block: section %s malformed near byte %d",
                                             SectionName(type, sub), in.pos()));
}

}  // namespace

struct TraceIndex;  // GetTrace's decoding checkpoints, defined with the cursor below

struct TraceBlockReader::State {
  columns::File file{kFormat};
  uint64_t span_count = 0, trace_count = 0, min_start = 0, max_end = 0, max_start = 0;
  std::vector<ResourceEntry> resources;
  std::vector<ScopeEntry> scopes;
  std::vector<std::pair<uint32_t, uint32_t>> groups;
  std::vector<std::string_view> trace_ids;  // sorted; verified at Open
  uint64_t bloom_bits = 0;
  std::string_view bloom;

  // Built by the first GetTrace.
  mutable absl::Mutex index_mu;
  mutable std::unique_ptr<TraceIndex> index ABSL_GUARDED_BY(index_mu);

  absl::StatusOr<std::string_view> Section(uint32_t type, uint32_t sub) const {
    return file.Section(type, sub);
  }
  absl::Status Load(std::string bytes);
  absl::Status LoadDictionaries();
};

absl::Status TraceBlockReader::State::Load(std::string bytes) {
  if (absl::Status s = file.Open(std::move(bytes)); !s.ok()) return s;
  // The small sections, read eagerly.
  absl::StatusOr<std::string_view> info_s = file.Stored(kInfo, 0);
  if (!info_s.ok()) return info_s.status();
  absl::StatusOr<std::string_view> ids_s = file.Stored(kTraceIds, 0);
  if (!ids_s.ok()) return ids_s.status();
  absl::StatusOr<std::string_view> bloom_s = file.Stored(kBloom, 0);
  if (!bloom_s.ok()) return bloom_s.status();
  In info(*info_s);
  span_count = info.Varint();
  trace_count = info.Varint();
  min_start = info.Varint();
  max_end = info.Varint();
  max_start = info.Varint();
  if (!info.ok() || trace_count > span_count) return Malformed(kInfo, 0, info);
  In ids(*ids_s);
  trace_ids.reserve(trace_count);
  for (uint64_t t = 0; t < trace_count && ids.ok(); ++t) trace_ids.push_back(ids.Bytes());
  if (!ids.ok() || !ids.done()) return Malformed(kTraceIds, 0, ids);
  In b(*bloom_s);
  bloom_bits = b.Varint();
  bloom = b.Raw(b.remaining());
  if (!b.ok() || bloom_bits == 0 || bloom_bits % 64 != 0 || bloom.size() * 8 != bloom_bits) {
    return Malformed(kBloom, 0, b);
  }
  return LoadDictionaries();
}

absl::Status TraceBlockReader::State::LoadDictionaries() {
  for (uint32_t type : {kResources, kScopes}) {
    absl::StatusOr<std::string_view> data = Section(type, 0);
    if (!data.ok()) return data.status();
    In in(*data);
    const uint64_t n = in.Varint();
    if (n > data->size()) return Malformed(type, 0, in);
    for (uint64_t i = 0; i < n && in.ok(); ++i) {
      In entry(in.Bytes());
      const uint64_t present = entry.Varint();
      const std::string_view proto = entry.Bytes();
      const std::string_view schema = entry.Bytes();
      bool parsed = entry.ok() && entry.done() && present <= 1;
      if (type == kResources) {
        ResourceEntry r;
        r.present = present == 1;
        parsed = parsed && r.resource.ParseFromArray(proto.data(), static_cast<int>(proto.size()));
        r.schema_url = schema;
        r.service = ServiceOf(r.resource);
        resources.push_back(std::move(r));
      } else {
        ScopeEntry sc;
        sc.present = present == 1;
        parsed = parsed && sc.scope.ParseFromArray(proto.data(), static_cast<int>(proto.size()));
        sc.schema_url = schema;
        scopes.push_back(std::move(sc));
      }
      if (!parsed) return Malformed(type, 0, in);
    }
    if (!in.ok() || !in.done()) return Malformed(type, 0, in);
  }
  absl::StatusOr<std::string_view> data = Section(kGroups, 0);
  if (!data.ok()) return data.status();
  In in(*data);
  const uint64_t n = in.Varint();
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    const uint32_t r = in.Varint32(), sc = in.Varint32();
    if (r >= resources.size() || sc >= scopes.size()) return Malformed(kGroups, 0, in);
    groups.emplace_back(r, sc);
  }
  if (!in.ok() || !in.done()) return Malformed(kGroups, 0, in);
  return absl::OkStatus();
}

namespace {

using ReaderState = TraceBlockReader::State;

// A per-span varint column with its section name for error messages.
struct Column {
  uint32_t type = 0;
  In in;
};

// Decodes spans trace by trace, in block order.
class SpanCursor {
 public:
  explicit SpanCursor(const ReaderState& s) : s_(s) {}

  absl::Status Init() {
    for (uint32_t type = kTraceSpans; type <= kSpanIdLens; ++type) {
      if (type == kNames || type == kStrings || type == kStarts || type == kDurations ||
          (type > kLinkDropped && type < kSpanIdLens)) {
        continue;
      }
      absl::StatusOr<std::string_view> data = s_.Section(type, 0);
      if (!data.ok()) return data.status();
      cols_[type] = Column{type, In(*data)};
    }
    for (auto [hi, lo, out] : {std::tuple(kStarts, kStartsLo, &starts_),
                               std::tuple(kDurations, kDurationsLo, &durations_)}) {
      absl::StatusOr<std::string_view> h = s_.Section(hi, 0);
      if (!h.ok()) return h.status();
      absl::StatusOr<std::string_view> l = s_.Section(lo, 0);
      if (!l.ok()) return l.status();
      *out = SplitIn(*h, *l);
    }
    In err;
    for (uint32_t type : {kNames, kStrings}) {
      absl::StatusOr<std::string_view> data = s_.Section(type, 0);
      if (!data.ok()) return data.status();
      (type == kNames ? dicts_->names : dicts_->strings) = DecodeDict(*data, &err);
      if (!err.ok()) return Malformed(type, 0, err);
    }
    for (uint32_t set = 0; set < kAttrSetCount; ++set) {
      if (absl::Status st = attrs_[set].Init(s_.file, kAttrSections, set); !st.ok()) return st;
      if (absl::Status st = attrs_[set].LoadAll(); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

  // Decodes trace number `next_trace_`; spans are appended (with their group) unless
  // `out` is null.
  absl::Status NextTrace(std::vector<std::pair<uint32_t, Span>>* out) {
    if (next_trace_ >= s_.trace_ids.size())
      return absl::DataLossError("trace block: no more traces");
    const std::string_view trace_id = s_.trace_ids[next_trace_++];
    const uint64_t n = V(kTraceSpans);
    const uint64_t start = s_.min_start + V(kTraceStarts);
    if (n == 0 || n > s_.span_count) return Malformed(kTraceSpans, 0, cols_[kTraceSpans].in);
    span_ids_.clear();
    for (uint64_t i = 0; i < n; ++i) span_ids_.push_back(cols_[kSpanIds].in.Raw(V(kSpanIdLens)));
    if (!cols_[kSpanIds].in.ok()) return Malformed(kSpanIds, 0, cols_[kSpanIds].in);
    uint64_t prev = start;
    for (uint64_t i = 0; i < n; ++i) {
      Span scratch;
      Span* span = &scratch;
      if (out != nullptr) {
        out->emplace_back(0, Span());
        span = &out->back().second;
      }
      absl::StatusOr<uint32_t> group = DecodeSpan(trace_id, i, &prev, span, out != nullptr);
      if (!group.ok()) return group.status();
      if (out != nullptr) out->back().first = *group;
    }
    for (const auto& [type, col] : cols_) {
      if (!col.in.ok()) return Malformed(type, 0, col.in);
    }
    if (!starts_.ok()) return Malformed(kStarts, 0, starts_.in());
    if (!durations_.ok()) return Malformed(kDurations, 0, durations_.in());
    return absl::OkStatus();
  }

  size_t next_trace() const { return next_trace_; }

 private:
  uint64_t V(uint32_t type) { return cols_[type].in.Varint(); }

  std::string_view Str(uint32_t type, const std::vector<std::string_view>& dict, bool* ok) {
    const uint64_t id = V(type);
    if (id >= dict.size()) {
      *ok = false;
      return {};
    }
    return dict[id];
  }

  absl::StatusOr<uint32_t> DecodeSpan(std::string_view trace_id, uint64_t i, uint64_t* prev,
                                      Span* span, bool materialize) {
    bool ok = true;
    const uint64_t parent = V(kParents);
    std::string_view parent_id;
    if (parent == 1) {
      parent_id = cols_[kExtParents].in.Bytes();
    } else if (parent >= 2) {
      const int64_t j = static_cast<int64_t>(i) - UnZigZag(parent - 2);
      if (j < 0 || j >= static_cast<int64_t>(span_ids_.size())) {
        return Malformed(kParents, 0, cols_[kParents].in);
      }
      parent_id = span_ids_[j];
    }
    const uint64_t start = Undelta(*prev, starts_.Next());
    *prev = start;
    const uint64_t end = Undelta(start, durations_.Next());
    const std::string_view name = Str(kNameIds, dicts_->names, &ok);
    const uint64_t kind = V(kKinds);
    const uint64_t group = V(kGroupIds);
    const uint64_t flags = V(kFlags);
    const std::string_view trace_state = Str(kTraceStates, dicts_->strings, &ok);
    const uint64_t status = V(kStatus);
    std::string_view status_message;
    if (status != 0) status_message = Str(kStatus, dicts_->strings, &ok);
    const uint64_t dropped_attrs = V(kDropped), dropped_events = V(kDropped),
                   dropped_links = V(kDropped);
    if (!ok || group >= s_.groups.size() || kind > 0xffffffffULL || flags > 0xffffffffULL ||
        status > 0x100000000ULL) {
      return absl::DataLossError("trace block: span columns malformed");
    }
    if (materialize) {
      span->set_trace_id(std::string(trace_id));
      span->set_span_id(std::string(span_ids_[i]));
      span->set_parent_span_id(std::string(parent_id));
      span->set_start_time_unix_nano(start);
      span->set_end_time_unix_nano(end);
      span->set_name(std::string(name));
      span->set_kind(static_cast<Span::SpanKind>(static_cast<int32_t>(kind)));
      span->set_flags(static_cast<uint32_t>(flags));
      span->set_trace_state(std::string(trace_state));
      if (status != 0) {
        span->mutable_status()->set_code(
            static_cast<Status::StatusCode>(static_cast<int32_t>(status - 1)));
        span->mutable_status()->set_message(std::string(status_message));
      }
      span->set_dropped_attributes_count(static_cast<uint32_t>(dropped_attrs));
      span->set_dropped_events_count(static_cast<uint32_t>(dropped_events));
      span->set_dropped_links_count(static_cast<uint32_t>(dropped_links));
    }
    if (absl::Status st =
            attrs_[kSpanAttrs].Read(materialize ? span->mutable_attributes() : nullptr);
        !st.ok()) {
      return st;
    }
    if (absl::Status st = DecodeEvents(start, span, materialize); !st.ok()) return st;
    if (absl::Status st = DecodeLinks(span, materialize); !st.ok()) return st;
    return static_cast<uint32_t>(group);
  }

  absl::Status DecodeEvents(uint64_t start, Span* span, bool materialize) {
    const uint64_t n = V(kEventCounts);
    if (n > cols_[kEventTimes].in.remaining())
      return Malformed(kEventCounts, 0, cols_[kEventCounts].in);
    for (uint64_t e = 0; e < n; ++e) {
      bool ok = true;
      const uint64_t time = Undelta(start, V(kEventTimes));
      const std::string_view name = Str(kEventNames, dicts_->strings, &ok);
      const uint64_t dropped = V(kEventDropped);
      if (!ok) return Malformed(kEventNames, 0, cols_[kEventNames].in);
      Span::Event* event = nullptr;
      if (materialize) {
        event = span->add_events();
        event->set_time_unix_nano(time);
        event->set_name(std::string(name));
        event->set_dropped_attributes_count(static_cast<uint32_t>(dropped));
      }
      absl::Status st =
          attrs_[kEventAttrs].Read(materialize ? event->mutable_attributes() : nullptr);
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }

  absl::Status DecodeLinks(Span* span, bool materialize) {
    const uint64_t n = V(kLinkCounts);
    if (n > cols_[kLinkIds].in.remaining()) return Malformed(kLinkCounts, 0, cols_[kLinkCounts].in);
    for (uint64_t l = 0; l < n; ++l) {
      bool ok = true;
      const std::string_view trace_id = cols_[kLinkIds].in.Bytes();
      const std::string_view span_id = cols_[kLinkIds].in.Bytes();
      const std::string_view state = Str(kLinkStates, dicts_->strings, &ok);
      const uint64_t flags = V(kLinkFlags);
      const uint64_t dropped = V(kLinkDropped);
      if (!ok) return Malformed(kLinkStates, 0, cols_[kLinkStates].in);
      Span::Link* link = nullptr;
      if (materialize) {
        link = span->add_links();
        link->set_trace_id(std::string(trace_id));
        link->set_span_id(std::string(span_id));
        link->set_trace_state(std::string(state));
        link->set_flags(static_cast<uint32_t>(flags));
        link->set_dropped_attributes_count(static_cast<uint32_t>(dropped));
      }
      absl::Status st = attrs_[kLinkAttrs].Read(materialize ? link->mutable_attributes() : nullptr);
      if (!st.ok()) return st;
    }
    return absl::OkStatus();
  }

  const ReaderState& s_;
  std::map<uint32_t, Column> cols_;
  SplitIn starts_, durations_;
  struct Dicts {
    std::vector<std::string_view> names, strings;
  };
  std::shared_ptr<Dicts> dicts_ = std::make_shared<Dicts>();  // shared by copies
  AttrCursor attrs_[kAttrSetCount];
  std::vector<std::string_view> span_ids_;
  size_t next_trace_ = 0;
};

}  // namespace

// Copies of a cursor every kEvery traces: a lookup decodes at most kEvery - 1 traces it
// does not need (column streams are varints, so a position cannot be computed). Built as
// far as lookups have reached.
struct TraceIndex {
  static constexpr size_t kEvery = 128;
  std::vector<SpanCursor> at;
  std::optional<SpanCursor> frontier;  // at trace at.size() * kEvery
};

namespace {

// A cursor at the checkpoint before trace t.
absl::StatusOr<SpanCursor> CheckpointBefore(const ReaderState& s, size_t t) {
  absl::MutexLock lock(&s.index_mu);
  if (s.index == nullptr) {
    auto index = std::make_unique<TraceIndex>();
    index->frontier.emplace(s);
    if (absl::Status st = index->frontier->Init(); !st.ok()) return st;
    s.index = std::move(index);
  }
  TraceIndex& index = *s.index;
  while (index.at.size() <= t / TraceIndex::kEvery) {
    index.at.push_back(*index.frontier);
    for (size_t i = 0; i < TraceIndex::kEvery && index.frontier->next_trace() < s.trace_count;
         ++i) {
      if (absl::Status st = index.frontier->NextTrace(nullptr); !st.ok()) {
        s.index = nullptr;  // start over next time (and fail the same way)
        return st;
      }
    }
  }
  return index.at[t / TraceIndex::kEvery];
}

// Groups decoded spans into ResourceSpans/ScopeSpans by first appearance of each group.
void Group(const ReaderState& s, std::vector<std::pair<uint32_t, Span>>&& spans, TracesData* out) {
  absl::flat_hash_map<uint32_t, ScopeSpans*> by_group;
  absl::flat_hash_map<uint32_t, ResourceSpans*> by_resource;
  for (auto& [group, span] : spans) {
    ScopeSpans*& ss = by_group[group];
    if (ss == nullptr) {
      const auto [r, sc] = s.groups[group];
      ResourceSpans*& rs = by_resource[r];
      if (rs == nullptr) {
        rs = out->add_resource_spans();
        if (s.resources[r].present) *rs->mutable_resource() = s.resources[r].resource;
        rs->set_schema_url(s.resources[r].schema_url);
      }
      ss = rs->add_scope_spans();
      if (s.scopes[sc].present) *ss->mutable_scope() = s.scopes[sc].scope;
      ss->set_schema_url(s.scopes[sc].schema_url);
    }
    *ss->add_spans() = std::move(span);
  }
}

}  // namespace

TraceBlockReader::TraceBlockReader(std::unique_ptr<State> state) : state_(std::move(state)) {}
TraceBlockReader::TraceBlockReader(TraceBlockReader&&) noexcept = default;
TraceBlockReader& TraceBlockReader::operator=(TraceBlockReader&&) noexcept = default;
TraceBlockReader::~TraceBlockReader() = default;

absl::StatusOr<TraceBlockReader> TraceBlockReader::Open(std::string block_bytes) {
  auto state = std::make_unique<State>();
  if (absl::Status s = state->Load(std::move(block_bytes)); !s.ok()) return s;
  return TraceBlockReader(std::move(state));
}

size_t TraceBlockReader::span_count() const { return state_->span_count; }
size_t TraceBlockReader::trace_count() const { return state_->trace_count; }

bool TraceBlockReader::MayContain(const TraceId& id) const {
  const State& s = *state_;
  if (s.trace_count == 0) return false;
  uint64_t pos[kBloomHashes];
  BloomPositions(std::string_view(reinterpret_cast<const char*>(id.data()), id.size()),
                 s.bloom_bits, pos);
  for (uint64_t p : pos) {
    if (!(static_cast<uint8_t>(s.bloom[p / 8]) & (1 << (p % 8)))) return false;
  }
  return true;
}

absl::StatusOr<std::optional<TracesData>> TraceBlockReader::GetTrace(const TraceId& id) const {
  if (!MayContain(id)) return std::nullopt;
  const State& s = *state_;
  const std::string_view key(reinterpret_cast<const char*>(id.data()), id.size());
  auto it = std::lower_bound(s.trace_ids.begin(), s.trace_ids.end(), key);
  if (it == s.trace_ids.end() || *it != key) return std::nullopt;
  const size_t t = static_cast<size_t>(it - s.trace_ids.begin());
  absl::StatusOr<SpanCursor> cursor = CheckpointBefore(s, t);
  if (!cursor.ok()) return cursor.status();
  for (size_t i = t - t % TraceIndex::kEvery; i < t; ++i) {
    if (absl::Status st = cursor->NextTrace(nullptr); !st.ok()) return st;
  }
  std::vector<std::pair<uint32_t, Span>> spans;
  if (absl::Status st = cursor->NextTrace(&spans); !st.ok()) return st;
  TracesData out;
  Group(s, std::move(spans), &out);
  return out;
}

absl::Status TraceBlockReader::ForEach(
    const std::function<absl::Status(ResourceSpans&&)>& fn) const {
  const State& s = *state_;
  SpanCursor cursor(s);
  if (absl::Status st = cursor.Init(); !st.ok()) return st;
  std::vector<std::pair<uint32_t, Span>> spans;
  // Hand out runs of a few thousand spans, grouped.
  for (size_t t = 0; t < s.trace_count; ++t) {
    if (absl::Status st = cursor.NextTrace(&spans); !st.ok()) return st;
    if (spans.size() >= 4096 || t + 1 == s.trace_count) {
      TracesData data;
      Group(s, std::move(spans), &data);
      spans.clear();
      for (ResourceSpans& rs : *data.mutable_resource_spans()) {
        if (absl::Status st = fn(std::move(rs)); !st.ok()) return st;
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TracesData> TraceBlockReader::ReadAll() const {
  TracesData out;
  absl::Status st = ForEach([&](ResourceSpans&& rs) {
    *out.add_resource_spans() = std::move(rs);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::Status TraceBlockReader::Verify() const {
  const State& s = *state_;
  if (absl::Status st = s.file.CheckAll(); !st.ok()) return st;
  SpanCursor cursor(s);
  if (absl::Status st = cursor.Init(); !st.ok()) return st;
  for (size_t t = 0; t < s.trace_count; ++t) {
    if (absl::Status st = cursor.NextTrace(nullptr); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> TraceBlockReader::Services() const {
  std::vector<std::string> out;
  for (const ResourceEntry& r : state_->resources) {
    if (!r.service.empty()) out.push_back(r.service);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::StatusOr<std::vector<Operation>> TraceBlockReader::Operations(
    const std::string& service, const std::string& span_kind) const {
  const State& s = *state_;
  absl::StatusOr<std::string_view> names_data = s.Section(kNames, 0);
  if (!names_data.ok()) return names_data.status();
  In err;
  const std::vector<std::string_view> names = DecodeDict(*names_data, &err);
  if (!err.ok()) return Malformed(kNames, 0, err);
  absl::StatusOr<std::string_view> ops = s.Section(kOperations, 0);
  if (!ops.ok()) return ops.status();
  In in(*ops);
  const uint64_t n = in.Varint();
  std::vector<Operation> out;
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    const uint64_t r = in.Varint(), name = in.Varint(), kind = in.Varint();
    if (!in.ok() || r >= s.resources.size() || name >= names.size())
      return Malformed(kOperations, 0, in);
    if (s.resources[r].service != service) continue;
    Operation op{std::string(names[name]), KindName(static_cast<int>(kind))};
    if (!span_kind.empty() && op.span_kind != span_kind) continue;
    out.push_back(std::move(op));
  }
  if (!in.ok()) return Malformed(kOperations, 0, in);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

bool ValueMatches(const ValueView& v, std::string_view want) {
  switch (v.tag) {
    case columns::kString:
      return v.str == want;
    case columns::kTrue:
      return want == "true";
    case columns::kFalse:
      return want == "false";
    case columns::kInt:
      return absl::StrCat(v.i) == want;
    case columns::kDouble: {
      AnyValue a;
      a.set_double_value(v.d);
      return AttributeText(a) == want;
    }
    case columns::kBytesValue: {
      AnyValue a;
      a.set_bytes_value(std::string(v.str));
      return AttributeText(a) == want;
    }
    case columns::kComplex: {
      AnyValue a;
      return a.ParseFromArray(v.str.data(), static_cast<int>(v.str.size())) &&
             AttributeText(a) == want;
    }
    default:
      return false;
  }
}

bool AnyValueMatches(const AnyValue& a, std::string_view want) { return AttributeText(a) == want; }

int KindFromName(std::string_view name) {
  for (int k = 0; k <= Span::SPAN_KIND_CONSUMER; ++k) {
    if (KindName(k) == name) return k;
  }
  return -1;
}

// The columns a search filters on, decoded for every span of the block.
struct SearchRows {
  std::vector<uint64_t> start, duration;
  std::vector<uint32_t> name, kind, group, status_code;
  std::vector<size_t> trace_begin;  // row range of trace t: [trace_begin[t], trace_begin[t+1])
};

// Which filter columns a query needs besides start times.
struct SearchNeeds {
  bool duration = false, name = false, kind = false, group = false, status = false;
};

absl::Status DecodeSearchRows(const ReaderState& s, const SearchNeeds& needs, SearchRows* rows) {
  std::string_view data[kSecEnd];
  for (uint32_t type : {kTraceSpans, kTraceStarts, kStarts, kStartsLo, kDurations, kDurationsLo,
                        kNameIds, kKinds, kGroupIds, kStatus}) {
    const bool needed = (type != kDurations && type != kDurationsLo) || needs.duration;
    if (!needed || (type == kNameIds && !needs.name) || (type == kKinds && !needs.kind) ||
        (type == kGroupIds && !needs.group) || (type == kStatus && !needs.status)) {
      continue;
    }
    absl::StatusOr<std::string_view> d = s.Section(type, 0);
    if (!d.ok()) return d.status();
    data[type] = *d;
  }
  In spans(data[kTraceSpans]), trace_starts(data[kTraceStarts]), names(data[kNameIds]),
      kinds(data[kKinds]), groups(data[kGroupIds]), status(data[kStatus]);
  SplitIn starts(data[kStarts], data[kStartsLo]);
  SplitIn durations(data[kDurations], data[kDurationsLo]);
  const size_t n = s.span_count;
  rows->start.resize(n);
  if (needs.duration) rows->duration.resize(n);
  if (needs.name) rows->name.resize(n);
  if (needs.kind) rows->kind.resize(n);
  if (needs.group) rows->group.resize(n);
  if (needs.status) rows->status_code.resize(n);
  size_t r = 0;
  for (size_t t = 0; t < s.trace_count; ++t) {
    rows->trace_begin.push_back(r);
    const uint64_t count = spans.Varint();
    uint64_t prev = s.min_start + trace_starts.Varint();
    if (count == 0 || count > n - r) return Malformed(kTraceSpans, 0, spans);
    for (uint64_t i = 0; i < count; ++i, ++r) {
      prev = Undelta(prev, starts.Next());
      rows->start[r] = prev;
      if (needs.duration) rows->duration[r] = static_cast<uint64_t>(UnZigZag(durations.Next()));
      if (needs.name) rows->name[r] = names.Varint32();
      if (needs.kind) rows->kind[r] = kinds.Varint32();
      if (needs.group) {
        rows->group[r] = groups.Varint32();
        if (rows->group[r] >= s.groups.size()) return Malformed(kGroupIds, 0, groups);
      }
      if (needs.status) {
        const uint64_t code = status.Varint();
        if (code != 0) status.Varint();  // message id
        rows->status_code[r] = code == 0 ? 0 : static_cast<uint32_t>(code - 1);
      }
    }
  }
  rows->trace_begin.push_back(r);
  for (const In* in : {&spans, &trace_starts, &names, &kinds, &groups, &status}) {
    if (!in->ok()) return absl::DataLossError("trace block: search columns malformed");
  }
  if (!starts.ok() || !durations.ok() || r != n) {
    return absl::DataLossError("trace block: start or duration columns malformed");
  }
  return absl::OkStatus();
}

// Calls hit(row) for every attribute row of `set` with key == value; only that key's
// columns are read.
absl::Status MatchAttrs(const ReaderState& s, uint32_t set, std::string_view key,
                        std::string_view value, const std::function<void(size_t)>& hit) {
  AttrCursor cursor;
  if (absl::Status st = cursor.Init(s.file, kAttrSections, set); !st.ok()) return st;
  std::vector<bool> target(cursor.keys().size(), false);
  bool any = false;
  for (uint32_t k = 0; k < cursor.keys().size(); ++k) {
    if (cursor.keys()[k].first != key) continue;
    if (absl::Status st = cursor.LoadKey(k); !st.ok()) return st;
    target[k] = any = true;
  }
  if (!any) return absl::OkStatus();
  // Per shape, only the target keys: the other keys' columns are not read at all.
  std::vector<std::vector<uint32_t>> targets(cursor.shape_count());
  for (size_t id = 0; id < targets.size(); ++id) {
    for (uint32_t k : cursor.shape(id)) {
      if (target[k]) targets[id].push_back(k);
    }
  }
  for (size_t r = 0; !cursor.shapes_done(); ++r) {
    const uint64_t id = cursor.NextShapeId();
    if (id >= targets.size()) return absl::DataLossError("trace block: attribute shapes malformed");
    for (uint32_t k : targets[id]) {
      ValueView v;
      if (!cursor.ReadValue(k, &v)) {
        return absl::DataLossError("trace block: attribute values malformed");
      }
      if (ValueMatches(v, value)) hit(r);
    }
  }
  return absl::OkStatus();
}

// False when no span or event attribute and no resource attribute of the block can match
// key=value (whole-block pruning by the dictionaries).
absl::StatusOr<bool> TagMayMatch(const ReaderState& s, std::string_view key,
                                 std::string_view value) {
  if (key == "error" || key == "span.kind" || key == "otel.status_code") return true;
  for (const ResourceEntry& r : s.resources) {
    for (const KeyValue& kv : r.resource.attributes()) {
      if (kv.key() == key) return true;
    }
  }
  for (uint32_t set : {kSpanAttrs, kEventAttrs}) {
    AttrCursor cursor;
    if (absl::Status st = cursor.Init(s.file, kAttrSections, set); !st.ok()) return st;
    for (uint32_t k = 0; k < cursor.keys().size(); ++k) {
      if (cursor.keys()[k].first != key) continue;
      if (absl::Status st = cursor.LoadKey(k); !st.ok()) return st;
      if (cursor.MayHold(k, value)) return true;
    }
  }
  return false;
}

// Span row of every event row.
absl::StatusOr<std::vector<uint32_t>> EventRows(const ReaderState& s) {
  absl::StatusOr<std::string_view> data = s.Section(kEventCounts, 0);
  if (!data.ok()) return data.status();
  In in(*data);
  std::vector<uint32_t> out;
  for (uint32_t r = 0; r < s.span_count && in.ok(); ++r) {
    const uint64_t n = in.Varint();
    if (n > data->size()) return Malformed(kEventCounts, 0, in);
    out.insert(out.end(), n, r);
  }
  if (!in.ok()) return Malformed(kEventCounts, 0, in);
  return out;
}

}  // namespace

absl::Status TraceBlockReader::Search(const TraceQuery& q,
                                      std::vector<std::pair<TraceId, int64_t>>* out) const {
  const State& s = *state_;
  if (s.span_count == 0) return absl::OkStatus();
  // Whole-block pruning: time range, service, operation, tag keys.
  if (q.time.start > absl::FromUnixNanos(static_cast<int64_t>(s.max_start)) ||
      q.time.end < absl::FromUnixNanos(static_cast<int64_t>(s.min_start))) {
    return absl::OkStatus();
  }
  std::vector<bool> resource_ok(s.resources.size(), true);
  if (!q.service.empty()) {
    bool any = false;
    for (size_t r = 0; r < s.resources.size(); ++r) {
      resource_ok[r] = s.resources[r].service == q.service;
      any = any || resource_ok[r];
    }
    if (!any) return absl::OkStatus();
  }
  int64_t want_name = -1;
  if (!q.operation.empty()) {
    absl::StatusOr<std::string_view> data = s.Section(kNames, 0);
    if (!data.ok()) return data.status();
    In err;
    const std::vector<std::string_view> names = DecodeDict(*data, &err);
    if (!err.ok()) return Malformed(kNames, 0, err);
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == q.operation) want_name = static_cast<int64_t>(i);
    }
    if (want_name < 0) return absl::OkStatus();
  }
  const int want_kind = q.span_kind.empty() ? -1 : KindFromName(q.span_kind);
  if (!q.span_kind.empty() && want_kind < 0) return absl::OkStatus();

  for (const auto& [key, value] : q.tags) {
    absl::StatusOr<bool> may = TagMayMatch(s, key, value);
    if (!may.ok()) return may.status();
    if (!*may) return absl::OkStatus();
  }

  SearchNeeds needs;
  needs.duration = q.min_duration.has_value() || q.max_duration.has_value();
  needs.name = want_name >= 0;
  needs.kind = want_kind >= 0;
  needs.group = !q.service.empty() || !q.tags.empty();
  for (const auto& [key, value] : q.tags) {
    needs.kind = needs.kind || key == "span.kind";
    needs.status = needs.status || key == "error" || key == "otel.status_code";
  }
  SearchRows rows;
  if (absl::Status st = DecodeSearchRows(s, needs, &rows); !st.ok()) return st;
  const size_t n = s.span_count;
  std::vector<uint8_t> match(n, 1);
  const bool any_time =
      q.time.start == absl::InfinitePast() && q.time.end == absl::InfiniteFuture();
  for (size_t r = 0; r < n; ++r) {
    bool ok = any_time || q.time.Contains(absl::FromUnixNanos(static_cast<int64_t>(rows.start[r])));
    if (needs.duration) {
      const absl::Duration d = absl::Nanoseconds(static_cast<int64_t>(rows.duration[r]));
      ok = ok && (!q.min_duration || d >= *q.min_duration) &&
           (!q.max_duration || d <= *q.max_duration);
    }
    if (!q.service.empty()) ok = ok && resource_ok[s.groups[rows.group[r]].first];
    if (needs.name) ok = ok && rows.name[r] == want_name;
    if (want_kind >= 0) ok = ok && static_cast<int>(rows.kind[r]) == want_kind;
    match[r] = ok;
  }
  std::optional<std::vector<uint32_t>> event_rows;
  for (const auto& [key, value] : q.tags) {
    std::vector<uint8_t> tag(n, 0);
    for (size_t r = 0; r < n; ++r) {
      if (!match[r]) continue;
      if (key == "error") {
        tag[r] = (rows.status_code[r] == Status::STATUS_CODE_ERROR) == (value == "true");
      } else if (key == "span.kind") {
        tag[r] = KindName(static_cast<int>(rows.kind[r])) == value;
      } else if (key == "otel.status_code") {
        tag[r] = StatusName(static_cast<int>(rows.status_code[r])) == value;
      }
    }
    std::vector<bool> resource_hit(s.resources.size(), false);
    for (size_t r = 0; r < s.resources.size(); ++r) {
      for (const KeyValue& kv : s.resources[r].resource.attributes()) {
        if (kv.key() == key && AnyValueMatches(kv.value(), value)) resource_hit[r] = true;
      }
    }
    for (size_t r = 0; r < n; ++r) {
      if (resource_hit[s.groups[rows.group[r]].first]) tag[r] = 1;
    }
    absl::Status st = MatchAttrs(s, kSpanAttrs, key, value, [&](size_t r) {
      if (r < n) tag[r] = 1;
    });
    if (!st.ok()) return st;
    std::vector<size_t> event_hits;
    st = MatchAttrs(s, kEventAttrs, key, value, [&](size_t e) { event_hits.push_back(e); });
    if (!st.ok()) return st;
    if (!event_hits.empty() && !event_rows) {
      absl::StatusOr<std::vector<uint32_t>> e = EventRows(s);
      if (!e.ok()) return e.status();
      event_rows = std::move(*e);
    }
    for (size_t e : event_hits) {
      if (e < event_rows->size()) tag[(*event_rows)[e]] = 1;
    }
    bool any = false;
    for (size_t r = 0; r < n; ++r) {
      match[r] = match[r] && tag[r];
      any = any || match[r];
    }
    if (!any) return absl::OkStatus();
  }
  std::vector<std::pair<TraceId, int64_t>> found;
  for (size_t t = 0; t < s.trace_count; ++t) {
    int64_t latest = INT64_MIN;
    for (size_t r = rows.trace_begin[t]; r < rows.trace_begin[t + 1]; ++r) {
      if (match[r]) latest = std::max(latest, static_cast<int64_t>(rows.start[r]));
    }
    if (latest == INT64_MIN || s.trace_ids[t].size() != 16) continue;
    TraceId id;
    std::memcpy(id.data(), s.trace_ids[t].data(), 16);
    found.emplace_back(id, latest);
  }
  auto newer = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  if (q.limit > 0 && found.size() > q.limit) {
    std::partial_sort(found.begin(), found.begin() + q.limit, found.end(), newer);
    found.resize(q.limit);
  } else {
    std::sort(found.begin(), found.end(), newer);
  }
  out->insert(out->end(), found.begin(), found.end());
  return absl::OkStatus();
}

}  // namespace otlpd::storage
