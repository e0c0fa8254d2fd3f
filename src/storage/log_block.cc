#include "storage/log_block.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/unknown_field_set.h"
#include "storage/column_file.h"
#include "storage/record_block.h"

namespace otlpd::storage {

namespace {

using columns::In;
using columns::PutBytes;
using columns::PutVarint;
using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::logs::v1::LogRecord;
using opentelemetry::proto::logs::v1::ResourceLogs;
using opentelemetry::proto::logs::v1::ScopeLogs;
using LogsRequest = LogBlockBuilder::LogsRequest;

enum Sec : uint32_t {
  kInfo = 1,
  kRequests,       // per request: receive ns (delta), resource count
  kResources,      // dictionary of ResourceLogs without their scopes
  kResourceIds,    // per resource: id, scope count
  kScopes,         // dictionary of ScopeLogs without their records
  kScopeIds,       // per scope: id, record count
  kTimes,          // per time unit, per record of scopes in that unit: time delta (zigzag), planes
  kObserved,       // per observed unit, per record: observed - time (zigzag), planes
  kSeverity,       // per record: severity number
  kSeverityTexts,  // dictionary
  kSeverityTextIds,
  kBodyKinds,  // per record: BodyKind
  kTemplates,  // dictionary of body templates
  kTemplateIds,
  kBodyInts,     // per (template, position) in template order: the integer variables
  kBodyStrings,  // per (template, position): 0 + new string, or dictionary id + 1
  kBodyRaw,      // bodies that are not templated: string or serialized AnyValue
  kDropped,
  kFlags,
  kTraceRefs,  // per record: IdRef
  kSpanRefs,
  kIds,  // the new ids, in reference order (stored, not compressed)
  kEventNames,
  kEventNameIds,
  kRest,  // per record: fields this format does not know, serialized
  kAttrKeys,
  kAttrShapes,
  kAttrShapeIds,
  kAttrValues,
  kAttrStrings,
  kAttrTags,
};

std::string SectionName(uint32_t type, uint32_t sub) {
  static constexpr const char* kNames[] = {"?",
                                           "info",
                                           "requests",
                                           "resources",
                                           "resource_ids",
                                           "scopes",
                                           "scope_ids",
                                           "times",
                                           "observed",
                                           "severity",
                                           "severity_texts",
                                           "severity_text_ids",
                                           "body_kinds",
                                           "templates",
                                           "template_ids",
                                           "body_ints",
                                           "body_strings",
                                           "body_raw",
                                           "dropped",
                                           "flags",
                                           "trace_refs",
                                           "span_refs",
                                           "ids",
                                           "event_names",
                                           "event_name_ids",
                                           "rest",
                                           "attr_keys",
                                           "attr_shapes",
                                           "attr_shape_ids",
                                           "attr_values",
                                           "attr_strings",
                                           "attr_tags"};
  const char* name = type < std::size(kNames) ? kNames[type] : "?";
  if (type >= kAttrValues) return absl::StrFormat("%s[%d]", name, sub & 0xffffff);
  return name;
}

constexpr columns::Format kFormat{"OLB1", 1, "OLBF", "log block", &SectionName};
constexpr columns::AttrSections kAttrSections{kAttrKeys,   kAttrShapes,  kAttrShapeIds,
                                              kAttrValues, kAttrStrings, kAttrTags};

enum BodyKind : uint8_t { kNoBody = 0, kTemplated, kRawString, kOtherValue };

// Template placeholders. Bodies that contain these bytes are stored raw.
constexpr char kIntVar = '\x11';     // a decimal digit run without leading zeros
constexpr char kStringVar = '\x12';  // a token kept whole, from the position's dictionary
constexpr char kPaddedVar = '\x13';  // then a byte n: a digit run of n digits, zero-padded
constexpr size_t kMaxDigits = 18;    // fits an int64
constexpr int kMaxRunsPerToken = 8;  // more, and the token is one string variable

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-';
}
// Tokens are runs of letters, digits, '.', '_', '-' and non-ASCII bytes.
bool IsDelimiter(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x80) return false;
  return !(std::isalnum(u) || c == '.' || c == '_' || c == '-');
}

struct Split {
  std::string tmpl;
  std::vector<uint64_t> ints;
  std::vector<std::string_view> strings;
};

