#!/usr/bin/env bash
# Installs what otlpd needs to build, test and benchmark on Debian 12, if missing.
# Idempotent and silent when everything is present.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libzstd-dev liblz4-dev zlib1g-dev libsnappy-dev libdeflate-dev libisal-dev
  libcurl4-openssl-dev libboost-dev
  libsimdjson-dev libxxhash-dev libjemalloc-dev libssl-dev libcrypt-dev libre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  curl procps util-linux openssl gzip zstd ccache
)
# Node.js + npm run the OpenTelemetry JS SDK tests; only installed from Debian when absent.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
