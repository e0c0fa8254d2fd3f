#include "core/http_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "testing/certs.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace otlpd {
namespace {

struct CurlReply {
  CURLcode result = CURLE_OK;
  long status = 0;
  std::string body;
  std::string headers;
  long new_connects = -1;
};

size_t AppendTo(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// Runs one request on `curl` (reused across calls for keep-alive).
CurlReply Perform(CURL* curl, const std::string& url, const std::string* post_body,
                  std::vector<std::string> extra_headers = {}) {
  CurlReply reply;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendTo);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, AppendTo);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
  curl_slist* list = nullptr;
  for (const auto& h : extra_headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  if (post_body != nullptr) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, post_body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(post_body->size()));
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }
  reply.result = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &reply.new_connects);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(list);
  return reply;
}

class Curl {
 public:
  Curl() : curl_(curl_easy_init()) {}
  ~Curl() { curl_easy_cleanup(curl_); }
  CURL* get() { return curl_; }

 private:
  CURL* curl_;
};

std::string Url(const HttpServer& server, absl::string_view path) {
  return absl::StrCat("http://127.0.0.1:", server.port(), path);
}

// Echoes the request: "METHOD PATH x-test=VALUE BODY".
void EchoHandler(HttpRequest&& request, HttpRespond respond) {
  const std::string* test_header = request.Header("x-test");
  HttpResponse response;
  response.headers.emplace_back("Content-Type", "text/plain");
  response.headers.emplace_back("X-Echo", "yes");
  response.body =
      absl::StrCat(request.method, " ", request.path, " x-test=", test_header ? *test_header : "-",
                   " ", std::string(request.body));
  std::move(respond)(std::move(response));
}

std::unique_ptr<HttpServer> StartServer(HttpServerOptions options, HttpHandler handler) {
  auto server = HttpServer::Start(options, std::move(handler));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

// A raw TCP connection for requests curl will not send.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() { close(fd_); }
  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  void Send(std::string_view data) {
    ASSERT_EQ(send(fd_, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  }
  // Reads until the peer closes, an error, or the 5 s receive timeout.
  std::string ReadAll(bool* closed_by_peer = nullptr) {
    std::string out;
    char buf[4096];
    while (true) {
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        if (closed_by_peer) *closed_by_peer = (n == 0);
        return out;
      }
      out.append(buf, n);
    }
  }

 private:
  int fd_;
  bool connected_ = false;
};

TEST(HttpServerTest, BindsAPort) {
  auto server = StartServer({}, EchoHandler);
  ASSERT_NE(server, nullptr);
  EXPECT_GT(server->port(), 0);
}

TEST(HttpServerTest, RejectsBadEndpoint) {
  HttpServerOptions options;
  options.endpoint = "no-port-here";
  EXPECT_FALSE(HttpServer::Start(options, EchoHandler).ok());
  options.endpoint = "127.0.0.1:99999";
  EXPECT_FALSE(HttpServer::Start(options, EchoHandler).ok());
}

TEST(HttpServerTest, PortInUseFails) {
  auto first = StartServer({}, EchoHandler);
  ASSERT_NE(first, nullptr);
  HttpServerOptions options;
  options.endpoint = absl::StrCat("127.0.0.1:", first->port());
  auto second = HttpServer::Start(options, EchoHandler);
  EXPECT_FALSE(second.ok());
}

TEST(HttpServerTest, GetAndPost) {
  auto server = StartServer({}, EchoHandler);
  ASSERT_NE(server, nullptr);
  Curl curl;
  CurlReply get = Perform(curl.get(), Url(*server, "/hello?x=1"), nullptr, {"X-Test: abc"});
  ASSERT_EQ(get.result, CURLE_OK) << curl_easy_strerror(get.result);
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, "GET /hello x-test=abc ");
  EXPECT_NE(get.headers.find("X-Echo: yes"), std::string::npos) << get.headers;

  std::string body(100000, 'z');
  body[0] = 'a';
  CurlReply post = Perform(curl.get(), Url(*server, "/v1/traces"), &body);
  ASSERT_EQ(post.result, CURLE_OK) << curl_easy_strerror(post.result);
  EXPECT_EQ(post.status, 200);
  EXPECT_EQ(post.body, "POST /v1/traces x-test=- " + body);
}

TEST(HttpServerTest, HandlerChoosesStatusAndHeaders) {
  auto server = StartServer({}, [](HttpRequest&&, HttpRespond respond) {
    HttpResponse response;
    response.status = 503;
    response.headers.emplace_back("Retry-After", "7");
    response.body = "busy";
    std::move(respond)(std::move(response));
  });
  ASSERT_NE(server, nullptr);
  Curl curl;
  CurlReply reply = Perform(curl.get(), Url(*server, "/"), nullptr);
  ASSERT_EQ(reply.result, CURLE_OK);
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.body, "busy");
  EXPECT_NE(reply.headers.find("Retry-After: 7"), std::string::npos) << reply.headers;
}

