#include "workload.h"

#include <zlib.h>

#include <chrono>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace otlpd::loadgen {
namespace {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::trace::v1::Span;

constexpr std::string_view kAlphabet =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

std::string RandomText(std::mt19937_64& rng, int length) {
  std::string text(length, ' ');
  for (char& c : text) c = kAlphabet[rng() % kAlphabet.size()];
  return text;
}

std::string RandomBytes(std::mt19937_64& rng, int length) {
  std::string bytes(length, '\0');
  for (char& b : bytes) b = static_cast<char>(rng() & 0xff);
  return bytes;
}

// Attribute keys look like real semantic-convention keys padded to the fixed length,
// and repeat from span to span as they do in real traffic.
std::string AttributeKey(int index, int length) {
  static constexpr std::string_view kStems[] = {
      "http.request.method",  "http.response.status",  "url.path.template", "server.address",
      "user_agent.original",  "db.system.name",        "messaging.system",  "rpc.service.name",
      "network.peer.address", "deployment.environment"};
  std::string key(kStems[index % std::size(kStems)]);
  if (index >= static_cast<int>(std::size(kStems))) absl::StrAppend(&key, ".", index);
  key.resize(length, '_');
  return key;
}

void SetString(KeyValue* attribute, std::string key, std::string value) {
  attribute->set_key(std::move(key));
  attribute->mutable_value()->set_string_value(std::move(value));
}

void AppendJsonString(std::string* out, std::string_view text) {
  out->push_back('"');
  for (char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out->append("\\u00");
          out->push_back(kHex[(c >> 4) & 0xf]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void AppendJsonAttributes(std::string* out,
                          const google::protobuf::RepeatedPtrField<KeyValue>& attributes) {
  out->append("\"attributes\":[");
  bool first = true;
  for (const KeyValue& attribute : attributes) {
    if (!first) out->push_back(',');
    first = false;
    out->append("{\"key\":");
    AppendJsonString(out, attribute.key());
    out->append(",\"value\":{\"stringValue\":");
    AppendJsonString(out, attribute.value().string_value());
    out->append("}}");
  }
  out->push_back(']');
}

}  // namespace

TraceRequest BuildTraceRequest(const WorkloadOptions& options, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> keys;
  for (int i = 0; i < options.attributes_per_span; ++i) {
    keys.push_back(AttributeKey(i, options.attribute_key_length));
  }
  const uint64_t now_ns =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());

  TraceRequest request;
  auto* resource_spans = request.add_resource_spans();
  SetString(resource_spans->mutable_resource()->add_attributes(), "service.name",
            options.service_name);
  auto* scope_spans = resource_spans->add_scope_spans();
  scope_spans->mutable_scope()->set_name("otlpd.loadgen");
  scope_spans->mutable_scope()->set_version("1.0.0");

  const int spans_per_trace = std::max(1, options.spans_per_trace);
  std::string trace_id;
  std::string root_span_id;
  for (int i = 0; i < options.spans_per_request; ++i) {
    Span* span = scope_spans->add_spans();
    if (i % spans_per_trace == 0) {
      trace_id = RandomBytes(rng, 16);
      root_span_id.clear();
    }
    span->set_trace_id(trace_id);
    span->set_span_id(RandomBytes(rng, 8));
    if (!root_span_id.empty()) span->set_parent_span_id(root_span_id);
    if (i % spans_per_trace == 0) root_span_id = span->span_id();
    span->set_name(absl::StrCat("GET /api/v1/items/", i % 10));
    span->set_kind(Span::SPAN_KIND_SERVER);
    const uint64_t start_ns = now_ns - 1'000'000'000ULL + rng() % 1'000'000ULL;
    span->set_start_time_unix_nano(start_ns);
    span->set_end_time_unix_nano(start_ns + 1'000'000ULL + rng() % 10'000'000ULL);
    for (int a = 0; a < options.attributes_per_span; ++a) {
      SetString(span->add_attributes(), keys[a], RandomText(rng, options.attribute_value_length));
    }
    auto* event = span->add_events();
    event->set_time_unix_nano(start_ns + 500'000ULL);
    event->set_name("request.received");
  }
  return request;
}

std::string EncodeOtlpJson(const TraceRequest& request) {
  std::string out;
  out.reserve(request.ByteSizeLong() * 2);
  out.append("{\"resourceSpans\":[");
  bool first_resource = true;
  for (const auto& resource_spans : request.resource_spans()) {
    if (!first_resource) out.push_back(',');
    first_resource = false;
    out.append("{\"resource\":{");
    AppendJsonAttributes(&out, resource_spans.resource().attributes());
    out.append("},\"scopeSpans\":[");
    bool first_scope = true;
    for (const auto& scope_spans : resource_spans.scope_spans()) {
      if (!first_scope) out.push_back(',');
      first_scope = false;
      out.append("{\"scope\":{\"name\":");
      AppendJsonString(&out, scope_spans.scope().name());
      out.append(",\"version\":");
      AppendJsonString(&out, scope_spans.scope().version());
      out.append("},\"spans\":[");
      bool first_span = true;
      for (const Span& span : scope_spans.spans()) {
        if (!first_span) out.push_back(',');
        first_span = false;
        absl::StrAppend(&out, "{\"traceId\":\"", absl::BytesToHexString(span.trace_id()),
                        "\",\"spanId\":\"", absl::BytesToHexString(span.span_id()), "\"");
        if (!span.parent_span_id().empty()) {
          absl::StrAppend(&out, ",\"parentSpanId\":\"",
                          absl::BytesToHexString(span.parent_span_id()), "\"");
        }
        out.append(",\"name\":");
        AppendJsonString(&out, span.name());
        absl::StrAppend(&out, ",\"kind\":", static_cast<int>(span.kind()),
                        ",\"startTimeUnixNano\":\"", span.start_time_unix_nano(),
                        "\",\"endTimeUnixNano\":\"", span.end_time_unix_nano(), "\",");
        AppendJsonAttributes(&out, span.attributes());
        out.append(",\"events\":[");
        bool first_event = true;
        for (const auto& event : span.events()) {
          if (!first_event) out.push_back(',');
          first_event = false;
          absl::StrAppend(&out, "{\"timeUnixNano\":\"", event.time_unix_nano(), "\",\"name\":");
          AppendJsonString(&out, event.name());
          out.push_back('}');
        }
        out.append("]}");
      }
      out.append("]}");
    }
    out.append("]}");
  }
  out.append("]}");
  return out;
}

absl::StatusOr<std::string> GzipCompress(std::string_view data) {
  z_stream stream{};
  // windowBits 15 + 16 selects the gzip wrapper.
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return absl::InternalError("deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, data.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FINISH);
  deflateEnd(&stream);
  if (result != Z_STREAM_END) return absl::InternalError("deflate did not finish");
  out.resize(stream.total_out);
  return out;
}

}  // namespace otlpd::loadgen
