#include "core/compression.h"

#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace otlpd {
namespace {

// Bytes at which to give up: one past the limit, so that "exactly max_output" succeeds.
// Debian's abseil has its own string_view type.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

size_t OutputLimit(size_t max_output) { return max_output == SIZE_MAX ? SIZE_MAX : max_output + 1; }

absl::Status TooLarge(size_t max_output) {
  return absl::ResourceExhaustedError(
      absl::StrCat("decompressed body exceeds the limit of ", max_output, " bytes"));
}

// Output buffer that grows geometrically up to `limit` bytes; memory never exceeds it.
class OutputBuffer {
 public:
  OutputBuffer(size_t input_size, size_t limit) : limit_(limit) {
    size_t initial = input_size > SIZE_MAX / 4 ? SIZE_MAX : input_size * 4;
    out_.resize(std::min(std::max<size_t>(initial, 4096), limit_));
  }

  // Makes room after `used` bytes; false when the buffer is already at the limit.
  bool Grow() {
    if (out_.size() >= limit_) return false;
    size_t next = out_.size() > limit_ / 2 ? limit_ : out_.size() * 2;
    out_.resize(next);
    return true;
  }

  char* data() { return out_.data(); }
  size_t size() const { return out_.size(); }
  std::string Take(size_t used) {
    out_.resize(used);
    return std::move(out_);
  }

 private:
  size_t limit_;
  std::string out_;
};

class ZStream {
 public:
  explicit ZStream(int window_bits) { ok_ = inflateInit2(&stream_, window_bits) == Z_OK; }
  ~ZStream() {
    if (ok_) inflateEnd(&stream_);
  }
  ZStream(const ZStream&) = delete;
  ZStream& operator=(const ZStream&) = delete;
  bool ok() const { return ok_; }
  z_stream* get() { return &stream_; }

 private:
  z_stream stream_{};
  bool ok_ = false;
};

bool IsGzipMember(std::string_view rest) {
  return rest.size() >= 2 && static_cast<unsigned char>(rest[0]) == 0x1f &&
         static_cast<unsigned char>(rest[1]) == 0x8b;
}

// Inflates `input` with zlib window bits `window_bits` (gzip, zlib or raw). Concatenated
// gzip members (as written by `cat a.gz b.gz`) are decoded one after another.
absl::StatusOr<std::string> Inflate(std::string_view input, int window_bits, size_t max_output,
                                    std::string_view name) {
  ZStream zs(window_bits);
  if (!zs.ok()) return absl::InternalError("inflateInit2 failed");
  z_stream* s = zs.get();
  const size_t limit = OutputLimit(max_output);
  OutputBuffer out(input.size(), limit);
  size_t used = 0;
  size_t consumed = 0;  // of `input`, excluding what zlib holds in next_in/avail_in
  auto corrupt = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("invalid ", Absl(name), " data: ", Absl(why)));
  };
  while (true) {
    if (s->avail_in == 0 && consumed < input.size()) {
      size_t chunk = std::min<size_t>(input.size() - consumed, UINT_MAX);
      s->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data() + consumed));
      s->avail_in = static_cast<uInt>(chunk);
      consumed += chunk;
    }
    if (used == out.size() && !out.Grow()) return TooLarge(max_output);
    size_t room = std::min<size_t>(out.size() - used, UINT_MAX);
    s->next_out = reinterpret_cast<Bytef*>(out.data() + used);
    s->avail_out = static_cast<uInt>(room);
    int rc = inflate(s, Z_NO_FLUSH);
    used += room - s->avail_out;
    switch (rc) {
      case Z_OK:
        break;
      case Z_STREAM_END: {
        size_t remaining = s->avail_in + (input.size() - consumed);
        if (remaining == 0) {
          if (used > max_output) return TooLarge(max_output);
          return out.Take(used);
        }
        // Only gzip has further members; anything else after the end is garbage.
        bool gzip = window_bits > MAX_WBITS;
        if (!gzip || !IsGzipMember(input.substr(input.size() - remaining))) {
          return corrupt("trailing bytes after the end of the stream");
        }
        if (inflateReset(s) != Z_OK) return corrupt("cannot reset stream");
        break;
      }
      case Z_BUF_ERROR:
        // No progress: either out of input (truncated) or out of output space.
        if (s->avail_in == 0 && consumed == input.size()) return corrupt("truncated");
        break;
      case Z_NEED_DICT:
        return corrupt("a preset dictionary is required");
      case Z_MEM_ERROR:
        return absl::ResourceExhaustedError("out of memory while inflating");
      default:
        return corrupt(s->msg != nullptr ? s->msg : "corrupt stream");
    }
    if (rc == Z_OK && s->avail_in == 0 && consumed == input.size() && s->avail_out > 0) {
      return corrupt("truncated");
    }
  }
}

