#include "core/http_cors.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <utility>
#include <vector>

namespace otlpd {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

HttpRequest Request(std::string method, Headers headers) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = "/v1/traces";
  r.headers = std::move(headers);
  return r;
}

// All values of a header (name compared case-insensitively).
std::vector<std::string> Values(const Headers& headers, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& [n, v] : headers) {
    if (strcasecmp(n.c_str(), name.c_str()) == 0) out.push_back(v);
  }
  return out;
}

CorsSettings Settings(std::vector<std::string> origins, std::vector<std::string> headers = {},
                      int max_age = 0) {
  CorsSettings s;
  s.allowed_origins = std::move(origins);
  s.allowed_headers = std::move(headers);
  s.max_age = max_age;
  return s;
}

const char* kPreflightVary =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

TEST(CorsTest, EnabledOnlyWithOrigins) {
  EXPECT_FALSE(CorsSettings{}.enabled());
  EXPECT_FALSE(Settings({}, {"X-Foo"}).enabled());
  EXPECT_TRUE(Settings({"https://a.example"}).enabled());
}

TEST(CorsTest, PreflightFromAnAllowedOrigin) {
  CorsSettings s = Settings({"https://app.example.com"}, {}, 600);
  Headers extra;
  auto r = HandleCors(s,
                      Request("OPTIONS", {{"origin", "https://app.example.com"},
                                          {"access-control-request-method", "POST"},
                                          {"access-control-request-headers", "content-type"}}),
                      &extra);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(extra.empty());
  EXPECT_EQ(r->status, 204);
  EXPECT_TRUE(r->body.empty());
  EXPECT_EQ(Values(r->headers, "Vary"), std::vector<std::string>{kPreflightVary});
  EXPECT_EQ(Values(r->headers, "Access-Control-Allow-Origin"),
            std::vector<std::string>{"https://app.example.com"});
  EXPECT_EQ(Values(r->headers, "Access-Control-Allow-Methods"), std::vector<std::string>{"POST"});
  EXPECT_EQ(Values(r->headers, "Access-Control-Allow-Headers"),
            std::vector<std::string>{"content-type"});
  EXPECT_EQ(Values(r->headers, "Access-Control-Allow-Credentials"),
            std::vector<std::string>{"true"});
  EXPECT_EQ(Values(r->headers, "Access-Control-Max-Age"), std::vector<std::string>{"600"});
}

TEST(CorsTest, PreflightOriginIsEchoedVerbatimAndMatchedCaseInsensitively) {
  CorsSettings s = Settings({"HTTPS://App.Example.com"});
  Headers extra;
  auto r = HandleCors(s,
                      Request("OPTIONS", {{"origin", "https://APP.example.com"},
                                          {"access-control-request-method", "GET"}}),
                      &extra);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(Values(r->headers, "Access-Control-Allow-Origin"),
            std::vector<std::string>{"https://APP.example.com"});
  // No requested headers: no Allow-Headers; no max_age: no Max-Age.
  EXPECT_TRUE(Values(r->headers, "Access-Control-Allow-Headers").empty());
  EXPECT_TRUE(Values(r->headers, "Access-Control-Max-Age").empty());
}

