#include "storage/store_check.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "core/otlp_wire.h"
#include "core/signal.h"
#include "storage/block_dir.h"
#include "storage/crc32c.h"
#include "storage/file_util.h"
#include "storage/log_block.h"
#include "storage/record_block.h"
#include "storage/segment_log.h"
#include "storage/trace_block.h"

namespace otlpd::storage {

namespace {

namespace fs = std::filesystem;

// The hot tier's records: [format 1][signal][receive ns][request] (tiered_store.cc).
constexpr size_t kHotHeader = 10;

struct HotSummary {
  uint64_t files = 0;
  uint64_t bytes = 0;
  uint64_t records = 0;
  uint64_t items[3] = {0, 0, 0};
  uint64_t undecodable = 0;
  int64_t oldest_ns = INT64_MAX;
  int64_t newest_ns = INT64_MIN;
};

std::string FormatNs(int64_t ns) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixNanos(ns), absl::UTCTimeZone());
}

void CountHotRecord(std::string_view payload, HotSummary* sum) {
  sum->records++;
  if (payload.size() < kHotHeader || payload[0] != 1 || static_cast<uint8_t>(payload[1]) > 2) {
    sum->undecodable++;
    return;
  }
  Signal signal = static_cast<Signal>(payload[1]);
  int64_t ns;
  std::memcpy(&ns, payload.data() + 2, 8);
  sum->oldest_ns = std::min(sum->oldest_ns, ns);
  sum->newest_ns = std::max(sum->newest_ns, ns);
  absl::StatusOr<WireScan> scan = ScanOtlpRequest(signal, payload.substr(kHotHeader));
  if (!scan.ok()) {
    sum->undecodable++;
    return;
  }
  sum->items[static_cast<int>(signal)] += scan->items;
}

const char* SignalItems(uint32_t signal) {
  return signal == 0 ? "spans" : signal == 1 ? "metric points" : "log records";
}

// Lines for the blocks of a block directory (warm/, cold/).
void InspectBlocks(const std::string& tier, const std::string& dir, std::string* out) {
  if (!fs::is_directory(dir)) return;
  uint64_t blocks = 0, bytes = 0, input = 0, items[3] = {0, 0, 0};
  int64_t oldest = INT64_MAX, newest = INT64_MIN;
  std::string lines;
  std::error_code ec;
  std::vector<fs::path> metas;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".meta") metas.push_back(e.path());
  }
  std::sort(metas.begin(), metas.end());
  for (const fs::path& p : metas) {
    absl::StatusOr<BlockMeta> m = BlockDir::ReadMeta(p.string());
    if (!m.ok()) {
      absl::StrAppend(&lines, "    ", p.filename().string(), ": ", m.status().message(), "\n");
      continue;
    }
    blocks++;
    bytes += m->block_bytes();
    input += m->input_bytes();
    if (m->signal() < 3) items[m->signal()] += m->items();
    oldest = std::min(oldest, m->min_time_unix_nano());
    newest = std::max(newest, m->max_time_unix_nano());
    absl::StrAppend(
        &lines,
        absl::StrFormat("    block %d  %s  %d %s  %d bytes  %s .. %s\n", m->id(), m->format(),
                        m->items(), SignalItems(m->signal()), m->block_bytes(),
                        FormatNs(m->min_time_unix_nano()), FormatNs(m->max_time_unix_nano())));
  }
  absl::StrAppend(out,
                  absl::StrFormat("%s: %d blocks, %d bytes (%.1fx smaller than the %d bytes "
                                  "of OTLP they hold)\n",
                                  tier, blocks, bytes,
                                  bytes > 0 ? static_cast<double>(input) / bytes : 0.0, input));
  absl::StrAppend(out, absl::StrFormat("  spans %d, metric points %d, log records %d\n", items[0],
                                       items[1], items[2]));
  if (blocks > 0)
    absl::StrAppend(out, "  items ", FormatNs(oldest), " .. ", FormatNs(newest), "\n");
  absl::StrAppend(out, lines);
}

