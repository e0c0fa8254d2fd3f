#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace otlpd {

enum class Compression { kNone, kGzip, kDeflate, kZstd, kSnappy, kLz4 };

// "" / "none" / "identity", "gzip", "deflate", "zstd", "snappy", "lz4" (the LZ4 frame format).
std::optional<Compression> ParseCompression(std::string_view name);
std::string_view CompressionName(Compression c);

// Decompresses `input`, refusing (kResourceExhausted) as soon as the output would exceed
// `max_output` bytes: a gzip bomb is stopped without being inflated into memory.
// Corrupt input gives kInvalidArgument. A single gzip member is decoded in one pass by
// libdeflate when its trailer's size fits the limit; everything else streams through zlib.
absl::StatusOr<std::string> Decompress(Compression c, std::string_view input, size_t max_output);

// Compresses `input` into the standard format for `c`: gzip (RFC 1952) and deflate (the
// zlib format, RFC 1950) by ISA-L igzip at its level 2, zstd at level 1 with a content
// checksum, snappy as one raw block, lz4 as one frame with a content checksum. The levels favour
// speed (see compression.cc).
absl::StatusOr<std::string> Compress(Compression c, std::string_view input);

}  // namespace otlpd