TEST(CorsTest, DisallowedPreflightsGet204WithOnlyVary) {
  CorsSettings s = Settings({"https://app.example.com"});
  const std::vector<Headers> cases = {
      // unknown origin
      {{"origin", "https://evil.example"}, {"access-control-request-method", "POST"}},
      // no origin
      {{"access-control-request-method", "POST"}},
      // method not allowed
      {{"origin", "https://app.example.com"}, {"access-control-request-method", "PUT"}},
      {{"origin", "https://app.example.com"}, {"access-control-request-method", "post"}},
      // header not allowed
      {{"origin", "https://app.example.com"},
       {"access-control-request-method", "POST"},
       {"access-control-request-headers", "x-custom"}},
      // not in Fetch form: upper case, unsorted, duplicated, too much whitespace
      {{"origin", "https://app.example.com"},
       {"access-control-request-method", "POST"},
       {"access-control-request-headers", "Content-Type"}},
      {{"origin", "https://app.example.com"},
       {"access-control-request-method", "POST"},
       {"access-control-request-headers", "content-type,accept"}},
      {{"origin", "https://app.example.com"},
       {"access-control-request-method", "POST"},
       {"access-control-request-headers", "accept,accept"}},
      {{"origin", "https://app.example.com"},
       {"access-control-request-method", "POST"},
       {"access-control-request-headers", "accept,  content-type"}},
  };
  for (const Headers& h : cases) {
    Headers extra;
    auto r = HandleCors(s, Request("OPTIONS", h), &extra);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 204);
    ASSERT_EQ(r->headers.size(), 1u) << h.back().second;
    EXPECT_EQ(r->headers[0].first, "Vary");
    EXPECT_EQ(r->headers[0].second, kPreflightVary);
  }
}

TEST(CorsTest, DefaultAllowedHeadersAndFetchForm) {
  CorsSettings s = Settings({"*"});
  for (const char* acrh : {"accept,content-type,x-requested-with", "accept, content-type",
                           " accept ,content-type", "", "accept,,content-type"}) {
    Headers extra;
    auto r = HandleCors(s,
                        Request("OPTIONS", {{"origin", "https://x.example"},
                                            {"access-control-request-method", "POST"},
                                            {"access-control-request-headers", acrh}}),
                        &extra);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(Values(r->headers, "Access-Control-Allow-Origin"), std::vector<std::string>{"*"})
        << "'" << acrh << "'";
  }
}

TEST(CorsTest, ConfiguredAndWildcardHeaders) {
  CorsSettings s = Settings({"https://a.example"}, {"X-Custom", "Content-Type"});
  Headers extra;
  auto ok =
      HandleCors(s,
                 Request("OPTIONS", {{"origin", "https://a.example"},
                                     {"access-control-request-method", "POST"},
                                     {"access-control-request-headers", "content-type,x-custom"}}),
                 &extra);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(Values(ok->headers, "Access-Control-Allow-Headers"),
            std::vector<std::string>{"content-type,x-custom"});
  // With a configured list, the defaults are no longer implied.
  auto no = HandleCors(s,
                       Request("OPTIONS", {{"origin", "https://a.example"},
                                           {"access-control-request-method", "POST"},
                                           {"access-control-request-headers", "accept"}}),
                       &extra);
  ASSERT_TRUE(no.has_value());
  EXPECT_TRUE(Values(no->headers, "Access-Control-Allow-Origin").empty());

  CorsSettings any = Settings({"https://a.example"}, {"*"});
  auto all = HandleCors(any,
                        Request("OPTIONS", {{"origin", "https://a.example"},
                                            {"access-control-request-method", "POST"},
                                            {"access-control-request-headers", "Z-Thing,A-Thing"}}),
                        &extra);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(Values(all->headers, "Access-Control-Allow-Headers"),
            std::vector<std::string>{"Z-Thing,A-Thing"});
}

TEST(CorsTest, WildcardOrigins) {
  CorsSettings s = Settings({"https://*.example.com", "http://localhost:*"});
  auto allowed = [&](const std::string& origin) {
    Headers extra;
    HandleCors(s, Request("POST", {{"origin", origin}}), &extra);
    return !Values(extra, "Access-Control-Allow-Origin").empty();
  };
  EXPECT_TRUE(allowed("https://a.example.com"));
  EXPECT_TRUE(allowed("https://a.b.example.com"));
  EXPECT_TRUE(allowed("HTTPS://A.EXAMPLE.COM"));
  EXPECT_FALSE(allowed("https://example.com"));
  EXPECT_FALSE(allowed("http://a.example.com"));
  EXPECT_FALSE(allowed("https://a.example.com.evil"));
  EXPECT_TRUE(allowed("http://localhost:3000"));
  EXPECT_FALSE(allowed("http://localhost"));
}

