#include "storage/s3_block_tier.h"

#include <spdlog/spdlog.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "storage/crc32c.h"

namespace otlpd::storage {

absl::StatusOr<std::unique_ptr<S3BlockTier>> S3BlockTier::Open(const S3Config& config) {
  absl::StatusOr<std::unique_ptr<S3Client>> client = S3Client::Create(config);
  if (!client.ok()) return client.status();
  if (absl::Status s = (*client)->EnsureBucket(); !s.ok()) return s;
  std::unique_ptr<S3BlockTier> tier(new S3BlockTier(
      *std::move(client),
      absl::StrCat("s3 ", config.endpoint, "/", config.bucket, "/", config.prefix)));
  if (absl::Status s = tier->Load(); !s.ok()) return s;
  return tier;
}

absl::Status S3BlockTier::Load() {
  absl::StatusOr<std::vector<S3Object>> objects = client_->List("");
  if (!objects.ok()) return objects.status();
  std::set<uint64_t> metas, blocks;
  for (const S3Object& o : *objects) {
    uint64_t id = 0;
    if (o.key.size() < 16 || !absl::SimpleAtoi(o.key.substr(0, 16), &id)) continue;
    if (absl::EndsWith(o.key, ".meta")) metas.insert(id);
    if (absl::EndsWith(o.key, ".blk")) blocks.insert(id);
  }
  absl::MutexLock lock(&mu_);
  for (uint64_t id : metas) {
    next_id_ = std::max(next_id_, id + 1);
    absl::StatusOr<std::string> data = client_->Get(MetaName(id));
    absl::StatusOr<BlockMeta> meta =
        data.ok() ? DecodeBlockMeta(*data, MetaName(id)) : absl::StatusOr<BlockMeta>(data.status());
    if (!meta.ok() || blocks.count(id) == 0) {
      std::string why =
          !meta.ok() ? meta.status().ToString() : absl::StrCat(BlockName(id), ": missing");
      problems_.push_back(why);
      spdlog::error("block tier {}: {}; block {} skipped", description_, why, id);
      continue;
    }
    blocks_.emplace(id, *std::move(meta));
  }
  for (uint64_t id : blocks) {
    next_id_ = std::max(next_id_, id + 1);
    if (metas.count(id) == 0) {
      // Put but never made visible: its data is still in the tier it came from.
      if (absl::Status s = client_->Delete(BlockName(id)); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<BlockMeta> S3BlockTier::Write(BlockMeta meta, std::string_view block) {
  {
    absl::MutexLock lock(&mu_);
    meta.set_id(next_id_++);
  }
  meta.set_block_bytes(block.size());
  meta.set_block_crc32c(Crc32c(block));
  if (absl::Status s = client_->Put(BlockName(meta.id()), block); !s.ok()) return s;
  if (absl::Status s = client_->Put(MetaName(meta.id()), EncodeBlockMeta(meta)); !s.ok()) {
    (void)client_->Delete(BlockName(meta.id()));
    return s;
  }
  absl::MutexLock lock(&mu_);
  blocks_.emplace(meta.id(), meta);
  return meta;
}

absl::StatusOr<std::string> S3BlockTier::Read(uint64_t id) const {
  uint32_t want;
  {
    absl::MutexLock lock(&mu_);
    auto it = blocks_.find(id);
    if (it == blocks_.end()) return absl::NotFoundError(absl::StrCat("no block ", id));
    want = it->second.block_crc32c();
  }
  absl::StatusOr<std::string> data = client_->Get(BlockName(id));
  if (!data.ok()) return data.status();
  if (Crc32c(*data) != want) {
    return absl::DataLossError(
        absl::StrCat(description_, "/", BlockName(id), ": checksum does not match its meta"));
  }
  return data;
}

absl::Status S3BlockTier::Delete(uint64_t id) {
  {
    absl::MutexLock lock(&mu_);
    blocks_.erase(id);
  }
  if (absl::Status s = client_->Delete(MetaName(id)); !s.ok()) return s;
  return client_->Delete(BlockName(id));
}

std::vector<BlockMeta> S3BlockTier::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<BlockMeta> out;
  for (const auto& [id, m] : blocks_) out.push_back(m);
  return out;
}

std::vector<std::string> S3BlockTier::problems() const {
  absl::MutexLock lock(&mu_);
  return problems_;
}

}  // namespace otlpd::storage