TEST(HttpServerTest, KeepAliveReusesTheConnection) {
  std::atomic<int> calls{0};
  auto server = StartServer({}, [&](HttpRequest&& r, HttpRespond respond) {
    ++calls;
    EchoHandler(std::move(r), std::move(respond));
  });
  ASSERT_NE(server, nullptr);
  Curl curl;
  std::string body = "one";
  CurlReply first = Perform(curl.get(), Url(*server, "/a"), &body);
  ASSERT_EQ(first.result, CURLE_OK);
  EXPECT_EQ(first.new_connects, 1);
  body = "two";
  CurlReply second = Perform(curl.get(), Url(*server, "/b"), &body);
  ASSERT_EQ(second.result, CURLE_OK);
  EXPECT_EQ(second.body, "POST /b x-test=- two");
  EXPECT_EQ(second.new_connects, 0);
  EXPECT_EQ(calls.load(), 2);
}

TEST(HttpServerTest, PipelinedRequestsOnOneConnection) {
  auto server = StartServer({}, EchoHandler);
  ASSERT_NE(server, nullptr);
  RawConnection conn(server->port());
  ASSERT_TRUE(conn.connected());
  conn.Send(
      "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
      "POST /y HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nde");
  bool closed = false;
  std::string out = conn.ReadAll(&closed);
  EXPECT_TRUE(closed);
  EXPECT_NE(out.find("POST /x x-test=- abc"), std::string::npos) << out;
  EXPECT_NE(out.find("POST /y x-test=- de"), std::string::npos) << out;
  EXPECT_LT(out.find("/x"), out.find("/y"));
}

