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

constexpr std::string_view kHeaderMagic = "OTB1";
constexpr uint8_t kVersion = 1;
constexpr size_t kHeaderSize = 5;
constexpr std::string_view kFooterMagic = "OTBF";
// dir offset (8), dir size (4), dir xxhash64 (8), magic (4).
constexpr size_t kFooterSize = 24;
constexpr std::string_view kMetaMagic = "OTBM";

// --- varints and fixed-width ------------------------------------------------------------

void PutVarint(std::string* s, uint64_t v) {
  while (v >= 0x80) {
    s->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  s->push_back(static_cast<char>(v));
}
void PutBytes(std::string* s, std::string_view b) {
  PutVarint(s, b.size());
  s->append(b);
}
void PutFixed64(std::string* s, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  s->append(b, 8);
}
uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }
// Wrapping difference, so that any pair of uint64 times round-trips.
uint64_t Delta(uint64_t a, uint64_t b) { return ZigZag(static_cast<int64_t>(a - b)); }
uint64_t Undelta(uint64_t base, uint64_t d) { return base + static_cast<uint64_t>(UnZigZag(d)); }

// Nanosecond times and durations carry ~16 bits of noise at the bottom: those go to two byte
// planes of their own, so that the varints of the high bits stay short and compressible.
void SplitNumbers(const std::vector<uint64_t>& values, std::string* hi, std::string* lo) {
  lo->resize(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    (*lo)[i] = static_cast<char>(values[i]);
    (*lo)[values.size() + i] = static_cast<char>(values[i] >> 8);
    PutVarint(hi, values[i] >> 16);
  }
}

// Reads a byte range; the first error sticks and later reads return zeros.
class In {
 public:
  In() = default;
  explicit In(std::string_view d) : begin_(d.data()), p_(d.data()), end_(d.data() + d.size()) {}
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return Fail();
      const uint8_t b = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    return Fail();
  }
  uint32_t Varint32() {
    const uint64_t v = Varint();
    if (v > 0xffffffffULL) return static_cast<uint32_t>(Fail());
    return static_cast<uint32_t>(v);
  }
  std::string_view Raw(uint64_t n) {
    if (static_cast<uint64_t>(end_ - p_) < n) {
      Fail();
      return {};
    }
    std::string_view out(p_, n);
    p_ += n;
    return out;
  }
  std::string_view Bytes() { return Raw(Varint()); }
  uint64_t Fixed64() {
    std::string_view b = Raw(8);
    uint64_t v = 0;
    for (size_t i = 0; i < b.size(); ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(b[i])) << (8 * i);
    return v;
  }
  uint64_t Fail() {
    ok_ = false;
    p_ = end_;
    return 0;
  }
  bool ok() const { return ok_; }
  bool done() const { return p_ == end_; }
  size_t pos() const { return static_cast<size_t>(p_ - begin_); }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

 private:
  const char* begin_ = nullptr;
  const char* p_ = nullptr;
  const char* end_ = nullptr;
  bool ok_ = true;
};

// Reads what SplitNumbers wrote.
class SplitIn {
 public:
  SplitIn() = default;
  SplitIn(std::string_view hi, std::string_view lo) : hi_(hi), lo_(lo), n_(lo.size() / 2) {
    if (lo.size() % 2 != 0) hi_.Fail();
  }
  uint64_t Next() {
    if (i_ >= n_) return hi_.Fail();
    const uint64_t low = static_cast<uint8_t>(lo_[i_]) |
                         static_cast<uint64_t>(static_cast<uint8_t>(lo_[n_ + i_])) << 8;
    ++i_;
    return hi_.Varint() << 16 | low;
  }
  const In& in() const { return hi_; }
  bool ok() const { return hi_.ok(); }

 private:
  In hi_;
  std::string_view lo_;
  size_t n_ = 0, i_ = 0;
};

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

uint64_t SecKey(uint32_t type, uint32_t sub) { return (static_cast<uint64_t>(type) << 32) | sub; }

enum AttrSet : uint32_t { kSpanAttrs = 0, kEventAttrs = 1, kLinkAttrs = 2, kAttrSetCount = 3 };

struct DirEntry {
  uint32_t type = 0;
  uint32_t sub = 0;
  uint64_t offset = 0;
  uint64_t size = 0;      // stored bytes
  uint64_t raw_size = 0;  // after decompression
  uint8_t codec = 0;      // 0 stored, 1 zstd
  uint64_t hash = 0;      // xxhash64 of the stored bytes
};

