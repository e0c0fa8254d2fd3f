#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/signal.h"

namespace otlpd::storage {

// A block of whole OTLP requests (logs or metrics) as they were received, compressed with
// zstd as one frame after a small index: the warm/cold form of the signals that have no
// columnar block format yet. Lossless; a reader decodes the requests it scans.
//
//   [magic "OTLPDRB1"][count u32][count x (signal u8, receive ns i64, size u32)]
//   [zstd frame of the concatenated requests][crc32c of everything before u32]
// BlockMeta.format of record blocks.
inline constexpr std::string_view kRecordBlockFormat = "record_block";

class RecordBlockBuilder {
 public:
  void Add(Signal signal, int64_t receive_ns, std::string_view request);
  size_t count() const { return entries_.size(); }
  size_t input_bytes() const { return data_.size(); }
  absl::StatusOr<std::string> Finish(int zstd_level) const;

 private:
  struct Entry {
    Signal signal;
    int64_t receive_ns;
    uint32_t size;
  };
  std::vector<Entry> entries_;
  std::string data_;
};

// Calls fn for each request of the block, in order. DataLoss when the block is damaged.
absl::Status ForEachRecord(
    std::string_view block,
    const std::function<void(Signal signal, int64_t receive_ns, std::string_view request)>& fn);

}  // namespace otlpd::storage
