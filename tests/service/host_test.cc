#include "service/host.h"

#include <gtest/gtest.h>

#include "core/auth.h"
#include "core/sending_queue.h"

namespace otlpd {
namespace {

class TokenExtension : public Extension, public ServerAuthenticator {
 public:
  absl::Status Authenticate(const Metadata&) const override { return absl::OkStatus(); }
};

TEST(ServiceHostTest, FindsExtensionsByIdAndKind) {
  ServiceHost host;
  auto token = std::make_shared<TokenExtension>();
  host.AddExtension({"bearertokenauth", "in"}, token);

  absl::StatusOr<Extension*> found = host.GetExtension({"bearertokenauth", "in"});
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, token.get());

  absl::StatusOr<ServerAuthenticator*> auth = GetExtensionAs<ServerAuthenticator>(
      host, {"bearertokenauth", "in"}, "a server authenticator");
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(*auth, static_cast<ServerAuthenticator*>(token.get()));

  // The wrong kind: a clear error naming the extension and what was wanted.
  absl::StatusOr<SendingQueueProvider*> storage =
      GetExtensionAs<SendingQueueProvider>(host, {"bearertokenauth", "in"}, "a storage extension");
  EXPECT_EQ(storage.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(storage.status().message(),
            "extension \"bearertokenauth/in\" is not a storage extension");

  // Missing: kNotFound, naming service::extensions.
  absl::StatusOr<Extension*> missing = host.GetExtension({"bearertokenauth", ""});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("service::extensions"), absl::string_view::npos);
}

TEST(ServiceHostTest, HealthFollowsTheService) {
  ServiceHost host;
  EXPECT_FALSE(host.Healthy());
  host.SetRunning(true);
  EXPECT_TRUE(host.Healthy());
  host.SetRunning(false);
  EXPECT_FALSE(host.Healthy());
}

}  // namespace
}  // namespace otlpd
