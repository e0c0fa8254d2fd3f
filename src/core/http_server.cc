#include "core/http_server.h"

#include <linux/filter.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace otlpd {

const std::string* HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

const std::string* HttpRequest::Param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return &value;
  }
  return nullptr;
}

size_t HttpRequest::ParamCount(std::string_view name) const {
  return static_cast<size_t>(std::count_if(params.begin(), params.end(),
                                           [name](const auto& p) { return p.first == name; }));
}

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Form decoding: '+' is a space, %XX a byte; a malformed escape stays as it is.
std::string QueryUnescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ParseQueryString(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) continue;
    const size_t eq = piece.find('=');
    if (eq == std::string_view::npos) {
      params.emplace_back(QueryUnescape(piece), std::string());
    } else {
      params.emplace_back(QueryUnescape(piece.substr(0, eq)), QueryUnescape(piece.substr(eq + 1)));
    }
  }
  return params;
}

namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr size_t kHeaderLimit = 64 * 1024;
// How long a connection we are closing after an error keeps being drained, so that the
// client reads our response instead of a reset.
constexpr auto kLingerTime = std::chrono::seconds(2);
// At a graceful stop, a connection that has not sent its first request yet is waited for
// (its request may be on the way) unless it is older than this (as Go's http.Server).
constexpr auto kFreshConnectionGrace = std::chrono::seconds(5);

// Whether a TCP handshake to local port `port` is under way: a connection in SYN_RECV in
// /proc/net/tcp or tcp6 (the kernel has answered its SYN; once the client's ACK is processed
// it lands in the listen backlog). False when those files cannot be read.
bool HandshakeUnderWay(int port) {
  // Each line: "sl local_address rem_address st ...", the address "<hex ip>:<hex port>".
  const std::string port_hex =
      absl::StrCat(":", absl::AsciiStrToUpper(absl::StrCat(absl::Hex(port, absl::kZeroPad4))));
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      const std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (fields.size() > 3 && fields[3] == "03" && absl::EndsWith(fields[1], port_hex)) {
        return true;
      }
    }
  }
  return false;
}

// --- TLS contexts ------------------------------------------------------------------

// Offers only HTTP/1.1 (otelcol also offers h2, which this server does not speak); a
// client that offers neither goes on without ALPN.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof(kHttp11), in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

absl::Status SslError(absl::string_view what, const beast::error_code& ec) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", ec.message()));
}

absl::StatusOr<std::shared_ptr<ssl::context>> BuildSslContext(const TlsServerSettings& s,
                                                              const TlsServerPem& pem) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  beast::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::single_dh_use,
                   ec);
  if (ec) return SslError("TLS options", ec);
  const int min = TlsVersionNumber(s.min_version.empty() ? "1.2" : s.min_version);
  const int max = TlsVersionNumber(s.max_version);
  if (min < 0 || max < 0) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported TLS version range \"",
                                                   s.min_version, "\"..\"", s.max_version, "\""));
  }
  if (SSL_CTX_set_min_proto_version(native, min) != 1 ||
      SSL_CTX_set_max_proto_version(native, max) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("OpenSSL refused the TLS version range \"",
                                                   s.min_version, "\"..\"", s.max_version, "\""));
  }
  ctx->use_certificate_chain(asio::buffer(pem.cert_chain), ec);
  if (ec) return SslError(absl::StrCat("tls::cert_file ", s.cert_file), ec);
  ctx->use_private_key(asio::buffer(pem.key), ssl::context::pem, ec);
  if (ec) return SslError(absl::StrCat("tls::key_file ", s.key_file), ec);
  if (!pem.client_ca.empty()) {
    ctx->add_certificate_authority(asio::buffer(pem.client_ca), ec);
    if (ec) return SslError(absl::StrCat("tls::client_ca_file ", s.client_ca_file), ec);
    // The CA names go into the CertificateRequest, so clients pick a fitting certificate.
    BIO* bio = BIO_new_mem_buf(pem.client_ca.data(), static_cast<int>(pem.client_ca.size()));
    while (X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      SSL_CTX_add_client_CA(native, ca);
      X509_free(ca);
    }
    BIO_free(bio);
    ERR_clear_error();
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  } else {
    ctx->set_verify_mode(ssl::verify_none, ec);
  }
  if (ec) return SslError("TLS verify mode", ec);
  SSL_CTX_set_alpn_select_cb(native, SelectAlpn, nullptr);
  return ctx;
}

