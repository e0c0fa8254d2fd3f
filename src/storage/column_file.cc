#include "storage/column_file.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace otlpd::storage::columns {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;

void SplitNumbers(const std::vector<uint64_t>& values, std::string* hi, std::string* lo) {
  lo->resize(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    (*lo)[i] = static_cast<char>(values[i]);
    (*lo)[values.size() + i] = static_cast<char>(values[i] >> 8);
    PutVarint(hi, values[i] >> 16);
  }
}

uint32_t Dict::Id(std::string_view s) {
  if (auto it = ids_.find(Key(s)); it != ids_.end()) return it->second;
  const uint32_t id = static_cast<uint32_t>(ids_.size());
  ids_.emplace(std::string(s), id);
  PutBytes(&data_, s);
  return id;
}

std::string Dict::Encode() const {
  std::string out;
  PutVarint(&out, ids_.size());
  out.append(data_);
  return out;
}

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

// --- Writer ---------------------------------------------------------------------------------

namespace {
// dir offset (8), dir size (4), dir xxhash64 (8), magic (4).
constexpr size_t kFooterSize = 24;
constexpr size_t kHeaderSize = 5;
}  // namespace

Writer::Writer(const Format& format, int level)
    : level_(level), cctx_(ZSTD_createCCtx()), format_(format) {
  out_.append(format.header_magic);
  out_.push_back(static_cast<char>(format.version));
}

Writer::~Writer() { ZSTD_freeCCtx(cctx_); }