TEST(HttpServerTest, OversizedContentLengthGets413WithoutCallingTheHandler) {
  std::atomic<int> calls{0};
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  auto server = StartServer(options, [&](HttpRequest&& r, HttpRespond respond) {
    ++calls;
    EchoHandler(std::move(r), std::move(respond));
  });
  ASSERT_NE(server, nullptr);
  {
    Curl curl;
    std::string big(1025, 'x');
    CurlReply reply = Perform(curl.get(), Url(*server, "/v1/traces"), &big);
    ASSERT_EQ(reply.result, CURLE_OK) << curl_easy_strerror(reply.result);
    EXPECT_EQ(reply.status, 413);
  }
  {
    // A big body sent without waiting for 100-continue: the server answers and drains.
    Curl curl;
    std::string huge(8 << 20, 'x');
    CurlReply reply = Perform(curl.get(), Url(*server, "/v1/traces"), &huge, {"Expect:"});
    ASSERT_EQ(reply.result, CURLE_OK) << curl_easy_strerror(reply.result);
    EXPECT_EQ(reply.status, 413);
  }
  {
    Curl curl;
    std::string fits(1024, 'x');
    CurlReply reply = Perform(curl.get(), Url(*server, "/v1/traces"), &fits);
    ASSERT_EQ(reply.result, CURLE_OK);
    EXPECT_EQ(reply.status, 200);
  }
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServerTest, OversizedChunkedBodyGets413) {
  std::atomic<int> calls{0};
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  auto server = StartServer(options, [&](HttpRequest&& r, HttpRespond respond) {
    ++calls;
    EchoHandler(std::move(r), std::move(respond));
  });
  ASSERT_NE(server, nullptr);
  RawConnection conn(server->port());
  ASSERT_TRUE(conn.connected());
  std::string chunk(800, 'c');
  conn.Send(absl::StrCat("POST /v1/logs HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
                         "320\r\n", chunk, "\r\n", "320\r\n", chunk, "\r\n0\r\n\r\n"));
  std::string out = conn.ReadAll();
  EXPECT_EQ(out.rfind("HTTP/1.1 413", 0), 0u) << out;
  EXPECT_EQ(calls.load(), 0);

  // A chunked body within the limit is reassembled.
  RawConnection ok(server->port());
  ok.Send(
      "POST /v1/logs HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: "
      "close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  out = ok.ReadAll();
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
  EXPECT_NE(out.find("POST /v1/logs x-test=- abcde"), std::string::npos) << out;
}

TEST(HttpServerTest, MalformedRequestGets400AndClose) {
  std::atomic<int> calls{0};
  auto server = StartServer({}, [&](HttpRequest&& r, HttpRespond respond) {
    ++calls;
    EchoHandler(std::move(r), std::move(respond));
  });
  ASSERT_NE(server, nullptr);
  for (std::string_view garbage :
       {std::string_view("GARBAGE\r\n\r\n"), std::string_view("GET / HTTP/9.x\r\n\r\n"),
        std::string_view("POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
        std::string_view("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")}) {
    RawConnection conn(server->port());
    ASSERT_TRUE(conn.connected());
    conn.Send(garbage);
    bool closed = false;
    std::string out = conn.ReadAll(&closed);
    EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << garbage << " -> " << out;
    EXPECT_TRUE(closed) << garbage;
  }
  EXPECT_EQ(calls.load(), 0);
  // Still serving.
  Curl curl;
  CurlReply reply = Perform(curl.get(), Url(*server, "/"), nullptr);
  EXPECT_EQ(reply.status, 200);
}

TEST(HttpServerTest, AsyncRespondFromAnotherThread) {
  std::vector<std::thread> responders;
  std::mutex mu;
  auto server = StartServer({}, [&](HttpRequest&& request, HttpRespond respond) {
    std::lock_guard lock(mu);
    responders.emplace_back(
        [body = std::string(request.body), respond = std::move(respond)]() mutable {
          absl::SleepFor(absl::Milliseconds(150));
          HttpResponse response;
          response.body = "late:" + body;
          std::move(respond)(std::move(response));
        });
  });
  ASSERT_NE(server, nullptr);
  Curl curl;
  std::string body = "payload";
  absl::Time start = absl::Now();
  CurlReply reply = Perform(curl.get(), Url(*server, "/"), &body);
  absl::Duration took = absl::Now() - start;
  ASSERT_EQ(reply.result, CURLE_OK);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "late:payload");
  EXPECT_GE(took, absl::Milliseconds(140));
  // The connection is still usable afterwards.
  CurlReply again = Perform(curl.get(), Url(*server, "/"), &body);
  EXPECT_EQ(again.body, "late:payload");
  EXPECT_EQ(again.new_connects, 0);
  std::lock_guard lock(mu);
  for (auto& t : responders) t.join();
}

TEST(HttpServerTest, ManyConcurrentClientsOnSeveralThreads) {
  HttpServerOptions options;
  options.threads = 3;
  auto server = StartServer(options, EchoHandler);
  ASSERT_NE(server, nullptr);
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 6; ++c) {
    clients.emplace_back([&, c] {
      Curl curl;
      for (int i = 0; i < 50; ++i) {
        std::string body = absl::StrCat(c, "-", i);
        CurlReply reply = Perform(curl.get(), Url(*server, "/p"), &body);
        if (reply.status == 200 && reply.body == "POST /p x-test=- " + body) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 300);
}

TEST(HttpServerTest, IdleConnectionIsClosed) {
  HttpServerOptions options;
  options.idle_timeout = absl::Milliseconds(200);
  auto server = StartServer(options, EchoHandler);
  ASSERT_NE(server, nullptr);
  RawConnection conn(server->port());
  ASSERT_TRUE(conn.connected());
  absl::Time start = absl::Now();
  bool closed = false;
  std::string out = conn.ReadAll(&closed);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(out.empty()) << out;
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
}

TEST(HttpServerTest, StopWithOpenConnectionsAndPendingResponds) {
  std::mutex mu;
  std::vector<HttpRespond> pending;
  std::atomic<int> calls{0};
  auto server = StartServer({}, [&](HttpRequest&& request, HttpRespond respond) {
    ++calls;
    if (request.path == "/hang") {
      std::lock_guard lock(mu);
      pending.push_back(std::move(respond));
      return;
    }
    EchoHandler(std::move(request), std::move(respond));
  });
  ASSERT_NE(server, nullptr);
  int port = server->port();

  // An idle keep-alive connection.
  Curl idle;
  CurlReply warm = Perform(idle.get(), Url(*server, "/"), nullptr);
  ASSERT_EQ(warm.status, 200);

  // A request whose handler never answers before Stop.
  std::thread hanging([&] {
    Curl curl;
    CurlReply reply =
        Perform(curl.get(), absl::StrCat("http://127.0.0.1:", port, "/hang"), nullptr);
    EXPECT_NE(reply.result, CURLE_OK);  // the connection is closed under it
  });
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return pending.size() == 1;
      },
      absl::Seconds(5)));

  // The handler does not answer before the deadline: Stop gives up on it.
  absl::Time start = absl::Now();
  server->Stop(absl::Now() + absl::Milliseconds(300));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  hanging.join();

  // Answers after Stop are no-ops, from any thread.
  std::thread late([&] {
    std::lock_guard lock(mu);
    for (auto& respond : pending) std::move(respond)(HttpResponse{});
    pending.clear();
  });
  late.join();

  server->Stop();  // twice is fine
  // Nothing listens any more.
  CurlReply after = Perform(idle.get(), Url(*server, "/"), nullptr);
  EXPECT_NE(after.result, CURLE_OK);
  server.reset();
  EXPECT_EQ(calls.load(), 2);
}

