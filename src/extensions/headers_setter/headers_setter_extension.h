#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/auth.h"
#include "core/component.h"
#include "extensions/headers_setter/config.h"

namespace otlpd {

// True for a header name usable both as an HTTP header and as gRPC metadata: non-empty,
// only ASCII letters, digits, '-', '_' and '.' (gRPC's key set, a subset of HTTP's token
// characters). Upper-case letters are accepted; names are sent lower-cased.
bool IsValidHeaderName(std::string_view name);

// True for a value usable both as an HTTP header value and as (non-binary) gRPC metadata:
// printable ASCII and space only, so no CR, LF or other control character can get through.
bool IsValidHeaderValue(std::string_view value);

// otelcol-contrib's headers_setter extension, a ClientAuthenticator for exporters'
// `auth: {authenticator: headers_setter}`. For each request, the configured entries are
// applied in order to an initially empty header list:
//  - insert sets the header only if no earlier entry set it, update only if one did,
//    upsert always, delete removes it;
//  - the value is `value`, or the first value of client metadata `from_context`
//    (case-insensitive), else `default_value`; with none of these the entry sets nothing;
//  - a context value that is not a valid header value (control or non-ASCII bytes) is
//    skipped, with a debug log, so CR/LF from a client can never reach the upstream.
class HeadersSetterExtension : public Extension, public ClientAuthenticator {
 public:
  HeadersSetterExtension(const CreateSettings& settings, const HeadersSetterConfig& config);

  absl::StatusOr<Metadata> Headers(const Metadata* client_metadata) const override;

 private:
  const std::string id_;
  const std::vector<HeadersSetterConfig::Header> headers_;
};

}  // namespace otlpd
