#include "storage/log_words.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace otlpd::storage {
namespace {

TEST(LogWordsTest, SplitsOnNonAlphanumericsAndLowerCases) {
  EXPECT_EQ(LogWords("Payment DECLINED: order #17, user=ab-3."),
            (std::vector<std::string>{"payment", "declined", "order", "17", "user", "ab", "3"}));
  EXPECT_TRUE(LogWords(" ,;").empty());
  EXPECT_TRUE(LogWords("").empty());
}

TEST(WordBloomTest, NoFalseNegativesFewFalsePositives) {
  WordBloom bloom;
  for (int i = 0; i < 5000; ++i) bloom.Add(absl::StrCat("word", i));
  const std::string bits = bloom.Finish();
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(WordBloom::MayContain(bits, absl::StrCat("word", i))) << i;
  }
  int false_positives = 0;
  for (int i = 0; i < 10000; ++i)
    false_positives += WordBloom::MayContain(bits, absl::StrCat("other", i));
  EXPECT_LT(false_positives, 300);                     // ~1 % expected at 10 bits per word
  EXPECT_TRUE(WordBloom::MayContain("", "anything"));  // no bloom: no pruning
  EXPECT_EQ(WordBloom().Finish(), "");
}

}  // namespace
}  // namespace otlpd::storage