// A body as template + variables; false when it holds placeholder bytes.
bool SplitBody(std::string_view body, Split* out) {
  out->tmpl.clear();
  out->ints.clear();
  out->strings.clear();
  if (body.find_first_of(std::string_view("\x11\x12\x13", 3)) != std::string_view::npos) {
    return false;
  }
  size_t i = 0;
  while (i < body.size()) {
    if (IsDelimiter(body[i])) {
      out->tmpl.push_back(body[i++]);
      continue;
    }
    size_t end = i;
    bool digit = false, letter_af = false, all_hex = true;
    int runs = 0;
    while (end < body.size() && !IsDelimiter(body[end])) {
      const char c = body[end];
      if (IsDigit(c)) {
        if (end == i || !IsDigit(body[end - 1])) ++runs;
        digit = true;
      } else if (IsHex(c) && c != '-') {
        letter_af = true;
      }
      if (!IsHex(c)) all_hex = false;
      ++end;
    }
    const std::string_view token = body.substr(i, end - i);
    i = end;
    if (!digit) {
      out->tmpl.append(token);
      continue;
    }
    // Hex ids, UUIDs and digit soups would make a template each: keep them whole.
    bool whole = (all_hex && letter_af && token.size() >= 8) || runs > kMaxRunsPerToken;
    if (!whole) {
      for (size_t j = 0; j < token.size();) {
        if (!IsDigit(token[j])) {
          ++j;
          continue;
        }
        size_t k = j;
        while (k < token.size() && IsDigit(token[k])) ++k;
        if (k - j > kMaxDigits) whole = true;
        j = k;
      }
    }
    if (whole) {
      out->tmpl.push_back(kStringVar);
      out->strings.push_back(token);
      continue;
    }
    for (size_t j = 0; j < token.size();) {
      if (!IsDigit(token[j])) {
        out->tmpl.push_back(token[j++]);
        continue;
      }
      size_t k = j;
      uint64_t v = 0;
      while (k < token.size() && IsDigit(token[k]))
        v = v * 10 + static_cast<uint64_t>(token[k++] - '0');
      if (token[j] == '0' && k - j > 1) {
        out->tmpl.push_back(kPaddedVar);
        out->tmpl.push_back(static_cast<char>(k - j));
      } else {
        out->tmpl.push_back(kIntVar);
      }
      out->ints.push_back(v);
      j = k;
    }
  }
  return true;
}

void CountVars(std::string_view tmpl, size_t* ints, size_t* strings) {
  *ints = *strings = 0;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == kIntVar) {
      ++*ints;
    } else if (tmpl[i] == kPaddedVar) {
      ++*ints;
      ++i;
    } else if (tmpl[i] == kStringVar) {
      ++*strings;
    }
  }
}

// The text SDKs write for a severity number ("INFO", "WARN2"); stored as nothing.
std::string_view CanonicalSeverityText(int number) {
  static constexpr std::string_view kTexts[] = {
      "",       "TRACE",  "TRACE2", "TRACE3", "TRACE4", "DEBUG",  "DEBUG2", "DEBUG3", "DEBUG4",
      "INFO",   "INFO2",  "INFO3",  "INFO4",  "WARN",   "WARN2",  "WARN3",  "WARN4",  "ERROR",
      "ERROR2", "ERROR3", "ERROR4", "FATAL",  "FATAL2", "FATAL3", "FATAL4"};
  return number >= 0 && number < static_cast<int>(std::size(kTexts)) ? kTexts[number] : "";
}

// Times of one scope are often whole milliseconds (Java loggers) or microseconds: they are
// stored in the coarsest unit that divides all of them. Code = index.
constexpr uint64_t kUnits[] = {1, 1'000, 1'000'000, 1'000'000'000};

// The largest unit code dividing every value.
class UnitFinder {
 public:
  void Add(uint64_t v) {
    while (code_ > 0 && v % kUnits[code_] != 0) --code_;
  }
  uint32_t code() const { return code_; }

 private:
  uint32_t code_ = std::size(kUnits) - 1;
};

// Integers of one stream as fixed-width little-endian byte planes: entropy coding sees each
// byte position's statistics apart, which beats varints. The width fits most values; the
// few that do not (a first delta from zero, a time of 0) are the marker (all ones) in the
// planes and follow as varints. Width 0: every value is a varint.
//   [width][plane 0]...[plane width-1][varints of the values that did not fit]
void PutPlanes(const std::vector<uint64_t>& values, std::string* out) {
  auto bytes_of = [](uint64_t v) {
    int n = 0;
    while (n < 8 && (v >> (8 * n)) != 0) ++n;
    return n;
  };
  std::array<uint64_t, 9> count{};  // values by the bytes they need
  for (uint64_t v : values) ++count[bytes_of(v)];
  uint8_t width = 0;
  uint64_t best = UINT64_MAX;
  for (int w = 0; w <= 8; ++w) {
    uint64_t cost = static_cast<uint64_t>(w) * values.size();
    for (int len = w == 0 ? 0 : w; len <= 8; ++len) cost += count[len] * (len + 2);
    if (cost < best) {
      best = cost;
      width = static_cast<uint8_t>(w);
    }
  }
  const uint64_t marker = width == 8 ? UINT64_MAX : (uint64_t{1} << (8 * width)) - 1;
  out->push_back(static_cast<char>(width));
  for (uint8_t b = 0; b < width; ++b) {
    for (uint64_t v : values) out->push_back(static_cast<char>(std::min(v, marker) >> (8 * b)));
  }
  for (uint64_t v : values) {
    if (width == 0 || (width < 8 && v >= marker)) PutVarint(out, v);
  }
}