// A zlib header: compression method 8, window <= 32K, and the FCHECK multiple of 31.
bool LooksLikeZlib(std::string_view input) {
  if (input.size() < 2) return false;
  unsigned cmf = static_cast<unsigned char>(input[0]);
  unsigned flg = static_cast<unsigned char>(input[1]);
  return (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && (cmf * 256 + flg) % 31 == 0;
}

absl::StatusOr<std::string> DecompressZstd(std::string_view input, size_t max_output) {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (ctx == nullptr) return absl::InternalError("ZSTD_createDCtx failed");
  const size_t limit = OutputLimit(max_output);
  OutputBuffer out(input.size(), limit);
  size_t used = 0;
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  size_t last = 1;  // 0 once a frame has been completely decoded and flushed
  if (input.empty()) return absl::InvalidArgumentError("invalid zstd data: empty");
  while (in.pos < in.size || last != 0) {
    if (used == out.size() && !out.Grow()) return TooLarge(max_output);
    ZSTD_outBuffer ob{out.data(), out.size(), used};
    size_t before_in = in.pos;
    last = ZSTD_decompressStream(ctx.get(), &ob, &in);
    if (ZSTD_isError(last)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid zstd data: ", ZSTD_getErrorName(last)));
    }
    bool progressed = ob.pos != used || in.pos != before_in;
    used = ob.pos;
    // Input all consumed, output space left, frame unfinished and nothing more comes out.
    if (!progressed && in.pos == in.size && ob.pos < ob.size) {
      return absl::InvalidArgumentError("invalid zstd data: truncated");
    }
  }
  if (used > max_output) return TooLarge(max_output);
  return out.Take(used);
}

// --- snappy framing format (https://github.com/google/snappy/blob/main/framing_format.txt)

constexpr std::string_view kSnappyStreamIdentifier("\xff\x06\x00\x00sNaPpY", 10);

uint32_t Crc32c(std::string_view data) {
  static const std::array<uint32_t, 256> kTable = [] {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
      table[i] = c;
    }
    return table;
  }();
  uint32_t crc = 0xffffffffu;
  for (unsigned char b : data) crc = kTable[(crc ^ b) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

uint32_t MaskedCrc32c(std::string_view data) {
  uint32_t crc = Crc32c(data);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

uint32_t LoadLe(const char* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(p[i]);
  return v;
}

// The one-shot fast path for the common request: a single gzip member whose trailer
// declares a size within the limit. libdeflate decodes into a buffer of exactly that size,
// about 2.5x as fast as zlib; it checks the CRC and the declared size itself. Anything
// else (several members, zlib data sent as gzip, a trailer that lies, corrupt or truncated
// data) returns nullopt and goes through the streaming zlib path, which gives the precise
// error. The declared size is believed only up to what DEFLATE can expand the input to
// (1032:1), so a forged trailer costs no more memory than a real stream of that size.
std::optional<std::string> GunzipOneShot(std::string_view input, size_t max_output) {
  constexpr size_t kMinGzip = 18;  // 10-byte header, empty deflate block, 8-byte trailer
  constexpr size_t kMaxDeflateRatio = 1032;
  if (input.size() < kMinGzip || !IsGzipMember(input)) return std::nullopt;
  const size_t declared = LoadLe(input.data() + input.size() - 4, 4);
  if (declared > max_output || declared / kMaxDeflateRatio > input.size()) return std::nullopt;
  thread_local std::unique_ptr<libdeflate_decompressor, decltype(&libdeflate_free_decompressor)>
      decompressor(libdeflate_alloc_decompressor(), libdeflate_free_decompressor);
  if (decompressor == nullptr) return std::nullopt;
  std::string out(declared, '\0');
  size_t in_used = 0;
  size_t out_used = 0;
  libdeflate_result rc = libdeflate_gzip_decompress_ex(
      decompressor.get(), input.data(), input.size(), out.data(), out.size(), &in_used, &out_used);
  if (rc != LIBDEFLATE_SUCCESS || in_used != input.size() || out_used != declared) {
    return std::nullopt;
  }
  return out;
}

absl::StatusOr<std::string> DecompressSnappyFramed(std::string_view input, size_t max_output) {
  auto corrupt = [](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("invalid snappy stream: ", Absl(why)));
  };
  std::string out;
  std::string block;
  while (!input.empty()) {
    if (input.size() < 4) return corrupt("truncated chunk header");
    unsigned type = static_cast<unsigned char>(input[0]);
    size_t length = LoadLe(input.data() + 1, 3);
    if (input.size() - 4 < length) return corrupt("truncated chunk");
    std::string_view chunk = input.substr(4, length);
    input.remove_prefix(4 + length);
    if (type == 0xff) {
      if (chunk != kSnappyStreamIdentifier.substr(4)) return corrupt("bad stream identifier");
      continue;
    }
    if (type >= 0x80) continue;  // skippable (padding)
    if (type > 0x01) return corrupt("reserved unskippable chunk");
    if (chunk.size() < 4) return corrupt("chunk without checksum");
    uint32_t crc = LoadLe(chunk.data(), 4);
    std::string_view data = chunk.substr(4);
    if (type == 0x00) {
      size_t n = 0;
      if (!snappy::GetUncompressedLength(data.data(), data.size(), &n)) {
        return corrupt("bad compressed chunk");
      }
      if (n > max_output - out.size()) return TooLarge(max_output);
      block.resize(n);
      if (!snappy::RawUncompress(data.data(), data.size(), block.data())) {
        return corrupt("bad compressed chunk");
      }
      data = block;
    } else if (data.size() > max_output - out.size()) {
      return TooLarge(max_output);
    }
    if (MaskedCrc32c(data) != crc) return corrupt("checksum mismatch");
    out.append(data);
  }
  return out;
}

absl::StatusOr<std::string> DecompressSnappy(std::string_view input, size_t max_output) {
  if (input.substr(0, kSnappyStreamIdentifier.size()) == kSnappyStreamIdentifier) {
    return DecompressSnappyFramed(input, max_output);
  }
  size_t n = 0;
  if (!snappy::GetUncompressedLength(input.data(), input.size(), &n)) {
    return absl::InvalidArgumentError("invalid snappy data: bad length header");
  }
  if (n > max_output) return TooLarge(max_output);
  std::string out(n, '\0');
  if (!snappy::RawUncompress(input.data(), input.size(), out.data())) {
    return absl::InvalidArgumentError("invalid snappy data: corrupt");
  }
  return out;
}

// ISA-L igzip level for gzip and deflate. On serialized OTLP traces
// (bench/compression_bench.cc) level 2 compresses at 0.7-1.4 GB/s, 15x zlib's default
// level 6, with output about 10% larger; level 1 is 3-5% faster for 2% more output,
// level 3 half as fast for 2% less.
constexpr uint32_t kIgzipLevel = 2;
constexpr size_t kIgzipLevelBufSize = ISAL_DEF_LVL2_DEFAULT;

// One igzip stream and its level buffer per thread: together ~400 KiB, so allocating
// them per request would cost more than compressing a small one.
struct IgzipState {
  isal_zstream stream;
  uint8_t level_buf[kIgzipLevelBufSize];
};

// `flag` is IGZIP_GZIP or IGZIP_ZLIB; the output is standard gzip (RFC 1952) or zlib
// (RFC 1950) that any inflater reads.
absl::StatusOr<std::string> Igzip(std::string_view input, uint16_t flag) {
  thread_local std::unique_ptr<IgzipState> state = std::make_unique<IgzipState>();
  isal_zstream* s = &state->stream;
  isal_deflate_init(s);
  s->level = kIgzipLevel;
  s->level_buf = state->level_buf;
  s->level_buf_size = kIgzipLevelBufSize;
  s->gzip_flag = flag;
  s->flush = NO_FLUSH;
  // Enough for nearly everything in one pass (stored blocks cost 5 bytes per 64 KiB);
  // grown below if not.
  std::string out(input.size() + input.size() / 64 + 256, '\0');
  size_t consumed = 0;
  size_t produced = 0;
  while (true) {
    if (s->avail_in == 0) {
      size_t chunk = std::min<size_t>(input.size() - consumed, UINT32_MAX);
      s->next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(input.data() + consumed));
      s->avail_in = static_cast<uint32_t>(chunk);
      consumed += chunk;
      s->end_of_stream = consumed == input.size() ? 1 : 0;
    }
    if (produced == out.size()) out.resize(out.size() * 2);
    size_t room = std::min<size_t>(out.size() - produced, UINT32_MAX);
    s->next_out = reinterpret_cast<uint8_t*>(out.data() + produced);
    s->avail_out = static_cast<uint32_t>(room);
    int rc = isal_deflate(s);
    produced += room - s->avail_out;
    if (rc != COMP_OK) return absl::InternalError(absl::StrCat("isal_deflate failed: ", rc));
    if (s->internal_state.state == ZSTATE_END) break;
  }
  out.resize(produced);
  return out;
}

// The LZ4 frame format (what `lz4` writes), streamed so that the output limit holds.
absl::StatusOr<std::string> DecompressLz4(std::string_view input, size_t max_output) {
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) {
    return absl::InternalError("LZ4F_createDecompressionContext failed");
  }
  std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)> ctx(
      raw, LZ4F_freeDecompressionContext);
  std::string out;
  const char* in = input.data();
  size_t left = input.size();
  size_t hint = 1;
  while (left > 0 && hint != 0) {
    char buf[64 * 1024];
    size_t produced = sizeof buf;
    size_t consumed = left;
    hint = LZ4F_decompress(ctx.get(), buf, &produced, in, &consumed, nullptr);
    if (LZ4F_isError(hint)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid lz4 frame: ", LZ4F_getErrorName(hint)));
    }
    if (out.size() + produced > max_output) return TooLarge(max_output);
    out.append(buf, produced);
    in += consumed;
    left -= consumed;
    if (consumed == 0 && produced == 0) break;
  }
  if (hint != 0) return absl::InvalidArgumentError("invalid lz4 frame: truncated");
  if (left > 0) return absl::InvalidArgumentError("invalid lz4 frame: data after the frame");
  return out;
}