TEST(HttpServerTest, RespondOutlivingTheServerIsSafe) {
  std::mutex mu;
  std::vector<HttpRespond> pending;
  auto server = StartServer({}, [&](HttpRequest&&, HttpRespond respond) {
    std::lock_guard lock(mu);
    pending.push_back(std::move(respond));
  });
  ASSERT_NE(server, nullptr);
  int port = server->port();
  std::thread client([port] {
    Curl curl;
    Perform(curl.get(), absl::StrCat("http://127.0.0.1:", port, "/"), nullptr);
  });
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return !pending.empty();
      },
      absl::Seconds(5)));
  server.reset();  // destructor stops
  client.join();
  std::lock_guard lock(mu);
  std::move(pending[0])(HttpResponse{});
  pending.clear();  // the last session reference goes here
}

// --- query string ------------------------------------------------------------------

TEST(ParseQueryStringTest, SplitsDecodesAndKeepsRepeats) {
  using Params = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(ParseQueryString(""), Params{});
  EXPECT_EQ(ParseQueryString("a=1&b=two&a=3"), (Params{{"a", "1"}, {"b", "two"}, {"a", "3"}}));
  EXPECT_EQ(ParseQueryString("x=a%20b+c%2Bd&k%3D=%26"), (Params{{"x", "a b c+d"}, {"k=", "&"}}));
  EXPECT_EQ(ParseQueryString("flag&&=v&e="), (Params{{"flag", ""}, {"", "v"}, {"e", ""}}));
  // '=' inside the value stays.
  EXPECT_EQ(ParseQueryString("t=a=b"), (Params{{"t", "a=b"}}));
  // Malformed escapes are kept byte for byte.
  EXPECT_EQ(ParseQueryString("bad=%zz%4&p=100%"), (Params{{"bad", "%zz%4"}, {"p", "100%"}}));
  EXPECT_EQ(ParseQueryString("u=%C3%A9"), (Params{{"u", "\xC3\xA9"}}));
}

TEST(HttpServerTest, QueryStringReachesTheHandler) {
  std::mutex mu;
  std::optional<HttpRequest> seen;
  auto server = StartServer({}, [&](HttpRequest&& request, HttpRespond respond) {
    {
      std::lock_guard lock(mu);
      seen = request;
    }
    std::move(respond)(HttpResponse{});
  });
  ASSERT_NE(server, nullptr);
  Curl curl;
  CurlReply reply =
      Perform(curl.get(), Url(*server, "/v1/traces?tag=a%20b&tag=c&x=1+2&bad=%G1"), nullptr);
  ASSERT_EQ(reply.status, 200);
  std::unique_lock lock(mu);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->path, "/v1/traces");
  EXPECT_EQ(seen->query, "tag=a%20b&tag=c&x=1+2&bad=%G1");
  ASSERT_NE(seen->Param("tag"), nullptr);
  EXPECT_EQ(*seen->Param("tag"), "a b");
  EXPECT_EQ(seen->ParamCount("tag"), 2u);
  EXPECT_EQ(seen->ParamCount("x"), 1u);
  EXPECT_EQ(*seen->Param("x"), "1 2");
  EXPECT_EQ(*seen->Param("bad"), "%G1");
  EXPECT_EQ(seen->Param("missing"), nullptr);
  EXPECT_EQ(seen->ParamCount("missing"), 0u);
  EXPECT_FALSE(seen->tls);

  // No query at all.
  lock.unlock();
  reply = Perform(curl.get(), Url(*server, "/plain"), nullptr);
  ASSERT_EQ(reply.status, 200);
  lock.lock();
  EXPECT_EQ(seen->path, "/plain");
  EXPECT_EQ(seen->query, "");
  EXPECT_TRUE(seen->params.empty());
}

// --- TLS ---------------------------------------------------------------------------

class HttpServerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    std::optional<::otlpd::testing::TestCerts> certs =
        ::otlpd::testing::MakeTestCerts(dir_.path(), &error);
    ASSERT_TRUE(certs.has_value()) << error;
    certs_ = *certs;
  }

  HttpServerOptions TlsOptions() const {
    HttpServerOptions options;
    options.tls.cert_file = certs_.server_cert;
    options.tls.key_file = certs_.server_key;
    return options;
  }

  std::string HttpsUrl(const HttpServer& server, absl::string_view path) const {
    return absl::StrCat("https://127.0.0.1:", server.port(), path);
  }

  // GET over a new connection with the test CA as the only root.
  CurlReply Get(const HttpServer& server, const std::function<void(CURL*)>& setup = nullptr) {
    Curl curl;
    curl_easy_setopt(curl.get(), CURLOPT_CAINFO, certs_.ca_cert.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_CAPATH, nullptr);
    if (setup) setup(curl.get());
    return Perform(curl.get(), HttpsUrl(server, "/tls"), nullptr);
  }

  // The serial (upper-case hex) of the certificate the server presents to a new connection.
  std::string PresentedSerial(const HttpServer& server) {
    Curl curl;
    curl_easy_setopt(curl.get(), CURLOPT_CAINFO, certs_.ca_cert.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_CERTINFO, 1L);
    CurlReply reply = Perform(curl.get(), HttpsUrl(server, "/"), nullptr);
    if (reply.result != CURLE_OK) return "";
    curl_certinfo* info = nullptr;
    curl_easy_getinfo(curl.get(), CURLINFO_CERTINFO, &info);
    if (info == nullptr || info->num_of_certs < 1) return "";
    for (curl_slist* item = info->certinfo[0]; item != nullptr; item = item->next) {
      absl::string_view line = item->data;
      if (absl::ConsumePrefix(&line, "Serial Number:")) return absl::AsciiStrToUpper(line);
    }
    return "";
  }

  ::otlpd::testing::TempDir dir_{"otlpd-http-tls"};
  ::otlpd::testing::TestCerts certs_;
};

TEST_F(HttpServerTlsTest, ServesHttpsToAClientTrustingTheCa) {
  std::atomic<bool> saw_tls{false};
  auto server = StartServer(TlsOptions(), [&](HttpRequest&& request, HttpRespond respond) {
    saw_tls = request.tls;
    EchoHandler(std::move(request), std::move(respond));
  });
  ASSERT_NE(server, nullptr);
  CurlReply reply = Get(*server);
  ASSERT_EQ(reply.result, CURLE_OK) << curl_easy_strerror(reply.result);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "GET /tls x-test=- ");
  EXPECT_TRUE(saw_tls.load());

  // Keep-alive, a large body, and 100-continue over TLS.
  Curl curl;
  curl_easy_setopt(curl.get(), CURLOPT_CAINFO, certs_.ca_cert.c_str());
  std::string body(3 << 20, 'b');
  CurlReply post = Perform(curl.get(), HttpsUrl(*server, "/big"), &body);
  ASSERT_EQ(post.result, CURLE_OK) << curl_easy_strerror(post.result);
  EXPECT_EQ(post.body, "POST /big x-test=- " + body);
  CurlReply again = Perform(curl.get(), HttpsUrl(*server, "/again"), nullptr);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.new_connects, 0);

  // Plain HTTP to the TLS port gets no HTTP answer.
  CurlReply plain = Perform(curl.get(), Url(*server, "/"), nullptr);
  EXPECT_NE(plain.status, 200);
}

TEST_F(HttpServerTlsTest, ClientWithoutTheCaRefusesTheServer) {
  auto server = StartServer(TlsOptions(), EchoHandler);
  ASSERT_NE(server, nullptr);
  Curl curl;  // system roots only
  CurlReply reply = Perform(curl.get(), HttpsUrl(*server, "/"), nullptr);
  EXPECT_EQ(reply.result, CURLE_PEER_FAILED_VERIFICATION) << curl_easy_strerror(reply.result);
  // The server goes on serving.
  EXPECT_EQ(Get(*server).status, 200);
}

TEST_F(HttpServerTlsTest, ClientCaFileRequiresAClientCertificateFromThatCa) {
  std::atomic<int> calls{0};
  HttpServerOptions options = TlsOptions();
  options.tls.client_ca_file = certs_.ca_cert;
  auto server = StartServer(options, [&](HttpRequest&& request, HttpRespond respond) {
    ++calls;
    EchoHandler(std::move(request), std::move(respond));
  });
  ASSERT_NE(server, nullptr);

  CurlReply with_cert = Get(*server, [&](CURL* c) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, certs_.client_cert.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEY, certs_.client_key.c_str());
  });
  ASSERT_EQ(with_cert.result, CURLE_OK) << curl_easy_strerror(with_cert.result);
  EXPECT_EQ(with_cert.status, 200);

  CurlReply without_cert = Get(*server);
  EXPECT_NE(without_cert.result, CURLE_OK);
  EXPECT_NE(without_cert.status, 200);

  CurlReply other_ca = Get(*server, [&](CURL* c) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, certs_.other_client_cert.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEY, certs_.other_client_key.c_str());
  });
  EXPECT_NE(other_ca.result, CURLE_OK);
  EXPECT_NE(other_ca.status, 200);
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(HttpServerTlsTest, CaFileAloneDoesNotAskForClientCertificates) {
  HttpServerOptions options = TlsOptions();
  options.tls.ca_file = certs_.ca_cert;  // as otelcol: no client verification from this
  auto server = StartServer(options, EchoHandler);
  ASSERT_NE(server, nullptr);
  CurlReply reply = Get(*server);
  ASSERT_EQ(reply.result, CURLE_OK) << curl_easy_strerror(reply.result);
  EXPECT_EQ(reply.status, 200);
}