bool ReadPlanes(In* in, uint64_t n, std::vector<uint64_t>* out) {
  const std::string_view w = in->Raw(1);
  if (w.empty() || static_cast<uint8_t>(w[0]) > 8) return false;
  const uint8_t width = static_cast<uint8_t>(w[0]);
  if (n > in->remaining()) return false;  // at least a byte per value, either way
  out->assign(n, 0);
  for (uint8_t b = 0; b < width; ++b) {
    const std::string_view plane = in->Raw(n);
    if (!in->ok()) return false;
    for (uint64_t i = 0; i < n; ++i) {
      (*out)[i] |= static_cast<uint64_t>(static_cast<uint8_t>(plane[i])) << (8 * b);
    }
  }
  const uint64_t marker = width == 8 ? UINT64_MAX : (uint64_t{1} << (8 * width)) - 1;
  for (uint64_t& v : *out) {
    if (width == 0 || (width < 8 && v == marker)) v = in->Varint();
  }
  return in->ok();
}

// A value stored as 0 when it repeats the last one seen under the same key (the severity of
// a body template, the flags of records with or without a trace), else as value + 1.
class LastValues {
 public:
  uint64_t Encode(uint64_t key, uint32_t value) {
    auto [it, inserted] = last_.try_emplace(key, value);
    if (!inserted && it->second == value) return 0;
    it->second = value;
    return value + 1ULL;
  }
  bool Decode(uint64_t key, uint64_t code, uint32_t* value) {
    if (code == 0) {
      auto it = last_.find(key);
      if (it == last_.end()) return false;
      *value = it->second;
      return true;
    }
    if (code - 1 > UINT32_MAX) return false;
    *value = static_cast<uint32_t>(code - 1);
    last_[key] = *value;
    return true;
  }

 private:
  absl::flat_hash_map<uint64_t, uint32_t> last_;
};

// Ids seen recently, most recent first: the lines of one request share trace and span ids,
// and requests interleave only a little, so a reference is mostly a small number.
class RecentIds {
 public:
  static constexpr size_t kSize = 64;
  explicit RecentIds(size_t standard_size) : standard_size_(standard_size) {}
  // 0 = no id, 1 = a new id of the standard size (appended to `ids`), 2 = a new id of
  // another size (length-prefixed), 3 + i = the i-th most recent.
  uint64_t Encode(const std::string& id, std::string* ids) {
    if (id.empty()) return 0;
    for (size_t i = 0; i < recent_.size(); ++i) {
      if (recent_[i] == id) {
        std::rotate(recent_.begin(), recent_.begin() + i, recent_.begin() + i + 1);
        return 3 + i;
      }
    }
    Push(id);
    if (id.size() == standard_size_) {
      ids->append(id);
      return 1;
    }
    PutBytes(ids, id);
    return 2;
  }
  // False when the reference is out of range.
  bool Decode(uint64_t ref, In* ids, std::string* out) {
    if (ref == 0) {
      out->clear();
      return true;
    }
    if (ref <= 2) {
      *out = std::string(ref == 1 ? ids->Raw(standard_size_) : ids->Bytes());
      if (!ids->ok()) return false;
      Push(*out);
      return true;
    }
    const uint64_t i = ref - 3;
    if (i >= recent_.size()) return false;
    std::rotate(recent_.begin(), recent_.begin() + i, recent_.begin() + i + 1);
    *out = recent_.front();
    return true;
  }

 private:
  void Push(const std::string& id) {
    if (recent_.size() == kSize) recent_.pop_back();
    recent_.insert(recent_.begin(), id);
  }
  size_t standard_size_;
  std::vector<std::string> recent_;
};

// Fields of a newer OTLP that this build does not know: kept, not dropped.
void KeepUnknownFields(const google::protobuf::Message& from, google::protobuf::Message* to) {
  const google::protobuf::UnknownFieldSet& u = from.GetReflection()->GetUnknownFields(from);
  if (!u.empty()) to->GetReflection()->MutableUnknownFields(to)->MergeFrom(u);
}

}  // namespace

struct LogBlockBuilder::State {
  uint64_t records = 0, requests = 0;
  uint64_t min_time = UINT64_MAX, max_time = 0;
  int64_t prev_receive = 0;
  uint64_t prev_time = 0;
  // The last time of each (resource, scope): a scope's first record in a request is a delta
  // from its own previous record, not from another pod's.
  absl::flat_hash_map<uint64_t, uint64_t> scope_last_time;
  std::string request_col, resource_ids, scope_ids;
  columns::Dict resources, scopes, severity_texts, templates, event_names;
  // By unit code: a stream of whole milliseconds apart from one of nanoseconds.
  std::array<std::vector<uint64_t>, std::size(kUnits)> times, observed;
  std::string severity, severity_text_ids, body_kinds, template_ids, body_raw;
  std::string dropped, flags, trace_refs, span_refs, ids, event_name_ids, rest;
  RecentIds recent_traces{16}, recent_spans{8};
  LastValues severities, flag_values;
  uint32_t time_unit = 0, observed_unit_code = 0;  // of the scope being added
  columns::AttrWriter attrs;
  // Per template: its variables, one vector per position.
  struct TemplateVars {
    std::vector<std::vector<uint64_t>> ints;
    std::vector<std::vector<std::string>> strings;
  };
  std::vector<TemplateVars> vars;
  Split split;  // scratch

  void AddRecord(const LogRecord& r);
};

