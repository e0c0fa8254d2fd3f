#include "core/http_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace otlpd {

const std::string* HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr size_t kHeaderLimit = 64 * 1024;
// How long a connection we are closing after an error keeps being drained, so that the
// client reads our response instead of a reset.
constexpr auto kLingerTime = std::chrono::seconds(2);

class Session;

// Everything sessions need. Sessions hold it by shared_ptr: a session kept alive by a
// pending respond may outlive the HttpServer, and must never outlive the io_context.
struct ServerState {
  explicit ServerState(int threads) : ioc(threads), acceptor(ioc) {}

  asio::io_context ioc;
  tcp::acceptor acceptor;
  HttpHandler handler;
  size_t max_body_bytes = 0;
  std::chrono::steady_clock::duration idle_timeout;

  std::mutex mu;
  // Once set, nothing is posted to the io_context any more (Stop drains it).
  bool stopped = false;                                            // guarded by mu
  absl::flat_hash_map<Session*, std::weak_ptr<Session>> sessions;  // guarded by mu
};

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<ServerState> state, tcp::socket socket)
      : state_(std::move(state)), stream_(std::move(socket)) {}

  ~Session() {
    std::lock_guard lock(state_->mu);
    state_->sessions.erase(this);
  }

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  // Any thread.
  void Respond(HttpResponse response) {
    std::lock_guard lock(state_->mu);
    if (state_->stopped) return;
    asio::post(stream_.get_executor(),
               [self = shared_from_this(), response = std::move(response)]() mutable {
                 self->Write(std::move(response));
               });
  }

  // Only while no io thread runs (HttpServerImpl::Stop).
  void CloseNow() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

 private:
  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(state_->max_body_bytes);
    stream_.expires_after(state_->idle_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    boost::optional<uint64_t> length = parser_->content_length();
    if (length && *length > state_->max_body_bytes) {
      return SendErrorAndClose(http::status::payload_too_large);
    }
    if (parser_->is_done()) return Dispatch();
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      stream_.expires_after(state_->idle_timeout);
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(state_->idle_timeout);
    boost::optional<uint64_t> length = parser_->content_length();
    if (length && !parser_->chunked()) return ReadSizedBody(static_cast<size_t>(*length));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->OnReadError(ec);
                       self->Dispatch();
                     });
  }

  // A body of known length goes from the socket straight into the request's string, in
  // large reads (the parser would copy it through buffer_ in small ones).
  void ReadSizedBody(size_t length) {
    sized_body_ = true;
    body_.resize(length);
    const size_t buffered = std::min(buffer_.size(), length);
    asio::buffer_copy(asio::buffer(body_.data(), buffered), buffer_.data());
    buffer_.consume(buffered);
    if (buffered == length) return Dispatch();
    asio::async_read(stream_, asio::buffer(body_.data() + buffered, length - buffered),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->OnReadError(ec);
                       self->Dispatch();
                     });
  }

  void OnReadError(const beast::error_code& ec) {
    if (ec == http::error::body_limit) return SendErrorAndClose(http::status::payload_too_large);
    if (ec == http::error::header_limit) {
      return SendErrorAndClose(http::status::request_header_fields_too_large);
    }
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        !IsHttpParseError(ec)) {
      return Close();  // the peer went away, timed out, or we are stopping
    }
    SendErrorAndClose(http::status::bad_request);
  }

  void Dispatch() {
    auto& req = parser_->get();
    HttpRequest request;
    request.method = std::string(req.method_string());
    beast::string_view target = req.target();
    target = target.substr(0, target.find('?'));
    request.path.assign(target.data(), target.size());
    request.headers.reserve(8);
    for (const auto& field : req) {
      auto name = field.name_string();
      std::string lower(name.data(), name.size());
      for (char& c : lower) c = absl::ascii_tolower(static_cast<unsigned char>(c));
      request.headers.emplace_back(std::move(lower), std::string(field.value()));
    }
    if (sized_body_) {
      request.body = std::move(body_);
      body_.clear();
      sized_body_ = false;
    } else {
      request.body = std::move(req.body());
    }
    keep_alive_ = req.keep_alive();
    parser_.reset();
    stream_.expires_never();  // the handler's time is not idle time
    state_->handler(std::move(request), [self = shared_from_this()](HttpResponse response) {
      self->Respond(std::move(response));
    });
  }

  void Write(HttpResponse response) {
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(response.status));
    for (auto& [name, value] : response.headers) response_.set(name, value);
    response_.keep_alive(keep_alive_);
    response_.body() = std::move(response.body);
    response_.prepare_payload();
    stream_.expires_after(state_->idle_timeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        if (!self->keep_alive_) return self->LingerClose();
                        self->ReadHeader();
                      });
  }

  // Answers a request we could not (or would not) read, then closes the connection.
  void SendErrorAndClose(http::status status) {
    keep_alive_ = false;
    HttpResponse response;
    response.status = static_cast<int>(status);
    response.headers.emplace_back("Content-Type", "text/plain");
    response.body = std::string(http::obsolete_reason(status));
    response.body += "\n";
    Write(std::move(response));
  }

  // Half-closes and reads whatever the client still sends for a bounded time: closing a
  // socket with unread input sends a reset, which can destroy our response in flight.
  void LingerClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    stream_.expires_after(kLingerTime);
    Drain();
  }

  void Drain() {
    stream_.async_read_some(asio::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->Close();
                              self->Drain();
                            });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  std::shared_ptr<ServerState> state_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string body_;  // see ReadSizedBody
  bool sized_body_ = false;
  http::response<http::string_body> response_;
  bool keep_alive_ = true;
  std::array<char, 4096> drain_;
};

