// The redaction masks on strings: card numbers (Luhn-checked, with separators, bounded),
// e-mail addresses, configured patterns with Go's ReplaceAll rules, the digests, and the
// request pre-scan that lets requests with nothing to mask skip the walk.
#include "processors/redaction/masks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

namespace otlpd::redaction {
namespace {

using Hash = RedactionProcessorConfig::Hash;

std::string Masked(const RedactionProcessorConfig& config, std::string_view s) {
  Masker masker(config);
  attraction::Scratch scratch;
  return std::string(masker.Mask(s, &scratch));
}

std::vector<std::string> Cards(std::string_view s) {
  std::vector<std::string> out;
  for (auto [b, e] : FindCardNumbers(s)) out.emplace_back(s.substr(b, e - b));
  return out;
}

TEST(MasksTest, Luhn) {
  EXPECT_TRUE(LuhnValid("4111111111111111"));
  EXPECT_TRUE(LuhnValid("378282246310005"));   // Amex
  EXPECT_TRUE(LuhnValid("6011111111111117"));  // Discover
  EXPECT_TRUE(LuhnValid("5555555555554444"));  // Mastercard
  EXPECT_FALSE(LuhnValid("4111111111111112"));
  EXPECT_FALSE(LuhnValid("1234567812345678"));
  EXPECT_TRUE(LuhnValid("79927398713"));
  EXPECT_FALSE(LuhnValid("79927398710"));
}

TEST(MasksTest, FindsCardNumbersWithSeparatorsAndBounds) {
  using ::testing::ElementsAre;
  EXPECT_THAT(Cards("4111111111111111"), ElementsAre("4111111111111111"));
  EXPECT_THAT(Cards("card 4111 1111 1111 1111, exp 12/30"), ElementsAre("4111 1111 1111 1111"));
  EXPECT_THAT(Cards("4111-1111-1111-1111"), ElementsAre("4111-1111-1111-1111"));
  EXPECT_THAT(Cards("amex=3782-822463-10005;visa=4111111111111111"),
              ElementsAre("3782-822463-10005", "4111111111111111"));
  // Luhn negatives and wrong lengths.
  EXPECT_THAT(Cards("4111111111111112"), ElementsAre());
  EXPECT_THAT(Cards("order 1234567812345678"), ElementsAre());
  EXPECT_THAT(Cards("411111111111"), ElementsAre());             // 12 digits
  EXPECT_THAT(Cards("41111111111111111111111"), ElementsAre());  // 23 digits
  // Part of a longer word or number; double separators break a run.
  EXPECT_THAT(Cards("id4111111111111111"), ElementsAre());
  EXPECT_THAT(Cards("4111111111111111x"), ElementsAre());
  EXPECT_THAT(Cards("4111  1111 1111 1111"), ElementsAre());
  // A trailing separator is not part of the number.
  EXPECT_THAT(Cards("4111 1111 1111 1111 - paid"), ElementsAre("4111 1111 1111 1111"));
}

TEST(MasksTest, MasksCardsAndEmailsByDefault) {
  RedactionProcessorConfig c;
  EXPECT_EQ(Masked(c, "paid with 4111 1111 1111 1111 by alice.b+x@mail.example.com."),
            "paid with **** by ****.");
  EXPECT_EQ(Masked(c, "nothing here 1234"), "nothing here 1234");
  // Not e-mail addresses: no dot in the domain, a one-letter final label, no local part.
  EXPECT_EQ(Masked(c, "root@localhost"), "root@localhost");
  EXPECT_EQ(Masked(c, "x@y.z"), "x@y.z");
  EXPECT_EQ(Masked(c, "@example.com"), "@example.com");
  EXPECT_EQ(Masked(c, "a@b.co"), "****");
  c.mask_card_numbers = false;
  c.mask_email_addresses = false;
  EXPECT_EQ(Masked(c, "4111111111111111 a@b.co"), "4111111111111111 a@b.co");
}

TEST(MasksTest, BlockedValuesFollowGoReplaceAll) {
  RedactionProcessorConfig c;
  c.mask_card_numbers = false;
  c.mask_email_addresses = false;
  c.blocked_values = {std::make_shared<re2::RE2>("x*")};
  // Go: regexp.MustCompile("x*").ReplaceAllString("abc", "****").
  EXPECT_EQ(Masked(c, "abc"), "****a****b****c****");
  EXPECT_EQ(Masked(c, "axxb"), "****a****b****");
  c.blocked_values = {std::make_shared<re2::RE2>("secret-[0-9]+"),
                      std::make_shared<re2::RE2>("token=[a-z]+")};
  EXPECT_EQ(Masked(c, "secret-1 and secret-22, token=abc"), "**** and ****, ****");
  EXPECT_EQ(Masked(c, "nothing"), "nothing");
}

TEST(MasksTest, HashFunctionsDigestTheMatch) {
  RedactionProcessorConfig c;
  c.mask_card_numbers = false;
  c.mask_email_addresses = false;
  c.blocked_values = {std::make_shared<re2::RE2>("abc")};
  c.hash_function = Hash::kMd5;
  EXPECT_EQ(Masked(c, "<abc>"), "<900150983cd24fb0d6963f7d28e17f72>");
  c.hash_function = Hash::kSha1;
  EXPECT_EQ(Masked(c, "abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  c.hash_function = Hash::kSha3;
  EXPECT_EQ(Masked(c, "abc"), "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
  c.blocked_values = {std::make_shared<re2::RE2>(".+")};
  c.hash_function = Hash::kHmacSha256;
  c.hmac_key = "key";
  EXPECT_EQ(Masked(c, "The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
  c.hash_function = Hash::kHmacSha512;
  EXPECT_EQ(Masked(c, "The quick brown fox jumps over the lazy dog"),
            "b42af09057bac1e2d41708e48a902e09b5ff7f12ab428a4fe86653c73dd248fb"
            "82f948a549f7b791a5b41915ee4d1ec3935357e4e2317250d0372afa2ebeeb3a");
}

TEST(MasksTest, PreScanFindsEveryCandidateAndPassesNoise) {
  // Card-like runs at every offset across the 16-byte blocks of the vector scan.
  for (size_t offset = 0; offset < 40; ++offset) {
    std::string s(offset, 'x');
    s += "4111 1111 1111 1111";
    s += std::string(40, 'y');
    EXPECT_TRUE(MayHoldCardOrEmail(s, true, false)) << offset;
    EXPECT_FALSE(MayHoldCardOrEmail(s, false, true)) << offset;
  }
  for (size_t offset = 0; offset < 40; ++offset) {
    std::string s(offset, '\x01');
    s += "4111111111111";  // 13 digits: the shortest run that can hold a card number
    s += std::string(offset % 7, '\x02');
    EXPECT_TRUE(MayHoldCardOrEmail(s, true, false)) << offset;
    s = std::string(offset, '\x01') + "411111111111" + std::string(40, '\x02');  // 12
    EXPECT_FALSE(MayHoldCardOrEmail(s, true, false)) << offset;
  }
  EXPECT_TRUE(MayHoldCardOrEmail("\x0a\x05user@example.org\x12", false, true));
  EXPECT_FALSE(MayHoldCardOrEmail("\x0a\x05user@example\x12", false, true));
  // Random binary ids and alphanumeric values (the benchmark's) pass as nothing to mask.
  std::mt19937_64 rng(7);
  int candidates = 0;
  for (int i = 0; i < 200; ++i) {
    std::string s;
    for (int j = 0; j < 600; ++j) {
      s.push_back(
          j % 3 == 0
              ? static_cast<char>(rng())
              : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[rng() % 62]);
    }
    candidates += MayHoldCardOrEmail(s, true, true);
  }
  EXPECT_LE(candidates, 2);
}

// Every version of the card pre-scan answers as the bytewise one, on runs of 11 to 15 card
// bytes placed at every offset around the 64-byte blocks, and on random mixes.
TEST(MasksTest, CardPreScanVersionsAgree) {
  std::vector<std::pair<const char*, bool (*)(std::string_view)>> versions = {
#ifdef __x86_64__
      {"sse2", internal::HasCardRunSse2},
#endif
  };
#ifdef __x86_64__
  if (__builtin_cpu_supports("avx2")) versions.emplace_back("avx2", internal::HasCardRunAvx2);
#endif
  if (versions.empty()) GTEST_SKIP() << "only the bytewise version on this CPU";
  std::vector<std::string> inputs;
  for (size_t length = 11; length <= 15; ++length) {
    for (size_t offset = 0; offset < 140; ++offset) {
      std::string s(offset, 'x');
      for (size_t i = 0; i < length; ++i) s.push_back("0123456789 -"[(i * 7 + offset) % 12]);
      s += std::string(offset % 70, 'y');
      inputs.push_back(s);
    }
  }
  // A run split across two blocks: 64 card bytes then a stop, then another run.
  inputs.push_back(std::string(64, '5') + "x" + std::string(12, '5'));
  inputs.push_back(std::string(60, 'x') + std::string(7, '5') + std::string(57, 'x'));
  std::mt19937_64 rng(11);
  for (int i = 0; i < 3000; ++i) {
    std::string s;
    const int n = static_cast<int>(rng() % 400);
    const int card_share = static_cast<int>(rng() % 100);  // percent of card bytes
    for (int j = 0; j < n; ++j) {
      s.push_back(static_cast<int>(rng() % 100) < card_share ? "0123456789 -"[rng() % 12]
                                                             : static_cast<char>(rng() % 256));
    }
    inputs.push_back(s);
  }
  int with_run = 0;
  for (const std::string& s : inputs) {
    const bool want = internal::HasCardRunBytewise(s);
    with_run += want;
    for (const auto& [name, version] : versions) {
      ASSERT_EQ(version(s), want) << name << " on " << ::testing::PrintToString(s);
    }
  }
  // Both answers are well represented.
  EXPECT_GT(with_run, static_cast<int>(inputs.size()) / 5);
  EXPECT_LT(with_run, static_cast<int>(inputs.size()) * 4 / 5);
}

}  // namespace
}  // namespace otlpd::redaction