void LogBlockBuilder::State::AddRecord(const LogRecord& r) {
  ++records;
  const uint64_t t = r.time_unix_nano();
  if (t != 0) {
    min_time = std::min(min_time, t);
    max_time = std::max(max_time, t);
  }
  const uint64_t unit = kUnits[time_unit], observed_unit = kUnits[observed_unit_code];
  times[time_unit].push_back(columns::ZigZag(static_cast<int64_t>(t / unit - prev_time / unit)));
  prev_time = t;
  observed[observed_unit_code].push_back(columns::ZigZag(
      static_cast<int64_t>(r.observed_time_unix_nano() - t) / static_cast<int64_t>(observed_unit)));
  if (r.severity_text() == CanonicalSeverityText(r.severity_number())) {
    PutVarint(&severity_text_ids, 0);
  } else {
    PutVarint(&severity_text_ids, severity_texts.Id(r.severity_text()) + 1ULL);
  }
  uint64_t body_key = UINT64_MAX;  // what predicts the severity: the template, if any
  if (!r.has_body()) {
    body_kinds.push_back(kNoBody);
  } else if (r.body().has_string_value() && SplitBody(r.body().string_value(), &split)) {
    body_kinds.push_back(kTemplated);
    const uint32_t id = templates.Id(split.tmpl);
    PutVarint(&template_ids, id);
    body_key = id;
    if (id == vars.size()) {
      vars.emplace_back();
      vars.back().ints.resize(split.ints.size());
      vars.back().strings.resize(split.strings.size());
    }
    TemplateVars& v = vars[id];
    for (size_t i = 0; i < split.ints.size(); ++i) v.ints[i].push_back(split.ints[i]);
    for (size_t i = 0; i < split.strings.size(); ++i) v.strings[i].emplace_back(split.strings[i]);
  } else if (r.body().has_string_value()) {
    body_kinds.push_back(kRawString);
    PutBytes(&body_raw, r.body().string_value());
  } else {
    body_kinds.push_back(kOtherValue);
    PutBytes(&body_raw, r.body().SerializeAsString());
  }
  PutVarint(&severity, severities.Encode(body_key, static_cast<uint32_t>(r.severity_number())));
  attrs.Add(r.attributes(), body_key);
  PutVarint(&dropped, r.dropped_attributes_count());
  PutVarint(&flags, flag_values.Encode(r.trace_id().empty() ? 0 : 1, r.flags()));
  PutVarint(&trace_refs, recent_traces.Encode(r.trace_id(), &ids));
  PutVarint(&span_refs, recent_spans.Encode(r.span_id(), &ids));
  PutVarint(&event_name_ids, event_names.Id(r.event_name()));
  // Unknown fields (a newer OTLP) ride along as bytes.
  const google::protobuf::UnknownFieldSet& unknown_fields = r.GetReflection()->GetUnknownFields(r);
  if (unknown_fields.empty()) {
    PutVarint(&rest, 0);
  } else {
    std::string unknown;
    unknown_fields.SerializeToString(&unknown);
    PutBytes(&rest, unknown);
  }
}

LogBlockBuilder::LogBlockBuilder() : state_(std::make_unique<State>()) {}
LogBlockBuilder::~LogBlockBuilder() = default;
size_t LogBlockBuilder::record_count() const { return state_->records; }
size_t LogBlockBuilder::request_count() const { return state_->requests; }

void LogBlockBuilder::Add(int64_t receive_ns, const LogsRequest& request) {
  State& s = *state_;
  ++s.requests;
  PutVarint(&s.request_col, columns::Delta(static_cast<uint64_t>(receive_ns),
                                           static_cast<uint64_t>(s.prev_receive)));
  s.prev_receive = receive_ns;
  PutVarint(&s.request_col, static_cast<uint64_t>(request.resource_logs_size()));
  for (const ResourceLogs& rl : request.resource_logs()) {
    ResourceLogs head;  // without its scopes
    if (rl.has_resource()) *head.mutable_resource() = rl.resource();
    head.set_schema_url(rl.schema_url());
    KeepUnknownFields(rl, &head);
    const uint32_t resource_id = s.resources.Id(head.SerializeAsString());
    PutVarint(&s.resource_ids, resource_id);
    PutVarint(&s.resource_ids, static_cast<uint64_t>(rl.scope_logs_size()));
    for (const ScopeLogs& sl : rl.scope_logs()) {
      ScopeLogs scope_head;
      if (sl.has_scope()) *scope_head.mutable_scope() = sl.scope();
      scope_head.set_schema_url(sl.schema_url());
      KeepUnknownFields(sl, &scope_head);
      const uint32_t scope_id = s.scopes.Id(scope_head.SerializeAsString());
      PutVarint(&s.scope_ids, scope_id);
      PutVarint(&s.scope_ids, static_cast<uint64_t>(sl.log_records_size()));
      UnitFinder time_unit, observed_unit;
      for (const LogRecord& r : sl.log_records()) {
        time_unit.Add(r.time_unix_nano());
        const uint64_t d = r.observed_time_unix_nano() - r.time_unix_nano();
        observed_unit.Add(static_cast<int64_t>(d) < 0 ? 0 - d : d);
      }
      s.time_unit = time_unit.code();
      s.observed_unit_code = observed_unit.code();
      PutVarint(&s.scope_ids, s.time_unit | s.observed_unit_code << 2);
      const uint64_t key = uint64_t{resource_id} << 32 | scope_id;
      if (auto it = s.scope_last_time.find(key); it != s.scope_last_time.end()) {
        s.prev_time = it->second;
      }
      for (const LogRecord& r : sl.log_records()) s.AddRecord(r);
      s.scope_last_time[key] = s.prev_time;
    }
  }
}