TEST_F(HttpServerTlsTest, MinVersion13RefusesAClientCappedAtTls12) {
  HttpServerOptions options = TlsOptions();
  options.tls.min_version = "1.3";
  auto server = StartServer(options, EchoHandler);
  ASSERT_NE(server, nullptr);
  CurlReply capped = Get(*server, [](CURL* c) {
    curl_easy_setopt(c, CURLOPT_SSLVERSION,
                     static_cast<long>(CURL_SSLVERSION_TLSv1_2) |
                         static_cast<long>(CURL_SSLVERSION_MAX_TLSv1_2));
  });
  EXPECT_NE(capped.result, CURLE_OK);
  CurlReply modern = Get(*server);
  ASSERT_EQ(modern.result, CURLE_OK) << curl_easy_strerror(modern.result);
  EXPECT_EQ(modern.status, 200);
}

TEST_F(HttpServerTlsTest, MaxVersion12RefusesATls13OnlyClient) {
  HttpServerOptions options = TlsOptions();
  options.tls.max_version = "1.2";
  auto server = StartServer(options, EchoHandler);
  ASSERT_NE(server, nullptr);
  CurlReply tls13 = Get(
      *server, [](CURL* c) { curl_easy_setopt(c, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_3); });
  EXPECT_NE(tls13.result, CURLE_OK);
  CurlReply tls12 = Get(*server, [](CURL* c) {
    curl_easy_setopt(c, CURLOPT_SSLVERSION,
                     static_cast<long>(CURL_SSLVERSION_TLSv1_2) |
                         static_cast<long>(CURL_SSLVERSION_MAX_TLSv1_2));
  });
  ASSERT_EQ(tls12.result, CURLE_OK) << curl_easy_strerror(tls12.result);
}

TEST_F(HttpServerTlsTest, ReloadServesTheNewCertificateAndKeepsTheOldOnBadFiles) {
  // The server reads copies, which the test replaces.
  const std::string cert = dir_.File("live.pem");
  const std::string key = dir_.File("live.key");
  std::filesystem::copy_file(certs_.server_cert, cert);
  std::filesystem::copy_file(certs_.server_key, key);
  HttpServerOptions options = TlsOptions();
  options.tls.cert_file = cert;
  options.tls.key_file = key;
  options.tls.reload_interval = absl::Milliseconds(100);
  auto server = StartServer(options, EchoHandler);
  ASSERT_NE(server, nullptr);
  const std::string first = ::otlpd::testing::CertSerial(cert);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(PresentedSerial(*server), first);

  std::string error;
  ASSERT_TRUE(::otlpd::testing::IssueServerCert(certs_, cert, key, &error)) << error;
  const std::string second = ::otlpd::testing::CertSerial(cert);
  ASSERT_NE(second, first);
  EXPECT_TRUE(::otlpd::testing::WaitUntil([&] { return PresentedSerial(*server) == second; },
                                          absl::Seconds(10)));

  // A broken certificate file: the server keeps serving the last good certificate.
  dir_.Write("live.pem", "not a certificate\n");
  absl::SleepFor(absl::Milliseconds(500));  // several reload periods
  EXPECT_EQ(PresentedSerial(*server), second);

  // Fixed again: picked up.
  ASSERT_TRUE(::otlpd::testing::IssueServerCert(certs_, cert, key, &error)) << error;
  const std::string third = ::otlpd::testing::CertSerial(cert);
  EXPECT_TRUE(::otlpd::testing::WaitUntil([&] { return PresentedSerial(*server) == third; },
                                          absl::Seconds(10)));
}

TEST_F(HttpServerTlsTest, WithoutReloadIntervalTheCertificateStays) {
  const std::string cert = dir_.File("fixed.pem");
  const std::string key = dir_.File("fixed.key");
  std::filesystem::copy_file(certs_.server_cert, cert);
  std::filesystem::copy_file(certs_.server_key, key);
  HttpServerOptions options = TlsOptions();
  options.tls.cert_file = cert;
  options.tls.key_file = key;
  auto server = StartServer(options, EchoHandler);
  ASSERT_NE(server, nullptr);
  const std::string first = ::otlpd::testing::CertSerial(cert);
  std::string error;
  ASSERT_TRUE(::otlpd::testing::IssueServerCert(certs_, cert, key, &error)) << error;
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(PresentedSerial(*server), first);
}

