// S3Client against a real s3rver (npm s3rver 3.7.1, installed by the sdk_npm_install fixture
// into $OTLPD_SDK_DIR), plus the SigV4 signer against AWS's published examples.
//
// s3rver 3.7.1 accepts any V4 signature from a known access key (its authentication
// middleware says "Signature version 4 calculation is unimplemented"). So most tests run it
// through a small wrapper (testing/s3rver.cc) that adds what real S3 does: it checks the
// SigV4 signature and x-amz-content-sha256 of every request independently of our code (Node's
// crypto, canonical forms rebuilt from the decoded request) and answers 403
// SignatureDoesNotMatch otherwise. The wrapper can also fail requests for keys containing
// "flaky-" with 503 a few times, to exercise retries. One test runs the plain s3rver CLI.
#include "storage/s3_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "testing/daemon.h"
#include "testing/ports.h"
#include "testing/s3rver.h"

namespace otlpd::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

using otlpd::testing::S3rver;

S3Config BaseConfig(const S3rver& server) {
  S3Config config;
  config.endpoint = server.endpoint();
  config.bucket = "otlpd-cold";
  config.prefix = "cold";
  config.access_key = "S3RVER";
  config.secret_key = "S3RVER";
  config.timeout = absl::Seconds(20);
  config.max_attempts = 3;
  return config;
}

std::unique_ptr<S3Client> MustCreate(const S3Config& config) {
  auto client = S3Client::Create(config);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(gen());
  return out;
}

class S3ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status started = server_.Start();
    ASSERT_TRUE(started.ok()) << started;
    client_ = MustCreate(BaseConfig(server_));
    ASSERT_NE(client_, nullptr);
    absl::Status ensured = client_->EnsureBucket();
    ASSERT_TRUE(ensured.ok()) << ensured << "\n" << server_.process().Stderr();
  }

  S3rver server_;
  std::unique_ptr<S3Client> client_;
};

// --- Configuration --------------------------------------------------------------------

TEST(S3ClientConfigTest, CreateRejectsBadConfigNamingTheField) {
  S3Config good;
  good.endpoint = "http://127.0.0.1:4569";
  good.bucket = "b";
  good.access_key = "AK";
  good.secret_key = "very-secret-value";
  ASSERT_TRUE(S3Client::Create(good).ok());
  S3Config https = good;
  https.endpoint = "HTTPS://s3.example.com/base/";
  EXPECT_TRUE(S3Client::Create(https).ok());

  struct Case {
    void (*mutate)(S3Config&);
    const char* field;
  } cases[] = {
      {[](S3Config& c) { c.endpoint = "ftp://host"; }, "s3.endpoint"},
      {[](S3Config& c) { c.endpoint = "127.0.0.1:4569"; }, "s3.endpoint"},
      {[](S3Config& c) { c.endpoint = "http://"; }, "s3.endpoint"},
      {[](S3Config& c) { c.bucket = ""; }, "s3.bucket"},
      {[](S3Config& c) { c.access_key = ""; }, "s3.access_key"},
      {[](S3Config& c) { c.secret_key = ""; }, "s3.secret_key"},
      {[](S3Config& c) { c.max_attempts = 0; }, "s3.max_attempts"},
      {[](S3Config& c) { c.timeout = absl::ZeroDuration(); }, "s3.timeout"},
  };
  for (const Case& c : cases) {
    S3Config config = good;
    c.mutate(config);
    auto client = S3Client::Create(config);
    ASSERT_FALSE(client.ok()) << c.field;
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(client.status().message(), HasSubstr(c.field));
    EXPECT_THAT(client.status().message(), Not(HasSubstr("very-secret-value")));
  }
}

// --- SigV4 against AWS's published examples (S3 API reference, "Signature Calculations for
// the Authorization Header: Transferring Payload in a Single Chunk"), all with
// AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, 20130524, us-east-1. ---

constexpr char kExampleAccessKey[] = "AKIAIOSFODNN7EXAMPLE";
constexpr char kExampleSecretKey[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

s3_internal::SigningInput Example(std::string method, std::string uri, std::string query,
                                  std::string payload_sha256) {
  s3_internal::SigningInput in;
  in.method = std::move(method);
  in.canonical_uri = std::move(uri);
  in.canonical_query = std::move(query);
  in.payload_sha256 = std::move(payload_sha256);
  in.amz_date = "20130524T000000Z";
  in.region = "us-east-1";
  in.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                {"x-amz-date", in.amz_date},
                {"x-amz-content-sha256", in.payload_sha256}};
  return in;
}