absl::StatusOr<std::string> LogBlockBuilder::Finish(int zstd_level) {
  State& s = *state_;
  columns::Writer w(kFormat, zstd_level);
  std::string info;
  PutVarint(&info, 1);  // version of the column layout
  PutVarint(&info, s.records);
  PutVarint(&info, s.requests);
  PutVarint(&info, s.min_time == UINT64_MAX ? 0 : s.min_time);
  PutVarint(&info, s.max_time);
  std::string times, observed;
  for (const auto& column : s.times) PutPlanes(column, &times);
  for (const auto& column : s.observed) PutPlanes(column, &observed);
  std::string ints, strings;
  for (const State::TemplateVars& v : s.vars) {
    for (const auto& column : v.ints) PutPlanes(column, &ints);
    for (const auto& column : v.strings) {
      absl::flat_hash_map<std::string_view, uint32_t> seen;
      for (const std::string& x : column) {
        auto [it, inserted] = seen.try_emplace(x, static_cast<uint32_t>(seen.size()));
        if (inserted) {
          PutVarint(&strings, 0);
          PutBytes(&strings, x);
        } else {
          PutVarint(&strings, it->second + 1ULL);
        }
      }
    }
  }
  const std::pair<Sec, const std::string*> plain[] = {
      {kRequests, &s.request_col},
      {kResourceIds, &s.resource_ids},
      {kScopeIds, &s.scope_ids},
      {kTimes, &times},
      {kObserved, &observed},
      {kSeverity, &s.severity},
      {kSeverityTextIds, &s.severity_text_ids},
      {kBodyKinds, &s.body_kinds},
      {kTemplateIds, &s.template_ids},
      {kBodyInts, &ints},
      {kBodyStrings, &strings},
      {kBodyRaw, &s.body_raw},
      {kDropped, &s.dropped},
      {kFlags, &s.flags},
      {kTraceRefs, &s.trace_refs},
      {kSpanRefs, &s.span_refs},
      {kEventNameIds, &s.event_name_ids},
      {kRest, &s.rest},
  };
  absl::Status st = w.Add(kInfo, 0, info, /*compress=*/false);
  for (const auto& [type, data] : plain) {
    if (st.ok()) st = w.Add(type, 0, *data);
  }
  const std::pair<Sec, const columns::Dict*> dicts[] = {{kResources, &s.resources},
                                                        {kScopes, &s.scopes},
                                                        {kSeverityTexts, &s.severity_texts},
                                                        {kTemplates, &s.templates},
                                                        {kEventNames, &s.event_names}};
  for (const auto& [type, dict] : dicts) {
    if (st.ok()) st = w.Add(type, 0, dict->Encode());
  }
  if (st.ok()) st = w.Add(kIds, 0, s.ids, /*compress=*/false);
  if (st.ok()) st = s.attrs.Emit(kAttrSections, 0, &w);
  if (!st.ok()) return st;
  return w.Finish();
}

// --- reading --------------------------------------------------------------------------------

namespace {

class LogBlockReader {
 public:
  absl::Status Read(std::string bytes, const std::function<void(int64_t, LogsRequest&&)>& fn);

 private:
  absl::StatusOr<In> Column(Sec type) {
    absl::StatusOr<std::string_view> data = file_.Section(type, 0);
    if (!data.ok()) return data.status();
    return In(*data);
  }
  absl::Status Dict(Sec type, std::vector<std::string_view>* out) {
    absl::StatusOr<std::string_view> data = file_.Section(type, 0);
    if (!data.ok()) return data.status();
    In err;
    *out = columns::DecodeDict(*data, &err);
    if (!err.ok()) return file_.Malformed(type, 0, err);
    return absl::OkStatus();
  }
  absl::Status LoadVars(uint64_t records);
  // Sets the body; `key` becomes its template id, if it has one.
  absl::Status Body(LogRecord* r, uint64_t* key);
  absl::Status Record(LogRecord* r);

