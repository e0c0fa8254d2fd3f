#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/auth.h"
#include "core/component.h"
#include "core/config_node.h"
#include "extensions/bearertokenauth/bearertokenauth_extension.h"
#include "extensions/bearertokenauth/config.h"
#include "extensions/bearertokenauth/factory.h"
#include "testing/temp_dir.h"
#include "testing/test_host.h"
#include "testing/wait.h"

namespace otlpd {
namespace {

using otlpd::testing::TempDir;
using otlpd::testing::TestHost;
using otlpd::testing::WaitUntil;

constexpr char kPath[] = "extensions::bearertokenauth";

std::unique_ptr<ComponentConfig> Parse(const std::string& yaml, Diagnostics* diag) {
  ConfigNode node(YAML::Load(yaml), kPath, diag);
  auto config = NewBearerTokenAuthExtensionFactory()->ParseConfig(node);
  node.ReportUnknownKeys();
  return config;
}

// The single error of a config that must fail, as "path: message".
std::string OnlyError(const std::string& yaml) {
  Diagnostics diag;
  Parse(yaml, &diag);
  if (diag.errors().size() != 1) return absl::StrCat("expected one error, got: ", diag.Format());
  return absl::StrCat(diag.errors()[0].path, ": ", diag.errors()[0].message);
}

struct Started {
  TestHost host;
  std::unique_ptr<BearerTokenAuthExtension> ext;
  absl::Status start;
};

std::unique_ptr<Started> Make(const std::string& yaml, const std::string& name = "") {
  auto s = std::make_unique<Started>();
  Diagnostics diag;
  auto config = Parse(yaml, &diag);
  EXPECT_TRUE(diag.ok()) << diag.Format();
  auto created = NewBearerTokenAuthExtensionFactory()->Create(
      CreateSettings{{"bearertokenauth", name}, &s->host}, *config);
  EXPECT_TRUE(created.ok()) << created.status();
  s->ext.reset(dynamic_cast<BearerTokenAuthExtension*>(created->release()));
  EXPECT_NE(s->ext, nullptr);
  s->start = s->ext->Start();
  return s;
}

absl::Status Auth(const BearerTokenAuthExtension& ext, const std::string& value,
                  const std::string& header = "authorization") {
  return ext.Authenticate(Metadata{{header, value}});
}

// Replaces `path` with `content` through a rename, the way Kubernetes swaps a secret.
void ReplaceFile(const TempDir& dir, const std::string& path, const std::string& content) {
  const std::string tmp = dir.Write("swap.tmp", content);
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);
}

// Captures what the extension logs.
class LogCapture {
 public:
  LogCapture()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)),
        previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink_));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::vector<std::string> Lines() const { return sink_->last_formatted(); }
  int Count(const std::string& needle) const {
    int n = 0;
    for (const std::string& line : Lines()) n += absl::StrContains(line, needle) ? 1 : 0;
    return n;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(BearerTokenAuthConfigTest, Defaults) {
  Diagnostics diag;
  auto config = Parse("token: abc", &diag);
  ASSERT_TRUE(diag.ok()) << diag.Format();
  const auto& c = ConfigAs<BearerTokenAuthConfig>(*config);
  EXPECT_EQ(c.scheme, "Bearer");
  EXPECT_EQ(c.header, "Authorization");
  EXPECT_EQ(c.token, "abc");
  EXPECT_TRUE(c.tokens.empty());
  EXPECT_TRUE(c.filename.empty());
}

TEST(BearerTokenAuthConfigTest, Errors) {
  EXPECT_EQ(OnlyError("{}"), "extensions::bearertokenauth: no bearer token provided");
  EXPECT_EQ(OnlyError("scheme: Token"), "extensions::bearertokenauth: no bearer token provided");
  EXPECT_EQ(OnlyError("token: a\ntokens: [b]"),
            "extensions::bearertokenauth: either tokens or token should be provided, not both");
  EXPECT_EQ(OnlyError("token: a\nheader: ''"),
            "extensions::bearertokenauth::header: header must not be empty");
  EXPECT_EQ(OnlyError("tokens: [a, '']"),
            "extensions::bearertokenauth::tokens: tokens[1] must not be empty");
  EXPECT_EQ(OnlyError("token: a\ntokens: a"),
            "extensions::bearertokenauth::tokens: expected a list");
  EXPECT_EQ(OnlyError("token: a\ntoken_file: /x"),
            "extensions::bearertokenauth::token_file: unknown key");
}

TEST(BearerTokenAuthConfigTest, FilenameWithTokenIsAcceptedAndTheFileWins) {
  // otelcol-contrib only warns when both are set, and reads the file.
  TempDir dir;
  const std::string file = dir.Write("token", "from-file\n");
  Diagnostics diag;
  Parse(absl::StrCat("token: inline\nfilename: ", file), &diag);
  EXPECT_TRUE(diag.ok()) << diag.Format();

  LogCapture logs;
  auto s = Make(absl::StrCat("token: inline\nfilename: ", file));
  ASSERT_TRUE(s->start.ok()) << s->start;
  EXPECT_TRUE(Auth(*s->ext, "Bearer from-file").ok());
  EXPECT_FALSE(Auth(*s->ext, "Bearer inline").ok());
  EXPECT_EQ(logs.Count("a filename is specified; the configured token(s) are ignored"), 1);
}

TEST(BearerTokenAuthTest, ServerChecksSchemeAndToken) {
  auto s = Make("token: s3cr3t");
  ASSERT_TRUE(s->start.ok());
  const BearerTokenAuthExtension& ext = *s->ext;

  EXPECT_TRUE(Auth(ext, "Bearer s3cr3t").ok());

  absl::Status missing = ext.Authenticate(Metadata{});
  EXPECT_TRUE(absl::IsUnauthenticated(missing)) << missing;
  EXPECT_EQ(missing.message(), "missing or empty authorization header: Authorization");
  absl::Status empty = Auth(ext, "");
  EXPECT_TRUE(absl::IsUnauthenticated(empty)) << empty;
  EXPECT_EQ(empty.message(), "missing or empty authorization header: Authorization");
  EXPECT_TRUE(absl::IsUnauthenticated(Auth(ext, "Bearer s3cr3t", "x-other")));

  for (const char* wrong :
       {"Bearer wrong", "Bearer s3cr3", "Bearer s3cr3tt", "Bearer s3cr3t ", "Bearer  s3cr3t",
        "s3cr3t", "Basic s3cr3t", "Bearer", "Bearer ", "BearerS3cr3t",
        // The scheme is compared exactly, as otelcol-contrib does.
        "bearer s3cr3t", "BEARER s3cr3t"}) {
    absl::Status st = Auth(ext, wrong);
    EXPECT_TRUE(absl::IsUnauthenticated(st)) << wrong << ": " << st;
    EXPECT_EQ(st.message(), "scheme or token does not match") << wrong;
  }

  // Only the first value of the header counts (as in otelcol).
  EXPECT_FALSE(ext.Authenticate(Metadata{{"authorization", "Bearer wrong"},
                                         {"authorization", "Bearer s3cr3t"}})
                   .ok());
  EXPECT_TRUE(ext.Authenticate(Metadata{{"content-type", "application/x-protobuf"},
                                        {"authorization", "Bearer s3cr3t"}})
                  .ok());
}

TEST(BearerTokenAuthTest, ClientSendsSchemeAndToken) {
  auto s = Make("token: s3cr3t");
  absl::StatusOr<Metadata> headers = s->ext->Headers(nullptr);
  ASSERT_TRUE(headers.ok()) << headers.status();
  EXPECT_EQ(*headers, (Metadata{{"authorization", "Bearer s3cr3t"}}));
}

TEST(BearerTokenAuthTest, CustomHeaderAndScheme) {
  auto s = Make("token: abc\nscheme: Token\nheader: X-API-Key");
  EXPECT_TRUE(Auth(*s->ext, "Token abc", "x-api-key").ok());
  EXPECT_FALSE(Auth(*s->ext, "Token abc", "authorization").ok());
  EXPECT_FALSE(Auth(*s->ext, "Bearer abc", "x-api-key").ok());
  absl::Status missing = Auth(*s->ext, "Token abc", "authorization");
  EXPECT_EQ(missing.message(), "missing or empty authorization header: X-API-Key");
  EXPECT_EQ(*s->ext->Headers(nullptr), (Metadata{{"x-api-key", "Token abc"}}));

  // An empty scheme: the header is the bare token.
  auto bare = Make("token: abc\nscheme: ''");
  EXPECT_TRUE(Auth(*bare->ext, "abc").ok());
  EXPECT_FALSE(Auth(*bare->ext, " abc").ok());
  EXPECT_FALSE(Auth(*bare->ext, "Bearer abc").ok());
  EXPECT_EQ(*bare->ext->Headers(nullptr), (Metadata{{"authorization", "abc"}}));
}

TEST(BearerTokenAuthTest, SeveralTokens) {
  auto s = Make("tokens: [first, second, third]");
  EXPECT_TRUE(Auth(*s->ext, "Bearer first").ok());
  EXPECT_TRUE(Auth(*s->ext, "Bearer second").ok());
  EXPECT_TRUE(Auth(*s->ext, "Bearer third").ok());
  EXPECT_FALSE(Auth(*s->ext, "Bearer fourth").ok());
  EXPECT_EQ(*s->ext->Headers(nullptr), (Metadata{{"authorization", "Bearer first"}}));
}

TEST(BearerTokenAuthTest, TokenFileLinesAreTrimmed) {
  TempDir dir;
  const std::string file = dir.Write("token", "  one \r\n\n\ttwo\n\n");
  auto s = Make(absl::StrCat("filename: ", file));
  ASSERT_TRUE(s->start.ok()) << s->start;
  EXPECT_TRUE(Auth(*s->ext, "Bearer one").ok());
  EXPECT_TRUE(Auth(*s->ext, "Bearer two").ok());
  EXPECT_FALSE(Auth(*s->ext, "Bearer ").ok());
  EXPECT_FALSE(Auth(*s->ext, "Bearer  one ").ok());
  EXPECT_EQ(*s->ext->Headers(nullptr), (Metadata{{"authorization", "Bearer one"}}));
}

TEST(BearerTokenAuthTest, UnusableFileFailsStart) {
  TempDir dir;
  auto missing = Make(absl::StrCat("filename: ", dir.File("absent")), "m");
  EXPECT_FALSE(missing->start.ok());
  EXPECT_EQ(missing->start.message(), absl::StrCat("cannot open token file ", dir.File("absent"),
                                                   ": No such file or directory"));
  EXPECT_TRUE(absl::IsUnauthenticated(Auth(*missing->ext, "Bearer ")));
  EXPECT_FALSE(missing->ext->Headers(nullptr).ok());

  auto blank = Make(absl::StrCat("filename: ", dir.Write("blank", " \n\n")));
  EXPECT_FALSE(blank->start.ok());
  EXPECT_TRUE(absl::StrContains(blank->start.message(), "has no token")) << blank->start;

  auto directory = Make(absl::StrCat("filename: ", dir.path()));
  EXPECT_FALSE(directory->start.ok());
}

TEST(BearerTokenAuthTest, TokenFileChangesArePickedUp) {
  TempDir dir;
  const std::string file = dir.Write("token", "old-token\n");
  LogCapture logs;
  auto s = Make(absl::StrCat("filename: ", file));
  ASSERT_TRUE(s->start.ok()) << s->start;
  const BearerTokenAuthExtension& ext = *s->ext;
  EXPECT_TRUE(Auth(ext, "Bearer old-token").ok());

  // Rewritten in place, with another size.
  dir.Write("token", "new-token-1\n");
  ASSERT_TRUE(WaitUntil([&] { return Auth(ext, "Bearer new-token-1").ok(); }, absl::Seconds(10)));
  EXPECT_FALSE(Auth(ext, "Bearer old-token").ok());
  EXPECT_EQ(*ext.Headers(nullptr), (Metadata{{"authorization", "Bearer new-token-1"}}));

  // Same size and the same mtime (set back explicitly): the inode and ctime still tell.
  struct stat before;
  ASSERT_EQ(stat(file.c_str(), &before), 0);
  ReplaceFile(dir, file, "new-token-2\n");
  const struct timespec same_times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, file.c_str(), same_times, 0), 0);
  ASSERT_TRUE(WaitUntil([&] { return Auth(ext, "Bearer new-token-2").ok(); }, absl::Seconds(10)));
  EXPECT_FALSE(Auth(ext, "Bearer new-token-1").ok());

  // Gone: the last token stays valid, with one warning that does not show it.
  ASSERT_EQ(std::remove(file.c_str()), 0);
  ASSERT_TRUE(WaitUntil([&] { return logs.Count("keeping the previous token(s)") > 0; },
                        absl::Seconds(10)));
  EXPECT_TRUE(Auth(ext, "Bearer new-token-2").ok());
  EXPECT_EQ(*ext.Headers(nullptr), (Metadata{{"authorization", "Bearer new-token-2"}}));

  // Back, empty: still the last token (the warning is not repeated).
  dir.Write("token", "");
  dir.Write("token", "\n\n");
  // Back with a token: used again.
  dir.Write("token", "new-token-3");
  ASSERT_TRUE(WaitUntil([&] { return Auth(ext, "Bearer new-token-3").ok(); }, absl::Seconds(10)));
  EXPECT_EQ(logs.Count("keeping the previous token(s)"), 1);
  EXPECT_GE(logs.Count("reloaded the token(s) from"), 3);

  for (const std::string& line : logs.Lines()) {
    EXPECT_FALSE(absl::StrContains(line, "old-token")) << line;
    EXPECT_FALSE(absl::StrContains(line, "new-token")) << line;
  }
  s->ext->Shutdown(absl::Now() + absl::Seconds(5));
}

