#include "core/compression.h"

#include <snappy.h>
#include <sys/resource.h>
#include <zlib.h>
#include <zstd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace otlpd {
namespace {

using ::testing::HasSubstr;

// Text-like data that compresses (about 4:1) but not trivially.
std::string SampleData(size_t size) {
  std::mt19937 rng(42);
  static const char* kWords[] = {"span", "trace", "service.name", "http.method", "GET",
                                 "POST", "200",   "checkout",     "db.statement"};
  std::string out;
  while (out.size() < size) {
    out += kWords[rng() % 9];
    out += static_cast<char>('a' + rng() % 26);
    out += ' ';
  }
  out.resize(size);
  return out;
}

std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

// A 100-byte record repeated: long matches, as in batches of near-identical spans.
std::string Repetitive(size_t size) {
  const std::string record =
      "{\"service.name\":\"checkout\",\"http.route\":\"/api/v1/cart/{id}\",\"status\":200}\n"
      "0123456789abcdef";
  std::string out;
  while (out.size() < size) out += record;
  out.resize(size);
  return out;
}

// Inflates with zlib itself (window_bits as inflateInit2), independent of Decompress.
absl::StatusOr<std::string> ZlibInflate(std::string_view data, int window_bits) {
  z_stream s{};
  if (inflateInit2(&s, window_bits) != Z_OK) return absl::InternalError("inflateInit2");
  std::string out;
  std::string buf(1 << 16, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    s.next_out = reinterpret_cast<Bytef*>(buf.data());
    s.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&s, Z_NO_FLUSH);
    out.append(buf.data(), buf.size() - s.avail_out);
    if (rc == Z_BUF_ERROR && s.avail_in == 0) break;
  }
  bool all_used = s.avail_in == 0;
  inflateEnd(&s);
  if (rc != Z_STREAM_END || !all_used) {
    return absl::InvalidArgumentError(absl::StrCat("zlib inflate: ", rc));
  }
  return out;
}

// Runs `command` (an external decompressor reading `in`, writing `out`) under a time
// bound and returns what it wrote.
absl::StatusOr<std::string> RunTool(const otlpd::testing::TempDir& dir, const std::string& tool,
                                    std::string_view compressed) {
  std::string in = dir.Write("in", compressed);
  std::string out = dir.File("out");
  std::string command = absl::StrCat("timeout 120 ", tool, " < '", in, "' > '", out, "'");
  int rc = std::system(command.c_str());
  if (rc != 0) return absl::InternalError(absl::StrCat(command, " exited with ", rc));
  return otlpd::testing::ReadFileOrEmpty(out);
}

// Peak resident set of this process so far, in bytes.
size_t PeakRss() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<size_t>(usage.ru_maxrss) * 1024;
}

// `total` zero bytes compressed with zlib (window_bits as deflateInit2) without ever
// holding the uncompressed data. Run-length matching compresses zeros as well as the
// default strategy (~1030:1), only faster.
std::string ZlibZeros(size_t total, int window_bits) {
  z_stream s{};
  EXPECT_EQ(deflateInit2(&s, 9, Z_DEFLATED, window_bits, 9, Z_RLE), Z_OK);
  std::vector<unsigned char> zeros(1 << 20, 0);
  std::string out;
  unsigned char buf[1 << 16];
  size_t fed = 0;
  int flush = Z_NO_FLUSH;
  do {
    if (s.avail_in == 0 && fed < total) {
      size_t n = std::min(zeros.size(), total - fed);
      s.next_in = zeros.data();
      s.avail_in = static_cast<uInt>(n);
      fed += n;
    }
    flush = fed == total ? Z_FINISH : Z_NO_FLUSH;
    s.next_out = buf;
    s.avail_out = sizeof(buf);
    int rc = deflate(&s, flush);
    EXPECT_TRUE(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR) << rc;
    out.append(reinterpret_cast<char*>(buf), sizeof(buf) - s.avail_out);
    if (rc == Z_STREAM_END) break;
  } while (true);
  deflateEnd(&s);
  return out;
}

