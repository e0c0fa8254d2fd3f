#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "otlpd/storage.pb.h"

namespace otlpd::storage {

// Where a tier keeps its immutable blocks: a local directory (BlockDir) or an S3-compatible
// bucket (S3BlockTier). The contract is the same for both: a block is visible exactly when
// its meta is stored, which happens after the block itself; Delete removes the meta first;
// opening cleans up blocks whose meta never came.
class BlockTier {
 public:
  virtual ~BlockTier() = default;
  // Stores a new block with `meta` (id, size and checksum are filled in) and returns the
  // meta as stored.
  virtual absl::StatusOr<BlockMeta> Write(BlockMeta meta, std::string_view block) = 0;
  // The block, checked against its meta's checksum (DATA_LOSS when it does not match).
  virtual absl::StatusOr<std::string> Read(uint64_t id) const = 0;
  virtual absl::Status Delete(uint64_t id) = 0;
  // Visible blocks, by id (ids grow with time).
  virtual std::vector<BlockMeta> List() const = 0;
  // Damaged or missing files found at open.
  virtual std::vector<std::string> problems() const = 0;
  // "dir /path" or "s3 bucket/prefix", for logs.
  virtual std::string Describe() const = 0;
};

// A meta as stored: [masked CRC32C of the rest u32][BlockMeta protobuf].
std::string EncodeBlockMeta(const BlockMeta& meta);
// DATA_LOSS naming `where` when the CRC or the protobuf is wrong.
absl::StatusOr<BlockMeta> DecodeBlockMeta(std::string_view data, std::string_view where);
// "0000000000000042.blk" / ".meta": the names of block 42 and of its meta.
std::string BlockName(uint64_t id);
std::string MetaName(uint64_t id);

}  // namespace otlpd::storage
