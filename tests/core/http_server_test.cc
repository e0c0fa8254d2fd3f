#include "core/http_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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
  response.body = absl::StrCat(request.method, " ", request.path,
                               " x-test=", test_header ? *test_header : "-", " ", request.body);
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
        [body = std::move(request.body), respond = std::move(respond)]() mutable {
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

  absl::Time start = absl::Now();
  server->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
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

}  // namespace
}  // namespace otlpd
