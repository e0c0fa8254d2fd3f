#include "storage/record_block.h"

#include <zstd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "storage/crc32c.h"

namespace otlpd::storage {

namespace {

constexpr char kMagic[8] = {'O', 'T', 'L', 'P', 'D', 'R', 'B', '1'};
constexpr size_t kEntryBytes = 1 + 8 + 4;

template <class T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

}  // namespace

void RecordBlockBuilder::Add(Signal signal, int64_t receive_ns, std::string_view request) {
  entries_.push_back({signal, receive_ns, static_cast<uint32_t>(request.size())});
  data_.append(request);
}

absl::StatusOr<std::string> RecordBlockBuilder::Finish(int zstd_level) const {
  std::string out(kMagic, sizeof kMagic);
  Put<uint32_t>(&out, static_cast<uint32_t>(entries_.size()));
  for (const Entry& e : entries_) {
    Put<uint8_t>(&out, static_cast<uint8_t>(e.signal));
    Put<int64_t>(&out, e.receive_ns);
    Put<uint32_t>(&out, e.size);
  }
  size_t at = out.size();
  out.resize(at + ZSTD_compressBound(data_.size()));
  size_t n =
      ZSTD_compress(out.data() + at, out.size() - at, data_.data(), data_.size(), zstd_level);
  if (ZSTD_isError(n)) {
    return absl::InternalError(absl::StrCat("zstd: ", ZSTD_getErrorName(n)));
  }
  out.resize(at + n);
  Put<uint32_t>(&out, MaskCrc(Crc32c(out)));
  return out;
}

absl::Status ForEachRecord(
    std::string_view block,
    const std::function<void(Signal signal, int64_t receive_ns, std::string_view request)>& fn) {
  auto damaged = [&](std::string_view why, size_t offset) {
    return absl::DataLossError(
        absl::StrCat("record block: ", std::string(why), " at offset ", offset));
  };
  if (block.size() < sizeof kMagic + 8 || std::memcmp(block.data(), kMagic, sizeof kMagic) != 0) {
    return damaged("bad header", 0);
  }
  uint32_t crc;
  std::memcpy(&crc, block.data() + block.size() - 4, 4);
  if (UnmaskCrc(crc) != Crc32c(block.data(), block.size() - 4)) {
    return damaged("checksum mismatch", block.size() - 4);
  }
  uint32_t count;
  std::memcpy(&count, block.data() + 8, 4);
  size_t at = 12;
  if (block.size() - 16 < uint64_t{count} * kEntryBytes) return damaged("index past end", at);
  const size_t index_at = at;
  at += uint64_t{count} * kEntryBytes;
  std::string_view frame = block.substr(at, block.size() - 4 - at);
  unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (1ull << 34)) {
    return damaged("bad zstd frame", at);
  }
  std::string data(static_cast<size_t>(size), '\0');
  size_t n = ZSTD_decompress(data.data(), data.size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != data.size()) return damaged("zstd frame does not decode", at);
  size_t pos = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const char* e = block.data() + index_at + i * kEntryBytes;
    uint8_t signal = static_cast<uint8_t>(e[0]);
    int64_t receive_ns;
    uint32_t len;
    std::memcpy(&receive_ns, e + 1, 8);
    std::memcpy(&len, e + 9, 4);
    if (signal > 2 || data.size() - pos < len) {
      return damaged("index entry", index_at + i * kEntryBytes);
    }
    fn(static_cast<Signal>(signal), receive_ns, std::string_view(data).substr(pos, len));
    pos += len;
  }
  return absl::OkStatus();
}

}  // namespace otlpd::storage