TEST(BearerTokenAuthTest, ErrorsNeverShowTokens) {
  TempDir dir;
  const std::string file = dir.Write("token", "fil3-s3cr3t\n");
  auto inline_token = Make("tokens: [t0k3n-s3cr3t, an0th3r-s3cr3t]");
  auto from_file = Make(absl::StrCat("filename: ", file));
  std::vector<absl::Status> errors;
  for (const BearerTokenAuthExtension* ext : {inline_token->ext.get(), from_file->ext.get()}) {
    for (const char* presented : {"Bearer pr3s3nt3d", "bearer t0k3n-s3cr3t", "Bearer t0k3n-s3cr3",
                                  "Bearer fil3-s3cr3tx", "pr3s3nt3d", ""}) {
      errors.push_back(Auth(*ext, presented));
      errors.push_back(Auth(*ext, presented, "x-other"));
    }
  }
  Diagnostics diag;
  Parse("tokens: t0k3n-s3cr3t", &diag);
  Parse("tokens: [t0k3n-s3cr3t, '']\ntoken: an0th3r-s3cr3t", &diag);
  errors.push_back(absl::InvalidArgumentError(diag.Format()));
  ASSERT_EQ(diag.errors().size(), 4u) << diag.Format();
  for (const absl::Status& e : errors) {
    EXPECT_FALSE(e.ok());
    for (const char* secret : {"s3cr3t", "pr3s3nt3d", "s3cr3"}) {
      EXPECT_FALSE(absl::StrContains(e.message(), secret)) << e;
    }
  }
}

}  // namespace
}  // namespace otlpd
