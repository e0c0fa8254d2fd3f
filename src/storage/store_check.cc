#include "storage/store_check.h"

#include <cstring>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "core/otlp_wire.h"
#include "core/signal.h"
#include "storage/segment_log.h"

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
  return intact;
}

}  // namespace otlpd::storage