  columns::File file_{kFormat};
  std::vector<std::string_view> templates_, severity_texts_, event_names_;
  std::array<In, kRest + 1> cols_;
  // Per unit code: the stored values and how many have been used.
  std::array<std::vector<uint64_t>, std::size(kUnits)> times_, observed_;
  std::array<size_t, std::size(kUnits)> next_time_{}, next_observed_{};
  uint32_t time_code_ = 0, observed_code_ = 0;  // of the scope being read
  uint64_t prev_time_ = 0;
  absl::flat_hash_map<uint64_t, uint64_t> scope_last_time_;  // as the builder's
  RecentIds recent_traces_{16}, recent_spans_{8};
  LastValues severities_, flag_values_;
  columns::AttrCursor attrs_;
  // Template variables: per template, per position, the values and a read cursor.
  struct Vars {
    std::vector<std::vector<uint64_t>> ints;
    std::vector<std::vector<std::string_view>> strings;
    size_t next = 0;  // uses read so far (all positions advance together)
  };
  std::vector<Vars> vars_;
  std::string scratch_;
};

absl::Status LogBlockReader::LoadVars(uint64_t records) {
  // Uses per template, from the template id column (read on a copy).
  std::vector<uint64_t> uses(templates_.size(), 0);
  In kinds = cols_[kBodyKinds];
  In ids = cols_[kTemplateIds];
  for (uint64_t i = 0; i < records; ++i) {
    const std::string_view k = kinds.Raw(1);
    if (k.empty()) return file_.Malformed(kBodyKinds, 0, kinds);
    if (static_cast<uint8_t>(k[0]) != kTemplated) continue;
    const uint64_t t = ids.Varint();
    if (!ids.ok() || t >= templates_.size()) return file_.Malformed(kTemplateIds, 0, ids);
    ++uses[t];
  }
  In ints = cols_[kBodyInts];
  In strings = cols_[kBodyStrings];
  vars_.resize(templates_.size());
  for (size_t t = 0; t < templates_.size(); ++t) {
    size_t n_ints, n_strings;
    CountVars(templates_[t], &n_ints, &n_strings);
    Vars& v = vars_[t];
    v.ints.assign(n_ints, {});
    v.strings.assign(n_strings, {});
    for (auto& column : v.ints) {
      if (!ReadPlanes(&ints, uses[t], &column)) return file_.Malformed(kBodyInts, 0, ints);
    }
    for (auto& column : v.strings) {
      column.reserve(uses[t]);
      std::vector<std::string_view> dict;
      for (uint64_t i = 0; i < uses[t] && strings.ok(); ++i) {
        const uint64_t code = strings.Varint();
        if (code == 0) {
          dict.push_back(strings.Bytes());
          column.push_back(dict.back());
        } else if (code - 1 < dict.size()) {
          column.push_back(dict[code - 1]);
        } else {
          return file_.Malformed(kBodyStrings, 0, strings);
        }
      }
    }
    if (!ints.ok()) return file_.Malformed(kBodyInts, 0, ints);
    if (!strings.ok()) return file_.Malformed(kBodyStrings, 0, strings);
  }
  if (!ints.done()) return file_.Malformed(kBodyInts, 0, ints);
  if (!strings.done()) return file_.Malformed(kBodyStrings, 0, strings);
  return absl::OkStatus();
}

absl::Status LogBlockReader::Body(LogRecord* r, uint64_t* key) {
  In& kinds = cols_[kBodyKinds];
  const std::string_view k = kinds.Raw(1);
  if (k.empty()) return file_.Malformed(kBodyKinds, 0, kinds);
  switch (static_cast<uint8_t>(k[0])) {
    case kNoBody:
      return absl::OkStatus();
    case kRawString: {
      const std::string_view b = cols_[kBodyRaw].Bytes();
      if (!cols_[kBodyRaw].ok()) return file_.Malformed(kBodyRaw, 0, cols_[kBodyRaw]);
      r->mutable_body()->set_string_value(std::string(b));
      return absl::OkStatus();
    }
    case kOtherValue: {
      const std::string_view b = cols_[kBodyRaw].Bytes();
      if (!cols_[kBodyRaw].ok() ||
          !r->mutable_body()->ParseFromArray(b.data(), static_cast<int>(b.size()))) {
        return file_.Malformed(kBodyRaw, 0, cols_[kBodyRaw]);
      }
      return absl::OkStatus();
    }
    case kTemplated:
      break;
    default:
      return file_.Malformed(kBodyKinds, 0, kinds);
  }
  In& ids = cols_[kTemplateIds];
  const uint64_t t = ids.Varint();
  if (!ids.ok() || t >= templates_.size()) return file_.Malformed(kTemplateIds, 0, ids);
  const std::string_view tmpl = templates_[t];
  *key = t;
  Vars& v = vars_[t];
  const size_t use = v.next++;
  std::string& out = scratch_;
  out.clear();
  size_t next_int = 0, next_string = 0;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    const char c = tmpl[i];
    if (c == kIntVar) {
      absl::StrAppend(&out, v.ints[next_int++][use]);
    } else if (c == kPaddedVar) {
      if (i + 1 >= tmpl.size()) return file_.Malformed(kTemplates, 0, ids);
      const size_t width = static_cast<uint8_t>(tmpl[++i]);
      const std::string digits = absl::StrCat(v.ints[next_int++][use]);
      if (digits.size() < width) out.append(width - digits.size(), '0');
      out.append(digits);
    } else if (c == kStringVar) {
      out.append(v.strings[next_string++][use]);
    } else {
      out.push_back(c);
    }
  }
  r->mutable_body()->set_string_value(out);
  return absl::OkStatus();
}

