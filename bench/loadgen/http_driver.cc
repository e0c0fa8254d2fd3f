// OTLP/HTTP driver: keep-alive HTTP/1.1 connections, each with one request in flight,
// driven by one Asio event loop per thread. Whole requests (head + body) are built once,
// so sending one is a single write of prepared bytes.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "driver.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "workload.h"

namespace otlpd::loadgen {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kReconnectDelay = std::chrono::milliseconds(100);

// Reads partialSuccess.rejectedSpans from an OTLP/JSON response body, 0 if absent.
int64_t RejectedSpansFromJson(std::string_view body) {
  const size_t key = body.find("\"rejectedSpans\"");
  if (key == std::string_view::npos) return 0;
  size_t pos = body.find(':', key);
  if (pos == std::string_view::npos) return 0;
  ++pos;
  while (pos < body.size() && (body[pos] == ' ' || body[pos] == '"')) ++pos;
  size_t end = pos;
  while (end < body.size() && body[end] >= '0' && body[end] <= '9') ++end;
  int64_t rejected = 0;
  const std::string_view digits = body.substr(pos, end - pos);
  return absl::SimpleAtoi(absl::string_view(digits.data(), digits.size()), &rejected) ? rejected
                                                                                      : 0;
}

class HttpConnection {
 public:
  HttpConnection(asio::io_context& io, const DriverOptions& options,
                 const std::vector<std::string>& requests, const tcp::endpoint& endpoint,
                 Pacer& pacer, RunStats& stats, size_t first_request,
                 std::function<void()> on_finished)
      : options_(options),
        requests_(requests),
        endpoint_(endpoint),
        pacer_(pacer),
        stats_(stats),
        stream_(io),
        timer_(io),
        next_request_(first_request),
        on_finished_(std::move(on_finished)) {}

  void Start() { Connect(); }