class BlockWriter {
 public:
  explicit BlockWriter(int level) : level_(level), cctx_(ZSTD_createCCtx()) {
    out_.append(kHeaderMagic);
    out_.push_back(static_cast<char>(kVersion));
  }
  ~BlockWriter() { ZSTD_freeCCtx(cctx_); }

  absl::Status Add(uint32_t type, uint32_t sub, const std::string& raw, bool compress = true) {
    DirEntry e;
    e.type = type;
    e.sub = sub;
    e.offset = out_.size();
    e.raw_size = raw.size();
    if (compress && !raw.empty()) {
      std::string z(ZSTD_compressBound(raw.size()), '\0');
      const size_t n = ZSTD_compressCCtx(cctx_, z.data(), z.size(), raw.data(), raw.size(), level_);
      if (ZSTD_isError(n)) return absl::InternalError(ZSTD_getErrorName(n));
      // Incompressible columns (random ids) are stored as they are.
      if (n < raw.size()) {
        z.resize(n);
        e.codec = 1;
        out_.append(z);
      }
    }
    if (e.codec == 0) out_.append(raw);
    e.size = out_.size() - e.offset;
    e.hash = XXH64(out_.data() + e.offset, e.size, 0);
    dir_.push_back(e);
    return absl::OkStatus();
  }

  std::string Finish() {
    std::string dir;
    PutVarint(&dir, dir_.size());
    for (const DirEntry& e : dir_) {
      PutVarint(&dir, e.type);
      PutVarint(&dir, e.sub);
      PutVarint(&dir, e.offset);
      PutVarint(&dir, e.size);
      PutVarint(&dir, e.raw_size);
      dir.push_back(static_cast<char>(e.codec));
      PutFixed64(&dir, e.hash);
    }
    const uint64_t dir_offset = out_.size();
    out_.append(dir);
    PutFixed64(&out_, dir_offset);
    const uint32_t dir_size = static_cast<uint32_t>(dir.size());
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>(dir_size >> (8 * i)));
    PutFixed64(&out_, XXH64(dir.data(), dir.size(), 0));
    out_.append(kFooterMagic);
    return std::move(out_);
  }

 private:
  int level_;
  ZSTD_CCtx* cctx_;
  std::string out_;
  std::vector<DirEntry> dir_;
};

// --- bloom filter over trace ids -------------------------------------------------------

constexpr int kBloomHashes = 7;
constexpr int kBloomBitsPerKey = 10;

void BloomPositions(std::string_view id, uint64_t bits, uint64_t* pos) {
  const XXH128_hash_t h = XXH3_128bits(id.data(), id.size());
  const uint64_t step = h.high64 | 1;
  for (int i = 0; i < kBloomHashes; ++i) pos[i] = (h.low64 + i * step) % bits;
}

// --- dictionaries ------------------------------------------------------------------------

// Heterogeneous lookups in string-keyed absl maps take absl::string_view (a type of its own
// in Debian's Abseil).
absl::string_view Key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Strings in order of first appearance; ids are their positions.
class Dict {
 public:
  uint32_t Id(std::string_view s) {
    if (auto it = ids_.find(Key(s)); it != ids_.end()) return it->second;
    const uint32_t id = static_cast<uint32_t>(ids_.size());
    ids_.emplace(std::string(s), id);
    PutBytes(&data_, s);
    return id;
  }
  std::string Encode() const {
    std::string out;
    PutVarint(&out, ids_.size());
    out.append(data_);
    return out;
  }

 private:
  absl::flat_hash_map<std::string, uint32_t> ids_;
  std::string data_;
};

std::vector<std::string_view> DecodeDict(std::string_view data, In* err) {
  In in(data);
  const uint64_t n = in.Varint();
  std::vector<std::string_view> out;
  if (n > data.size()) {
    err->Fail();
    return out;
  }
  out.reserve(n);
  for (uint64_t i = 0; i < n && in.ok(); ++i) out.push_back(in.Bytes());
  if (!in.ok() || !in.done()) err->Fail();
  return out;
}

// Attribute value tags in value columns.
enum ValueTag : uint8_t {
  kNoValue = 0,  // KeyValue without a value message
  kEmptyValue,   // AnyValue with nothing set
  kString,       // then: 0 = next new dictionary string, else id + 1
  kFalse,
  kTrue,
  kInt,         // zigzag
  kDouble,      // fixed64 bits
  kBytesValue,  // length-prefixed
  kComplex,     // serialized AnyValue (arrays, kvlists, string_value_strindex)
};