// Every checksum of every block of a block directory; false when something is damaged.
bool VerifyBlocks(const std::string& dir, std::string* report, uint64_t* checked) {
  if (!fs::is_directory(dir)) return true;
  bool intact = true;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".meta") continue;
    const std::string meta_path = e.path().string();
    const std::string block_path = fs::path(meta_path).replace_extension(".blk").string();
    absl::StatusOr<BlockMeta> m = BlockDir::ReadMeta(meta_path);
    if (!m.ok()) {
      intact = false;
      absl::StrAppend(report, meta_path, ": offset 0: ", m.status().message(), "\n");
      continue;
    }
    absl::StatusOr<std::string> block = ReadWholeFile(block_path);
    if (!block.ok()) {
      intact = false;
      absl::StrAppend(report, block_path, ": ", block.status().message(), "\n");
      continue;
    }
    ++*checked;
    if (block->size() != m->block_bytes() || Crc32c(*block) != m->block_crc32c()) {
      intact = false;
      absl::StrAppend(report, block_path, ": offset 0: size or checksum differs from its meta\n");
    }
    absl::Status s;
    if (m->format() == "trace_block") {
      absl::StatusOr<TraceBlockReader> r = TraceBlockReader::Open(*std::move(block));
      s = r.ok() ? r->Verify() : r.status();
    } else if (m->format() == kLogBlockFormat) {
      s = ForEachLogsRequest(*std::move(block), [](int64_t, LogBlockBuilder::LogsRequest&&) {});
    } else {
      s = ForEachRecord(*block, [](Signal, int64_t, std::string_view) {});
    }
    if (!s.ok()) {
      intact = false;
      absl::StrAppend(report, block_path, ": ", s.message(), "\n");
    }
  }
  return intact;
}

}  // namespace

absl::StatusOr<std::string> InspectStore(const std::string& dir) {
  if (!fs::is_directory(dir)) return absl::NotFoundError(absl::StrCat(dir, " is not a directory"));
  std::string out = absl::StrCat("store ", dir, "\n");
  HotSummary hot;
  std::vector<std::string> files = SegmentLog::SegmentFiles(dir + "/hot");
  std::string per_file;
  for (const std::string& f : files) {
    absl::StatusOr<SegmentFileCheck> c =
        SegmentLog::CheckFile(f, [&](uint64_t, std::string_view p) { CountHotRecord(p, &hot); });
    if (!c.ok()) return c.status();
    hot.files++;
    hot.bytes += c->file_bytes;
    absl::StrAppend(
        &per_file,
        absl::StrFormat("    %s  %d bytes  %d records%s\n", fs::path(f).filename().string(),
                        c->file_bytes, c->records, c->problems.empty() ? "" : "  (damaged)"));
  }
  absl::StrAppend(&out, absl::StrFormat("hot: %d segment files, %d bytes, %d requests\n", hot.files,
                                        hot.bytes, hot.records));
  absl::StrAppend(&out, absl::StrFormat("  spans %d, metric points %d, log records %d\n",
                                        hot.items[0], hot.items[1], hot.items[2]));
  if (hot.records > hot.undecodable) {
    absl::StrAppend(&out, "  received ", FormatNs(hot.oldest_ns), " .. ", FormatNs(hot.newest_ns),
                    "\n");
  }
  if (hot.undecodable > 0) {
    absl::StrAppend(&out, "  undecodable records: ", hot.undecodable, "\n");
  }
  absl::StrAppend(&out, per_file);
  InspectBlocks("warm", dir + "/warm", &out);
  InspectBlocks("cold", dir + "/cold", &out);
  return out;
}

absl::StatusOr<bool> VerifyStore(const std::string& dir, std::string* report) {
  if (!fs::is_directory(dir)) return absl::NotFoundError(absl::StrCat(dir, " is not a directory"));
  bool intact = true;
  std::vector<std::string> files = SegmentLog::SegmentFiles(dir + "/hot");
  uint64_t records = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    uint64_t undecodable_at = 0;
    bool undecodable = false;
    absl::StatusOr<SegmentFileCheck> c =
        SegmentLog::CheckFile(files[i], [&](uint64_t offset, std::string_view p) {
          HotSummary one;
          CountHotRecord(p, &one);
          if (one.undecodable > 0 && !undecodable) {
            undecodable = true;
            undecodable_at = offset;
          }
        });
    if (!c.ok()) return c.status();
    records += c->records;
    for (const SegmentFileCheck::Problem& p : c->problems) {
      intact = false;
      absl::StrAppend(report, files[i], ": offset ", p.offset, ": ", p.what, " (", p.length,
                      " bytes)\n");
    }
    if (undecodable) {
      intact = false;
      absl::StrAppend(report, files[i], ": offset ", undecodable_at,
                      ": record checksum right but content is not an OTLP request\n");
    }
    if (c->torn_tail_offset > 0) {
      if (i + 1 == files.size()) {
        absl::StrAppend(report, files[i], ": offset ", c->torn_tail_offset,
                        ": torn tail (an unfinished write; cut off at the next start)\n");
      } else {
        intact = false;
        absl::StrAppend(report, files[i], ": offset ", c->torn_tail_offset,
                        ": damaged from here to the end of the file\n");
      }
    }
  }
  absl::StrAppend(report, "hot: ", files.size(), " segment files, ", records, " records checked\n");
  for (const char* tier : {"warm", "cold"}) {
    uint64_t checked = 0;
    intact &= VerifyBlocks(absl::StrCat(dir, "/", tier), report, &checked);
    absl::StrAppend(report, tier, ": ", checked, " blocks checked\n");
  }
  return intact;
}

}  // namespace otlpd::storage
