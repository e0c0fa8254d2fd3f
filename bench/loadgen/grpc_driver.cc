// OTLP/gRPC driver: per thread one completion queue keeping its share of the concurrency
// in flight through GenericStub, sending pre-serialized bytes so that no protobuf
// serialization sits on the hot path.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "driver.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace otlpd::loadgen {
namespace {

constexpr char kExportMethod[] = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

std::string GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return absl::StrCat("CODE_", static_cast<int>(code));
  }
}

// One in-flight call. A slot is reused call after call; ClientContext cannot be, so it is
// recreated per call.
struct CallSlot {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  grpc::ByteBuffer response;
  grpc::Status status;
  Clock::time_point sent;
  bool busy = false;
};

class GrpcWorker {
 public:
  GrpcWorker(const DriverOptions& options, const std::vector<grpc::Slice>& bodies, Pacer& pacer,
             int thread_index, int concurrency, int channels)
      : options_(options),
        bodies_(bodies),
        pacer_(pacer),
        next_body_(thread_index),
        slots_(concurrency) {
    for (int i = 0; i < channels; ++i) {
      grpc::ChannelArguments args;
      // A private subchannel pool plus a distinct argument gives every channel its own
      // TCP connection instead of all sharing one.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt("otlpd.loadgen.channel", thread_index * 1000 + i);
      args.SetMaxReceiveMessageSize(64 << 20);
      auto channel = grpc::CreateCustomChannel(absl::StrCat(options.host, ":", options.port),
                                               grpc::InsecureChannelCredentials(), args);
      stubs_.push_back(std::make_unique<grpc::GenericStub>(channel));
    }
    for (size_t i = 0; i < slots_.size(); ++i) free_slots_.push_back(&slots_[i]);
  }

  RunStats Run() {
    // A claimed pacer slot not yet used (a plain pair: gcc 12 misreports optional here).
    bool has_slot = false;
    Clock::time_point slot_time;
    while (true) {
      Clock::time_point now = Clock::now();
      bool sending = now < options_.stop_sending;
      while (sending && !free_slots_.empty()) {
        if (pacer_.paced()) {
          if (!has_slot) {
            slot_time = pacer_.NextSlot(now);
            has_slot = true;
          }
          if (slot_time > now) break;
          has_slot = false;
        }
        StartCall();
        now = Clock::now();
        sending = now < options_.stop_sending;
      }
      const int in_flight = static_cast<int>(slots_.size() - free_slots_.size());
      if (!sending && in_flight == 0) break;
      if (now >= options_.hard_deadline) break;

      Clock::time_point wake = options_.hard_deadline;
      if (sending) {
        wake = std::min(wake, options_.stop_sending);
        if (has_slot && !free_slots_.empty()) wake = std::min(wake, slot_time);
      }
      void* tag = nullptr;
      bool ok = false;
      const int64_t wait_ns = std::max<int64_t>(
          0, std::chrono::duration_cast<std::chrono::nanoseconds>(wake - now).count());
      const gpr_timespec wake_at =
          gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_nanos(wait_ns, GPR_TIMESPAN));
      const auto result = queue_.AsyncNext(&tag, &ok, wake_at);
      if (result == grpc::CompletionQueue::SHUTDOWN) break;
      if (result == grpc::CompletionQueue::GOT_EVENT) Complete(static_cast<CallSlot*>(tag), ok);
    }
    // Abandon what is left (only past the hard deadline) and drain the queue so every
    // slot's tag has come back before the slots are destroyed.
    for (CallSlot& slot : slots_) {
      if (slot.busy) slot.context->TryCancel();
    }
    queue_.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (queue_.Next(&tag, &ok)) Complete(static_cast<CallSlot*>(tag), ok);
    return std::move(stats_);
  }

 private:
  void StartCall() {
    CallSlot* slot = free_slots_.back();
    free_slots_.pop_back();
    slot->busy = true;
    slot->context = std::make_unique<grpc::ClientContext>();
    // gRPC deadlines take the system clock.
    slot->context->set_deadline(std::chrono::system_clock::now() + options_.request_timeout);
    if (options_.gzip) slot->context->set_compression_algorithm(GRPC_COMPRESS_GZIP);
    slot->response.Clear();
    const grpc::ByteBuffer request(&bodies_[next_body_ % bodies_.size()], 1);
    ++next_body_;
    grpc::GenericStub& stub = *stubs_[next_stub_++ % stubs_.size()];
    slot->sent = Clock::now();
    slot->reader = stub.PrepareUnaryCall(slot->context.get(), kExportMethod, request, &queue_);
    slot->reader->StartCall();
    slot->reader->Finish(&slot->response, &slot->status, slot);
  }

  void Complete(CallSlot* slot, bool ok) {
    const Clock::time_point done = Clock::now();
    if (!ok) {
      stats_.RecordError(options_.window, done, "grpc:QUEUE_FAILURE");
    } else if (slot->status.ok()) {
      opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse response;
      int64_t rejected = 0;
      if (grpc::SerializationTraits<decltype(response)>::Deserialize(&slot->response, &response)
              .ok()) {
        rejected = response.partial_success().rejected_spans();
      }
      stats_.RecordOk(options_.window, slot->sent, done, options_.spans_per_request, rejected);
    } else {
      stats_.RecordError(options_.window, done,
                         absl::StrCat("grpc:", GrpcCodeName(slot->status.error_code())));
    }
    slot->reader.reset();
    slot->context.reset();
    slot->busy = false;
    free_slots_.push_back(slot);
  }

  const DriverOptions& options_;
  const std::vector<grpc::Slice>& bodies_;
  Pacer& pacer_;
  size_t next_body_;
  size_t next_stub_ = 0;
  grpc::CompletionQueue queue_;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs_;
  std::vector<CallSlot> slots_;
  std::vector<CallSlot*> free_slots_;
  RunStats stats_;
};

// Splits `total` over `parts` as evenly as possible; part `index` gets the result.
int ShareOf(int total, int parts, int index) {
  return total / parts + (index < total % parts ? 1 : 0);
}

}  // namespace

RunStats RunGrpc(const DriverOptions& options, const std::vector<std::string>& bodies,
                 Pacer& pacer) {
  // Static slices borrow the bodies (which outlive the run): no copy per request.
  std::vector<grpc::Slice> slices;
  slices.reserve(bodies.size());
  for (const std::string& body : bodies) {
    slices.emplace_back(body.data(), body.size(), grpc::Slice::STATIC_SLICE);
  }
  const int threads = std::max(1, std::min(options.threads, options.concurrency));
  std::vector<RunStats> results(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      GrpcWorker worker(options, slices, pacer, t, ShareOf(options.concurrency, threads, t),
                        std::max(1, ShareOf(options.channels, threads, t)));
      results[t] = worker.Run();
    });
  }
  for (std::thread& worker : workers) worker.join();
  RunStats total;
  for (const RunStats& result : results) total.Merge(result);
  return total;
}

}  // namespace otlpd::loadgen