// Attributes of one kind of row (spans, events or links), one value column per key.
class AttrWriter {
 public:
  void Add(const KeyValues& attrs) {
    std::string& shape = scratch_;  // reused: this runs for every span
    shape.clear();
    PutVarint(&shape, attrs.size());
    for (const KeyValue& kv : attrs) {
      const uint32_t key = KeyId(kv);
      PutVarint(&shape, key);
      AppendValue(&cols_[key], kv);
    }
    uint32_t id;
    if (auto it = shape_ids_.find(Key(shape)); it != shape_ids_.end()) {
      id = it->second;
    } else {
      id = static_cast<uint32_t>(shape_ids_.size());
      shape_ids_.emplace(shape, id);
      shapes_.append(shape);
    }
    PutVarint(&shape_col_, id);
  }

  bool HasKey(std::string_view key) const {
    for (const auto& k : keys_) {
      if (k.first == key) return true;
    }
    return false;
  }

  absl::Status Emit(uint32_t set, BlockWriter* w) const {
    std::string keys;
    PutVarint(&keys, keys_.size());
    for (const auto& [name, strindex] : keys_) {
      PutBytes(&keys, name);
      PutVarint(&keys, static_cast<uint32_t>(strindex));
    }
    std::string shapes;
    PutVarint(&shapes, shape_ids_.size());
    shapes.append(shapes_);
    absl::Status s = w->Add(kAttrKeys, set, keys);
    if (s.ok()) s = w->Add(kAttrShapes, set, shapes);
    if (s.ok()) s = w->Add(kAttrShapeIds, set, shape_col_);
    for (size_t k = 0; k < cols_.size() && s.ok(); ++k) {
      std::string strings;
      PutVarint(&strings, cols_[k].strings.size());
      strings.append(cols_[k].string_data);
      const uint32_t sub = (set << 24) | static_cast<uint32_t>(k);
      s = w->Add(kAttrTags, sub, cols_[k].tags);
      if (s.ok()) s = w->Add(kAttrValues, sub, cols_[k].values);
      if (s.ok()) s = w->Add(kAttrStrings, sub, strings);
    }
    return s;
  }

 private:
  struct Column {
    std::string tags;  // one ValueTag per value: a column of one type compresses to nothing
    std::string values;
    absl::flat_hash_map<std::string, uint32_t> strings;
    std::string string_data;
  };

  uint32_t KeyId(const KeyValue& kv) {
    // Keys without a string-table index (all of them in practice) skip the pair's copy.
    if (kv.key_strindex() == 0) {
      if (auto it = plain_key_ids_.find(Key(kv.key())); it != plain_key_ids_.end()) {
        return it->second;
      }
    }
    auto [it, inserted] = key_ids_.try_emplace(std::make_pair(kv.key(), kv.key_strindex()),
                                               static_cast<uint32_t>(keys_.size()));
    if (inserted) {
      keys_.emplace_back(kv.key(), kv.key_strindex());
      cols_.emplace_back();
      if (kv.key_strindex() == 0) plain_key_ids_.emplace(kv.key(), it->second);
    }
    return it->second;
  }

  static void AppendValue(Column* c, const KeyValue& kv) {
    std::string& v = c->values;
    std::string& tags = c->tags;
    if (!kv.has_value()) {
      tags.push_back(kNoValue);
      return;
    }
    const AnyValue& a = kv.value();
    switch (a.value_case()) {
      case AnyValue::VALUE_NOT_SET:
        tags.push_back(kEmptyValue);
        return;
      case AnyValue::kStringValue: {
        tags.push_back(kString);
        auto [it, inserted] =
            c->strings.try_emplace(a.string_value(), static_cast<uint32_t>(c->strings.size()));
        if (inserted) {
          PutBytes(&c->string_data, a.string_value());
          PutVarint(&v, 0);
        } else {
          PutVarint(&v, it->second + 1ULL);
        }
        return;
      }
      case AnyValue::kBoolValue:
        tags.push_back(a.bool_value() ? kTrue : kFalse);
        return;
      case AnyValue::kIntValue:
        tags.push_back(kInt);
        PutVarint(&v, ZigZag(a.int_value()));
        return;
      case AnyValue::kDoubleValue: {
        tags.push_back(kDouble);
        uint64_t bits;
        const double d = a.double_value();
        std::memcpy(&bits, &d, 8);
        PutFixed64(&v, bits);
        return;
      }
      case AnyValue::kBytesValue:
        tags.push_back(kBytesValue);
        PutBytes(&v, a.bytes_value());
        return;
      default:
        tags.push_back(kComplex);
        PutBytes(&v, a.SerializeAsString());
        return;
    }
  }