absl::Status LogBlockReader::Record(LogRecord* r) {
  // Read sized the streams from the scopes' record counts.
  const uint64_t unit = kUnits[time_code_], observed_unit = kUnits[observed_code_];
  const uint64_t t =
      (prev_time_ / unit +
       static_cast<uint64_t>(columns::UnZigZag(times_[time_code_][next_time_[time_code_]++]))) *
      unit;
  prev_time_ = t;
  const uint64_t observed = t + static_cast<uint64_t>(columns::UnZigZag(
                                    observed_[observed_code_][next_observed_[observed_code_]++])) *
                                    observed_unit;
  if (t != 0) r->set_time_unix_nano(t);
  if (observed != 0) r->set_observed_time_unix_nano(observed);
  auto next = [&](Sec type, uint64_t* v) {
    *v = cols_[type].Varint();
    return cols_[type].ok();
  };
  uint64_t sev_code, sev_text, dropped, flags_code, trace_ref, span_ref, event;
  uint64_t body_key = UINT64_MAX;
  if (absl::Status s = Body(r, &body_key); !s.ok()) return s;
  uint32_t sev, flags;
  if (!next(kSeverity, &sev_code) || !severities_.Decode(body_key, sev_code, &sev)) {
    return file_.Malformed(kSeverity, 0, cols_[kSeverity]);
  }
  if (!next(kSeverityTextIds, &sev_text) || sev_text > severity_texts_.size()) {
    return file_.Malformed(kSeverityTextIds, 0, cols_[kSeverityTextIds]);
  }
  r->set_severity_number(
      static_cast<opentelemetry::proto::logs::v1::SeverityNumber>(static_cast<int32_t>(sev)));
  const std::string_view text =
      sev_text == 0 ? CanonicalSeverityText(r->severity_number()) : severity_texts_[sev_text - 1];
  if (!text.empty()) r->set_severity_text(std::string(text));
  if (absl::Status s = attrs_.Read(r->mutable_attributes(), body_key); !s.ok()) return s;
  if (!next(kDropped, &dropped)) return file_.Malformed(kDropped, 0, cols_[kDropped]);
  r->set_dropped_attributes_count(static_cast<uint32_t>(dropped));
  if (!next(kTraceRefs, &trace_ref) ||
      !recent_traces_.Decode(trace_ref, &cols_[kIds], r->mutable_trace_id())) {
    return file_.Malformed(kTraceRefs, 0, cols_[kTraceRefs]);
  }
  if (!next(kSpanRefs, &span_ref) ||
      !recent_spans_.Decode(span_ref, &cols_[kIds], r->mutable_span_id())) {
    return file_.Malformed(kSpanRefs, 0, cols_[kSpanRefs]);
  }
  if (!next(kFlags, &flags_code) ||
      !flag_values_.Decode(r->trace_id().empty() ? 0 : 1, flags_code, &flags)) {
    return file_.Malformed(kFlags, 0, cols_[kFlags]);
  }
  r->set_flags(flags);
  if (!next(kEventNameIds, &event) || event >= event_names_.size()) {
    return file_.Malformed(kEventNameIds, 0, cols_[kEventNameIds]);
  }
  if (!event_names_[event].empty()) r->set_event_name(std::string(event_names_[event]));
  const std::string_view rest = cols_[kRest].Bytes();
  if (!cols_[kRest].ok()) return file_.Malformed(kRest, 0, cols_[kRest]);
  if (!rest.empty() && !r->MergeFromString(std::string(rest))) {
    return file_.Malformed(kRest, 0, cols_[kRest]);
  }
  return absl::OkStatus();
}