absl::StatusOr<std::string> CompressLz4(std::string_view input) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  prefs.frameInfo.contentSize = input.size();
  std::string out(LZ4F_compressFrameBound(input.size(), &prefs), '\0');
  size_t n = LZ4F_compressFrame(out.data(), out.size(), input.data(), input.size(), &prefs);
  if (LZ4F_isError(n)) return absl::InternalError(absl::StrCat("lz4: ", LZ4F_getErrorName(n)));
  out.resize(n);
  return out;
}

}  // namespace

std::optional<Compression> ParseCompression(std::string_view name) {
  std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(Absl(name)));
  if (lower.empty() || lower == "none" || lower == "identity") return Compression::kNone;
  if (lower == "gzip" || lower == "x-gzip") return Compression::kGzip;
  if (lower == "deflate") return Compression::kDeflate;
  if (lower == "zstd") return Compression::kZstd;
  if (lower == "snappy") return Compression::kSnappy;
  if (lower == "lz4") return Compression::kLz4;
  return std::nullopt;
}

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kDeflate:
      return "deflate";
    case Compression::kZstd:
      return "zstd";
    case Compression::kSnappy:
      return "snappy";
    case Compression::kLz4:
      return "lz4";
  }
  return "none";
}

absl::StatusOr<std::string> Decompress(Compression c, std::string_view input, size_t max_output) {
  switch (c) {
    case Compression::kNone:
      if (input.size() > max_output) return TooLarge(max_output);
      return std::string(input);
    case Compression::kGzip: {
      if (std::optional<std::string> out = GunzipOneShot(input, max_output)) {
        return *std::move(out);
      }
      // 32 + window bits: gzip, and zlib-wrapped data sent as "gzip" by lax clients.
      return Inflate(input, 32 + MAX_WBITS, max_output, "gzip");
    }
    case Compression::kDeflate:
      // HTTP "deflate" is the zlib format (RFC 9110), but some clients send raw deflate.
      if (LooksLikeZlib(input)) {
        absl::StatusOr<std::string> out = Inflate(input, MAX_WBITS, max_output, "deflate");
        if (out.ok() || !absl::IsInvalidArgument(out.status())) return out;
        absl::StatusOr<std::string> raw = Inflate(input, -MAX_WBITS, max_output, "deflate");
        return raw.ok() ? raw : out;
      }
      return Inflate(input, -MAX_WBITS, max_output, "deflate");
    case Compression::kZstd:
      return DecompressZstd(input, max_output);
    case Compression::kSnappy:
      return DecompressSnappy(input, max_output);
    case Compression::kLz4:
      return DecompressLz4(input, max_output);
  }
  return absl::InvalidArgumentError("unknown compression");
}