// The context new connections use, and its reload.
class TlsContexts {
 public:
  static absl::StatusOr<std::unique_ptr<TlsContexts>> Create(const TlsServerSettings& settings) {
    absl::StatusOr<TlsServerPem> pem = LoadTlsServerPem(settings);
    if (!pem.ok()) return pem.status();
    absl::StatusOr<std::shared_ptr<ssl::context>> ctx = BuildSslContext(settings, *pem);
    if (!ctx.ok()) return ctx.status();
    auto out = std::unique_ptr<TlsContexts>(new TlsContexts(settings));
    out->pem_ = *std::move(pem);
    out->current_ = *std::move(ctx);
    return out;
  }

  std::shared_ptr<ssl::context> Current() {
    std::lock_guard lock(mu_);
    return current_;
  }

  // Re-reads the files; a changed set becomes the context of new connections. Failures
  // keep the current context (warned once per distinct error).
  void Reload() {
    absl::StatusOr<TlsServerPem> pem = LoadTlsServerPem(settings_);
    if (!pem.ok()) return Warn(pem.status());
    if (pem->cert_chain == pem_.cert_chain && pem->key == pem_.key &&
        pem->client_ca == pem_.client_ca) {
      last_error_.clear();
      return;
    }
    absl::StatusOr<std::shared_ptr<ssl::context>> ctx = BuildSslContext(settings_, *pem);
    if (!ctx.ok()) return Warn(ctx.status());
    {
      std::lock_guard lock(mu_);
      current_ = *std::move(ctx);
    }
    pem_ = *std::move(pem);
    last_error_.clear();
    spdlog::info("http server: reloaded the TLS certificate from {}", settings_.cert_file);
  }

  absl::Duration reload_interval() const { return settings_.reload_interval; }

 private:
  explicit TlsContexts(const TlsServerSettings& settings) : settings_(settings) {}

  void Warn(const absl::Status& status) {
    if (status.ToString() == last_error_) return;
    last_error_ = status.ToString();
    spdlog::warn("http server: TLS reload failed, keeping the current certificate: {}",
                 std::string(status.message()));
  }

  const TlsServerSettings settings_;
  std::mutex mu_;
  std::shared_ptr<ssl::context> current_;  // guarded by mu_
  // Reload runs on one strand only.
  TlsServerPem pem_;
  std::string last_error_;
};

// --- server state and sessions ----------------------------------------------------

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Any thread: the server began to stop (see HttpServer::BeginStop).
  virtual void OnStopRequested() = 0;
  // Only while no io thread runs: closes the socket.
  virtual void CloseNow() = 0;
};

// Everything sessions need. Sessions hold it by shared_ptr: a session kept alive by a
// pending respond may outlive the HttpServer, and must never outlive the io_context.
struct ServerState {
  explicit ServerState(int threads) : ioc(threads), acceptor(asio::make_strand(ioc)) {}

  // A busy session finished (or a stop acknowledgement came): wakes StopBy.
  void NotifyStopper() {
    if (!stopping.load()) return;
    { std::lock_guard lock(mu); }
    cv.notify_all();
  }

  asio::io_context ioc;
  tcp::acceptor acceptor;  // on its own strand
  HttpHandler handler;
  size_t max_body_bytes = 0;
  std::chrono::steady_clock::duration idle_timeout;
  std::chrono::steady_clock::duration handshake_timeout;
  std::unique_ptr<TlsContexts> tls;                // null without TLS
  std::optional<asio::steady_timer> reload_timer;  // with TLS reload

  std::atomic<bool> stopping{false};  // BeginStop ran (set under mu)
  // Sessions reading or handling a request or writing its response (and, once stopping,
  // fresh connections whose first request is awaited).
  std::atomic<int> busy{0};
  std::atomic<int> stop_acks_pending{0};  // sessions yet to look at the stop

  std::mutex mu;
  std::condition_variable cv;
  // Once set, nothing is posted to the io_context any more (Stop drains it).
  bool stopped = false;                                                    // guarded by mu
  absl::flat_hash_map<SessionBase*, std::weak_ptr<SessionBase>> sessions;  // guarded by mu
};

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

