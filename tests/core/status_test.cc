#include "core/status.h"

#include <gtest/gtest.h>

namespace otlpd {
namespace {

TEST(StatusTableTest, UpstreamGrpcCodes) {
  EXPECT_TRUE(FromGrpcCode(absl::StatusCode::kOk, "", std::nullopt).ok());
  for (absl::StatusCode code : {absl::StatusCode::kUnavailable, absl::StatusCode::kDeadlineExceeded,
                                absl::StatusCode::kAborted, absl::StatusCode::kCancelled,
                                absl::StatusCode::kOutOfRange, absl::StatusCode::kDataLoss}) {
    absl::Status s = FromGrpcCode(code, "x", std::nullopt);
    EXPECT_TRUE(IsRetryable(s)) << s;
    EXPECT_EQ(s.code(), code);
  }
  // RESOURCE_EXHAUSTED is retried only with RetryInfo (OTLP spec).
  EXPECT_FALSE(IsRetryable(FromGrpcCode(absl::StatusCode::kResourceExhausted, "x", std::nullopt)));
  absl::Status slow =
      FromGrpcCode(absl::StatusCode::kResourceExhausted, "x", absl::Milliseconds(1500));
  EXPECT_TRUE(IsRetryable(slow));
  EXPECT_EQ(RetryAfter(slow), absl::Milliseconds(1500));
  for (absl::StatusCode code : {absl::StatusCode::kInvalidArgument, absl::StatusCode::kInternal,
                                absl::StatusCode::kUnauthenticated, absl::StatusCode::kNotFound}) {
    EXPECT_FALSE(IsRetryable(FromGrpcCode(code, "x", std::nullopt))) << static_cast<int>(code);
  }
}

TEST(StatusTableTest, UpstreamHttpStatuses) {
  EXPECT_TRUE(FromHttpStatus(200, "", std::nullopt).ok());
  EXPECT_TRUE(FromHttpStatus(204, "", std::nullopt).ok());
  for (int retried : {429, 502, 503, 504}) {
    absl::Status s = FromHttpStatus(retried, "busy", absl::Seconds(3));
    EXPECT_TRUE(IsRetryable(s)) << retried;
    EXPECT_EQ(RetryAfter(s), absl::Seconds(3)) << retried;
    EXPECT_NE(s.message().find("upstream answered HTTP"), absl::string_view::npos);
  }
  for (int permanent : {400, 401, 403, 404, 413, 500, 501}) {
    absl::Status s = FromHttpStatus(permanent, "no", absl::Seconds(3));
    EXPECT_FALSE(IsRetryable(s)) << permanent;
    EXPECT_FALSE(RetryAfter(s).has_value()) << permanent;
  }
}

TEST(StatusTableTest, ReceiverAnswers) {
  EXPECT_EQ(HttpStatusFor(absl::OkStatus()), 200);
  EXPECT_EQ(HttpStatusFor(absl::UnavailableError("")), 503);
  // Whatever a client should retry is 503 (with Retry-After), except "slow down".
  EXPECT_EQ(HttpStatusFor(absl::DeadlineExceededError("")), 503);
  EXPECT_EQ(HttpStatusFor(absl::CancelledError("")), 503);
  EXPECT_EQ(HttpStatusFor(absl::ResourceExhaustedError("")), 429);
  EXPECT_EQ(HttpStatusFor(absl::InvalidArgumentError("")), 400);
  EXPECT_EQ(HttpStatusFor(absl::UnauthenticatedError("")), 401);
  EXPECT_EQ(HttpStatusFor(absl::PermissionDeniedError("")), 403);
  EXPECT_EQ(HttpStatusFor(absl::UnimplementedError("")), 404);
  EXPECT_EQ(HttpStatusFor(absl::InternalError("")), 500);

  EXPECT_EQ(RetryAfterSeconds(absl::UnavailableError(""), absl::Seconds(1)), 1);
  EXPECT_EQ(RetryAfterSeconds(
                RetryableError(absl::StatusCode::kUnavailable, "", absl::Milliseconds(2100)),
                absl::Seconds(1)),
            3);
  EXPECT_EQ(
      RetryAfterSeconds(RetryableError(absl::StatusCode::kUnavailable, "", absl::ZeroDuration()),
                        absl::Seconds(1)),
      1);
}

}  // namespace
}  // namespace otlpd
