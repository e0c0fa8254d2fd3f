#include "storage/block_tier.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "storage/crc32c.h"

namespace otlpd::storage {

std::string EncodeBlockMeta(const BlockMeta& meta) {
  std::string body = meta.SerializeAsString();
  std::string out(4, '\0');
  uint32_t crc = MaskCrc(Crc32c(body));
  std::memcpy(out.data(), &crc, 4);
  out += body;
  return out;
}

absl::StatusOr<BlockMeta> DecodeBlockMeta(std::string_view data, std::string_view where) {
  BlockMeta meta;
  uint32_t crc = 0;
  if (data.size() >= 4) std::memcpy(&crc, data.data(), 4);
  if (data.size() < 4 || UnmaskCrc(crc) != Crc32c(data.data() + 4, data.size() - 4) ||
      !meta.ParseFromArray(data.data() + 4, static_cast<int>(data.size() - 4))) {
    return absl::DataLossError(absl::StrCat(std::string(where), ": block meta is damaged"));
  }
  return meta;
}

std::string BlockName(uint64_t id) { return absl::StrFormat("%016d.blk", id); }
std::string MetaName(uint64_t id) { return absl::StrFormat("%016d.meta", id); }

}  // namespace otlpd::storage
