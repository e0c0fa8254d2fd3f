#include <crypt.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/auth.h"
#include "core/component.h"
#include "core/config_node.h"
#include "extensions/basicauth/basicauth_extension.h"
#include "extensions/basicauth/config.h"
#include "extensions/basicauth/factory.h"
#include "extensions/basicauth/htpasswd.h"
#include "testing/temp_dir.h"
#include "testing/test_host.h"

namespace otlpd {
namespace {

using otlpd::testing::TempDir;
using otlpd::testing::TestHost;

std::unique_ptr<ComponentConfig> Parse(const std::string& yaml, Diagnostics* diag) {
  ConfigNode node(YAML::Load(yaml), "extensions::basicauth", diag);
  auto config = NewBasicAuthExtensionFactory()->ParseConfig(node);
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

struct Built {
  TestHost host;
  std::unique_ptr<Extension> ext;
  absl::Status start;
  const ServerAuthenticator* server() const {
    return dynamic_cast<const ServerAuthenticator*>(ext.get());
  }
  const ClientAuthenticator* client() const {
    return dynamic_cast<const ClientAuthenticator*>(ext.get());
  }
};

std::unique_ptr<Built> Make(const std::string& yaml, const std::string& name = "") {
  auto b = std::make_unique<Built>();
  Diagnostics diag;
  auto config = Parse(yaml, &diag);
  EXPECT_TRUE(diag.ok()) << diag.Format();
  auto created = NewBasicAuthExtensionFactory()->Create(
      CreateSettings{{"basicauth", name}, &b->host}, *config);
  EXPECT_TRUE(created.ok()) << created.status();
  b->ext = std::move(*created);
  b->start = b->ext->Start();
  return b;
}

// A server from htpasswd lines given inline (YAML literal block).
std::unique_ptr<Built> Server(const std::vector<std::string>& lines) {
  std::string yaml = "htpasswd:\n  inline: |\n";
  for (const std::string& line : lines) absl::StrAppend(&yaml, "    ", line, "\n");
  auto b = Make(yaml);
  EXPECT_TRUE(b->start.ok()) << b->start;
  EXPECT_NE(b->server(), nullptr);
  return b;
}

absl::Status Login(const Built& b, const std::string& user, const std::string& password) {
  return b.server()->Authenticate(
      Metadata{{"authorization", BasicAuthHeaderValue(user, password)}});
}

std::string RunCommand(const std::string& cmd) {
  FILE* pipe = popen(cmd.c_str(), "r");
  EXPECT_NE(pipe, nullptr) << cmd;
  std::string out;
  char buf[4096];
  size_t n;
  while (pipe != nullptr && (n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  if (pipe != nullptr) {
    EXPECT_EQ(pclose(pipe), 0) << cmd;
  }
  return std::string(absl::StripAsciiWhitespace(out));
}

// `openssl passwd <flags>` of `password` (read from a file, so any bytes pass the shell).
std::string OpensslPasswd(const std::string& flags, const std::string& password) {
  TempDir dir;
  const std::string in = dir.Write("pw", password + "\n");
  return RunCommand(absl::StrCat("openssl passwd ", flags, " -in ", in));
}

std::string Sha1(const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), out, &n, EVP_sha1(), nullptr), 1);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string CryptR(const std::string& password, const std::string& setting) {
  crypt_data data{};
  const char* out = crypt_r(password.c_str(), setting.c_str(), &data);
  return out != nullptr ? out : "";
}

TEST(BasicAuthConfigTest, ServerOrClient) {
  Diagnostics diag;
  auto server = Parse("htpasswd:\n  file: /etc/htpasswd\n  inline: 'u:p'", &diag);
  ASSERT_TRUE(diag.ok()) << diag.Format();
  const auto& s = ConfigAs<BasicAuthConfig>(*server);
  ASSERT_TRUE(s.htpasswd.has_value());
  EXPECT_EQ(s.htpasswd->file, "/etc/htpasswd");
  EXPECT_EQ(s.htpasswd->inline_text, "u:p");
  EXPECT_FALSE(s.client_auth.has_value());

  auto client = Parse("client_auth:\n  username: u\n  password: p", &diag);
  ASSERT_TRUE(diag.ok()) << diag.Format();
  const auto& c = ConfigAs<BasicAuthConfig>(*client);
  ASSERT_TRUE(c.client_auth.has_value());
  EXPECT_EQ(c.client_auth->username, "u");
  EXPECT_EQ(c.client_auth->password, "p");
  EXPECT_FALSE(c.htpasswd.has_value());
}

TEST(BasicAuthConfigTest, Errors) {
  EXPECT_EQ(OnlyError("{}"), "extensions::basicauth: no credential source provided");
  EXPECT_EQ(OnlyError("htpasswd: {inline: 'u:p'}\nclient_auth: {username: u, password: p}"),
            "extensions::basicauth: only one of `htpasswd` or `client_auth` can be specified");
  EXPECT_EQ(OnlyError("htpasswd: {}"),
            "extensions::basicauth::htpasswd: no credential source provided");
  EXPECT_EQ(OnlyError("htpasswd:"),
            "extensions::basicauth::htpasswd: no credential source provided");
  EXPECT_EQ(OnlyError("client_auth: {username: 'a:b', password: p}"),
            "extensions::basicauth::client_auth::username: username must not contain ':'");
  EXPECT_EQ(OnlyError("htpasswd: {inline: 'u:p', path: /x}"),
            "extensions::basicauth::htpasswd::path: unknown key");
  EXPECT_EQ(OnlyError("htpasswd:\n  inline: |\n    # users\n\n    good:pw\n    n0-c0l0n-s3cr3t\n"),
            "extensions::basicauth::htpasswd::inline: htpasswd inline line 4: expected "
            "\"user:hash\"");
  EXPECT_EQ(
      OnlyError("htpasswd:\n  inline: 'bob:{SHA}bm90LXNoYTE='"),
      "extensions::basicauth::htpasswd::inline: htpasswd inline line 1: malformed {SHA} hash");
}

TEST(BasicAuthTest, ServerAndClientAreDistinctRoles) {
  auto server = Server({"u:p"});
  EXPECT_NE(server->server(), nullptr);
  EXPECT_EQ(server->client(), nullptr);

  auto client = Make("client_auth: {username: u, password: p}");
  ASSERT_TRUE(client->start.ok());
  EXPECT_EQ(client->server(), nullptr);
  ASSERT_NE(client->client(), nullptr);

  // Through the host, as receivers and exporters will find them.
  TestHost host;
  host.extensions[{"basicauth", "server"}] = std::move(server->ext);
  host.extensions[{"basicauth", "client"}] = std::move(client->ext);
  EXPECT_TRUE(GetExtensionAs<ServerAuthenticator>(host, {"basicauth", "server"},
                                                  "a server "
                                                  "authenticator")
                  .ok());
  absl::StatusOr<ClientAuthenticator*> wrong =
      GetExtensionAs<ClientAuthenticator>(host, {"basicauth", "server"}, "a client authenticator");
  EXPECT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message(),
            "extension \"basicauth/server\" is not a client authenticator");
  EXPECT_TRUE(GetExtensionAs<ClientAuthenticator>(host, {"basicauth", "client"}, "x").ok());
}

TEST(BasicAuthTest, ClientHeader) {
  // RFC 7617's example.
  auto b = Make("client_auth:\n  username: Aladdin\n  password: open sesame");
  absl::StatusOr<Metadata> headers = b->client()->Headers(nullptr);
  ASSERT_TRUE(headers.ok()) << headers.status();
  EXPECT_EQ(*headers, (Metadata{{"authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}}));

  // What the client sends, the server with the same credentials accepts.
  auto server = Server({"Aladdin:open sesame"});
  EXPECT_TRUE(server->server()->Authenticate(*headers).ok());
}

TEST(BasicAuthTest, OpensslPasswdHashes) {
  for (const char* flag : {"-apr1", "-1", "-5", "-6"}) {
    for (const std::string password : {"correct horse battery staple", "p", "pa:ss w0rd!$x",
                                       "exactly16bytes!!", "a-password-of-33-bytes-in-length"}) {
      const std::string hash = OpensslPasswd(flag, password);
      ASSERT_FALSE(hash.empty()) << flag;
      auto b = Server({absl::StrCat("alice:", hash)});
      EXPECT_TRUE(Login(*b, "alice", password).ok()) << flag << " " << hash;
      EXPECT_FALSE(Login(*b, "alice", password + "x").ok()) << flag;
      EXPECT_FALSE(Login(*b, "alice", password.substr(1)).ok()) << flag;
      EXPECT_FALSE(Login(*b, "alice", "").ok()) << flag;
      EXPECT_FALSE(Login(*b, "Alice", password).ok()) << flag;
    }
  }
}

TEST(BasicAuthTest, ShaCryptWithRounds) {
  const std::string hash5 = OpensslPasswd("-5 -salt 'rounds=1000$abcdefgh'", "pw");
  ASSERT_TRUE(absl::StartsWith(hash5, "$5$rounds=1000$abcdefgh$")) << hash5;
  const std::string hash6 = CryptR("pw", "$6$rounds=2000$saltsalt");
  ASSERT_TRUE(absl::StartsWith(hash6, "$6$rounds=2000$saltsalt$")) << hash6;
  auto b = Server({"five:" + hash5, "six:" + hash6});
  EXPECT_TRUE(Login(*b, "five", "pw").ok());
  EXPECT_TRUE(Login(*b, "six", "pw").ok());
  EXPECT_FALSE(Login(*b, "six", "pW").ok());
}

TEST(BasicAuthTest, Md5CryptMatchesOpensslAndLibcrypt) {
  for (const std::string& password : std::vector<std::string>{
           "", "a", "secret", "exactly16bytes!!", "seventeen-bytes!!", std::string(40, 'z')}) {
    if (!password.empty()) {
      EXPECT_EQ(Md5Crypt(password, "abcdefgh", "$apr1$"),
                OpensslPasswd("-apr1 -salt abcdefgh", password))
          << password;
    }
    EXPECT_EQ(Md5Crypt(password, "s4lt", "$1$"), CryptR(password, "$1$s4lt$")) << password;
    // Salts are cut at 8 characters, as Apache and libcrypt do.
    EXPECT_EQ(Md5Crypt(password, "0123456789", "$1$"), CryptR(password, "$1$0123456789$"));
  }
}

TEST(BasicAuthTest, BcryptKnownVectors) {
  // Test vectors of Openwall's crypt_blowfish.
  struct Vector {
    const char* password;
    const char* hash;
  };
  const Vector vectors[] = {
      {"U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"},
      {"U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"},
      {"U*U*U", "$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a"},
      {"", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy"},
  };
  for (const Vector& v : vectors) {
    for (const char* prefix : {"$2a$", "$2b$", "$2y$"}) {
      const std::string hash = absl::StrCat(prefix, v.hash + 4);
      EXPECT_EQ(CryptR(v.password, hash), hash);  // libcrypt agrees with the literature
      auto b = Server({"bob:" + hash});
      EXPECT_TRUE(Login(*b, "bob", v.password).ok()) << hash;
      EXPECT_FALSE(Login(*b, "bob", std::string(v.password) + "U").ok()) << hash;
    }
  }
}

TEST(BasicAuthTest, ShaAndSshaHashes) {
  const std::string password = "sh4 p@ss";
  // {SHA} as `htpasswd -s` writes it, computed here with the openssl command.
  TempDir dir;
  const std::string in = dir.Write("pw", password);
  const std::string sha =
      RunCommand(absl::StrCat("openssl dgst -sha1 -binary ", in, " | openssl base64 -A"));
  ASSERT_EQ(sha, absl::Base64Escape(Sha1(password)));
  // {SSHA}: base64(sha1(password + salt) + salt).
  unsigned char salt_bytes[8];
  ASSERT_EQ(RAND_bytes(salt_bytes, sizeof(salt_bytes)), 1);
  const std::string salt(reinterpret_cast<char*>(salt_bytes), sizeof(salt_bytes));
  const std::string ssha = absl::Base64Escape(Sha1(password + salt) + salt);

  auto b = Server({"s:{SHA}" + sha, "ss:{SSHA}" + ssha});
  EXPECT_TRUE(Login(*b, "s", password).ok());
  EXPECT_TRUE(Login(*b, "ss", password).ok());
  EXPECT_FALSE(Login(*b, "s", "sh4 p@sS").ok());
  EXPECT_FALSE(Login(*b, "ss", "sh4 p@sS").ok());
  EXPECT_FALSE(Login(*b, "ss", "").ok());
}

TEST(BasicAuthTest, PlainText) {
  // Anything without a known prefix is a plain password, "{PLAIN}" (nginx) included.
  auto b = Server({"carol:pl41n", "dave:{PLAIN}t4gged", "erin:$9$not-a-format"});
  EXPECT_TRUE(Login(*b, "carol", "pl41n").ok());
  EXPECT_FALSE(Login(*b, "carol", "pl41").ok());
  EXPECT_FALSE(Login(*b, "carol", "pl41nn").ok());
  EXPECT_TRUE(Login(*b, "dave", "t4gged").ok());
  EXPECT_TRUE(Login(*b, "dave", "{PLAIN}t4gged").ok());
  EXPECT_FALSE(Login(*b, "dave", "t4gge").ok());
  EXPECT_TRUE(Login(*b, "erin", "$9$not-a-format").ok());
}

TEST(BasicAuthTest, MalformedHeaders) {
  auto b = Server({"alice:wonderland"});
  const ServerAuthenticator& s = *b->server();
  auto check = [&](const Metadata& headers, const std::string& message) {
    absl::Status st = s.Authenticate(headers);
    EXPECT_TRUE(absl::IsUnauthenticated(st)) << st;
    EXPECT_EQ(st.message(), message);
  };
  const std::string good = absl::Base64Escape("alice:wonderland");
  EXPECT_TRUE(s.Authenticate(Metadata{{"authorization", "Basic " + good}}).ok());
  // The scheme is case-insensitive (as in otelcol and RFC 7617).
  EXPECT_TRUE(s.Authenticate(Metadata{{"authorization", "basic " + good}}).ok());
  EXPECT_TRUE(s.Authenticate(Metadata{{"authorization", "BASIC " + good}}).ok());

  check({}, "no basic auth provided");
  check({{"authorization", ""}}, "no basic auth provided");
  check({{"x-authorization", "Basic " + good}}, "no basic auth provided");
  check({{"authorization", "Bearer " + good}}, "invalid authorization scheme prefix");
  check({{"authorization", "Basic"}}, "invalid authorization scheme prefix");
  check({{"authorization", "Basic" + good}}, "invalid authorization scheme prefix");
  check({{"authorization", "Basic !!not*base64!!"}}, "invalid authorization format");
  check({{"authorization", "Basic "}}, "invalid authorization format");
  check({{"authorization", "Basic " + absl::Base64Escape("alice-wonderland")}},
        "invalid authorization format");
  check({{"authorization", BasicAuthHeaderValue("alice", "wrong")}}, "invalid credentials");
  check({{"authorization", BasicAuthHeaderValue("alice", "")}}, "invalid credentials");
  check({{"authorization", BasicAuthHeaderValue("bob", "wonderland")}}, "invalid credentials");
  check({{"authorization", BasicAuthHeaderValue("", "wonderland")}}, "invalid credentials");
  // The username ends at the first colon; the password may hold more.
  auto colon = Server({"u:pa:ss"});
  EXPECT_TRUE(Login(*colon, "u", "pa:ss").ok());
}

TEST(BasicAuthTest, FileThenInline) {
  TempDir dir;
  const std::string file =
      dir.Write("htpasswd", absl::StrCat("# users\r\n\r\nalice:", OpensslPasswd("-apr1", "a-pw"),
                                         "\r\n  bob:old-pw  \nbob:older-pw\n"));
  auto b = Make(absl::StrCat("htpasswd:\n  file: ", file, "\n  inline: |\n    bob:new-pw\n"));
  ASSERT_TRUE(b->start.ok()) << b->start;
  EXPECT_TRUE(Login(*b, "alice", "a-pw").ok());
  EXPECT_TRUE(Login(*b, "bob", "new-pw").ok());  // inline overrides the file
  EXPECT_FALSE(Login(*b, "bob", "old-pw").ok());
  EXPECT_FALSE(Login(*b, "bob", "older-pw").ok());

  // Later lines override earlier ones within a source too.
  auto only_file = Make(absl::StrCat("htpasswd:\n  file: ", file));
  ASSERT_TRUE(only_file->start.ok()) << only_file->start;
  EXPECT_TRUE(Login(*only_file, "bob", "older-pw").ok());
  EXPECT_FALSE(Login(*only_file, "bob", "old-pw").ok());
}

TEST(BasicAuthTest, BadFilesFailStart) {
  TempDir dir;
  auto missing = Make(absl::StrCat("htpasswd: {file: ", dir.File("absent"), "}"), "m");
  EXPECT_FALSE(missing->start.ok());
  EXPECT_EQ(missing->start.message(),
            absl::StrCat("open htpasswd file ", dir.File("absent"), ": No such file or directory"));

  auto directory = Make(absl::StrCat("htpasswd: {file: ", dir.path(), "}"));
  EXPECT_FALSE(directory->start.ok());

  struct Case {
    std::string line;
    std::string error;
  };
  const Case cases[] = {
      {"n0-c0l0n-s3cr3t", "expected \"user:hash\""},
      {":s3cr3t", "expected \"user:hash\""},
      {"u:$apr1$s4lt$s3cr3t", "malformed $apr1$ hash"},
      {"u:$apr1$s3cr3t", "malformed $apr1$ hash"},
      {"u:$1$s4lt$s3cr3t", "malformed $1$ (MD5-crypt) hash"},
      {"u:$2y$05$s3cr3t", "malformed bcrypt hash"},
      {"u:$2b$99$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "malformed bcrypt hash"},
      {"u:$5$s4lt$s3cr3t", "malformed $5$ (SHA-256-crypt) hash"},
      {"u:$6$rounds=x$s4lt$s3cr3t", "malformed $6$ (SHA-512-crypt) hash"},
      {"u:{SHA}s3cr3t", "malformed {SHA} hash"},
      {"u:{SSHA}czNjcjN0", "malformed {SSHA} hash"},
  };
  for (const Case& c : cases) {
    const std::string file = dir.Write("bad", absl::StrCat("ok:pw\n\n# comment\n", c.line, "\n"));
    auto b = Make(absl::StrCat("htpasswd: {file: ", file, "}"));
    EXPECT_EQ(b->start.message(), absl::StrCat("htpasswd file ", file, " line 4: ", c.error));
    EXPECT_FALSE(absl::StrContains(b->start.message(), "s3cr3t")) << b->start;
  }
}

TEST(BasicAuthTest, ErrorsNeverShowCredentials) {
  auto b = Server({"us3r-n4me:" + OpensslPasswd("-6", "p4ss-w0rd"), "pl41n-us3r:pl41n-p4ss"});
  std::vector<absl::Status> errors;
  for (const auto& [user, password] :
       std::vector<std::pair<std::string, std::string>>{{"us3r-n4me", "wr0ng-p4ss"},
                                                        {"us3r-n4me", "p4ss-w0rd "},
                                                        {"pl41n-us3r", "pl41n-p4s"},
                                                        {"unkn0wn-us3r", "p4ss-w0rd"}}) {
    errors.push_back(Login(*b, user, password));
  }
  errors.push_back(b->server()->Authenticate(
      Metadata{{"authorization", "Basic " + absl::Base64Escape("us3r-n4me+p4ss-w0rd")}}));
  errors.push_back(b->server()->Authenticate(Metadata{{"authorization", "Bearer p4ss-w0rd"}}));
  errors.push_back(b->server()->Authenticate(Metadata{{"authorization", "Basic p4ss-w0rd!!"}}));
  Diagnostics diag;
  Parse("htpasswd:\n  inline: 'us3r-n4me:{SSHA}p4ss-w0rd'", &diag);
  Parse("htpasswd: {inline: 'pl41n-us3r'}", &diag);
  Parse("client_auth: {username: 'us3r-n4me:x', password: p4ss-w0rd}", &diag);
  ASSERT_EQ(diag.errors().size(), 3u) << diag.Format();
  errors.push_back(absl::InvalidArgumentError(diag.Format()));
  for (const absl::Status& e : errors) {
    EXPECT_FALSE(e.ok());
    for (const char* secret : {"p4ss", "w0rd", "us3r", "pl41n", "wr0ng", "unkn0wn"}) {
      EXPECT_FALSE(absl::StrContains(e.message(), secret)) << e;
    }
  }
}

}  // namespace
}  // namespace otlpd
