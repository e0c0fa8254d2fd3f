#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "storage/block_tier.h"
#include "storage/s3_client.h"

namespace otlpd::storage {

// A tier's blocks as objects in an S3-compatible bucket, under the client's prefix:
// <id>.blk and <id>.meta (the same bytes as BlockDir's files). The block object is put
// before its meta; Delete removes the meta first; Open deletes block objects without a
// meta (a write that never became visible) and reports damaged metas.
class S3BlockTier final : public BlockTier {
 public:
  static absl::StatusOr<std::unique_ptr<S3BlockTier>> Open(const S3Config& config);

  absl::StatusOr<BlockMeta> Write(BlockMeta meta, std::string_view block) override;
  absl::StatusOr<std::string> Read(uint64_t id) const override;
  absl::Status Delete(uint64_t id) override;
  std::vector<BlockMeta> List() const override;
  std::vector<std::string> problems() const override;
  std::string Describe() const override { return description_; }

 private:
  S3BlockTier(std::unique_ptr<S3Client> client, std::string description)
      : client_(std::move(client)), description_(std::move(description)) {}
  absl::Status Load();

  const std::unique_ptr<S3Client> client_;
  const std::string description_;
  mutable absl::Mutex mu_;
  std::map<uint64_t, BlockMeta> blocks_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<std::string> problems_ ABSL_GUARDED_BY(mu_);
};

}  // namespace otlpd::storage
