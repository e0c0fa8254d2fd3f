#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "otlpd/storage.pb.h"
#include "storage/block_tier.h"

namespace otlpd::storage {

// A directory of immutable blocks, one tier of the store on local disk:
//
//   DIR/<id>.blk    the block
//   DIR/<id>.meta   [CRC32C u32][BlockMeta protobuf], written after the block is synced
//
// A block is visible exactly when its meta file exists: Write syncs the block, then writes
// the meta atomically (rename) and syncs the directory; Delete removes the meta first.
// Open finishes what a crash interrupted: a block without meta is deleted (it was never
// visible), a meta whose block is missing or has the wrong size is reported and skipped.
class BlockDir final : public BlockTier {
 public:
  static absl::StatusOr<std::unique_ptr<BlockDir>> Open(std::string dir);

  // Writes a new block with `meta` (id, size and checksum are filled in). Returns the meta
  // as stored.
  absl::StatusOr<BlockMeta> Write(BlockMeta meta, std::string_view block) override;
  absl::StatusOr<std::string> Read(uint64_t id) const override;
  absl::Status Delete(uint64_t id) override;
  std::vector<BlockMeta> List() const override;
  std::vector<std::string> problems() const override;
  std::string Describe() const override { return "dir " + dir_; }

  uint64_t bytes() const;
  const std::string& dir() const { return dir_; }

  // Reads a meta file (checks its CRC).
  static absl::StatusOr<BlockMeta> ReadMeta(const std::string& path);
  std::string BlockPath(uint64_t id) const;
  std::string MetaPath(uint64_t id) const;

 private:
  explicit BlockDir(std::string dir) : dir_(std::move(dir)) {}
  absl::Status Load();

  const std::string dir_;
  mutable absl::Mutex mu_;
  std::map<uint64_t, BlockMeta> blocks_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> problems_ ABSL_GUARDED_BY(mu_);
};

}  // namespace otlpd::storage
