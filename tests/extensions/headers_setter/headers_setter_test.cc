#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/auth.h"
#include "core/component.h"
#include "core/config_node.h"
#include "extensions/headers_setter/config.h"
#include "extensions/headers_setter/factory.h"
#include "extensions/headers_setter/headers_setter_extension.h"
#include "testing/test_host.h"

namespace otlpd {
namespace {

using otlpd::testing::TestHost;
using Action = HeadersSetterConfig::Action;

constexpr char kPath[] = "extensions::headers_setter";

std::unique_ptr<ComponentConfig> Parse(const std::string& yaml, Diagnostics* diag) {
  ConfigNode node(YAML::Load(yaml), kPath, diag);
  auto config = NewHeadersSetterExtensionFactory()->ParseConfig(node);
  node.ReportUnknownKeys();
  return config;
}

// Every error of a config, as "path: message" lines.
std::string Errors(const std::string& yaml) {
  Diagnostics diag;
  Parse(yaml, &diag);
  std::string out;
  for (const ConfigError& e : diag.errors()) absl::StrAppend(&out, e.path, ": ", e.message, "\n");
  return out;
}

// The single error of a config that must fail, as "path: message".
std::string OnlyError(const std::string& yaml) {
  Diagnostics diag;
  Parse(yaml, &diag);
  if (diag.errors().size() != 1) return absl::StrCat("expected one error, got: ", diag.Format());
  return absl::StrCat(diag.errors()[0].path, ": ", diag.errors()[0].message);
}

struct Made {
  TestHost host;
  std::unique_ptr<HeadersSetterExtension> ext;
};

std::unique_ptr<Made> Make(const std::string& yaml) {
  auto m = std::make_unique<Made>();
  Diagnostics diag;
  auto config = Parse(yaml, &diag);
  EXPECT_TRUE(diag.ok()) << diag.Format();
  auto created = NewHeadersSetterExtensionFactory()->Create(
      CreateSettings{{"headers_setter", ""}, &m->host}, *config);
  EXPECT_TRUE(created.ok()) << created.status();
  m->ext.reset(dynamic_cast<HeadersSetterExtension*>(created->release()));
  EXPECT_NE(m->ext, nullptr);
  EXPECT_TRUE(m->ext->Start().ok());
  return m;
}

Metadata HeadersFor(const HeadersSetterExtension& ext, const Metadata* client) {
  absl::StatusOr<Metadata> headers = ext.Headers(client);
  EXPECT_TRUE(headers.ok()) << headers.status();
  return headers.ok() ? *headers : Metadata{};
}

// Captures what the extension logs, down to debug.
class LogCapture {
 public:
  LogCapture()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)),
        previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("test", sink_);
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string All() const {
    std::string out;
    for (const std::string& line : sink_->last_formatted()) out += line;
    return out;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(HeadersSetterConfigTest, ParsesEntries) {
  Diagnostics diag;
  auto config = Parse(R"(
headers:
  - key: X-Scope-OrgID
    action: insert
    from_context: Tenant_ID
    default_value: anonymous
  - key: User-ID
    value: user_id
  - key: Some-Header
    action: delete
)",
                      &diag);
  ASSERT_TRUE(diag.ok()) << diag.Format();
  const auto& c = ConfigAs<HeadersSetterConfig>(*config);
  ASSERT_EQ(c.headers.size(), 3u);
  EXPECT_EQ(c.headers[0].key, "x-scope-orgid");
  EXPECT_EQ(c.headers[0].action, Action::kInsert);
  EXPECT_EQ(c.headers[0].from_context, "tenant_id");
  EXPECT_EQ(c.headers[0].default_value, "anonymous");
  EXPECT_FALSE(c.headers[0].value.has_value());
  EXPECT_EQ(c.headers[1].key, "user-id");
  EXPECT_EQ(c.headers[1].action, Action::kUpsert);  // the default
  EXPECT_EQ(c.headers[1].value, "user_id");
  EXPECT_FALSE(c.headers[1].from_context.has_value());
  EXPECT_EQ(c.headers[2].action, Action::kDelete);
  EXPECT_FALSE(c.headers[2].value.has_value());
}

TEST(HeadersSetterConfigTest, ContribErrors) {
  EXPECT_EQ(OnlyError("{}"), "extensions::headers_setter::headers: missing headers configuration");
  EXPECT_EQ(OnlyError("headers: []"),
            "extensions::headers_setter::headers: missing headers configuration");
  EXPECT_EQ(OnlyError("headers:\n  - value: a"),
            "extensions::headers_setter::headers[0]::key: missing header name");
  EXPECT_EQ(OnlyError("headers:\n  - {key: a, value: b}\n  - {key: '', value: b}"),
            "extensions::headers_setter::headers[1]::key: missing header name");
  EXPECT_EQ(OnlyError("headers:\n  - key: a"),
            "extensions::headers_setter::headers[0]: missing header source, must be "
            "'from_context', 'from_attribute' or 'value'");
  EXPECT_EQ(OnlyError("headers:\n  - {key: a, action: insert, default_value: d}"),
            "extensions::headers_setter::headers[0]: missing header source, must be "
            "'from_context', 'from_attribute' or 'value'");
  EXPECT_EQ(OnlyError("headers:\n  - {key: a, value: b, from_context: c}"),
            "extensions::headers_setter::headers[0]: invalid header source, must either "
            "'from_context', 'from_attribute' or 'value'");
}

TEST(HeadersSetterConfigTest, OtlpdErrors) {
  EXPECT_EQ(OnlyError("headers:\n  - {key: a, from_attribute: tenant}"),
            "extensions::headers_setter::headers[0]::from_attribute: from_attribute is not "
            "supported by otlpd: requests carry no client auth attributes; use from_context "
            "(with include_metadata on the receiver) or value");
  EXPECT_EQ(Errors("headers:\n  - {key: a, value: b, from_attribute: tenant}"),
            "extensions::headers_setter::headers[0]::from_attribute: from_attribute is not "
            "supported by otlpd: requests carry no client auth attributes; use from_context "
            "(with include_metadata on the receiver) or value\n"
            "extensions::headers_setter::headers[0]: invalid header source, must either "
            "'from_context', 'from_attribute' or 'value'\n");
  EXPECT_EQ(OnlyError("headers:\n  - {key: a, action: replace, value: b}"),
            "extensions::headers_setter::headers[0]::action: invalid value \"replace\"; expected "
            "one of: insert, update, upsert, delete");
  EXPECT_EQ(OnlyError("headers:\n  - {key: 'X Tenant', value: b}"),
            "extensions::headers_setter::headers[0]::key: invalid header name \"X Tenant\": only "
            "letters, digits, '-', '_' and '.' are allowed (it must be valid as an HTTP header "
            "and as gRPC metadata)");
  EXPECT_EQ(OnlyError("headers:\n  - {key: 'x:y', value: b}"),
            "extensions::headers_setter::headers[0]::key: invalid header name \"x:y\": only "
            "letters, digits, '-', '_' and '.' are allowed (it must be valid as an HTTP header "
            "and as gRPC metadata)");
  EXPECT_EQ(OnlyError("headers:\n  - {key: a, value: \"b\\r\\nx-evil: 1\"}"),
            "extensions::headers_setter::headers[0]::value: header value must contain only "
            "printable ASCII characters (no CR, LF or other control characters)");
  EXPECT_EQ(OnlyError("headers:\n  - {key: a, from_context: t, default_value: \"d\\n\"}"),
            "extensions::headers_setter::headers[0]::default_value: header value must contain "
            "only printable ASCII characters (no CR, LF or other control characters)");
  EXPECT_EQ(OnlyError("headers:\n  - {key: a, from_context: ''}"),
            "extensions::headers_setter::headers[0]::from_context: from_context must name a "
            "client metadata key");
  EXPECT_EQ(OnlyError("headers:\n  - {key: a, value: b, actoin: insert}"),
            "extensions::headers_setter::headers[0]::actoin: unknown key");
  EXPECT_EQ(OnlyError("headers:\n  - {key: a, value: b}\nheader: x"),
            "extensions::headers_setter::header: unknown key");
  EXPECT_EQ(OnlyError("headers: {key: a, value: b}"),
            "extensions::headers_setter::headers: expected a list");
  EXPECT_EQ(OnlyError("headers:\n  - a"),
            "extensions::headers_setter::headers[0]: expected a map of settings");
  EXPECT_EQ(OnlyError("headers:\n  -"),
            "extensions::headers_setter::headers[0]: missing header name");
}

TEST(HeadersSetterConfigTest, ErrorsHaveLines) {
  Diagnostics diag;
  Parse("headers:\n  - key: a\n    value: b\n  - key: c\n    from_attribute: t\n", &diag);
  ASSERT_EQ(diag.errors().size(), 1u) << diag.Format();
  EXPECT_EQ(diag.errors()[0].line, 5);
}

TEST(HeadersSetterConfigTest, DeleteNeedsNoSource) {
  // As otelcol-contrib: a source on a delete entry is accepted and ignored.
  EXPECT_EQ(Errors("headers:\n  - {key: a, action: delete}\n"
                   "  - {key: b, action: delete, value: x, from_context: y}"),
            "");
}

TEST(HeadersSetterConfigTest, ValuesExpandEnv) {
  setenv("OTLPD_HEADERS_SETTER_TEST_TENANT", "acme", 1);
  auto m =
      Make("headers:\n  - {key: X-Scope-OrgID, value: '${env:OTLPD_HEADERS_SETTER_TEST_TENANT}'}");
  EXPECT_EQ(HeadersFor(*m->ext, nullptr), (Metadata{{"x-scope-orgid", "acme"}}));
}

TEST(HeadersSetterTest, StaticValueNamesAreLowerCased) {
  auto m = Make("headers:\n  - {key: X-Scope-OrgID, value: Acme}\n  - {key: User-ID, value: u1}");
  const Metadata client{{"x-scope-orgid", "other"}};
  EXPECT_EQ(HeadersFor(*m->ext, &client), (Metadata{{"x-scope-orgid", "Acme"}, {"user-id", "u1"}}));
  EXPECT_EQ(HeadersFor(*m->ext, nullptr), (Metadata{{"x-scope-orgid", "Acme"}, {"user-id", "u1"}}));
}

TEST(HeadersSetterTest, InsertOnlySetsWhatNoEarlierEntrySet) {
  auto m = Make(R"(
headers:
  - {key: a, action: insert, value: first}
  - {key: A, action: insert, value: second}
  - {key: b, action: insert, value: only}
)");
  EXPECT_EQ(HeadersFor(*m->ext, nullptr), (Metadata{{"a", "first"}, {"b", "only"}}));
}

TEST(HeadersSetterTest, UpdateOnlyChangesWhatAnEarlierEntrySet) {
  auto m = Make(R"(
headers:
  - {key: a, action: update, value: not-set}
  - {key: b, value: old}
  - {key: B, action: update, value: new}
)");
  EXPECT_EQ(HeadersFor(*m->ext, nullptr), (Metadata{{"b", "new"}}));
}

TEST(HeadersSetterTest, UpsertAlwaysSetsInPlace) {
  auto m = Make(R"(
headers:
  - {key: a, action: upsert, value: 1}
  - {key: b, value: 2}
  - {key: a, action: upsert, value: 3}
)");
  EXPECT_EQ(HeadersFor(*m->ext, nullptr), (Metadata{{"a", "3"}, {"b", "2"}}));
}

TEST(HeadersSetterTest, DeleteRemovesAndLaterEntriesMaySetAgain) {
  auto m = Make(R"(
headers:
  - {key: a, value: 1}
  - {key: b, value: 2}
  - {key: A, action: delete}
  - {key: c, action: delete}
)");
  EXPECT_EQ(HeadersFor(*m->ext, nullptr), (Metadata{{"b", "2"}}));

  auto again = Make(R"(
headers:
  - {key: a, value: 1}
  - {key: a, action: delete}
  - {key: a, action: insert, value: 2}
)");
  EXPECT_EQ(HeadersFor(*again->ext, nullptr), (Metadata{{"a", "2"}}));
}

TEST(HeadersSetterTest, FromContext) {
  auto m = Make("headers:\n  - {key: X-Scope-OrgID, from_context: X-Tenant}");
  const Metadata client{{"authorization", "secret"}, {"x-tenant", "acme"}};
  EXPECT_EQ(HeadersFor(*m->ext, &client), (Metadata{{"x-scope-orgid", "acme"}}));

  // Absent without a default: nothing is set.
  const Metadata other{{"x-other", "v"}};
  EXPECT_EQ(HeadersFor(*m->ext, &other), Metadata{});
  EXPECT_EQ(HeadersFor(*m->ext, nullptr), Metadata{});
  const Metadata empty;
  EXPECT_EQ(HeadersFor(*m->ext, &empty), Metadata{});

  // Present but empty is a value.
  const Metadata blank{{"x-tenant", ""}};
  EXPECT_EQ(HeadersFor(*m->ext, &blank), (Metadata{{"x-scope-orgid", ""}}));
}

TEST(HeadersSetterTest, FromContextDefault) {
  auto m =
      Make("headers:\n  - {key: X-Scope-OrgID, from_context: x-tenant, default_value: anonymous}");
  const Metadata client{{"x-tenant", "acme"}};
  EXPECT_EQ(HeadersFor(*m->ext, &client), (Metadata{{"x-scope-orgid", "acme"}}));
  const Metadata other{{"x-other", "v"}};
  EXPECT_EQ(HeadersFor(*m->ext, &other), (Metadata{{"x-scope-orgid", "anonymous"}}));
  EXPECT_EQ(HeadersFor(*m->ext, nullptr), (Metadata{{"x-scope-orgid", "anonymous"}}));
}

TEST(HeadersSetterTest, FromContextFirstValueWins) {
  auto m = Make("headers:\n  - {key: X-Scope-OrgID, from_context: x-tenant}");
  const Metadata client{{"x-tenant", "first"}, {"x-other", "o"}, {"x-tenant", "second"}};
  EXPECT_EQ(HeadersFor(*m->ext, &client), (Metadata{{"x-scope-orgid", "first"}}));
}

TEST(HeadersSetterTest, FromContextWithInsertAndUpdate) {
  auto m = Make(R"(
headers:
  - {key: x-scope-orgid, value: fallback}
  - {key: x-scope-orgid, action: update, from_context: x-tenant}
  - {key: x-extra, action: update, from_context: x-tenant}
)");
  const Metadata client{{"x-tenant", "acme"}};
  EXPECT_EQ(HeadersFor(*m->ext, &client), (Metadata{{"x-scope-orgid", "acme"}}));
  // No context value: the update sets nothing, the earlier value stays.
  EXPECT_EQ(HeadersFor(*m->ext, nullptr), (Metadata{{"x-scope-orgid", "fallback"}}));
}

TEST(HeadersSetterTest, ContextValueWithCrLfNeverReachesTheOutput) {
  LogCapture logs;
  auto m = Make(R"(
headers:
  - {key: x-scope-orgid, from_context: x-tenant, default_value: anonymous}
  - {key: x-kept, value: k}
)");
  const std::vector<std::string> bad_values = {
      "acme\r\nx-injected: 1", "acme\n", "a\rb", std::string("a\0b", 3), "tab\there",
      "caf\xc3\xa9",           "del\x7f"};
  for (const std::string& bad : bad_values) {
    const Metadata client{{"x-tenant", bad}};
    // The header is skipped (not replaced by the default); the other one is unaffected.
    EXPECT_EQ(HeadersFor(*m->ext, &client), (Metadata{{"x-kept", "k"}})) << bad;
  }
  const std::string log = logs.All();
  EXPECT_TRUE(absl::StrContains(
      log,
      "headers_setter: not setting header x-scope-orgid: client metadata x-tenant has a value"))
      << log;
  // The log names the header, never the client's value.
  EXPECT_FALSE(absl::StrContains(log, "acme")) << log;
}

TEST(HeadersSetterTest, HeaderCharsets) {
  EXPECT_TRUE(IsValidHeaderName("X-Scope-OrgID"));
  EXPECT_TRUE(IsValidHeaderName("a.b_c-9"));
  EXPECT_FALSE(IsValidHeaderName(""));
  EXPECT_FALSE(IsValidHeaderName(":authority"));
  EXPECT_FALSE(IsValidHeaderName("a b"));
  EXPECT_FALSE(IsValidHeaderName("a\r\nb"));
  EXPECT_FALSE(IsValidHeaderName("caf\xc3\xa9"));
  EXPECT_TRUE(IsValidHeaderValue(""));
  EXPECT_TRUE(IsValidHeaderValue("Bearer abc ~!@#$%^&*()"));
  EXPECT_FALSE(IsValidHeaderValue("a\rb"));
  EXPECT_FALSE(IsValidHeaderValue("a\nb"));
  EXPECT_FALSE(IsValidHeaderValue(std::string("a\0b", 3)));
}

}  // namespace
}  // namespace otlpd