TEST(CorsTest, StarAllowsEveryOriginAndAnswersStar) {
  CorsSettings s = Settings({"https://a.example", "*"});
  Headers extra;
  EXPECT_FALSE(HandleCors(s, Request("POST", {{"origin", "https://z.example"}}), &extra));
  EXPECT_EQ(Values(extra, "Access-Control-Allow-Origin"), std::vector<std::string>{"*"});
  EXPECT_EQ(Values(extra, "Access-Control-Allow-Credentials"), std::vector<std::string>{"true"});
}

TEST(CorsTest, ActualRequests) {
  CorsSettings s = Settings({"https://a.example"});
  {
    Headers extra;
    EXPECT_FALSE(HandleCors(s, Request("POST", {{"origin", "https://a.example"}}), &extra));
    EXPECT_EQ(extra, (Headers{{"Vary", "Origin"},
                              {"Access-Control-Allow-Origin", "https://a.example"},
                              {"Access-Control-Allow-Credentials", "true"}}));
  }
  {
    // Disallowed origin: passed on, with Vary only.
    Headers extra;
    EXPECT_FALSE(HandleCors(s, Request("POST", {{"origin", "https://b.example"}}), &extra));
    EXPECT_EQ(extra, (Headers{{"Vary", "Origin"}}));
  }
  {
    // No origin (not a browser): Vary only.
    Headers extra;
    EXPECT_FALSE(HandleCors(s, Request("POST", {}), &extra));
    EXPECT_EQ(extra, (Headers{{"Vary", "Origin"}}));
  }
  {
    // A method outside GET/POST/HEAD: no CORS headers besides Vary.
    Headers extra;
    EXPECT_FALSE(HandleCors(s, Request("PUT", {{"origin", "https://a.example"}}), &extra));
    EXPECT_EQ(extra, (Headers{{"Vary", "Origin"}}));
  }
  {
    // OPTIONS without Access-Control-Request-Method is not a preflight.
    Headers extra;
    EXPECT_FALSE(HandleCors(s, Request("OPTIONS", {{"origin", "https://a.example"}}), &extra));
    EXPECT_EQ(Values(extra, "Access-Control-Allow-Origin"),
              std::vector<std::string>{"https://a.example"});
  }
}

TEST(CorsTest, NegativeMaxAgeSendsZero) {
  CorsSettings s = Settings({"*"}, {}, -5);
  Headers extra;
  auto r = HandleCors(
      s, Request("OPTIONS", {{"origin", "https://a"}, {"access-control-request-method", "GET"}}),
      &extra);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(Values(r->headers, "Access-Control-Max-Age"), std::vector<std::string>{"0"});
}

TEST(CorsTest, ParsesOtelcolKeys) {
  Diagnostics diag;
  ConfigNode root(YAML::Load(R"(
cors:
  allowed_origins: ["https://*.example.com", "http://localhost:3000"]
  allowed_headers: [X-Custom]
  max_age: 7200
)"),
                  "receivers::otlp::protocols::http", &diag);
  CorsSettings s;
  ParseCors(root.Child("cors"), &s);
  root.ReportUnknownKeys();
  ASSERT_TRUE(diag.ok()) << diag.Format();
  EXPECT_EQ(s.allowed_origins,
            (std::vector<std::string>{"https://*.example.com", "http://localhost:3000"}));
  EXPECT_EQ(s.allowed_headers, std::vector<std::string>{"X-Custom"});
  EXPECT_EQ(s.max_age, 7200);
  EXPECT_TRUE(s.enabled());

  Diagnostics bad;
  ConfigNode root2(YAML::Load("cors: {allowed_origins: [a], allowed_methods: [GET]}"), "x", &bad);
  CorsSettings s2;
  ParseCors(root2.Child("cors"), &s2);
  root2.ReportUnknownKeys();
  EXPECT_FALSE(bad.ok());
}

}  // namespace
}  // namespace otlpd
