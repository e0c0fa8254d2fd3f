#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/status/statusor.h"
#include "core/tls_config.h"

namespace otlpd {

// Credentials for a gRPC server from otelcol-style TLS settings:
//  - TLS off (settings.enabled() false): insecure (plaintext h2c).
//  - cert_file/key_file: served through a certificate provider; with reload_interval > 0
//    the files are watched (gRPC re-reads them every reload_interval, rounded up to whole
//    seconds) and new handshakes use the newest pair.
//  - client_ca_file: clients must present a certificate signed by one of those CAs (mTLS).
// The files are read and checked here, so a missing, unreadable or mismatched file is an
// error at start rather than a failing handshake later.
// gRPC 1.51 negotiates TLS 1.2 and 1.3 and cannot be narrowed: a min_version or
// max_version that would need another range (min 1.0/1.1/1.3, max 1.2) is an error.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeGrpcServerCredentials(
    const TlsServerSettings& settings);

// Credentials for a gRPC client channel (otelcol configgrpc semantics):
//  - insecure and not https_scheme: plaintext.
//  - otherwise TLS: roots from ca_file (gRPC's default roots when empty), client
//    certificate from cert_file/key_file, and with insecure_skip_verify any server
//    certificate is accepted.
// `https_scheme`: the configured endpoint started with https:// (TLS even with insecure).
// server_name_override is a channel argument: apply it with ApplyGrpcChannelTlsArgs.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeGrpcChannelCredentials(
    const TlsClientSettings& settings, bool https_scheme);

// Channel arguments that go with MakeGrpcChannelCredentials (server_name_override).
void ApplyGrpcChannelTlsArgs(const TlsClientSettings& settings, grpc::ChannelArguments* args);

}  // namespace otlpd