  // Abandons whatever is outstanding (the hard deadline passed).
  void Abort() {
    stopped_ = true;
    timer_.cancel();
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

 private:
  bool Sending() const { return !stopped_ && Clock::now() < options_.stop_sending; }

  // Every path that ends the connection's work comes through here exactly once.
  void Finish() {
    Close();
    if (finished_) return;
    finished_ = true;
    on_finished_();
  }

  void Connect() {
    if (!Sending()) return Finish();
    stream_.expires_after(options_.request_timeout);
    stream_.async_connect(endpoint_, [this](beast::error_code ec) {
      if (ec) {
        stats_.RecordError(options_.window, Clock::now(), absl::StrCat("connect:", ec.message()));
        Close();
        RetryLater();
        return;
      }
      stream_.socket().set_option(tcp::no_delay(true));
      ScheduleNext();
    });
  }

  void RetryLater() {
    if (!Sending()) return Finish();
    timer_.expires_after(kReconnectDelay);
    timer_.async_wait([this](beast::error_code ec) {
      if (ec) return Finish();
      Connect();
    });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    buffer_.clear();
  }

  void ScheduleNext() {
    if (!Sending()) return Finish();
    if (pacer_.paced()) {
      const Clock::time_point now = Clock::now();
      const Clock::time_point slot = pacer_.NextSlot(now);
      if (slot > now) {
        timer_.expires_at(slot);
        timer_.async_wait([this](beast::error_code ec) {
          if (ec || !Sending()) return Finish();
          Send();
        });
        return;
      }
    }
    Send();
  }

  void Send() {
    const std::string& request = requests_[next_request_++ % requests_.size()];
    sent_ = Clock::now();
    stream_.expires_after(options_.request_timeout);
    asio::async_write(stream_, asio::buffer(request), [this](beast::error_code ec, size_t) {
      if (ec) return Fail(absl::StrCat("http:write:", ec.message()));
      ReadResponse();
    });
  }

  void ReadResponse() {
    parser_.emplace();
    parser_->body_limit(16 << 20);
    http::async_read(stream_, buffer_, *parser_, [this](beast::error_code ec, size_t) {
      if (ec) return Fail(absl::StrCat("http:read:", ec.message()));
      const Clock::time_point done = Clock::now();
      const auto& response = parser_->get();
      const int code = response.result_int();
      if (code == 200) {
        int64_t rejected = 0;
        if (options_.json) {
          rejected = RejectedSpansFromJson(response.body());
        } else {
          opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse message;
          if (message.ParseFromString(response.body())) {
            rejected = message.partial_success().rejected_spans();
          }
        }
        stats_.RecordOk(options_.window, sent_, done, options_.spans_per_request, rejected);
      } else {
        stats_.RecordError(options_.window, done, absl::StrCat("http:", code));
      }
      if (!response.keep_alive()) {
        Close();
        Connect();
        return;
      }
      ScheduleNext();
    });
  }

  void Fail(const std::string& status) {
    if (stopped_) return Finish();
    stats_.RecordError(options_.window, Clock::now(), status);
    Close();
    RetryLater();
  }

  const DriverOptions& options_;
  const std::vector<std::string>& requests_;
  const tcp::endpoint endpoint_;
  Pacer& pacer_;
  RunStats& stats_;
  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  size_t next_request_;
  Clock::time_point sent_;
  std::function<void()> on_finished_;
  bool stopped_ = false;
  bool finished_ = false;
};

// Builds the complete HTTP/1.1 request for each body.
std::vector<std::string> BuildRequests(const DriverOptions& options,
                                       const std::vector<std::string>& bodies) {
  std::vector<std::string> requests;
  requests.reserve(bodies.size());
  for (const std::string& raw_body : bodies) {
    std::string body = raw_body;
    if (options.gzip) {
      auto compressed = GzipCompress(raw_body);
      if (!compressed.ok()) {
        std::fprintf(stderr, "gzip failed: %s\n", compressed.status().ToString().c_str());
        std::exit(2);
      }
      body = *std::move(compressed);
    }
    std::string request =
        absl::StrCat("POST ", options.path, " HTTP/1.1\r\nHost: ", options.host, ":", options.port,
                     "\r\nUser-Agent: otlpd-loadgen\r\nContent-Type: ",
                     options.json ? "application/json" : "application/x-protobuf",
                     "\r\nContent-Length: ", body.size(), "\r\n",
                     options.gzip ? "Content-Encoding: gzip\r\n" : "", "\r\n");
    request.append(body);
    requests.push_back(std::move(request));
  }
  return requests;
}

int ShareOf(int total, int parts, int index) {
  return total / parts + (index < total % parts ? 1 : 0);
}

}  // namespace

RunStats RunHttp(const DriverOptions& options, const std::vector<std::string>& bodies,
                 Pacer& pacer) {
  const std::vector<std::string> requests = BuildRequests(options, bodies);
  tcp::endpoint endpoint;
  {
    asio::io_context io;
    tcp::resolver resolver(io);
    beast::error_code ec;
    const auto results = resolver.resolve(options.host, std::to_string(options.port), ec);
    if (ec || results.empty()) {
      std::fprintf(stderr, "cannot resolve %s: %s\n", options.host.c_str(), ec.message().c_str());
      RunStats failed;
      failed.errors["resolve:" + ec.message()] = 1;
      failed.error_requests = 1;
      return failed;
    }
    endpoint = results.begin()->endpoint();
  }

  const int threads = std::max(1, std::min(options.threads, options.concurrency));
  std::vector<RunStats> results(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      asio::io_context io;
      std::vector<std::unique_ptr<HttpConnection>> connections;
      const int count = ShareOf(options.concurrency, threads, t);
      int active = count;
      asio::steady_timer deadline(io);
      for (int c = 0; c < count; ++c) {
        connections.push_back(
            std::make_unique<HttpConnection>(io, options, requests, endpoint, pacer, results[t],
                                             static_cast<size_t>(t * 131 + c), [&] {
                                               // The deadline timer is the only other work; once
                                               // every connection has finished, cancelling it lets
                                               // io.run() return.
                                               if (--active == 0) deadline.cancel();
                                             }));
      }
      deadline.expires_at(options.hard_deadline);
      deadline.async_wait([&](beast::error_code ec) {
        if (ec) return;
        for (auto& connection : connections) connection->Abort();
      });
      for (auto& connection : connections) connection->Start();
      io.run();
    });
  }
  for (std::thread& worker : workers) worker.join();
  RunStats total;
  for (const RunStats& result : results) total.Merge(result);
  return total;
}

}  // namespace otlpd::loadgen
