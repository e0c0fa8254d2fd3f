// Compression of serialized OTLP trace requests: throughput (bytes_per_second is MB/s of
// *uncompressed* input) and ratio (input / output, counter "ratio") per library and level.
// Every library reuses its context across iterations, as a long-lived exporter thread
// would; BM_OtlpdCompress/BM_OtlpdDecompress measure the real core/compression.h entry
// points as they are built.
//
// Two payloads of 1,000 spans each:
//   standard   the load generator's workload (bench/loadgen/workload.cc): 10 attributes of
//              20-character keys and random 20-character values per span; the values are
//              nearly incompressible, so this is a worst case for ratio.
//   realistic  several services with full resources, semantic-convention attributes with
//              real-world cardinality (methods, routes, status codes, db statements, peer
//              addresses, user agents), random trace/span ids; about 350 bytes per span.
//
// Run pinned to one core on a quiet machine:
//   taskset -c 1 build/bench/compression_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <lz4.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/compression.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "workload.h"

namespace otlpd {
namespace {

using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::trace::v1::Span;
using TracesRequest = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

constexpr int kSpans = 1000;

// --- payloads ---------------------------------------------------------------------------

std::string StandardPayload() {
  loadgen::WorkloadOptions options;
  options.spans_per_request = kSpans;
  return loadgen::BuildTraceRequest(options, 1).SerializeAsString();
}

std::string RandomId(std::mt19937_64& rng, int bytes) {
  std::string id(bytes, '\0');
  for (char& b : id) b = static_cast<char>(rng() & 0xff);
  return id;
}

void Str(google::protobuf::RepeatedPtrField<KeyValue>* attrs, std::string key, std::string v) {
  KeyValue* kv = attrs->Add();
  kv->set_key(std::move(key));
  kv->mutable_value()->set_string_value(std::move(v));
}

void Int(google::protobuf::RepeatedPtrField<KeyValue>* attrs, std::string key, int64_t v) {
  KeyValue* kv = attrs->Add();
  kv->set_key(std::move(key));
  kv->mutable_value()->set_int_value(v);
}

template <typename T, size_t N>
const T& Pick(std::mt19937_64& rng, const T (&items)[N]) {
  return items[rng() % N];
}

// What a collector forwards from a small microservice deployment: 8 services, each a
// ResourceSpans with a full resource and its instrumentation scope, traces of 8 spans
// spread over the services (HTTP servers, HTTP clients, database and cache calls).
std::string RealisticPayload() {
  std::mt19937_64 rng(7);
  static constexpr const char* kServices[] = {"frontend", "checkout",        "cart",
                                              "payment",  "product-catalog", "shipping",
                                              "currency", "recommendation"};
  static constexpr const char* kRoutes[] = {"/api/v1/cart/{id}",        "/api/v1/products/{id}",
                                            "/api/v1/checkout",         "/api/v1/orders/{id}",
                                            "/api/v1/currency/convert", "/api/v1/recommendations",
                                            "/api/v1/shipping/quote",   "/healthz"};
  static constexpr const char* kMethods[] = {"GET", "GET", "GET", "POST", "PUT", "DELETE"};
  static constexpr int kStatus[] = {200, 200, 200, 200, 200, 201, 204, 304, 400, 404, 500};
  static constexpr const char* kAgents[] = {
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)", "okhttp/4.12.0",
      "Go-http-client/1.1", "python-requests/2.31.0", "curl/8.4.0"};
  static constexpr const char* kStatements[] = {
      "SELECT * FROM orders WHERE id = ?", "SELECT id, name, price FROM products WHERE id = ?",
      "UPDATE carts SET items = ? WHERE user_id = ?", "INSERT INTO payments VALUES (?, ?, ?)"};