  std::vector<std::pair<std::string, int32_t>> keys_;
  absl::flat_hash_map<std::pair<std::string, int32_t>, uint32_t> key_ids_;
  absl::flat_hash_map<std::string, uint32_t> plain_key_ids_;
  std::string scratch_;
  std::vector<Column> cols_;
  absl::flat_hash_map<std::string, uint32_t> shape_ids_;
  std::string shapes_;
  std::string shape_col_;
};

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

  BlockWriter w(zstd_level);
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
    if (absl::Status st = c.attrs[set].Emit(set, &w); !st.ok()) return st;
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
  std::string bytes;
  absl::flat_hash_map<uint64_t, DirEntry> dir;
  uint64_t span_count = 0, trace_count = 0, min_start = 0, max_end = 0, max_start = 0;
  std::vector<ResourceEntry> resources;
  std::vector<ScopeEntry> scopes;
  std::vector<std::pair<uint32_t, uint32_t>> groups;
  std::vector<std::string_view> trace_ids;  // sorted; verified at Open
  uint64_t bloom_bits = 0;
  std::string_view bloom;

  mutable absl::Mutex mu;
  // Decompressed sections, kept while the reader lives (node-stable).
  mutable std::map<uint64_t, std::unique_ptr<std::string>> cache ABSL_GUARDED_BY(mu);
  // Built by the first GetTrace.
  mutable absl::Mutex index_mu;
  mutable std::unique_ptr<TraceIndex> index ABSL_GUARDED_BY(index_mu);

  absl::StatusOr<std::string_view> Section(uint32_t type, uint32_t sub) const;
  absl::Status Load();
  absl::Status LoadDictionaries();
};

absl::StatusOr<std::string_view> TraceBlockReader::State::Section(uint32_t type,
                                                                  uint32_t sub) const {
  auto it = dir.find(SecKey(type, sub));
  if (it == dir.end()) {
    return absl::DataLossError(
        absl::StrCat("trace block: section ", SectionName(type, sub), " missing"));
  }
  const DirEntry& e = it->second;
  absl::MutexLock lock(&mu);
  if (auto c = cache.find(SecKey(type, sub)); c != cache.end()) return std::string_view(*c->second);
  const std::string_view stored(bytes.data() + e.offset, e.size);
  if (XXH64(stored.data(), stored.size(), 0) != e.hash) {
    return absl::DataLossError(
        absl::StrFormat("trace block: section %s (byte offset %d, %d bytes): checksum mismatch",
                        SectionName(type, sub), e.offset, e.size));
  }
  auto out = std::make_unique<std::string>();
  if (e.codec == 0) {
    if (e.raw_size != e.size) return absl::DataLossError("trace block: stored size mismatch");
    out->assign(stored);
  } else {
    if (e.raw_size > (uint64_t{1} << 34))
      return absl::DataLossError("trace block: section too large");
    out->resize(e.raw_size);
    const size_t n = ZSTD_decompress(out->data(), out->size(), stored.data(), stored.size());
    if (ZSTD_isError(n) || n != e.raw_size) {
      return absl::DataLossError(
          absl::StrFormat("trace block: section %s (byte offset %d): does not decompress",
                          SectionName(type, sub), e.offset));
    }
  }
  std::string_view view(*out);
  cache.emplace(SecKey(type, sub), std::move(out));
  return view;
}