std::string ZstdZeros(size_t total) {
  ZSTD_CCtx* ctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(ctx, ZSTD_c_compressionLevel, 3);
  std::string zeros(1 << 20, '\0');
  std::string out;
  std::string buf(ZSTD_CStreamOutSize(), '\0');
  size_t fed = 0;
  while (true) {
    size_t n = std::min(zeros.size(), total - fed);
    fed += n;
    ZSTD_EndDirective mode = fed == total ? ZSTD_e_end : ZSTD_e_continue;
    ZSTD_inBuffer in{zeros.data(), n, 0};
    size_t remaining = 0;
    do {
      ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
      remaining = ZSTD_compressStream2(ctx, &ob, &in, mode);
      EXPECT_FALSE(ZSTD_isError(remaining));
      out.append(buf.data(), ob.pos);
    } while (mode == ZSTD_e_end ? remaining != 0 : in.pos < in.size);
    if (fed == total) break;
  }
  ZSTD_freeCCtx(ctx);
  return out;
}

TEST(ParseCompressionTest, KnownNames) {
  EXPECT_EQ(ParseCompression(""), Compression::kNone);
  EXPECT_EQ(ParseCompression("none"), Compression::kNone);
  EXPECT_EQ(ParseCompression("identity"), Compression::kNone);
  EXPECT_EQ(ParseCompression("gzip"), Compression::kGzip);
  EXPECT_EQ(ParseCompression("GZip"), Compression::kGzip);
  EXPECT_EQ(ParseCompression("x-gzip"), Compression::kGzip);
  EXPECT_EQ(ParseCompression("deflate"), Compression::kDeflate);
  EXPECT_EQ(ParseCompression("zstd"), Compression::kZstd);
  EXPECT_EQ(ParseCompression("snappy"), Compression::kSnappy);
  EXPECT_EQ(ParseCompression("br"), std::nullopt);
  EXPECT_EQ(ParseCompression("lz4"), Compression::kLz4);
  EXPECT_EQ(ParseCompression("lz4hc"), std::nullopt);
  EXPECT_EQ(ParseCompression("gzip, deflate"), std::nullopt);
}

TEST(ParseCompressionTest, NamesRoundTrip) {
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kDeflate,
                        Compression::kZstd, Compression::kSnappy, Compression::kLz4}) {
    EXPECT_EQ(ParseCompression(CompressionName(c)), c) << CompressionName(c);
  }
  EXPECT_EQ(CompressionName(Compression::kGzip), "gzip");
  EXPECT_EQ(CompressionName(Compression::kZstd), "zstd");
}

class CompressionRoundTripTest : public ::testing::TestWithParam<Compression> {};

TEST_P(CompressionRoundTripTest, RoundTripsVariousSizes) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{100}, size_t{65536}, size_t{3 << 20}}) {
    std::string input = SampleData(size);
    absl::StatusOr<std::string> compressed = Compress(GetParam(), input);
    ASSERT_TRUE(compressed.ok()) << compressed.status();
    if (GetParam() != Compression::kNone && size >= 65536) {
      EXPECT_LT(compressed->size(), input.size() / 2) << size;
    }
    absl::StatusOr<std::string> output = Decompress(GetParam(), *compressed, input.size());
    ASSERT_TRUE(output.ok()) << output.status() << " size " << size;
    EXPECT_TRUE(*output == input) << size;
  }
}

TEST_P(CompressionRoundTripTest, RandomDataRoundTrips) {
  std::string input = RandomBytes(200000, 7);
  absl::StatusOr<std::string> compressed = Compress(GetParam(), input);
  ASSERT_TRUE(compressed.ok());
  absl::StatusOr<std::string> output = Decompress(GetParam(), *compressed, input.size());
  ASSERT_TRUE(output.ok()) << output.status();
  EXPECT_TRUE(*output == input);
}

TEST_P(CompressionRoundTripTest, LimitIsInclusive) {
  std::string input = SampleData(100000);
  absl::StatusOr<std::string> compressed = Compress(GetParam(), input);
  ASSERT_TRUE(compressed.ok());
  EXPECT_TRUE(Decompress(GetParam(), *compressed, input.size()).ok());
  absl::StatusOr<std::string> over = Decompress(GetParam(), *compressed, input.size() - 1);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted) << over.status();
}

// Failure modes of the real formats (identity has none).
class CompressedFormatTest : public ::testing::TestWithParam<Compression> {};

TEST_P(CompressedFormatTest, TruncatedInputIsInvalid) {
  std::string input = SampleData(100000);
  absl::StatusOr<std::string> compressed = Compress(GetParam(), input);
  ASSERT_TRUE(compressed.ok());
  for (size_t keep : {compressed->size() - 1, compressed->size() - 9, compressed->size() / 2,
                      size_t{3}, size_t{0}}) {
    absl::StatusOr<std::string> output =
        Decompress(GetParam(), compressed->substr(0, keep), 1 << 30);
    EXPECT_EQ(output.status().code(), absl::StatusCode::kInvalidArgument)
        << "kept " << keep << " of " << compressed->size() << ": " << output.status();
  }
}