absl::Status Writer::Add(uint32_t type, uint32_t sub, const std::string& raw, bool compress) {
  DirEntry e;
  e.type = type;
  e.sub = sub;
  e.offset = out_.size();
  e.raw_size = raw.size();
  if (compress && !raw.empty()) {
    std::string z(ZSTD_compressBound(raw.size()), '\0');
    const size_t n = ZSTD_compressCCtx(cctx_, z.data(), z.size(), raw.data(), raw.size(), level_);
    if (ZSTD_isError(n)) return absl::InternalError(ZSTD_getErrorName(n));
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

std::string Writer::Finish() {
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
  out_.append(format_.footer_magic);
  return std::move(out_);
}

// --- File -----------------------------------------------------------------------------------

absl::Status File::Malformed(uint32_t type, uint32_t sub, const In& in) const {
  return absl::DataLossError(absl::StrFormat("%s: section %s malformed near byte %d", format_.name,
                                             format_.section_name(type, sub), in.pos()));
}

absl::Status File::Open(std::string bytes) {
  bytes_ = std::move(bytes);
  const std::string_view b(bytes_);
  const size_t size = b.size();
  const char* name = format_.name;
  if (size < kHeaderSize + kFooterSize || b.substr(0, 4) != format_.header_magic) {
    return absl::DataLossError(
        absl::StrCat(name, ": bad header magic at byte offset 0 or block too short"));
  }
  if (static_cast<uint8_t>(b[4]) != format_.version) {
    return absl::DataLossError(absl::StrCat(name, ": unknown version at byte offset 4"));
  }
  const std::string_view footer = b.substr(size - kFooterSize);
  if (footer.substr(20) != format_.footer_magic) {
    return absl::DataLossError(
        absl::StrFormat("%s: bad footer magic at byte offset %d", name, size - 4));
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
    return absl::DataLossError(absl::StrFormat(
        "%s: footer at byte offset %d: directory bounds out of range", name, size - kFooterSize));
  }
  const std::string_view dir_bytes = b.substr(dir_offset, dir_size);
  if (XXH64(dir_bytes.data(), dir_bytes.size(), 0) != dir_hash) {
    return absl::DataLossError(absl::StrFormat(
        "%s: directory (byte offset %d, %d bytes): checksum mismatch", name, dir_offset, dir_size));
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
      return absl::DataLossError(absl::StrFormat(
          "%s: directory entry %d (byte offset %d) out of range", name, i, dir_offset + in.pos()));
    }
    expect = e.offset + e.size;
    dir_[SecKey(e.type, e.sub)] = e;
  }
  if (!in.ok() || !in.done() || expect != dir_offset) {
    return absl::DataLossError(
        absl::StrFormat("%s: directory at byte offset %d malformed", name, dir_offset));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string_view> File::Stored(uint32_t type, uint32_t sub) const {
  auto it = dir_.find(SecKey(type, sub));
  if (it == dir_.end()) {
    return absl::DataLossError(
        absl::StrCat(format_.name, ": no ", format_.section_name(type, sub)));
  }
  const DirEntry& e = it->second;
  if (XXH64(bytes_.data() + e.offset, e.size, 0) != e.hash || e.codec != 0) {
    return absl::DataLossError(
        absl::StrFormat("%s: section %s (byte offset %d, %d bytes): checksum mismatch",
                        format_.name, format_.section_name(type, sub), e.offset, e.size));
  }
  return std::string_view(bytes_).substr(e.offset, e.size);
}

absl::StatusOr<std::string_view> File::Section(uint32_t type, uint32_t sub) const {
  auto it = dir_.find(SecKey(type, sub));
  if (it == dir_.end()) {
    return absl::DataLossError(
        absl::StrCat(format_.name, ": section ", format_.section_name(type, sub), " missing"));
  }
  const DirEntry& e = it->second;
  absl::MutexLock lock(&mu_);
  if (auto c = cache_.find(SecKey(type, sub)); c != cache_.end()) {
    return std::string_view(*c->second);
  }
  const std::string_view stored(bytes_.data() + e.offset, e.size);
  if (XXH64(stored.data(), stored.size(), 0) != e.hash) {
    return absl::DataLossError(
        absl::StrFormat("%s: section %s (byte offset %d, %d bytes): checksum mismatch",
                        format_.name, format_.section_name(type, sub), e.offset, e.size));
  }
  auto out = std::make_unique<std::string>();
  if (e.codec == 0) {
    if (e.raw_size != e.size) {
      return absl::DataLossError(absl::StrCat(format_.name, ": stored size mismatch"));
    }
    out->assign(stored);
  } else {
    if (e.raw_size > (uint64_t{1} << 34)) {
      return absl::DataLossError(absl::StrCat(format_.name, ": section too large"));
    }
    out->resize(e.raw_size);
    const size_t n = ZSTD_decompress(out->data(), out->size(), stored.data(), stored.size());
    if (ZSTD_isError(n) || n != e.raw_size) {
      return absl::DataLossError(
          absl::StrFormat("%s: section %s (byte offset %d): does not decompress", format_.name,
                          format_.section_name(type, sub), e.offset));
    }
  }
  std::string_view view(*out);
  cache_.emplace(SecKey(type, sub), std::move(out));
  return view;
}

absl::Status File::CheckAll() const {
  for (const auto& [key, e] : dir_) {
    if (absl::StatusOr<std::string_view> data = Section(e.type, e.sub); !data.ok()) {
      return data.status();
    }
  }
  return absl::OkStatus();
}

// --- AttrWriter -----------------------------------------------------------------------------

void AttrWriter::Add(const KeyValues& attrs) { PutVarint(&shape_col_, ShapeId(attrs)); }

void AttrWriter::Add(const KeyValues& attrs, uint64_t context) {
  const uint32_t id = ShapeId(attrs);
  auto [it, inserted] = last_shape_.try_emplace(context, id);
  if (!inserted && it->second == id) {
    PutVarint(&shape_col_, 0);
    return;
  }
  it->second = id;
  PutVarint(&shape_col_, id + 1ULL);
}

uint32_t AttrWriter::ShapeId(const KeyValues& attrs) {
  std::string& shape = scratch_;  // reused: this runs for every row
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
  return id;
}

bool AttrWriter::HasKey(std::string_view key) const {
  for (const auto& k : keys_) {
    if (k.first == key) return true;
  }
  return false;
}

absl::Status AttrWriter::Emit(const AttrSections& sec, uint32_t set, Writer* w) const {
  std::string keys;
  PutVarint(&keys, keys_.size());
  for (const auto& [name, strindex] : keys_) {
    PutBytes(&keys, name);
    PutVarint(&keys, static_cast<uint32_t>(strindex));
  }
  std::string shapes;
  PutVarint(&shapes, shape_ids_.size());
  shapes.append(shapes_);
  absl::Status s = w->Add(sec.keys, set, keys);
  if (s.ok()) s = w->Add(sec.shapes, set, shapes);
  if (s.ok()) s = w->Add(sec.shape_ids, set, shape_col_);
  for (size_t k = 0; k < cols_.size() && s.ok(); ++k) {
    std::string strings;
    PutVarint(&strings, cols_[k].strings.size());
    strings.append(cols_[k].string_data);
    const uint32_t sub = (set << 24) | static_cast<uint32_t>(k);
    s = w->Add(sec.tags, sub, cols_[k].tags);
    if (s.ok()) s = w->Add(sec.values, sub, cols_[k].values);
    if (s.ok()) s = w->Add(sec.strings, sub, strings);
  }
  return s;
}

uint32_t AttrWriter::KeyId(const KeyValue& kv) {
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

void AttrWriter::AppendValue(Column* c, const KeyValue& kv) {
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

// --- AttrCursor -----------------------------------------------------------------------------

absl::Status AttrCursor::Init(const File& file, const AttrSections& sec, uint32_t set) {
  file_ = &file;
  sections_ = sec;
  set_ = set;
  d_ = std::make_shared<Dicts>();
  absl::StatusOr<std::string_view> keys = file.Section(sec.keys, set);
  if (!keys.ok()) return keys.status();
  In k(*keys);
  const uint64_t n = k.Varint();
  if (n > keys->size()) return file.Malformed(sec.keys, set, k);
  for (uint64_t i = 0; i < n && k.ok(); ++i) {
    const std::string_view name = k.Bytes();
    d_->keys.emplace_back(name, static_cast<int32_t>(k.Varint32()));
  }
  if (!k.ok() || !k.done()) return file.Malformed(sec.keys, set, k);
  absl::StatusOr<std::string_view> shapes = file.Section(sec.shapes, set);
  if (!shapes.ok()) return shapes.status();
  In sh(*shapes);
  const uint64_t ns = sh.Varint();
  if (ns > shapes->size()) return file.Malformed(sec.shapes, set, sh);
  for (uint64_t i = 0; i < ns && sh.ok(); ++i) {
    const uint64_t len = sh.Varint();
    if (len > sh.remaining()) return file.Malformed(sec.shapes, set, sh);
    std::vector<uint32_t> shape(len);
    for (uint32_t& key : shape) {
      key = sh.Varint32();
      if (key >= d_->keys.size()) return file.Malformed(sec.shapes, set, sh);
    }
    d_->shapes.push_back(std::move(shape));
  }
  if (!sh.ok() || !sh.done()) return file.Malformed(sec.shapes, set, sh);
  absl::StatusOr<std::string_view> ids = file.Section(sec.shape_ids, set);
  if (!ids.ok()) return ids.status();
  shape_ids_ = In(*ids);
  values_.resize(d_->keys.size());
  tags_.resize(d_->keys.size());
  d_->strings.resize(d_->keys.size());
  next_new_.assign(d_->keys.size(), 0);
  loaded_.assign(d_->keys.size(), false);
  return absl::OkStatus();
}

absl::Status AttrCursor::LoadKey(uint32_t k) {
  if (loaded_[k]) return absl::OkStatus();
  const uint32_t sub = (set_ << 24) | k;
  absl::StatusOr<std::string_view> v = file_->Section(sections_.values, sub);
  if (!v.ok()) return v.status();
  absl::StatusOr<std::string_view> t = file_->Section(sections_.tags, sub);
  if (!t.ok()) return t.status();
  tags_[k] = In(*t);
  absl::StatusOr<std::string_view> d = file_->Section(sections_.strings, sub);
  if (!d.ok()) return d.status();
  In err;
  d_->strings[k] = DecodeDict(*d, &err);
  if (!err.ok()) return file_->Malformed(sections_.strings, sub, err);
  values_[k] = In(*v);
  loaded_[k] = true;
  return absl::OkStatus();
}

absl::Status AttrCursor::LoadAll() {
  for (uint32_t k = 0; k < d_->keys.size(); ++k) {
    if (absl::Status s = LoadKey(k); !s.ok()) return s;
  }
  return absl::OkStatus();
}

bool AttrCursor::ReadValue(uint32_t k, ValueView* v) {
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

absl::Status AttrCursor::Read(KeyValues* out) {
  const std::vector<uint32_t>* shape = NextShape();
  if (shape == nullptr) return file_->Malformed(sections_.shape_ids, set_, shape_ids_);
  return ReadShape(*shape, out);
}

absl::Status AttrCursor::Read(KeyValues* out, uint64_t context) {
  const uint64_t code = shape_ids_.Varint();
  uint64_t id;
  if (code == 0) {
    auto it = last_shape_.find(context);
    id = it == last_shape_.end() ? UINT64_MAX : it->second;
  } else {
    id = code - 1;
    last_shape_[context] = static_cast<uint32_t>(id);
  }
  if (!shape_ids_.ok() || id >= d_->shapes.size()) {
    return file_->Malformed(sections_.shape_ids, set_, shape_ids_);
  }
  return ReadShape(d_->shapes[id], out);
}

absl::Status AttrCursor::ReadShape(const std::vector<uint32_t>& shape, KeyValues* out) {
  for (uint32_t k : shape) {
    ValueView v;
    if (!ReadValue(k, &v)) return MalformedValue(k);
    if (out == nullptr) continue;
    KeyValue* kv = out->Add();
    kv->set_key(std::string(d_->keys[k].first));
    if (d_->keys[k].second != 0) kv->set_key_strindex(d_->keys[k].second);
    if (!SetValue(v, kv)) return MalformedValue(k);
  }
  return absl::OkStatus();
}

bool AttrCursor::MayHold(uint32_t k, std::string_view text) const {
  In tags = tags_[k];
  while (!tags.done()) {
    if (tags.Raw(1)[0] != kString) return true;
  }
  const auto& strings = d_->strings[k];
  return std::find(strings.begin(), strings.end(), text) != strings.end();
}

bool AttrCursor::SetValue(const ValueView& v, KeyValue* kv) {
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

}  // namespace otlpd::storage::columns