// One connection. The same logic serves plain and TLS streams.
template <class Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  // `ctx` is null for plain connections.
  Session(std::shared_ptr<ServerState> state, tcp::socket socket, std::shared_ptr<ssl::context> ctx)
      : state_(std::move(state)),
        ctx_(std::move(ctx)),
        stream_(MakeStream(std::move(socket), ctx_.get())),
        accepted_at_(std::chrono::steady_clock::now()) {}

  ~Session() override {
    std::lock_guard lock(state_->mu);
    state_->sessions.erase(this);
    if (busy_) {
      // The handler dropped its respond without calling it.
      state_->busy.fetch_sub(1);
      state_->cv.notify_all();
    }
  }

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->Handshake();
      } else {
        self->ReadHeader();
      }
    });
  }

  // Any thread.
  void Respond(HttpResponse response) {
    std::lock_guard lock(state_->mu);
    if (state_->stopped) return;
    asio::post(stream_.get_executor(),
               [self = this->shared_from_this(), response = std::move(response)]() mutable {
                 self->Write(std::move(response));
               });
  }

  void OnStopRequested() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->HandleStop(); });
  }

  void CloseNow() override {
    auto& socket = Tcp().socket();
    if (!socket.is_open()) return;
    // Unread input would turn the close into a reset, which can destroy a response the
    // client has not read yet.
    char buf[4096];
    while (::recv(socket.native_handle(), buf, sizeof(buf), MSG_DONTWAIT) > 0) {
    }
    beast::error_code ec;
    socket.shutdown(tcp::socket::shutdown_both, ec);
    Tcp().close();
  }

 private:
  enum class Phase { kNew, kHandshake, kReading, kHandling, kWriting, kClosing };

  static Stream MakeStream(tcp::socket&& socket, ssl::context* ctx) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *ctx);
    } else {
      (void)ctx;
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  // Busy sessions hold a graceful stop until they are done.
  void SetBusy(bool busy) {
    if (busy == busy_) return;
    busy_ = busy;
    if (busy) {
      state_->busy.fetch_add(1);
    } else {
      state_->busy.fetch_sub(1);
      state_->NotifyStopper();
    }
  }

  void Handshake() {
    phase_ = Phase::kHandshake;
    Tcp().expires_after(state_->handshake_timeout);
    stream_.async_handshake(
        ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
          if (ec) {
            beast::error_code ignored;
            auto peer = self->Tcp().socket().remote_endpoint(ignored);
            spdlog::debug("http server: TLS handshake with {}:{} failed: {}",
                          peer.address().to_string(), peer.port(), ec.message());
            return self->Close();
          }
          self->ReadHeader();
        });
  }

  void HandleStop() {
    switch (phase_) {
      case Phase::kNew:
      case Phase::kHandshake:
        if (Young()) {
          SetBusy(true);
        } else {
          Close();
        }
        break;
      case Phase::kReading:
        if (buffer_.size() > 0 || (parser_ && parser_->got_some()) || (!served_ && Young())) {
          SetBusy(true);  // a request is on its way: answer it
        } else {
          CloseIdle();
        }
        break;
      default:
        break;  // handling or writing: busy already, the response says Connection: close
    }
    state_->stop_acks_pending.fetch_sub(1);
    state_->NotifyStopper();
  }

  bool Young() const {
    return std::chrono::steady_clock::now() - accepted_at_ < kFreshConnectionGrace;
  }

  // An idle keep-alive connection at stop: half-close; the pending read ends when the
  // client closes (or with the final close in Stop).
  void CloseIdle() {
    closing_idle_ = true;
    phase_ = Phase::kClosing;
    beast::error_code ec;
    Tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  void ReadHeader() {
    phase_ = Phase::kReading;
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(state_->max_body_bytes);
    Tcp().expires_after(state_->idle_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (closing_idle_) return ec ? Close() : Drain();
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    boost::optional<uint64_t> length = parser_->content_length();
    if (length && *length > state_->max_body_bytes) {
      return SendErrorAndClose(http::status::payload_too_large);
    }
    if (parser_->is_done()) return Dispatch();
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      Tcp().expires_after(state_->idle_timeout);
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = this->shared_from_this()](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    Tcp().expires_after(state_->idle_timeout);
    boost::optional<uint64_t> length = parser_->content_length();
    if (length && !parser_->chunked()) return ReadSizedBody(static_cast<size_t>(*length));
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->OnReadError(ec);
                       self->Dispatch();
                     });
  }

  // A body of known length goes from the socket straight into the request's string, in
  // large reads (the parser would copy it through buffer_ in small ones).
  void ReadSizedBody(size_t length) {
    sized_body_ = true;
    // Not zero-filled first: every byte is about to be overwritten by the read.
    body_ = std::make_unique_for_overwrite<char[]>(length);
    body_size_ = length;
    const size_t buffered = std::min(buffer_.size(), length);
    asio::buffer_copy(asio::buffer(body_.get(), buffered), buffer_.data());
    buffer_.consume(buffered);
    if (buffered == length) return Dispatch();
    asio::async_read(stream_, asio::buffer(body_.get() + buffered, length - buffered),
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
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
    SetBusy(true);
    phase_ = Phase::kHandling;
    served_ = true;
    auto& req = parser_->get();
    HttpRequest request;
    request.method = std::string(req.method_string());
    beast::string_view target = req.target();
    const size_t question = target.find('?');
    if (question != beast::string_view::npos) {
      beast::string_view query = target.substr(question + 1);
      request.query.assign(query.data(), query.size());
      request.params = ParseQueryString(request.query);
      target = target.substr(0, question);
    }
    request.path.assign(target.data(), target.size());
    request.headers.reserve(8);
    for (const auto& field : req) {
      auto name = field.name_string();
      std::string lower(name.data(), name.size());
      for (char& c : lower) c = absl::ascii_tolower(static_cast<unsigned char>(c));
      request.headers.emplace_back(std::move(lower), std::string(field.value()));
    }
    if (sized_body_) {
      // The Cord takes the buffer as it is: no copy.
      char* data = body_.release();
      request.body = absl::MakeCordFromExternal(absl::string_view(data, body_size_),
                                                [data](absl::string_view) { delete[] data; });
      sized_body_ = false;
    } else {
      request.body = absl::Cord(std::move(req.body()));
    }
    request.tls = kTls;
    keep_alive_ = req.keep_alive();
    parser_.reset();
    Tcp().expires_never();  // the handler's time is not idle time
    state_->handler(std::move(request), [self = this->shared_from_this()](HttpResponse response) {
      self->Respond(std::move(response));
    });
  }

  void Write(HttpResponse response) {
    SetBusy(true);
    phase_ = Phase::kWriting;
    // Once stopping, every response closes its connection.
    if (state_->stopping.load()) keep_alive_ = false;
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(response.status));
    for (auto& [name, value] : response.headers) response_.insert(name, value);
    response_.keep_alive(keep_alive_);
    response_.body() = std::move(response.body);
    response_.prepare_payload();
    Tcp().expires_after(state_->idle_timeout);
    http::async_write(stream_, response_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) {
                          self->Close();
                        } else if (!self->keep_alive_ || self->state_->stopping.load()) {
                          self->LingerClose();
                        } else {
                          self->ReadHeader();
                        }
                        self->SetBusy(false);
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
  // Over TLS a close_notify goes first (and the client's is awaited).
  void LingerClose() {
    phase_ = Phase::kClosing;
    Tcp().expires_after(kLingerTime);
    if constexpr (kTls) {
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code ec) {
        if (!ec || ec == asio::error::eof || ec == ssl::error::stream_truncated ||
            ec == beast::error::timeout) {
          return self->Close();
        }
        self->HalfCloseAndDrain();  // e.g. application data after our close_notify
      });
    } else {
      HalfCloseAndDrain();
    }
  }

  void HalfCloseAndDrain() {
    beast::error_code ec;
    Tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    Tcp().expires_after(kLingerTime);
    Drain();
  }

  // Reads and discards raw bytes (below TLS) until the peer closes or the time is up.
  void Drain() {
    Tcp().async_read_some(asio::buffer(drain_),
                          [self = this->shared_from_this()](beast::error_code ec, size_t) {
                            if (ec) return self->Close();
                            self->Drain();
                          });
  }

  void Close() {
    phase_ = Phase::kClosing;
    beast::error_code ec;
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
    Tcp().close();
    SetBusy(false);
  }

  std::shared_ptr<ServerState> state_;
  std::shared_ptr<ssl::context> ctx_;  // before stream_, which uses it
  Stream stream_;
  const std::chrono::steady_clock::time_point accepted_at_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::unique_ptr<char[]> body_;  // see ReadSizedBody
  size_t body_size_ = 0;
  bool sized_body_ = false;
  http::response<http::string_body> response_;
  bool keep_alive_ = true;
  std::array<char, 4096> drain_;
  // Strand only, except busy_ (also read by the destructor).
  Phase phase_ = Phase::kNew;
  bool busy_ = false;
  bool served_ = false;        // a request was read on this connection
  bool closing_idle_ = false;  // see CloseIdle
};