TEST_P(CompressedFormatTest, GarbageIsInvalid) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    absl::StatusOr<std::string> output = Decompress(GetParam(), RandomBytes(4096, seed), 1 << 30);
    EXPECT_EQ(output.status().code(), absl::StatusCode::kInvalidArgument)
        << "seed " << seed << ": " << output.status();
  }
  absl::StatusOr<std::string> text = Decompress(GetParam(), "this is not compressed", 1 << 30);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument) << text.status();
}

TEST_P(CompressedFormatTest, CorruptedByteIsInvalid) {
  std::string input = SampleData(100000);
  absl::StatusOr<std::string> compressed = Compress(GetParam(), input);
  ASSERT_TRUE(compressed.ok());
  // Flip a byte in the middle: either the stream breaks or a checksum catches it,
  // except snappy's block format, which has no checksum: it must not return the input.
  std::string corrupt = *compressed;
  corrupt[corrupt.size() / 2] ^= 0x5a;
  absl::StatusOr<std::string> output = Decompress(GetParam(), corrupt, 1 << 30);
  if (GetParam() == Compression::kSnappy && output.ok()) {
    EXPECT_FALSE(*output == input);
  } else {
    EXPECT_EQ(output.status().code(), absl::StatusCode::kInvalidArgument) << output.status();
  }
}

INSTANTIATE_TEST_SUITE_P(All, CompressedFormatTest,
                         ::testing::Values(Compression::kGzip, Compression::kDeflate,
                                           Compression::kZstd, Compression::kSnappy,
                                           Compression::kLz4),
                         [](const auto& info) { return std::string(CompressionName(info.param)); });

INSTANTIATE_TEST_SUITE_P(All, CompressionRoundTripTest,
                         ::testing::Values(Compression::kNone, Compression::kGzip,
                                           Compression::kDeflate, Compression::kZstd,
                                           Compression::kSnappy, Compression::kLz4),
                         [](const auto& info) { return std::string(CompressionName(info.param)); });

// Every algorithm at the levels Compress uses, on random (incompressible), text-like and
// repetitive data from empty to 20 MiB.
struct Corpus {
  std::string name;
  std::string data;
};

std::vector<Corpus> Corpora() {
  std::vector<Corpus> corpora;
  for (size_t size : {size_t{0}, size_t{1}, size_t{1} << 10, size_t{1} << 20, size_t{20} << 20}) {
    corpora.push_back({absl::StrCat("random/", size), RandomBytes(size, 11)});
    corpora.push_back({absl::StrCat("text/", size), SampleData(size)});
    corpora.push_back({absl::StrCat("repetitive/", size), Repetitive(size)});
  }
  return corpora;
}

const std::vector<Corpus>& SharedCorpora() {
  static const std::vector<Corpus>* corpora = new std::vector<Corpus>(Corpora());
  return *corpora;
}

TEST_P(CompressionRoundTripTest, RoundTripsEveryCorpus) {
  for (const Corpus& corpus : SharedCorpora()) {
    absl::StatusOr<std::string> compressed = Compress(GetParam(), corpus.data);
    ASSERT_TRUE(compressed.ok()) << corpus.name << ": " << compressed.status();
    if (GetParam() != Compression::kNone && corpus.data.size() >= 1 << 20) {
      if (corpus.name.starts_with("random")) {
        // Incompressible data may only grow by framing (stored blocks, literals).
        EXPECT_LT(compressed->size(), corpus.data.size() + corpus.data.size() / 50) << corpus.name;
      } else {
        EXPECT_LT(compressed->size(), corpus.data.size() / 2) << corpus.name;
      }
    }
    absl::StatusOr<std::string> output = Decompress(GetParam(), *compressed, corpus.data.size());
    ASSERT_TRUE(output.ok()) << corpus.name << ": " << output.status();
    EXPECT_TRUE(*output == corpus.data) << corpus.name;
  }
}