absl::StatusOr<std::string> Compress(Compression c, std::string_view input) {
  switch (c) {
    case Compression::kNone:
      return std::string(input);
    case Compression::kGzip:
      return Igzip(input, IGZIP_GZIP);
    case Compression::kDeflate:
      return Igzip(input, IGZIP_ZLIB);
    case Compression::kZstd: {
      std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> ctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
      if (ctx == nullptr) return absl::InternalError("ZSTD_createCCtx failed");
      // Level 1, not zstd's default 3: on OTLP traces (bench/compression_bench.cc) it is
      // 1.2x-2.6x as fast, output at most 6% larger, and smaller than 3's when attribute
      // values are random. The fast negative levels lose 4-16% of size for <1.6x speed.
      ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_compressionLevel, 1);
      // A content checksum, as other OTLP implementations write, so corruption is detected.
      ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_checksumFlag, 1);
      std::string out(ZSTD_compressBound(input.size()), '\0');
      size_t n = ZSTD_compress2(ctx.get(), out.data(), out.size(), input.data(), input.size());
      if (ZSTD_isError(n)) {
        return absl::InternalError(absl::StrCat("zstd: ", ZSTD_getErrorName(n)));
      }
      out.resize(n);
      return out;
    }
    case Compression::kSnappy: {
      std::string out;
      snappy::Compress(input.data(), input.size(), &out);
      return out;
    }
    case Compression::kLz4:
      return CompressLz4(input);
  }
  return absl::InvalidArgumentError("unknown compression");
}

}  // namespace otlpd