  TracesRequest request;
  const uint64_t base_ns = 1'700'000'000'000'000'000ULL;
  constexpr int kServiceCount = std::size(kServices);
  std::vector<opentelemetry::proto::trace::v1::ScopeSpans*> scopes;
  for (int s = 0; s < kServiceCount; ++s) {
    auto* rs = request.add_resource_spans();
    auto* attrs = rs->mutable_resource()->mutable_attributes();
    Str(attrs, "service.name", kServices[s]);
    Str(attrs, "service.namespace", "shop");
    Str(attrs, "service.version", absl::StrCat("1.", s, ".3"));
    Str(attrs, "service.instance.id", absl::StrFormat("%016x", rng()));
    Str(attrs, "host.name", absl::StrFormat("ip-10-0-%d-%d.ec2.internal", s, rng() % 255));
    Str(attrs, "k8s.namespace.name", "shop-prod");
    Str(attrs, "k8s.pod.name",
        absl::StrFormat("%s-%x-%05x", kServices[s], rng() % 0xffffff, rng() % 0xfffff));
    Str(attrs, "deployment.environment.name", "production");
    Str(attrs, "telemetry.sdk.name", "opentelemetry");
    Str(attrs, "telemetry.sdk.language", s % 2 ? "go" : "java");
    Str(attrs, "telemetry.sdk.version", "1.32.0");
    auto* ss = rs->add_scope_spans();
    ss->mutable_scope()->set_name(s % 2 ? "go.opentelemetry.io/contrib/instrumentation/net/http"
                                        : "io.opentelemetry.spring-webmvc-6.0");
    ss->mutable_scope()->set_version("0.46.0");
    scopes.push_back(ss);
  }
  std::string trace_id;
  std::string parent;
  uint64_t t = base_ns;
  for (int i = 0; i < kSpans; ++i) {
    const int service = static_cast<int>(rng() % kServiceCount);
    Span* span = scopes[service]->add_spans();
    if (i % 8 == 0) {
      trace_id = RandomId(rng, 16);
      parent.clear();
    }
    span->set_trace_id(trace_id);
    span->set_span_id(RandomId(rng, 8));
    if (!parent.empty()) span->set_parent_span_id(parent);
    if (i % 8 == 0) parent = span->span_id();
    t += rng() % 2'000'000;
    span->set_start_time_unix_nano(t);
    span->set_end_time_unix_nano(t + 100'000 + rng() % 50'000'000);
    auto* attrs = span->mutable_attributes();
    const std::string route = Pick(rng, kRoutes);
    const std::string method = Pick(rng, kMethods);
    switch (i % 4) {
      case 0: {  // HTTP server
        span->set_kind(Span::SPAN_KIND_SERVER);
        span->set_name(absl::StrCat(method, " ", route));
        Str(attrs, "http.request.method", method);
        Str(attrs, "http.route", route);
        std::string path = route;
        if (size_t p = path.find("{id}"); p != std::string::npos) {
          path.replace(p, 4, absl::StrCat(rng() % 1'000'000));
        }
        Str(attrs, "url.path", path);
        Int(attrs, "http.response.status_code", Pick(rng, kStatus));
        Str(attrs, "client.address", absl::StrFormat("10.0.%d.%d", rng() % 16, rng() % 255));
        Str(attrs, "user_agent.original", Pick(rng, kAgents));
        Str(attrs, "url.scheme", "https");
        Str(attrs, "server.address", "shop.example.com");
        Str(attrs, "network.protocol.version", "1.1");
        break;
      }
      case 1: {  // HTTP client
        span->set_kind(Span::SPAN_KIND_CLIENT);
        span->set_name(method);
        Str(attrs, "http.request.method", method);
        Str(attrs, "server.address", absl::StrCat(Pick(rng, kServices), ".shop-prod.svc"));
        Int(attrs, "server.port", 8080);
        Int(attrs, "http.response.status_code", Pick(rng, kStatus));
        Str(attrs, "url.full",
            absl::StrCat("http://", Pick(rng, kServices), ".shop-prod.svc:8080/api/v1/items/",
                         rng() % 100'000));
        break;
      }
      case 2: {  // database
        span->set_kind(Span::SPAN_KIND_CLIENT);
        span->set_name("SELECT shop.orders");
        Str(attrs, "db.system.name", "postgresql");
        Str(attrs, "db.namespace", "shop");
        Str(attrs, "db.query.text", Pick(rng, kStatements));
        Str(attrs, "server.address", "orders-db.shop-prod.svc");
        Int(attrs, "server.port", 5432);
        Str(attrs, "db.operation.name", "SELECT");
        break;
      }
      default: {  // cache
        span->set_kind(Span::SPAN_KIND_CLIENT);
        span->set_name("GET");
        Str(attrs, "db.system.name", "redis");
        Str(attrs, "db.operation.name", "GET");
        Str(attrs, "server.address", "redis.shop-prod.svc");
        Int(attrs, "server.port", 6379);
        break;
      }
    }
    // Java agents record the executing thread on every span.
    Int(attrs, "thread.id", 20 + rng() % 200);
    Str(attrs, "thread.name", absl::StrCat("http-nio-8080-exec-", rng() % 200));
    if (rng() % 20 == 0) {
      span->mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
      auto* event = span->add_events();
      event->set_name("exception");
      event->set_time_unix_nano(t + 50'000);
      Str(event->mutable_attributes(), "exception.type", "java.net.SocketTimeoutException");
    }
  }
  return request.SerializeAsString();
}

const std::string& Payload(int which) {
  static const std::string* standard = new std::string(StandardPayload());
  static const std::string* realistic = new std::string(RealisticPayload());
  return which == 0 ? *standard : *realistic;
}

constexpr const char* kPayloadNames[] = {"standard", "realistic"};

// --- compressors: each reuses its context, returns the compressed size (0 on failure) ----

using CompressFn = std::function<size_t(std::string_view in, std::string* out)>;

// zlib deflate with the gzip wrapper at `level`, deflateReset between calls.
CompressFn Zlib(int level) {
  auto stream = std::make_shared<z_stream>();
  *stream = z_stream{};
  deflateInit2(stream.get(), level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  return [stream](std::string_view in, std::string* out) -> size_t {
    z_stream* s = stream.get();
    deflateReset(s);
    out->resize(deflateBound(s, in.size()) + 32);
    s->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    s->avail_in = static_cast<uInt>(in.size());
    s->next_out = reinterpret_cast<Bytef*>(out->data());
    s->avail_out = static_cast<uInt>(out->size());
    if (deflate(s, Z_FINISH) != Z_STREAM_END) return 0;
    return s->total_out;
  };
}

CompressFn Libdeflate(int level) {
  std::shared_ptr<libdeflate_compressor> c(libdeflate_alloc_compressor(level),
                                           libdeflate_free_compressor);
  return [c](std::string_view in, std::string* out) -> size_t {
    out->resize(libdeflate_gzip_compress_bound(c.get(), in.size()));
    return libdeflate_gzip_compress(c.get(), in.data(), in.size(), out->data(), out->size());
  };
}

// The buffer ISA-L suggests per level (the extra-large size compresses no better here).
size_t IsalLevelBufSize(int level) {
  switch (level) {
    case 1:
      return ISAL_DEF_LVL1_DEFAULT;
    case 2:
      return ISAL_DEF_LVL2_DEFAULT;
    case 3:
      return ISAL_DEF_LVL3_DEFAULT;
    default:
      return 0;
  }
}

CompressFn Isal(int level) {
  auto level_buf = std::make_shared<std::vector<uint8_t>>(IsalLevelBufSize(level));
  auto stream = std::make_shared<isal_zstream>();
  return [level, level_buf, stream](std::string_view in, std::string* out) -> size_t {
    isal_zstream* s = stream.get();
    isal_deflate_init(s);
    s->level = level;
    s->level_buf = level_buf->empty() ? nullptr : level_buf->data();
    s->level_buf_size = static_cast<uint32_t>(level_buf->size());
    s->gzip_flag = IGZIP_GZIP;
    s->end_of_stream = 1;
    s->flush = NO_FLUSH;
    s->next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(in.data()));
    s->avail_in = static_cast<uint32_t>(in.size());
    out->resize(in.size() + in.size() / 8 + 1024);
    s->next_out = reinterpret_cast<uint8_t*>(out->data());
    s->avail_out = static_cast<uint32_t>(out->size());
    if (isal_deflate(s) != COMP_OK || s->internal_state.state != ZSTATE_END) return 0;
    return s->total_out;
  };
}

CompressFn Zstd(int level) {
  std::shared_ptr<ZSTD_CCtx> ctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_checksumFlag, 1);
  return [ctx](std::string_view in, std::string* out) -> size_t {
    out->resize(ZSTD_compressBound(in.size()));
    size_t n = ZSTD_compress2(ctx.get(), out->data(), out->size(), in.data(), in.size());
    return ZSTD_isError(n) ? 0 : n;
  };
}

CompressFn Lz4(int acceleration) {
  return [acceleration](std::string_view in, std::string* out) -> size_t {
    out->resize(LZ4_compressBound(static_cast<int>(in.size())));
    int n = LZ4_compress_fast(in.data(), out->data(), static_cast<int>(in.size()),
                              static_cast<int>(out->size()), acceleration);
    return n > 0 ? static_cast<size_t>(n) : 0;
  };
}

CompressFn Snappy() {
  return [](std::string_view in, std::string* out) -> size_t {
    out->resize(snappy::MaxCompressedLength(in.size()));
    size_t n = 0;
    snappy::RawCompress(in.data(), in.size(), out->data(), &n);
    return n;
  };
}

void RunCompress(benchmark::State& state, const CompressFn& fn, int payload) {
  const std::string& in = Payload(payload);
  std::string out;
  size_t n = 0;
  for (auto _ : state) {
    n = fn(in, &out);
    benchmark::DoNotOptimize(out.data());
  }
  if (n == 0) {
    state.SkipWithError("compression failed");
    return;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
  state.counters["ratio"] = static_cast<double>(in.size()) / static_cast<double>(n);
  state.counters["in_KiB"] = static_cast<double>(in.size()) / 1024;
  state.counters["out_KiB"] = static_cast<double>(n) / 1024;
}

// The real entry point, as the exporter calls it.
void BM_OtlpdCompress(benchmark::State& state) {
  const Compression c = static_cast<Compression>(state.range(0));
  const std::string& in = Payload(static_cast<int>(state.range(1)));
  size_t n = 0;
  for (auto _ : state) {
    absl::StatusOr<std::string> out = Compress(c, in);
    if (!out.ok()) {
      state.SkipWithError(std::string(out.status().message()).c_str());
      return;
    }
    n = out->size();
    benchmark::DoNotOptimize(out->data());
  }
  state.SetLabel(absl::StrCat(std::string(CompressionName(c)), "/", kPayloadNames[state.range(1)]));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
  state.counters["ratio"] = static_cast<double>(in.size()) / static_cast<double>(n);
  // What an OTLP/HTTP body costs per span on the wire (each payload holds 1,000 spans).
  state.counters["wire_B_per_span"] = static_cast<double>(n) / kSpans;
}
BENCHMARK(BM_OtlpdCompress)
    ->ArgsProduct({{static_cast<int>(Compression::kNone), static_cast<int>(Compression::kGzip),
                    static_cast<int>(Compression::kDeflate), static_cast<int>(Compression::kZstd),
                    static_cast<int>(Compression::kSnappy), static_cast<int>(Compression::kLz4)},
                   {0, 1}});

// --- decompression of the same payload (bytes_per_second is of *uncompressed* output) ---

using DecompressFn = std::function<size_t(std::string_view in, std::string* out)>;

DecompressFn ZlibInflate() {
  auto stream = std::make_shared<z_stream>();
  *stream = z_stream{};
  inflateInit2(stream.get(), 16 + MAX_WBITS);
  return [stream](std::string_view in, std::string* out) -> size_t {
    z_stream* s = stream.get();
    inflateReset(s);
    s->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    s->avail_in = static_cast<uInt>(in.size());
    s->next_out = reinterpret_cast<Bytef*>(out->data());
    s->avail_out = static_cast<uInt>(out->size());
    return inflate(s, Z_FINISH) == Z_STREAM_END ? s->total_out : 0;
  };
}

DecompressFn LibdeflateInflate() {
  std::shared_ptr<libdeflate_decompressor> d(libdeflate_alloc_decompressor(),
                                             libdeflate_free_decompressor);
  return [d](std::string_view in, std::string* out) -> size_t {
    size_t n = 0;
    return libdeflate_gzip_decompress(d.get(), in.data(), in.size(), out->data(), out->size(),
                                      &n) == LIBDEFLATE_SUCCESS
               ? n
               : 0;
  };
}

DecompressFn IsalInflate() {
  auto state = std::make_shared<inflate_state>();
  return [state](std::string_view in, std::string* out) -> size_t {
    inflate_state* s = state.get();
    isal_inflate_init(s);
    s->crc_flag = ISAL_GZIP;
    s->next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(in.data()));
    s->avail_in = static_cast<uint32_t>(in.size());
    s->next_out = reinterpret_cast<uint8_t*>(out->data());
    s->avail_out = static_cast<uint32_t>(out->size());
    return isal_inflate(s) == ISAL_DECOMP_OK && s->block_state == ISAL_BLOCK_FINISH ? s->total_out
                                                                                    : 0;
  };
}

DecompressFn ZstdInflate() {
  std::shared_ptr<ZSTD_DCtx> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  return [ctx](std::string_view in, std::string* out) -> size_t {
    size_t n = ZSTD_decompressDCtx(ctx.get(), out->data(), out->size(), in.data(), in.size());
    return ZSTD_isError(n) ? 0 : n;
  };
}

void RunDecompress(benchmark::State& state, const CompressFn& compress, const DecompressFn& fn,
                   int payload) {
  const std::string& original = Payload(payload);
  std::string compressed;
  compressed.resize(compress(original, &compressed));
  std::string out(original.size(), '\0');
  size_t n = 0;
  for (auto _ : state) {
    n = fn(compressed, &out);
    benchmark::DoNotOptimize(out.data());
  }
  if (n != original.size() || out != original) {
    state.SkipWithError("decompression failed");
    return;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * original.size()));
}

void BM_OtlpdDecompress(benchmark::State& state) {
  const Compression c = static_cast<Compression>(state.range(0));
  const std::string& original = Payload(static_cast<int>(state.range(1)));
  absl::StatusOr<std::string> compressed = Compress(c, original);
  if (!compressed.ok()) {
    state.SkipWithError("compression failed");
    return;
  }
  for (auto _ : state) {
    absl::StatusOr<std::string> out = Decompress(c, *compressed, 64 << 20);
    if (!out.ok() || out->size() != original.size()) {
      state.SkipWithError("decompression failed");
      return;
    }
    benchmark::DoNotOptimize(out->data());
  }
  state.SetLabel(absl::StrCat(std::string(CompressionName(c)), "/", kPayloadNames[state.range(1)]));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * original.size()));
}
BENCHMARK(BM_OtlpdDecompress)
    ->ArgsProduct({{static_cast<int>(Compression::kGzip), static_cast<int>(Compression::kDeflate),
                    static_cast<int>(Compression::kZstd), static_cast<int>(Compression::kSnappy)},
                   {0, 1}});

struct Candidate {
  std::string name;
  std::function<CompressFn()> make;
};

const bool kRegistered = [] {
  std::vector<Candidate> candidates;
  for (int level : {1, 6})
    candidates.push_back({absl::StrCat("zlib/", level), [=] { return Zlib(level); }});
  for (int level : {1, 2, 3, 4, 6}) {
    candidates.push_back({absl::StrCat("libdeflate/", level), [=] { return Libdeflate(level); }});
  }
  for (int level : {0, 1, 2, 3}) {
    candidates.push_back({absl::StrCat("isal/", level), [=] { return Isal(level); }});
  }
  for (int level : {-5, -3, -1, 1, 2, 3}) {
    candidates.push_back({absl::StrCat("zstd/", level), [=] { return Zstd(level); }});
  }
  for (int accel : {1, 4}) {
    candidates.push_back({absl::StrCat("lz4/accel", accel), [=] { return Lz4(accel); }});
  }
  candidates.push_back({"snappy", [] { return Snappy(); }});
  for (int payload : {0, 1}) {
    for (const Candidate& c : candidates) {
      benchmark::RegisterBenchmark(
          absl::StrCat("BM_Compress/", kPayloadNames[payload], "/", c.name).c_str(),
          [c, payload](benchmark::State& state) { RunCompress(state, c.make(), payload); });
    }
  }
  struct Decoder {
    std::string name;
    std::function<CompressFn()> compress;
    std::function<DecompressFn()> make;
  };
  const std::vector<Decoder> decoders = {
      {"gzip/zlib", [] { return Zlib(6); }, ZlibInflate},
      {"gzip/libdeflate", [] { return Zlib(6); }, LibdeflateInflate},
      {"gzip/isal", [] { return Zlib(6); }, IsalInflate},
      {"zstd", [] { return Zstd(1); }, ZstdInflate},
  };
  for (int payload : {0, 1}) {
    for (const Decoder& d : decoders) {
      benchmark::RegisterBenchmark(
          absl::StrCat("BM_Decompress/", kPayloadNames[payload], "/", d.name).c_str(),
          [d, payload](benchmark::State& state) {
            RunDecompress(state, d.compress(), d.make(), payload);
          });
    }
  }
  return true;
}();

}  // namespace
}  // namespace otlpd