absl::Status LogBlockReader::Read(std::string bytes,
                                  const std::function<void(int64_t, LogsRequest&&)>& fn) {
  if (absl::Status s = file_.Open(std::move(bytes)); !s.ok()) return s;
  absl::StatusOr<std::string_view> info_bytes = file_.Stored(kInfo, 0);
  if (!info_bytes.ok()) return info_bytes.status();
  In info(*info_bytes);
  const uint64_t version = info.Varint();
  const uint64_t records = info.Varint();
  const uint64_t requests = info.Varint();
  if (!info.ok() || version != 1) return file_.Malformed(kInfo, 0, info);
  for (uint32_t type = kRequests; type <= kRest; ++type) {
    if (type == kResources || type == kScopes || type == kSeverityTexts || type == kTemplates ||
        type == kEventNames) {
      continue;
    }
    absl::StatusOr<In> col = Column(static_cast<Sec>(type));
    if (!col.ok()) return col.status();
    cols_[type] = *col;
  }
  std::vector<std::string_view> resources, scopes;
  for (auto [type, out] :
       {std::pair(kResources, &resources), std::pair(kScopes, &scopes),
        std::pair(kSeverityTexts, &severity_texts_), std::pair(kTemplates, &templates_),
        std::pair(kEventNames, &event_names_)}) {
    if (absl::Status s = Dict(type, out); !s.ok()) return s;
  }
  // One body kind byte per record: bounds every per-record column before any allocation.
  if (cols_[kBodyKinds].remaining() != records) {
    return file_.Malformed(kBodyKinds, 0, cols_[kBodyKinds]);
  }
  // The structure first: requests, their resources, their scopes.
  struct ScopeRef {
    uint64_t id, records, units;
  };
  struct ResourceRef {
    uint64_t id, scopes;
  };
  std::vector<std::pair<int64_t, uint64_t>> request_refs;  // receive ns, resources
  std::vector<ResourceRef> resource_refs;
  std::vector<ScopeRef> scope_refs;
  std::array<uint64_t, std::size(kUnits)> time_counts{}, observed_counts{};
  In& req_col = cols_[kRequests];
  In& res_col = cols_[kResourceIds];
  In& scope_col = cols_[kScopeIds];
  int64_t receive = 0;
  uint64_t seen = 0;
  for (uint64_t q = 0; q < requests; ++q) {
    receive =
        static_cast<int64_t>(columns::Undelta(static_cast<uint64_t>(receive), req_col.Varint()));
    const uint64_t n_resources = req_col.Varint();
    if (!req_col.ok() || n_resources > res_col.remaining()) {
      return file_.Malformed(kRequests, 0, req_col);
    }
    request_refs.emplace_back(receive, n_resources);
    for (uint64_t i = 0; i < n_resources; ++i) {
      const ResourceRef r{res_col.Varint(), res_col.Varint()};
      if (!res_col.ok() || r.id >= resources.size() || r.scopes > scope_col.remaining()) {
        return file_.Malformed(kResourceIds, 0, res_col);
      }
      resource_refs.push_back(r);
      for (uint64_t j = 0; j < r.scopes; ++j) {
        const ScopeRef sc{scope_col.Varint(), scope_col.Varint(), scope_col.Varint()};
        if (!scope_col.ok() || sc.id >= scopes.size() || sc.records > records - seen ||
            sc.units >= 16) {
          return file_.Malformed(kScopeIds, 0, scope_col);
        }
        seen += sc.records;
        time_counts[sc.units & 3] += sc.records;
        observed_counts[sc.units >> 2] += sc.records;
        scope_refs.push_back(sc);
      }
    }
  }
  if (seen != records || !req_col.done() || !res_col.done() || !scope_col.done()) {
    return file_.Malformed(kRequests, 0, req_col);
  }
  for (size_t u = 0; u < std::size(kUnits); ++u) {
    if (!ReadPlanes(&cols_[kTimes], time_counts[u], &times_[u])) {
      return file_.Malformed(kTimes, 0, cols_[kTimes]);
    }
    if (!ReadPlanes(&cols_[kObserved], observed_counts[u], &observed_[u])) {
      return file_.Malformed(kObserved, 0, cols_[kObserved]);
    }
  }
  if (absl::Status s = attrs_.Init(file_, kAttrSections, 0); !s.ok()) return s;
  if (absl::Status s = attrs_.LoadAll(); !s.ok()) return s;
  if (absl::Status s = LoadVars(records); !s.ok()) return s;

  // Then the records, request by request.
  size_t next_resource = 0, next_scope = 0;
  for (const auto& [receive_ns, n_resources] : request_refs) {
    LogsRequest request;
    for (uint64_t i = 0; i < n_resources; ++i) {
      const ResourceRef& r = resource_refs[next_resource++];
      ResourceLogs* rl = request.add_resource_logs();
      if (!rl->ParseFromArray(resources[r.id].data(), static_cast<int>(resources[r.id].size()))) {
        return file_.Malformed(kResources, 0, In());
      }
      for (uint64_t j = 0; j < r.scopes; ++j) {
        const ScopeRef& sc = scope_refs[next_scope++];
        ScopeLogs* sl = rl->add_scope_logs();
        if (!sl->ParseFromArray(scopes[sc.id].data(), static_cast<int>(scopes[sc.id].size()))) {
          return file_.Malformed(kScopes, 0, In());
        }
        const uint64_t key = r.id << 32 | sc.id;
        if (auto it = scope_last_time_.find(key); it != scope_last_time_.end()) {
          prev_time_ = it->second;
        }
        time_code_ = static_cast<uint32_t>(sc.units & 3);
        observed_code_ = static_cast<uint32_t>(sc.units >> 2);
        for (uint64_t k = 0; k < sc.records; ++k) {
          if (absl::Status s = Record(sl->add_log_records()); !s.ok()) return s;
        }
        scope_last_time_[key] = prev_time_;
      }
    }
    fn(receive_ns, std::move(request));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ForEachLogsRequest(std::string block,
                                const std::function<void(int64_t, LogsRequest&&)>& fn) {
  LogBlockReader reader;
  return reader.Read(std::move(block), fn);
}

absl::Status ForEachLogsRequestIn(std::string_view format, std::string block,
                                  const std::function<void(int64_t, LogsRequest&&)>& fn) {
  if (format == kLogBlockFormat) return ForEachLogsRequest(std::move(block), fn);
  if (format != kRecordBlockFormat) {
    return absl::DataLossError(absl::StrCat("not a block of logs: format ", std::string(format)));
  }
  absl::Status parse_error;
  absl::Status s =
      ForEachRecord(block, [&](Signal signal, int64_t receive_ns, std::string_view bytes) {
        LogsRequest request;
        if (!parse_error.ok()) return;
        if (signal != Signal::kLogs ||
            !request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
          parse_error = absl::DataLossError("record block: a request that is not OTLP logs");
          return;
        }
        fn(receive_ns, std::move(request));
      });
  return s.ok() ? parse_error : s;
}

}  // namespace otlpd::storage