namespace {

absl::Status CheckStored(const std::string& bytes, const DirEntry& e) {
  if (XXH64(bytes.data() + e.offset, e.size, 0) != e.hash || e.codec != 0) {
    return absl::DataLossError(
        absl::StrFormat("trace block: section %s (byte offset %d, %d bytes): checksum mismatch",
                        SectionName(e.type, e.sub), e.offset, e.size));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status TraceBlockReader::State::Load() {
  const size_t size = bytes.size();
  if (size < kHeaderSize + kFooterSize || std::string_view(bytes).substr(0, 4) != kHeaderMagic) {
    return absl::DataLossError("trace block: bad header magic at byte offset 0 or block too short");
  }
  if (static_cast<uint8_t>(bytes[4]) != kVersion) {
    return absl::DataLossError("trace block: unknown version at byte offset 4");
  }
  const std::string_view footer = std::string_view(bytes).substr(size - kFooterSize);
  if (footer.substr(20) != kFooterMagic) {
    return absl::DataLossError(
        absl::StrFormat("trace block: bad footer magic at byte offset %d", size - 4));
  }
  In f(footer);
  const uint64_t dir_offset = f.Fixed64();
  std::string_view sz = f.Raw(4);
  uint32_t dir_size = 0;
  for (int i = 0; i < 4; ++i)
    dir_size |= static_cast<uint32_t>(static_cast<uint8_t>(sz[i])) << (8 * i);
  const uint64_t dir_hash = f.Fixed64();
  if (dir_offset < kHeaderSize || dir_offset > size ||
      dir_offset + dir_size + kFooterSize != size) {
    return absl::DataLossError(
        absl::StrFormat("trace block: footer at byte offset %d: directory bounds out of range",
                        size - kFooterSize));
  }
  const std::string_view dir_bytes = std::string_view(bytes).substr(dir_offset, dir_size);
  if (XXH64(dir_bytes.data(), dir_bytes.size(), 0) != dir_hash) {
    return absl::DataLossError(
        absl::StrFormat("trace block: directory (byte offset %d, %d bytes): checksum mismatch",
                        dir_offset, dir_size));
  }
  In in(dir_bytes);
  const uint64_t n = in.Varint();
  uint64_t expect = kHeaderSize;  // sections tile the block: every byte is under a checksum
  for (uint64_t i = 0; i < n && in.ok(); ++i) {
    DirEntry e;
    e.type = in.Varint32();
    e.sub = in.Varint32();
    e.offset = in.Varint();
    e.size = in.Varint();
    e.raw_size = in.Varint();
    const std::string_view codec = in.Raw(1);
    e.codec = codec.empty() ? 0xff : static_cast<uint8_t>(codec[0]);
    e.hash = in.Fixed64();
    if (!in.ok() || e.offset != expect || e.size > dir_offset - e.offset || e.codec > 1) {
      return absl::DataLossError(
          absl::StrFormat("trace block: directory entry %d (byte offset %d) out of range", i,
                          dir_offset + in.pos()));
    }
    expect = e.offset + e.size;
    dir[SecKey(e.type, e.sub)] = e;
  }
  if (!in.ok() || !in.done() || expect != dir_offset) {
    return absl::DataLossError(
        absl::StrFormat("trace block: directory at byte offset %d malformed", dir_offset));
  }
  // The small sections, read eagerly.
  for (uint32_t type : {kInfo, kTraceIds, kBloom}) {
    auto it = dir.find(SecKey(type, 0));
    if (it == dir.end())
      return absl::DataLossError(absl::StrCat("trace block: no ", SectionName(type, 0)));
    if (absl::Status s = CheckStored(bytes, it->second); !s.ok()) return s;
  }
  const DirEntry& info_e = dir[SecKey(kInfo, 0)];
  In info(std::string_view(bytes).substr(info_e.offset, info_e.size));
  span_count = info.Varint();
  trace_count = info.Varint();
  min_start = info.Varint();
  max_end = info.Varint();
  max_start = info.Varint();
  if (!info.ok() || trace_count > span_count) return Malformed(kInfo, 0, info);
  const DirEntry& ids_e = dir[SecKey(kTraceIds, 0)];
  In ids(std::string_view(bytes).substr(ids_e.offset, ids_e.size));
  trace_ids.reserve(trace_count);
  for (uint64_t t = 0; t < trace_count && ids.ok(); ++t) trace_ids.push_back(ids.Bytes());
  if (!ids.ok() || !ids.done()) return Malformed(kTraceIds, 0, ids);
  const DirEntry& bloom_e = dir[SecKey(kBloom, 0)];
  In b(std::string_view(bytes).substr(bloom_e.offset, bloom_e.size));
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

// One attribute value as stored, without copying strings.
struct ValueView {
  uint8_t tag = kNoValue;
  std::string_view str;  // kString, kBytesValue, kComplex (serialized AnyValue)
  int64_t i = 0;
  double d = 0;
};

// Attribute columns of one set, read row by row.
class AttrCursor {
 public:
  absl::Status Init(const ReaderState& s, uint32_t set) {
    set_ = set;
    d_ = std::make_shared<Dicts>();
    absl::StatusOr<std::string_view> keys = s.Section(kAttrKeys, set);
    if (!keys.ok()) return keys.status();
    In k(*keys);
    const uint64_t n = k.Varint();
    if (n > keys->size()) return Malformed(kAttrKeys, set, k);
    for (uint64_t i = 0; i < n && k.ok(); ++i) {
      const std::string_view name = k.Bytes();
      d_->keys.emplace_back(name, static_cast<int32_t>(k.Varint32()));
    }
    if (!k.ok() || !k.done()) return Malformed(kAttrKeys, set, k);
    absl::StatusOr<std::string_view> shapes = s.Section(kAttrShapes, set);
    if (!shapes.ok()) return shapes.status();
    In sh(*shapes);
    const uint64_t ns = sh.Varint();
    if (ns > shapes->size()) return Malformed(kAttrShapes, set, sh);
    for (uint64_t i = 0; i < ns && sh.ok(); ++i) {
      const uint64_t len = sh.Varint();
      if (len > sh.remaining()) return Malformed(kAttrShapes, set, sh);
      std::vector<uint32_t> shape(len);
      for (uint32_t& key : shape) {
        key = sh.Varint32();
        if (key >= d_->keys.size()) return Malformed(kAttrShapes, set, sh);
      }
      d_->shapes.push_back(std::move(shape));
    }
    if (!sh.ok() || !sh.done()) return Malformed(kAttrShapes, set, sh);
    absl::StatusOr<std::string_view> ids = s.Section(kAttrShapeIds, set);
    if (!ids.ok()) return ids.status();
    shape_ids_ = In(*ids);
    values_.resize(d_->keys.size());
    tags_.resize(d_->keys.size());
    d_->strings.resize(d_->keys.size());
    next_new_.assign(d_->keys.size(), 0);
    loaded_.assign(d_->keys.size(), false);
    state_ = &s;
    return absl::OkStatus();
  }

  // Makes key k's columns readable (only the keys a caller touches are decompressed).
  absl::Status LoadKey(uint32_t k) {
    if (loaded_[k]) return absl::OkStatus();
    const uint32_t sub = (set_ << 24) | k;
    absl::StatusOr<std::string_view> v = state_->Section(kAttrValues, sub);
    if (!v.ok()) return v.status();
    absl::StatusOr<std::string_view> t = state_->Section(kAttrTags, sub);
    if (!t.ok()) return t.status();
    tags_[k] = In(*t);
    absl::StatusOr<std::string_view> d = state_->Section(kAttrStrings, sub);
    if (!d.ok()) return d.status();
    In err;
    d_->strings[k] = DecodeDict(*d, &err);
    if (!err.ok()) return Malformed(kAttrStrings, sub, err);
    values_[k] = In(*v);
    loaded_[k] = true;
    return absl::OkStatus();
  }

  absl::Status LoadAll() {
    for (uint32_t k = 0; k < d_->keys.size(); ++k) {
      if (absl::Status s = LoadKey(k); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // The next row's shape (keys in order); nullptr when malformed.
  size_t shape_count() const { return d_->shapes.size(); }
  const std::vector<uint32_t>& shape(size_t id) const { return d_->shapes[id]; }
  bool shapes_done() const { return shape_ids_.done(); }
  // The next row's shape id; out of range when malformed.
  uint64_t NextShapeId() {
    const uint64_t id = shape_ids_.Varint();
    return shape_ids_.ok() ? id : UINT64_MAX;
  }

  const std::vector<uint32_t>* NextShape() {
    const uint64_t id = shape_ids_.Varint();
    if (!shape_ids_.ok() || id >= d_->shapes.size()) return nullptr;
    return &d_->shapes[id];
  }

  bool ReadValue(uint32_t k, ValueView* v) {
    In& in = values_[k];
    const std::string_view tag = tags_[k].Raw(1);
    if (tag.empty()) return false;
    v->tag = static_cast<uint8_t>(tag[0]);
    switch (v->tag) {
      case kNoValue:
      case kEmptyValue:
      case kFalse:
      case kTrue:
        return true;
      case kString: {
        const uint64_t code = in.Varint();
        const uint64_t idx = code == 0 ? next_new_[k]++ : code - 1;
        if (!in.ok() || idx >= d_->strings[k].size()) return false;
        v->str = d_->strings[k][idx];
        return true;
      }
      case kInt:
        v->i = UnZigZag(in.Varint());
        return in.ok();
      case kDouble: {
        const uint64_t bits = in.Fixed64();
        std::memcpy(&v->d, &bits, 8);
        return in.ok();
      }
      case kBytesValue:
      case kComplex:
        v->str = in.Bytes();
        return in.ok();
      default:
        return false;
    }
  }

  // Reads one row; appends its attributes to `out` unless null.
  absl::Status Read(KeyValues* out) {
    const std::vector<uint32_t>* shape = NextShape();
    if (shape == nullptr) return Malformed(kAttrShapeIds, set_, shape_ids_);
    for (uint32_t k : *shape) {
      ValueView v;
      if (!ReadValue(k, &v)) return Malformed(kAttrValues, (set_ << 24) | k, values_[k]);
      if (out == nullptr) continue;
      KeyValue* kv = out->Add();
      kv->set_key(std::string(d_->keys[k].first));
      if (d_->keys[k].second != 0) kv->set_key_strindex(d_->keys[k].second);
      if (!SetValue(v, kv)) return Malformed(kAttrValues, (set_ << 24) | k, values_[k]);
    }
    return absl::OkStatus();
  }

  const std::vector<std::pair<std::string_view, int32_t>>& keys() const { return d_->keys; }

  // False when no value of loaded key k can equal `text`: every value is a string and none
  // of the key's dictionary strings is `text`.
  bool MayHold(uint32_t k, std::string_view text) const {
    In tags = tags_[k];
    while (!tags.done()) {
      if (tags.Raw(1)[0] != kString) return true;
    }
    const auto& strings = d_->strings[k];
    return std::find(strings.begin(), strings.end(), text) != strings.end();
  }

 private:
  static bool SetValue(const ValueView& v, KeyValue* kv) {
    switch (v.tag) {
      case kNoValue:
        return true;
      case kEmptyValue:
        kv->mutable_value();
        return true;
      case kString:
        kv->mutable_value()->set_string_value(std::string(v.str));
        return true;
      case kFalse:
      case kTrue:
        kv->mutable_value()->set_bool_value(v.tag == kTrue);
        return true;
      case kInt:
        kv->mutable_value()->set_int_value(v.i);
        return true;
      case kDouble:
        kv->mutable_value()->set_double_value(v.d);
        return true;
      case kBytesValue:
        kv->mutable_value()->set_bytes_value(std::string(v.str));
        return true;
      default:
        return kv->mutable_value()->ParseFromArray(v.str.data(), static_cast<int>(v.str.size()));
    }
  }

  const ReaderState* state_ = nullptr;
  uint32_t set_ = 0;
  // Dictionaries are shared by copies of a cursor (GetTrace's checkpoints).
  struct Dicts {
    std::vector<std::pair<std::string_view, int32_t>> keys;
    std::vector<std::vector<uint32_t>> shapes;
    std::vector<std::vector<std::string_view>> strings;
  };
  std::shared_ptr<Dicts> d_;
  In shape_ids_;
  std::vector<In> tags_;
  std::vector<In> values_;
  std::vector<uint32_t> next_new_;
  std::vector<bool> loaded_;
};

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
      if (absl::Status st = attrs_[set].Init(s_, set); !st.ok()) return st;
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
  state->bytes = std::move(block_bytes);
  if (absl::Status s = state->Load(); !s.ok()) return s;
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
  for (const auto& [key, e] : s.dir) {
    if (absl::StatusOr<std::string_view> data = s.Section(e.type, e.sub); !data.ok()) {
      return data.status();
    }
  }
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
    case kString:
      return v.str == want;
    case kTrue:
      return want == "true";
    case kFalse:
      return want == "false";
    case kInt:
      return absl::StrCat(v.i) == want;
    case kDouble: {
      AnyValue a;
      a.set_double_value(v.d);
      return AttributeText(a) == want;
    }
    case kBytesValue: {
      AnyValue a;
      a.set_bytes_value(std::string(v.str));
      return AttributeText(a) == want;
    }
    case kComplex: {
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
  if (absl::Status st = cursor.Init(s, set); !st.ok()) return st;
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
    if (absl::Status st = cursor.Init(s, set); !st.ok()) return st;
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