TEST_F(HttpServerTlsTest, StartFailsOnMissingOrMismatchedFiles) {
  HttpServerOptions options = TlsOptions();
  options.tls.cert_file = dir_.File("nope.pem");
  auto missing = HttpServer::Start(options, EchoHandler);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "nope.pem")) << missing.status();

  options = TlsOptions();
  options.tls.key_file = certs_.client_key;  // another certificate's key
  auto mismatched = HttpServer::Start(options, EchoHandler);
  ASSERT_FALSE(mismatched.ok());
  EXPECT_TRUE(absl::StrContains(mismatched.status().message(), "does not match"))
      << mismatched.status();

  options = TlsOptions();
  options.tls.client_ca_file = dir_.Write("empty-ca.pem", "nothing here\n");
  auto bad_ca = HttpServer::Start(options, EchoHandler);
  ASSERT_FALSE(bad_ca.ok());
  EXPECT_TRUE(absl::StrContains(bad_ca.status().message(), "client CA")) << bad_ca.status();
}

TEST_F(HttpServerTlsTest, GarbageAndSilentClientsAreClosedAndServingGoesOn) {
  HttpServerOptions options = TlsOptions();
  options.tls_handshake_timeout = absl::Milliseconds(200);
  auto server = StartServer(options, EchoHandler);
  ASSERT_NE(server, nullptr);
  {
    RawConnection conn(server->port());
    ASSERT_TRUE(conn.connected());
    conn.Send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");  // plain HTTP: not a ClientHello
    bool closed = false;
    conn.ReadAll(&closed);
    EXPECT_TRUE(closed);
  }
  {
    RawConnection conn(server->port());
    ASSERT_TRUE(conn.connected());
    absl::Time start = absl::Now();
    bool closed = false;
    conn.ReadAll(&closed);  // sends nothing: the handshake times out
    EXPECT_TRUE(closed);
    EXPECT_LT(absl::Now() - start, absl::Seconds(4));
  }
  EXPECT_EQ(Get(*server).status, 200);
}

TEST_F(HttpServerTlsTest, GracefulStopOverTls) {
  std::mutex mu;
  std::vector<std::thread> responders;
  std::atomic<int> arrived{0};
  HttpServerOptions options = TlsOptions();
  options.threads = 2;
  auto server = StartServer(options, [&](HttpRequest&&, HttpRespond respond) {
    ++arrived;
    std::lock_guard lock(mu);
    responders.emplace_back([respond = std::move(respond)]() mutable {
      absl::SleepFor(absl::Milliseconds(100));
      HttpResponse response;
      response.body = "done";
      std::move(respond)(std::move(response));
    });
  });
  ASSERT_NE(server, nullptr);
  std::vector<CurlReply> replies(5);
  std::vector<std::thread> clients;
  for (int i = 0; i < 5; ++i) {
    clients.emplace_back([&, i] { replies[i] = Get(*server); });
  }
  ASSERT_TRUE(::otlpd::testing::WaitUntil([&] { return arrived.load() == 5; }, absl::Seconds(10)));
  server->Stop();
  for (auto& t : clients) t.join();
  for (const CurlReply& r : replies) {
    EXPECT_EQ(r.result, CURLE_OK) << curl_easy_strerror(r.result);
    EXPECT_EQ(r.body, "done");
  }
  std::lock_guard lock(mu);
  for (auto& t : responders) t.join();
}

// --- graceful stop -------------------------------------------------------------------

// Answers every request from its own thread after a delay.
class DelayedResponder {
 public:
  ~DelayedResponder() { Join(); }
  void Answer(HttpRespond respond, absl::Duration delay, std::string body) {
    std::lock_guard lock(mu_);
    threads_.emplace_back([respond = std::move(respond), delay, body = std::move(body)]() mutable {
      absl::SleepFor(delay);
      HttpResponse response;
      response.headers.emplace_back("Content-Type", "text/plain");
      response.body = std::move(body);
      std::move(respond)(std::move(response));
    });
  }
  void Join() {
    std::lock_guard lock(mu_);
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

TEST(HttpServerStopTest, EveryAcceptedRequestGetsItsResponse) {
  constexpr int kRounds = 50;
  constexpr int kClients = 20;
  int failures = 0;
  for (int round = 0; round < kRounds && failures == 0; ++round) {
    DelayedResponder responder;
    std::atomic<int> arrived{0};
    HttpServerOptions options;
    options.threads = 2;
    auto server = StartServer(options, [&](HttpRequest&& request, HttpRespond respond) {
      const int n = ++arrived;
      responder.Answer(std::move(respond), absl::Milliseconds(20 + (n * 7) % 60),
                       "ok:" + std::string(request.body));
    });
    ASSERT_NE(server, nullptr);
    std::vector<CurlReply> replies(kClients);
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        Curl curl;
        std::string body = absl::StrCat(round, "-", c);
        replies[c] = Perform(curl.get(), Url(*server, "/v1/logs"), &body);
      });
    }
    ASSERT_TRUE(
        ::otlpd::testing::WaitUntil([&] { return arrived.load() == kClients; }, absl::Seconds(10)));
    server->Stop();
    for (auto& t : clients) t.join();
    responder.Join();
    for (int c = 0; c < kClients; ++c) {
      const CurlReply& r = replies[c];
      if (r.result != CURLE_OK || r.status != 200 || r.body != absl::StrCat("ok:", round, "-", c)) {
        ++failures;
        ADD_FAILURE() << "round " << round << " client " << c << ": "
                      << curl_easy_strerror(r.result) << " status " << r.status << " body "
                      << r.body;
      }
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST(HttpServerStopTest, ResponsesAfterStopBeganCloseTheConnection) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<HttpRespond> pending;
  auto server = StartServer({}, [&](HttpRequest&&, HttpRespond respond) {
    std::lock_guard lock(mu);
    pending = std::move(respond);
    cv.notify_all();
  });
  ASSERT_NE(server, nullptr);
  CurlReply reply;
  std::thread client([&] {
    Curl curl;
    reply = Perform(curl.get(), Url(*server, "/"), nullptr);
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return pending.has_value(); }));
  }
  server->BeginStop();
  {
    std::lock_guard lock(mu);
    HttpResponse response;
    response.status = 503;
    response.body = "stopping";
    std::move (*pending)(std::move(response));
  }
  client.join();
  EXPECT_EQ(reply.result, CURLE_OK) << curl_easy_strerror(reply.result);
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.body, "stopping");
  EXPECT_NE(reply.headers.find("Connection: close"), std::string::npos) << reply.headers;
  server->Stop();
}