TEST(CompressInteropTest, GzipIsReadByZlibAndGzipCommand) {
  otlpd::testing::TempDir dir("compression-test");
  for (const Corpus& corpus : SharedCorpora()) {
    absl::StatusOr<std::string> gzip = Compress(Compression::kGzip, corpus.data);
    ASSERT_TRUE(gzip.ok()) << gzip.status();
    ASSERT_GE(gzip->size(), 18u);
    EXPECT_EQ(static_cast<unsigned char>((*gzip)[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>((*gzip)[1]), 0x8b);
    absl::StatusOr<std::string> zlib = ZlibInflate(*gzip, 16 + MAX_WBITS);
    ASSERT_TRUE(zlib.ok()) << corpus.name << ": " << zlib.status();
    EXPECT_TRUE(*zlib == corpus.data) << corpus.name;
    absl::StatusOr<std::string> tool = RunTool(dir, "gzip -d -c", *gzip);
    ASSERT_TRUE(tool.ok()) << corpus.name << ": " << tool.status();
    EXPECT_TRUE(*tool == corpus.data) << corpus.name;
  }
}

TEST(CompressInteropTest, DeflateIsZlibFormat) {
  for (const Corpus& corpus : SharedCorpora()) {
    absl::StatusOr<std::string> deflate = Compress(Compression::kDeflate, corpus.data);
    ASSERT_TRUE(deflate.ok()) << deflate.status();
    absl::StatusOr<std::string> zlib = ZlibInflate(*deflate, MAX_WBITS);
    ASSERT_TRUE(zlib.ok()) << corpus.name << ": " << zlib.status();
    EXPECT_TRUE(*zlib == corpus.data) << corpus.name;
  }
}

TEST(CompressInteropTest, ZstdIsReadByZstdCommand) {
  otlpd::testing::TempDir dir("compression-test");
  for (const Corpus& corpus : SharedCorpora()) {
    absl::StatusOr<std::string> zstd = Compress(Compression::kZstd, corpus.data);
    ASSERT_TRUE(zstd.ok()) << zstd.status();
    absl::StatusOr<std::string> tool = RunTool(dir, "zstd -d -q -c", *zstd);
    ASSERT_TRUE(tool.ok()) << corpus.name << ": " << tool.status();
    EXPECT_TRUE(*tool == corpus.data) << corpus.name;
  }
}

// What `gzip` itself writes (several members, names, and levels) decodes too.
TEST(DecompressTest, ReadsGzipCommandOutput) {
  otlpd::testing::TempDir dir("compression-test");
  std::string input = SampleData(1 << 20);
  for (std::string level : {"-1", "-6", "-9"}) {
    absl::StatusOr<std::string> gzip = RunTool(dir, absl::StrCat("gzip -c ", level), input);
    ASSERT_TRUE(gzip.ok()) << gzip.status();
    absl::StatusOr<std::string> out = Decompress(Compression::kGzip, *gzip, input.size());
    ASSERT_TRUE(out.ok()) << level << ": " << out.status();
    EXPECT_TRUE(*out == input) << level;
    EXPECT_EQ(Decompress(Compression::kGzip, *gzip, input.size() - 1).status().code(),
              absl::StatusCode::kResourceExhausted);
  }
}

// gzip's trailer declares the size (ISIZE); it is a hint only. A trailer that claims
// less than the stream holds must not let the stream past the limit, and one that claims
// far more than the body can hold must not make Decompress allocate it.
TEST(DecompressBombTest, LyingGzipTrailer) {
  constexpr size_t kMiB = size_t{1} << 20;
  auto set_isize = [](std::string* gzip, uint32_t isize) {
    for (int i = 0; i < 4; ++i) (*gzip)[gzip->size() - 4 + i] = static_cast<char>(isize >> (8 * i));
  };
  std::string bomb = ZlibZeros(256 * kMiB, 16 + MAX_WBITS);
  set_isize(&bomb, 1 << 20);
  size_t rss_before = PeakRss();
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::string> out = Decompress(Compression::kGzip, bomb, kMiB);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted) << out.status();
  EXPECT_LT(seconds, 1.0);
  EXPECT_LT(PeakRss(), rss_before + (32 << 20));

  // A 1 KiB body claiming 1 GiB within a 2 GiB limit: refused as corrupt, not allocated.
  std::string small = *Compress(Compression::kGzip, SampleData(1024));
  set_isize(&small, 1u << 30);
  rss_before = PeakRss();
  out = Decompress(Compression::kGzip, small, size_t{2} << 30);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << out.status();
  EXPECT_LT(PeakRss(), rss_before + (32 << 20));

  // An understated size on a valid small stream is corrupt, not truncated output.
  std::string understated = *Compress(Compression::kGzip, SampleData(4096));
  set_isize(&understated, 100);
  out = Decompress(Compression::kGzip, understated, 1 << 20);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << out.status();
}

TEST(CompressTest, ProducesStandardFormats) {
  std::string input = SampleData(1000);
  std::string gzip = *Compress(Compression::kGzip, input);
  ASSERT_GE(gzip.size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>(gzip[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(gzip[1]), 0x8b);

  // HTTP "deflate" is the zlib format: zlib's own uncompress() must read it.
  std::string deflate = *Compress(Compression::kDeflate, input);
  std::string out(input.size(), '\0');
  uLongf out_size = out.size();
  ASSERT_EQ(uncompress(reinterpret_cast<Bytef*>(out.data()), &out_size,
                       reinterpret_cast<const Bytef*>(deflate.data()), deflate.size()),
            Z_OK);
  EXPECT_EQ(out, input);

  std::string zstd = *Compress(Compression::kZstd, input);
  EXPECT_EQ(ZSTD_getFrameContentSize(zstd.data(), zstd.size()), input.size());
  std::string unz(input.size(), '\0');
  EXPECT_EQ(ZSTD_decompress(unz.data(), unz.size(), zstd.data(), zstd.size()), input.size());
  EXPECT_EQ(unz, input);

  std::string snappy = *Compress(Compression::kSnappy, input);
  std::string uns;
  ASSERT_TRUE(snappy::Uncompress(snappy.data(), snappy.size(), &uns));
  EXPECT_EQ(uns, input);
}

TEST(DecompressTest, ReadsZlibLibraryOutput) {
  std::string input = SampleData(50000);
  // gzip written by zlib's gz machinery (deflateInit2 16+15), zlib format, raw deflate.
  auto compress_with = [&](int window_bits) {
    z_stream s{};
    EXPECT_EQ(deflateInit2(&s, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    std::string out(deflateBound(&s, input.size()) + 64, '\0');
    s.next_in = reinterpret_cast<Bytef*>(input.data());
    s.avail_in = input.size();
    s.next_out = reinterpret_cast<Bytef*>(out.data());
    s.avail_out = out.size();
    EXPECT_EQ(deflate(&s, Z_FINISH), Z_STREAM_END);
    out.resize(s.total_out);
    deflateEnd(&s);
    return out;
  };
  std::string gzip = compress_with(16 + MAX_WBITS);
  std::string zlib = compress_with(MAX_WBITS);
  std::string raw = compress_with(-MAX_WBITS);

  EXPECT_EQ(*Decompress(Compression::kGzip, gzip, 1 << 20), input);
  // Lax clients label zlib data as gzip.
  EXPECT_EQ(*Decompress(Compression::kGzip, zlib, 1 << 20), input);
  EXPECT_EQ(*Decompress(Compression::kDeflate, zlib, 1 << 20), input);
  // ... and raw deflate as deflate.
  EXPECT_EQ(*Decompress(Compression::kDeflate, raw, 1 << 20), input);
  EXPECT_FALSE(Decompress(Compression::kGzip, raw, 1 << 20).ok());
}

TEST(DecompressTest, MultiMemberGzip) {
  std::string a = SampleData(30000);
  std::string b = "second member";
  std::string joined = *Compress(Compression::kGzip, a) + *Compress(Compression::kGzip, b);
  absl::StatusOr<std::string> out = Decompress(Compression::kGzip, joined, 1 << 20);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, a + b);
  // The limit applies to the members together.
  EXPECT_EQ(Decompress(Compression::kGzip, joined, a.size() + 3).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(DecompressTest, TrailingGarbageAfterGzipIsInvalid) {
  std::string gzip = *Compress(Compression::kGzip, "payload") + "junk";
  absl::StatusOr<std::string> out = Decompress(Compression::kGzip, gzip, 1 << 20);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("trailing"));
}

TEST(DecompressTest, ConcatenatedZstdFrames) {
  std::string joined =
      *Compress(Compression::kZstd, "first ") + *Compress(Compression::kZstd, "second");
  absl::StatusOr<std::string> out = Decompress(Compression::kZstd, joined, 1 << 20);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "first second");
}

TEST(DecompressTest, IdentityLimit) {
  EXPECT_EQ(*Decompress(Compression::kNone, "abc", 3), "abc");
  EXPECT_EQ(Decompress(Compression::kNone, "abcd", 3).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(DecompressTest, SnappyFramedStream) {
  // Stream identifier + one uncompressed chunk of "hello snappy framing"; the masked
  // CRC-32C (0x8ebf7611) was computed independently.
  const std::string framed(
      "\xff\x06\x00\x00sNaPpY"
      "\x01\x18\x00\x00\x11\x76\xbf\x8e"
      "hello snappy framing",
      38);
  absl::StatusOr<std::string> out = Decompress(Compression::kSnappy, framed, 1 << 20);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "hello snappy framing");
  EXPECT_EQ(Decompress(Compression::kSnappy, framed, 19).status().code(),
            absl::StatusCode::kResourceExhausted);

  std::string bad_crc = framed;
  bad_crc[14] ^= 1;
  EXPECT_EQ(Decompress(Compression::kSnappy, bad_crc, 1 << 20).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Decompress(Compression::kSnappy, framed.substr(0, 30), 1 << 20).status().code(),
            absl::StatusCode::kInvalidArgument);

  // A compressed chunk (type 0) of "abcdefgh" x 100, masked CRC 0x3da9f9dc, after a padding
  // chunk that must be skipped.
  std::string payload;
  for (int i = 0; i < 100; ++i) payload += "abcdefgh";
  std::string block;
  snappy::Compress(payload.data(), payload.size(), &block);
  std::string chunk_body = std::string("\xdc\xf9\xa9\x3d", 4) + block;
  std::string stream = framed.substr(0, 10) + std::string("\xfe\x02\x00\x00xx", 6);
  stream.push_back('\x00');
  stream.push_back(static_cast<char>(chunk_body.size() & 0xff));
  stream.push_back(static_cast<char>((chunk_body.size() >> 8) & 0xff));
  stream.push_back(static_cast<char>(chunk_body.size() >> 16));
  stream += chunk_body;
  stream += framed.substr(10);
  out = Decompress(Compression::kSnappy, stream, 1 << 20);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, payload + "hello snappy framing");
}

TEST(DecompressTest, SnappyLengthHeaderCheckedBeforeAllocating) {
  // Varint length 2^32-1 with a tiny body: refused from the header alone.
  std::string lying("\xff\xff\xff\xff\x0f\x00", 6);
  absl::StatusOr<std::string> out = Decompress(Compression::kSnappy, lying, 1 << 20);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted) << out.status();
}

struct Bomb {
  Compression compression;
  std::string data;
};

// Compressed bodies that expand to hundreds of MiB (and a 1 GiB one of concatenated gzip
// members) must be refused quickly without being inflated in memory.
TEST(DecompressBombTest, RefusedQuicklyWithBoundedMemory) {
  constexpr size_t kMiB = size_t{1} << 20;
  std::vector<Bomb> bombs;
  bombs.push_back({Compression::kGzip, ZlibZeros(256 * kMiB, 16 + MAX_WBITS)});
  bombs.push_back({Compression::kDeflate, ZlibZeros(256 * kMiB, MAX_WBITS)});
  bombs.push_back({Compression::kDeflate, ZlibZeros(64 * kMiB, -MAX_WBITS)});
  bombs.push_back({Compression::kZstd, ZstdZeros(256 * kMiB)});
  std::string member = ZlibZeros(64 * kMiB, 16 + MAX_WBITS);
  std::string members;
  for (int i = 0; i < 16; ++i) members += member;
  bombs.push_back({Compression::kGzip, members});
  EXPECT_LT(bombs[0].data.size(), 300 * 1024u);  // ~1000:1

  for (const Bomb& bomb : bombs) {
    size_t rss_before = PeakRss();
    auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::string> out = Decompress(bomb.compression, bomb.data, 1 << 20);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted)
        << CompressionName(bomb.compression) << ": " << out.status();
    EXPECT_LT(seconds, 1.0) << CompressionName(bomb.compression);
    // Peak memory may only grow by about the 1 MiB limit, not by the expanded size.
    EXPECT_LT(PeakRss(), rss_before + (32 << 20)) << CompressionName(bomb.compression);
  }

  // The bombs are valid streams: with a limit that fits they expand fully.
  absl::StatusOr<std::string> zstd = Decompress(Compression::kZstd, bombs[3].data, 256 * kMiB);
  ASSERT_TRUE(zstd.ok()) << zstd.status();
  EXPECT_EQ(zstd->size(), 256 * kMiB);
  zstd = absl::StatusOr<std::string>();
  absl::StatusOr<std::string> raw = Decompress(Compression::kDeflate, bombs[2].data, 64 * kMiB);
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(raw->size(), 64 * kMiB);
  EXPECT_EQ(raw->find_first_not_of('\0'), std::string::npos);
}

}  // namespace
}  // namespace otlpd