class HttpServerImpl final : public HttpServer {
 public:
  HttpServerImpl(std::shared_ptr<ServerState> state, int port)
      : state_(std::move(state)), port_(port), work_(asio::make_work_guard(state_->ioc)) {}

  ~HttpServerImpl() override { StopBy(absl::Now()); }

  void Run(int threads) {
    asio::dispatch(state_->acceptor.get_executor(), [this] { Accept(); });
    if (state_->tls != nullptr && state_->tls->reload_interval() > absl::ZeroDuration()) {
      state_->reload_timer.emplace(asio::make_strand(state_->ioc));
      ScheduleReload(state_.get());
    }
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

  void BeginStop() override {
    std::vector<std::shared_ptr<SessionBase>> sessions;
    {
      std::lock_guard lock(state_->mu);
      if (state_->stopping.load()) return;
      sessions.reserve(state_->sessions.size());
      for (auto& [raw, weak] : state_->sessions) {
        if (auto s = weak.lock()) sessions.push_back(std::move(s));
      }
      // One acknowledgement per session, plus the acceptor's (CloseAcceptor): Stop must not
      // finish before the backlog has been taken in, or those connections would be reset.
      state_->stop_acks_pending.store(static_cast<int>(sessions.size()) + 1);
      state_->stopping.store(true);
    }
    ServerState* state = state_.get();
    asio::post(state->acceptor.get_executor(), [this] { CloseAcceptor(); });
    if (state->reload_timer) {
      asio::post(state->reload_timer->get_executor(), [state] { state->reload_timer->cancel(); });
    }
    for (auto& s : sessions) s->OnStopRequested();
  }

 protected:
  void StopBy(absl::Time deadline) override {
    std::lock_guard stop_lock(stop_mu_);
    if (stop_done_) return;
    stop_done_ = true;
    BeginStop();
    std::vector<std::shared_ptr<SessionBase>> sessions;
    {
      std::unique_lock lock(state_->mu);
      // Far deadlines are capped so the time point cannot overflow.
      const absl::Time until = std::min(deadline, absl::Now() + absl::Hours(24));
      state_->cv.wait_until(lock, absl::ToChronoTime(until), [&] {
        return state_->stop_acks_pending.load() <= 0 && state_->busy.load() <= 0;
      });
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
    if (state_->reload_timer) state_->reload_timer->cancel();
    for (auto& s : sessions) s->CloseNow();
    sessions.clear();
    state_->ioc.restart();
    state_->ioc.run_for(std::chrono::seconds(5));
  }

 private:
  static void ScheduleReload(ServerState* state) {
    state->reload_timer->expires_after(absl::ToChronoNanoseconds(state->tls->reload_interval()));
    state->reload_timer->async_wait([state](beast::error_code ec) {
      if (ec || state->stopping.load()) return;
      state->tls->Reload();
      ScheduleReload(state);
    });
  }

  // Runs on the acceptor's strand. Connections the kernel has already completed wait in
  // the listen backlog, and closing the acceptor would reset them after their clients may
  // have sent a request: they are taken in first and answered like fresh connections at
  // stop. So that none completes after the last accept, the listener first gets a socket
  // filter that drops new connection attempts (a TCP segment with SYN and without ACK): such
  // a client has its SYN dropped and, on its retransmission, finds the port closed (refused,
  // never a reset). Handshakes already under way still complete (their final ACK passes the
  // filter), so the backlog is drained until it has stayed empty for a moment and no
  // handshake to the port is left half done (on a loaded machine the final ACK can wait in
  // the kernel's backlog for tens of milliseconds).
  void CloseAcceptor() {
    if (state_->acceptor.is_open()) {
      // The filter sees the TCP header at offset 0; byte 13 holds its flags.
      sock_filter drop_syn[] = {
          {BPF_LD | BPF_B | BPF_ABS, 0, 0, 13},
          {BPF_JMP | BPF_JSET | BPF_K, 0, 2, 0x02},  // SYN? else accept
          {BPF_JMP | BPF_JSET | BPF_K, 1, 0, 0x10},  // and ACK? accept, else drop
          {BPF_RET | BPF_K, 0, 0, 0},
          {BPF_RET | BPF_K, 0, 0, 0xffffffffu},
      };
      sock_fprog program{5, drop_syn};
      if (setsockopt(state_->acceptor.native_handle(), SOL_SOCKET, SO_ATTACH_FILTER, &program,
                     sizeof(program)) != 0) {
        spdlog::debug("http server: cannot filter the listener before closing it: {}",
                      std::strerror(errno));
      }
    }
    beast::error_code ec;
    if (state_->acceptor.is_open()) state_->acceptor.non_blocking(true, ec);
    // Drain until no connection has completed for kQuietMs and none is half done, for at
    // most 1 s in all (a client that never sends its ACK).
    constexpr int kQuietMs = 20;
    const absl::Time give_up = absl::Now() + absl::Seconds(1);
    while (!ec && state_->acceptor.is_open()) {
      tcp::socket socket(asio::make_strand(state_->ioc));
      state_->acceptor.accept(socket, ec);
      if (!ec) {
        OnAccept(std::move(socket));
        continue;
      }
      if (ec != asio::error::would_block || absl::Now() >= give_up) break;
      pollfd pfd{state_->acceptor.native_handle(), POLLIN, 0};
      if (::poll(&pfd, 1, kQuietMs) <= 0 && !HandshakeUnderWay(port_)) break;
      ec = {};
    }
    state_->acceptor.close(ec);
    acceptor_closed_ = true;
    // The pending async accept may already hold a connection (the reactor took it from the
    // backlog before the drain could) with its handler queued behind this one: the
    // acceptor's acknowledgement waits for that handler, or the stop could finish first
    // and the connection be reset unanswered.
    if (!accept_pending_) AcknowledgeAcceptorStop();
  }

  // Runs on the acceptor's strand.
  void Accept() {
    accept_pending_ = true;
    state_->acceptor.async_accept(asio::make_strand(state_->ioc),
                                  [this](beast::error_code ec, tcp::socket socket) {
                                    accept_pending_ = false;
                                    if (!ec) OnAccept(std::move(socket));
                                    if (state_->stopping.load()) {
                                      if (acceptor_closed_) AcknowledgeAcceptorStop();
                                      return;
                                    }
                                    if (ec != asio::error::operation_aborted) Accept();
                                  });
  }

  // Runs on the acceptor's strand, once: the listener is closed and every connection taken
  // from it has its session.
  void AcknowledgeAcceptorStop() {
    state_->stop_acks_pending.fetch_sub(1);
    state_->NotifyStopper();
  }

  void OnAccept(tcp::socket socket) {
    beast::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    if (state_->tls != nullptr) {
      Launch(
          std::make_shared<Session<TlsStream>>(state_, std::move(socket), state_->tls->Current()));
    } else {
      Launch(std::make_shared<Session<PlainStream>>(state_, std::move(socket), nullptr));
    }
  }

  template <class S>
  void Launch(std::shared_ptr<S> session) {
    bool stopping;
    {
      std::lock_guard lock(state_->mu);
      if (state_->stopped) return;  // the socket closes with the session
      state_->sessions.emplace(session.get(), session);
      // Accepted after BeginStop (its client is connected and may be sending): it gets the
      // stop as a fresh connection does, its first request answered, not a reset.
      stopping = state_->stopping.load();
      if (stopping) state_->stop_acks_pending.fetch_add(1);
    }
    session->Start();
    if (stopping) session->OnStopRequested();
  }

  std::shared_ptr<ServerState> state_;
  int port_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  std::mutex stop_mu_;
  bool stop_done_ = false;  // guarded by stop_mu_
  // The acceptor's strand only.
  bool accept_pending_ = false;   // an async accept is armed and its handler has not run
  bool acceptor_closed_ = false;  // CloseAcceptor has drained and closed the listener
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
  state->handshake_timeout = absl::ToChronoNanoseconds(options.tls_handshake_timeout);
  if (options.tls.enabled()) {
    absl::StatusOr<std::unique_ptr<TlsContexts>> tls = TlsContexts::Create(options.tls);
    if (!tls.ok()) {
      return absl::Status(tls.status().code(), absl::StrCat("TLS setup for ", options.endpoint,
                                                            ": ", tls.status().message()));
    }
    state->tls = *std::move(tls);
  }

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