TEST(HttpServerStopTest, IdleConnectionsDoNotHoldStop) {
  auto server = StartServer({}, EchoHandler);
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<Curl>> idle;
  for (int i = 0; i < 5; ++i) {
    idle.push_back(std::make_unique<Curl>());
    ASSERT_EQ(Perform(idle.back()->get(), Url(*server, "/"), nullptr).status, 200);
  }
  RawConnection raw(server->port());
  raw.Send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(::otlpd::testing::WaitUntil(
      [&] {
        char buf[256];
        return recv(raw.fd(), buf, sizeof(buf), MSG_DONTWAIT) > 0;
      },
      absl::Seconds(5)));
  absl::Time start = absl::Now();
  server->Stop();  // 5 s deadline
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  bool closed = false;
  raw.ReadAll(&closed);
  EXPECT_TRUE(closed);  // the idle keep-alive connection was closed, not reset
}

TEST(HttpServerStopTest, ARequestArrivingOnAnOpenConnectionIsAnswered) {
  std::atomic<int> calls{0};
  auto server = StartServer({}, [&](HttpRequest&& request, HttpRespond respond) {
    ++calls;
    EchoHandler(std::move(request), std::move(respond));
  });
  ASSERT_NE(server, nullptr);
  RawConnection conn(server->port());
  ASSERT_TRUE(conn.connected());
  // Half a request is in when the stop begins; the rest comes after.
  conn.Send("POST /late HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab");
  absl::SleepFor(absl::Milliseconds(200));  // let the server read the first part
  server->BeginStop();
  absl::SleepFor(absl::Milliseconds(100));
  conn.Send("cd");
  bool closed = false;
  std::string out = conn.ReadAll(&closed);
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
  EXPECT_NE(out.find("Connection: close"), std::string::npos) << out;
  EXPECT_NE(out.find("POST /late x-test=- abcd"), std::string::npos) << out;
  EXPECT_TRUE(closed);
  server->Stop();
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServerStopTest, AFreshSilentConnectionHoldsStopOnlyUntilTheDeadline) {
  auto server = StartServer({}, EchoHandler);
  ASSERT_NE(server, nullptr);
  RawConnection conn(server->port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(::otlpd::testing::WaitUntil(
      [&] {
        // Accepted once a second connection sees the server alive.
        Curl curl;
        return Perform(curl.get(), Url(*server, "/"), nullptr).status == 200;
      },
      absl::Seconds(5)));
  absl::Time start = absl::Now();
  server->Stop(absl::Now() + absl::Milliseconds(300));
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(250));
  EXPECT_LT(took, absl::Seconds(3));
  bool closed = false;
  conn.ReadAll(&closed);
  EXPECT_TRUE(closed);
}

TEST(HttpServerStopTest, BeginStopRefusesNewConnections) {
  auto server = StartServer({}, EchoHandler);
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  server->BeginStop();
  EXPECT_TRUE(::otlpd::testing::WaitUntil(
      [&] {
        Curl curl;
        return Perform(curl.get(), absl::StrCat("http://127.0.0.1:", port, "/"), nullptr).result ==
               CURLE_COULDNT_CONNECT;
      },
      absl::Seconds(5)));
  server->Stop();
}

}  // namespace
}  // namespace otlpd
