#include "storage/block_dir.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "storage/crc32c.h"
#include "storage/file_util.h"

namespace otlpd::storage {

namespace fs = std::filesystem;

std::string BlockDir::BlockPath(uint64_t id) const { return dir_ + "/" + BlockName(id); }
std::string BlockDir::MetaPath(uint64_t id) const { return dir_ + "/" + MetaName(id); }

absl::StatusOr<std::unique_ptr<BlockDir>> BlockDir::Open(std::string dir) {
  if (absl::Status s = MakeDirs(dir); !s.ok()) return s;
  std::unique_ptr<BlockDir> d(new BlockDir(std::move(dir)));
  if (absl::Status s = d->Load(); !s.ok()) return s;
  return d;
}

absl::StatusOr<BlockMeta> BlockDir::ReadMeta(const std::string& path) {
  absl::StatusOr<std::string> data = ReadWholeFile(path);
  if (!data.ok()) return data.status();
  return DecodeBlockMeta(*data, path);
}

absl::Status BlockDir::Load() {
  absl::MutexLock lock(&mu_);
  std::error_code ec;
  std::vector<uint64_t> metas, blocks;
  for (const fs::directory_entry& e : fs::directory_iterator(dir_, ec)) {
    std::string name = e.path().filename().string();
    uint64_t id = 0;
    if (absl::EndsWith(name, ".tmp")) {
      fs::remove(e.path(), ec);  // an interrupted write; never visible
    } else if (absl::EndsWith(name, ".meta") && absl::SimpleAtoi(name.substr(0, 16), &id)) {
      metas.push_back(id);
    } else if (absl::EndsWith(name, ".blk") && absl::SimpleAtoi(name.substr(0, 16), &id)) {
      blocks.push_back(id);
    }
    if (id >= next_id_) next_id_ = id + 1;
  }
  if (ec) return absl::UnavailableError(absl::StrCat("list ", dir_, ": ", ec.message()));
  for (uint64_t id : metas) {
    absl::StatusOr<BlockMeta> meta = ReadMeta(MetaPath(id));
    std::error_code size_ec;
    uint64_t size = fs::file_size(BlockPath(id), size_ec);
    if (!meta.ok() || size_ec || size != meta->block_bytes()) {
      std::string why = !meta.ok() ? std::string(meta.status().message())
                        : size_ec  ? absl::StrCat(BlockPath(id), ": missing")
                                   : absl::StrCat(BlockPath(id), ": size ", size, ", meta says ",
                                                  meta->block_bytes());
      problems_.push_back(why);
      spdlog::error("block dir {}: {}; block {} skipped", dir_, why, id);
      continue;
    }
    bytes_ += meta->block_bytes();
    blocks_.emplace(id, *std::move(meta));
  }
  for (uint64_t id : blocks) {
    if (blocks_.count(id) == 0 && !fs::exists(MetaPath(id), ec)) {
      // Written but never made visible: the data is still in the tier it came from.
      fs::remove(BlockPath(id), ec);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<BlockMeta> BlockDir::Write(BlockMeta meta, std::string_view block) {
  {
    absl::MutexLock lock(&mu_);
    meta.set_id(next_id_++);
  }
  meta.set_block_bytes(block.size());
  meta.set_block_crc32c(Crc32c(block));
  const std::string path = BlockPath(meta.id());
  {
    absl::StatusOr<UniqueFd> fd = OpenFile(path, O_WRONLY | O_CREAT | O_TRUNC);
    if (!fd.ok()) return fd.status();
    absl::Status s = PwriteFull(fd->get(), block.data(), block.size(), 0);
    if (s.ok() && ::fdatasync(fd->get()) != 0) s = ErrnoStatus("fdatasync", path, errno);
    if (!s.ok()) {
      ::unlink(path.c_str());
      return s;
    }
  }
  const std::string file = EncodeBlockMeta(meta);
  if (absl::Status s = WriteFileAtomically(MetaPath(meta.id()), file, /*sync=*/true); !s.ok()) {
    ::unlink(path.c_str());
    return s;
  }
  absl::MutexLock lock(&mu_);
  bytes_ += meta.block_bytes();
  blocks_.emplace(meta.id(), meta);
  return meta;
}

absl::StatusOr<std::string> BlockDir::Read(uint64_t id) const {
  uint32_t want;
  {
    absl::MutexLock lock(&mu_);
    auto it = blocks_.find(id);
    if (it == blocks_.end()) return absl::NotFoundError(absl::StrCat("no block ", id));
    want = it->second.block_crc32c();
  }
  absl::StatusOr<std::string> data = ReadWholeFile(BlockPath(id));
  if (!data.ok()) return data.status();
  if (Crc32c(*data) != want) {
    return absl::DataLossError(absl::StrCat(BlockPath(id), ": checksum does not match its meta"));
  }
  return data;
}

absl::Status BlockDir::Delete(uint64_t id) {
  {
    absl::MutexLock lock(&mu_);
    auto it = blocks_.find(id);
    if (it == blocks_.end()) return absl::OkStatus();
    bytes_ -= it->second.block_bytes();
    blocks_.erase(it);
  }
  // Invisible first, then gone.
  if (::unlink(MetaPath(id).c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus("delete", MetaPath(id), errno);
  }
  if (absl::Status s = SyncDir(dir_); !s.ok()) return s;
  if (::unlink(BlockPath(id).c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus("delete", BlockPath(id), errno);
  }
  return absl::OkStatus();
}

std::vector<BlockMeta> BlockDir::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<BlockMeta> out;
  for (const auto& [id, m] : blocks_) out.push_back(m);
  return out;
}

uint64_t BlockDir::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

std::vector<std::string> BlockDir::problems() const {
  absl::MutexLock lock(&mu_);
  return problems_;
}

}  // namespace otlpd::storage