std::string SignatureOf(const s3_internal::SigningInput& in) {
  std::string auth = s3_internal::Authorization(in, kExampleAccessKey, kExampleSecretKey);
  return auth.substr(auth.rfind('=') + 1);
}

TEST(SigV4Test, GetObjectWithRangeExample) {
  auto in = Example("GET", "/test.txt", "", kEmptySha256);
  in.headers.emplace_back("Range", "bytes=0-9");
  EXPECT_EQ(s3_internal::CanonicalRequest(in),
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:" +
                std::string(kEmptySha256) +
                "\nx-amz-date:20130524T000000Z\n\n"
                "host;range;x-amz-content-sha256;x-amz-date\n" +
                kEmptySha256);
  EXPECT_EQ(s3_internal::StringToSign(in),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(s3_internal::Authorization(in, kExampleAccessKey, kExampleSecretKey),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
            "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature="
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4Test, PutObjectExample) {
  const std::string payload_hash = s3_internal::Sha256Hex("Welcome to Amazon S3.");
  EXPECT_EQ(payload_hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  // "test$file.text": '$' is not unreserved.
  auto in = Example("PUT", "/" + s3_internal::UriEncode("test$file.text", true), "", payload_hash);
  EXPECT_EQ(in.canonical_uri, "/test%24file.text");
  in.headers.emplace_back("Date", "Fri, 24 May 2013 00:00:00 GMT");
  in.headers.emplace_back("x-amz-storage-class", "REDUCED_REDUNDANCY");
  EXPECT_EQ(SignatureOf(in), "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4Test, GetBucketLifecycleExample) {
  auto in = Example("GET", "/", s3_internal::CanonicalQuery({{"lifecycle", ""}}), kEmptySha256);
  EXPECT_EQ(in.canonical_query, "lifecycle=");
  EXPECT_EQ(SignatureOf(in), "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4Test, ListObjectsExample) {
  // Given out of order: the canonical query sorts by name.
  auto in = Example("GET", "/", s3_internal::CanonicalQuery({{"prefix", "J"}, {"max-keys", "2"}}),
                    kEmptySha256);
  EXPECT_EQ(in.canonical_query, "max-keys=2&prefix=J");
  EXPECT_EQ(SignatureOf(in), "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4Test, UriEncodingFollowsRfc3986UnreservedSet) {
  using s3_internal::UriEncode;
  EXPECT_EQ(UriEncode("AZaz09-._~", false), "AZaz09-._~");
  EXPECT_EQ(UriEncode("a b+c=d&e/f", false), "a%20b%2Bc%3Dd%26e%2Ff");
  EXPECT_EQ(UriEncode("a b+c=d&e/f", true), "a%20b%2Bc%3Dd%26e/f");
  EXPECT_EQ(UriEncode("\xC3\xBC*!'()", true), "%C3%BC%2A%21%27%28%29");
  EXPECT_EQ(s3_internal::CanonicalQuery({{"continuation-token", "a+b/c=="}, {"list-type", "2"}}),
            "continuation-token=a%2Bb%2Fc%3D%3D&list-type=2");
}

TEST(SigV4Test, HeaderValuesAreTrimmedAndSpacesCollapsed) {
  auto in = Example("GET", "/", "", kEmptySha256);
  in.headers.emplace_back("X-Amz-Meta-Note", "  a   b  ");
  EXPECT_THAT(s3_internal::CanonicalRequest(in), HasSubstr("\nx-amz-meta-note:a b\n"));
}

// --- ListObjectsV2 parsing ------------------------------------------------------------

TEST(ListObjectsV2ParseTest, KeysSizesTokenAndEntities) {
  auto page = s3_internal::ParseListObjectsV2(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
<Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>
<Contents><Key>p/a&amp;b&lt;c&gt;d&quot;e&apos;f&#x60;g&#96;</Key><LastModified>x</LastModified>
<Size>12</Size></Contents>
<Contents><Key>p/&#x65E5;&amp;amp;</Key><Size>0</Size></Contents>
<NextContinuationToken>tok+/=</NextContinuationToken></ListBucketResult>)");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->objects,
              ElementsAre(S3Object{"p/a&b<c>d\"e'f`g`", 12}, S3Object{"p/\xE6\x97\xA5&amp;", 0}));
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_token, "tok+/=");

  auto last = s3_internal::ParseListObjectsV2(
      "<ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
      "</ListBucketResult>");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_TRUE(last->objects.empty());
  EXPECT_FALSE(last->truncated);

  EXPECT_FALSE(s3_internal::ParseListObjectsV2("<Error><Code>x</Code></Error>").ok());
  EXPECT_FALSE(s3_internal::ParseListObjectsV2(
                   "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents>"
                   "</ListBucketResult>")
                   .ok());
  EXPECT_FALSE(s3_internal::ParseListObjectsV2(
                   "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>")
                   .ok());
}

TEST(ListObjectsV2ParseTest, UnknownOrBrokenEntitiesStayLiteral) {
  EXPECT_EQ(s3_internal::XmlUnescape("a & b &nbsp; &#0; &#xZZ; &amp"),
            "a & b &nbsp; &#0; &#xZZ; &amp");
  EXPECT_EQ(s3_internal::XmlUnescape("&#x1F600;"), "\xF0\x9F\x98\x80");
}

// --- Against s3rver -------------------------------------------------------------------

TEST_F(S3ClientTest, EnsureBucketIsIdempotentAndCreatesMissingBuckets) {
  EXPECT_TRUE(client_->EnsureBucket().ok());
  S3Config other = BaseConfig(server_);
  other.bucket = "otlpd-other";
  // Outside us-east-1 the create request carries a LocationConstraint body (signed too).
  other.region = "eu-west-1";
  auto second = MustCreate(other);
  ASSERT_NE(second, nullptr);
  // Before the bucket exists, calls on it say so.
  EXPECT_EQ(second->Put("k", "v").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(second->EnsureBucket().ok());
  ASSERT_TRUE(second->EnsureBucket().ok());
  ASSERT_TRUE(second->Put("k", "v").ok());
  auto listed = second->List("");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed, ElementsAre(S3Object{"k", 1}));
  // Buckets are separate.
  EXPECT_FALSE(client_->Head("k")->has_value());
}

TEST_F(S3ClientTest, PutGetRoundTripsBinaryData) {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  const std::string big = RandomBytes(5 << 20, 42);
  const std::pair<std::string, std::string> objects[] = {
      {"empty", ""}, {"bytes/all", all_bytes}, {"blocks/5mib", big}, {"x", "x"}};
  for (const auto& [key, data] : objects) {
    ASSERT_TRUE(client_->Put(key, data).ok()) << key;
  }
  for (const auto& [key, data] : objects) {
    auto got = client_->Get(key);
    ASSERT_TRUE(got.ok()) << key << ": " << got.status();
    EXPECT_EQ(got->size(), data.size()) << key;
    EXPECT_TRUE(*got == data) << key;
    auto size = client_->Head(key);
    ASSERT_TRUE(size.ok()) << size.status();
    EXPECT_EQ(*size, std::optional<uint64_t>(data.size())) << key;
  }
  // Overwrite replaces.
  ASSERT_TRUE(client_->Put("x", "second").ok());
  EXPECT_EQ(*client_->Get("x"), "second");
}

TEST_F(S3ClientTest, GetRangeReturnsTheRequestedBytes) {
  const std::string data = RandomBytes(100000, 7);
  ASSERT_TRUE(client_->Put("block", data).ok());
  struct {
    uint64_t offset, length;
  } ranges[] = {{0, 1}, {0, 100000}, {12345, 678}, {99999, 1}, {99990, 100}, {50000, 0}};
  for (const auto& r : ranges) {
    auto got = client_->GetRange("block", r.offset, r.length);
    ASSERT_TRUE(got.ok()) << r.offset << "+" << r.length << ": " << got.status();
    EXPECT_TRUE(*got == data.substr(r.offset, r.length)) << r.offset << "+" << r.length;
  }
  EXPECT_EQ(client_->GetRange("block", 100000, 10).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(client_->GetRange("block", 200000, 0).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(client_->GetRange("nope", 0, 10).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->GetRange("nope", 0, 0).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(S3ClientTest, MissingObjects) {
  auto got = client_->Get("does/not/exist");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr("NoSuchKey"));
  auto head = client_->Head("does/not/exist");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_FALSE(head->has_value());
  auto listed = client_->List("does/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_TRUE(listed->empty());
  EXPECT_EQ(client_->Get("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(S3ClientTest, DeleteRemovesAndMissingIsOk) {
  ASSERT_TRUE(client_->Put("gone", "data").ok());
  ASSERT_TRUE(client_->Put("gone2", "data").ok());
  ASSERT_TRUE(client_->Delete("gone").ok());
  EXPECT_FALSE(client_->Head("gone")->has_value());
  EXPECT_EQ(client_->Get("gone").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(client_->Delete("gone").ok());
  EXPECT_TRUE(client_->Delete("never/was").ok());
  EXPECT_THAT(*client_->List("gone"), ElementsAre(S3Object{"gone2", 4}));
}

// s3rver pages at 1000 keys: 1234 objects need two pages and one continuation token (which
// holds '+', '/' and '=', so its encoding in the query is checked by the signature too).
// Four threads share the client while uploading.
TEST_F(S3ClientTest, ListFollowsContinuationTokensAndStripsThePrefix) {
  constexpr int kObjects = 1234;
  constexpr int kThreads = 4;
  auto key_of = [](int i) { return absl::StrCat("many/", absl::Dec(i, absl::kZeroPad5)); };
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kObjects; i += kThreads) {
        if (!client_->Put(key_of(i), std::string(i % 17, 'a')).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_TRUE(client_->Put("manx", "other").ok());
  ASSERT_TRUE(client_->Put("few/1", "1").ok());

  auto listed = client_->List("many/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), static_cast<size_t>(kObjects));
  for (int i = 0; i < kObjects; ++i) {
    ASSERT_EQ((*listed)[i], (S3Object{key_of(i), static_cast<uint64_t>(i % 17)})) << i;
  }
  auto all = client_->List("");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), static_cast<size_t>(kObjects + 2));
  EXPECT_THAT(*client_->List("ma"), ::testing::SizeIs(kObjects + 1));

  // Without a prefix in the config the same objects show their full keys.
  S3Config raw = BaseConfig(server_);
  raw.prefix = "";
  auto unprefixed = MustCreate(raw);
  auto full = unprefixed->List("cold/few/");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_THAT(*full, ElementsAre(S3Object{"cold/few/1", 1}));
  EXPECT_EQ(*unprefixed->Get("cold/manx"), "other");
}

TEST_F(S3ClientTest, KeysNeedingEscaping) {
  const std::string keys[] = {
      "with space/a b.bin",         "plus+sign+",
      "equals=and&amp;?query#frag", "unicode/\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E-\xC3\xBC.bin",
      "tilde~dash-under_dot.",      "quotes'\"<>`!*()$@,;:",
      "percent%20literal%",
  };
  for (const std::string& key : keys) {
    ASSERT_TRUE(client_->Put(key, "v:" + key).ok()) << key;
  }
  for (const std::string& key : keys) {
    auto got = client_->Get(key);
    ASSERT_TRUE(got.ok()) << key << ": " << got.status();
    EXPECT_EQ(*got, "v:" + key);
    EXPECT_EQ(*client_->Head(key), std::optional<uint64_t>(2 + key.size())) << key;
    EXPECT_EQ(*client_->GetRange(key, 2, 5), key.substr(0, 5)) << key;
  }
  auto listed = client_->List("");
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::vector<std::string> listed_keys;
  for (const auto& o : *listed) listed_keys.push_back(o.key);
  EXPECT_THAT(listed_keys, ::testing::UnorderedElementsAreArray(keys));
  EXPECT_THAT(*client_->List("with space/"), ElementsAre(S3Object{keys[0], 2 + keys[0].size()}));
  EXPECT_THAT(*client_->List("plus+"), ElementsAre(S3Object{keys[1], 2 + keys[1].size()}));
  EXPECT_THAT(*client_->List("unicode/\xE6\x97\xA5"),
              ElementsAre(S3Object{keys[3], 2 + keys[3].size()}));
  for (const std::string& key : keys) {
    ASSERT_TRUE(client_->Delete(key).ok()) << key;
    EXPECT_FALSE(client_->Head(key)->has_value()) << key;
  }
}

TEST_F(S3ClientTest, WrongCredentialsArePermissionDenied) {
  S3Config wrong_secret = BaseConfig(server_);
  wrong_secret.secret_key = "not-the-secret-key";
  auto client = MustCreate(wrong_secret);
  absl::Status put = client->Put("k", "v");
  EXPECT_EQ(put.code(), absl::StatusCode::kPermissionDenied) << put;
  EXPECT_THAT(put.message(), HasSubstr("SignatureDoesNotMatch"));
  EXPECT_THAT(put.message(), Not(HasSubstr("not-the-secret-key")));
  EXPECT_EQ(client->Get("k").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(client->List("").status().code(), absl::StatusCode::kPermissionDenied);
  // HEAD answers carry no body: the status alone says it.
  EXPECT_EQ(client->Head("k").status().code(), absl::StatusCode::kPermissionDenied);

  S3Config wrong_access = BaseConfig(server_);
  wrong_access.access_key = "NOBODY";
  auto other = MustCreate(wrong_access);
  absl::Status get = other->Get("k").status();
  EXPECT_EQ(get.code(), absl::StatusCode::kPermissionDenied) << get;
  EXPECT_THAT(get.message(), HasSubstr("InvalidAccessKeyId"));
  // Nothing was written by the refused calls.
  EXPECT_FALSE(client_->Head("k")->has_value());
}

TEST_F(S3ClientTest, ServerStoppedIsUnavailableWithinBoundedTime) {
  ASSERT_TRUE(client_->Put("k", "v").ok());
  server_.process().Kill9();
  const absl::Time start = absl::Now();
  absl::Status got = client_->Get("k").status();
  EXPECT_EQ(got.code(), absl::StatusCode::kUnavailable) << got;
  EXPECT_THAT(got.message(), HasSubstr("3 attempts"));
  EXPECT_EQ(client_->Put("k", "v").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(client_->List("").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(client_->Head("k").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(client_->Delete("k").code(), absl::StatusCode::kUnavailable);
  // Connection refused is immediate: only the backoff (< 0.1 + 0.2 s per call) remains.
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(S3ClientTest, HungServerTimesOutAsUnavailable) {
  ASSERT_TRUE(client_->Put("k", "v").ok());
  S3Config config = BaseConfig(server_);
  config.timeout = absl::Milliseconds(300);
  config.max_attempts = 2;
  auto impatient = MustCreate(config);
  ASSERT_EQ(kill(server_.process().pid(), SIGSTOP), 0);
  const absl::Time start = absl::Now();
  absl::Status got = impatient->Get("k").status();
  const absl::Duration took = absl::Now() - start;
  ASSERT_EQ(kill(server_.process().pid(), SIGCONT), 0);
  EXPECT_EQ(got.code(), absl::StatusCode::kUnavailable) << got;
  EXPECT_GE(took, absl::Milliseconds(600));
  EXPECT_LT(took, absl::Seconds(5));
  // And once the server is back, calls succeed again.
  EXPECT_EQ(*impatient->Get("k"), "v");
}

TEST(S3ClientRetryTest, TransientServerErrorsAreRetried) {
  S3rver server;
  absl::Status started = server.Start(/*verify=*/true, /*fail_times=*/2);
  ASSERT_TRUE(started.ok()) << started;
  auto client = MustCreate(BaseConfig(server));  // 3 attempts: 2 failures then success
  ASSERT_TRUE(client->EnsureBucket().ok());
  ASSERT_TRUE(client->Put("flaky-1", "data").ok());
  EXPECT_EQ(*client->Get("flaky-1"), "data");

  S3Config config = BaseConfig(server);
  config.max_attempts = 2;
  auto impatient = MustCreate(config);
  absl::Status put = impatient->Put("flaky-2", "data");
  EXPECT_EQ(put.code(), absl::StatusCode::kUnavailable) << put;
  EXPECT_THAT(put.message(), HasSubstr("SlowDown"));
}

// The plain s3rver CLI (no signature checks of ours): the client works with it as it is.
TEST(S3ClientPlainS3rverTest, RoundTripAgainstTheS3rverCli) {
  S3rver server;
  absl::Status started = server.Start(/*verify=*/false);
  ASSERT_TRUE(started.ok()) << started;
  auto client = MustCreate(BaseConfig(server));
  ASSERT_TRUE(client->EnsureBucket().ok());
  ASSERT_TRUE(client->Put("a b/c+d", "hello").ok());
  EXPECT_EQ(*client->Get("a b/c+d"), "hello");
  EXPECT_EQ(*client->GetRange("a b/c+d", 1, 3), "ell");
  EXPECT_THAT(*client->List("a b/"), ElementsAre(S3Object{"a b/c+d", 5}));
  ASSERT_TRUE(client->Delete("a b/c+d").ok());
  EXPECT_FALSE(client->Head("a b/c+d")->has_value());
}

}  // namespace
}  // namespace otlpd::storage