class HttpServerImpl final : public HttpServer {
 public:
  HttpServerImpl(std::shared_ptr<ServerState> state, int port)
      : state_(std::move(state)), port_(port), work_(asio::make_work_guard(state_->ioc)) {}

  ~HttpServerImpl() override { Stop(); }

  void Run(int threads) {
    Accept();
    threads_.reserve(threads);
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([state = state_.get()] {
        try {
          state->ioc.run();
        } catch (const std::exception& e) {
          spdlog::error("http server thread stopped: {}", e.what());
        }
      });
    }
  }

  int port() const override { return port_; }

  void Stop() override {
    std::vector<std::shared_ptr<Session>> sessions;
    {
      std::lock_guard lock(state_->mu);
      if (state_->stopped) return;
      state_->stopped = true;
      sessions.reserve(state_->sessions.size());
      for (auto& [raw, weak] : state_->sessions) {
        if (auto s = weak.lock()) sessions.push_back(std::move(s));
      }
    }
    work_.reset();
    state_->ioc.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    // No io thread runs now: close everything, then let the aborted operations finish
    // here so that no handler (and no session it holds) stays queued.
    beast::error_code ec;
    state_->acceptor.close(ec);
    for (auto& s : sessions) s->CloseNow();
    state_->ioc.restart();
    state_->ioc.run_for(std::chrono::seconds(5));
  }

 private:
  void Accept() {
    state_->acceptor.async_accept(asio::make_strand(state_->ioc),
                                  [this](beast::error_code ec, tcp::socket socket) {
                                    if (ec == asio::error::operation_aborted) return;
                                    if (!ec) OnAccept(std::move(socket));
                                    {
                                      std::lock_guard lock(state_->mu);
                                      if (state_->stopped) return;
                                    }
                                    Accept();
                                  });
  }

  void OnAccept(tcp::socket socket) {
    beast::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    auto session = std::make_shared<Session>(state_, std::move(socket));
    {
      std::lock_guard lock(state_->mu);
      if (state_->stopped) return;
      state_->sessions.emplace(session.get(), session);
    }
    session->Start();
  }

  std::shared_ptr<ServerState> state_;
  int port_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
};

// "host:port", "[v6]:port", ":port" (all interfaces).
bool SplitEndpoint(std::string_view endpoint, std::string* host, std::string* port) {
  size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view h = endpoint.substr(0, colon);
  std::string_view p = endpoint.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  int port_number = 0;
  if (!absl::SimpleAtoi(absl::string_view(p.data(), p.size()), &port_number) || port_number < 0 ||
      port_number > 65535)
    return false;
  *host = h.empty() ? "0.0.0.0" : std::string(h);
  *port = std::string(p);
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                              HttpHandler handler) {
  std::string host, port;
  if (!SplitEndpoint(options.endpoint, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid endpoint \"", options.endpoint, "\": want host:port"));
  }
  int threads = std::max(1, options.threads);
  auto state = std::make_shared<ServerState>(threads);
  state->handler = std::move(handler);
  state->max_body_bytes = options.max_body_bytes;
  state->idle_timeout = absl::ToChronoNanoseconds(options.idle_timeout);

  beast::error_code ec;
  tcp::resolver resolver(state->ioc);
  auto results = resolver.resolve(host, port, tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return absl::UnavailableError(absl::StrCat("cannot resolve \"", options.endpoint,
                                               "\": ", ec ? ec.message() : "no address"));
  }
  tcp::endpoint endpoint = results.begin()->endpoint();
  auto& acceptor = state->acceptor;
  auto fail = [&](absl::string_view what) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.endpoint, ": ", what, ": ", ec.message()));
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail("open");
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("setsockopt");
  acceptor.bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  int bound_port = acceptor.local_endpoint(ec).port();
  if (ec) return fail("getsockname");

  auto server = std::make_unique<HttpServerImpl>(std::move(state), bound_port);
  server->Run(threads);
  return server;
}

}  // namespace otlpd
