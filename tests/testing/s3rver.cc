// A real s3rver (npm s3rver 3.7.1, installed by the sdk_npm_install fixture into
// $OTLPD_SDK_DIR) for tests of S3 code, optionally behind a wrapper that checks SigV4
// signatures (s3rver 3.7.1 does not) and fails "flaky-" keys with 503 a few times.
#include "testing/s3rver.h"

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "testing/ports.h"

namespace otlpd::testing {

namespace {

constexpr char kVerifyingS3rver[] = R"js('use strict';
// s3rver with AWS SigV4 verification in front (s3rver 3.7.1 skips it) and optional 503s.
const crypto = require('crypto');
const fs = require('fs');
const { PassThrough } = require('stream');
const S3rver = require(process.env.S3RVER_MODULE);

const [dir, port, failTimes] = process.argv.slice(2);
const SECRETS = { S3RVER: 'S3RVER' };
const sha256 = d => crypto.createHash('sha256').update(d).digest('hex');
const hmac = (k, d) => crypto.createHmac('sha256', k).update(d).digest();
const enc = s => encodeURIComponent(s).replace(/[!'()*]/g,
    c => '%' + c.charCodeAt(0).toString(16).toUpperCase());

function fail(ctx, status, code, message) {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>' + code +
      '</Code><Message>' + message + '</Message></Error>';
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks);
}

function canonicalQuery(raw) {
  if (!raw) return '';
  return raw.split('&').map(p => {
    const i = p.indexOf('=');
    const [k, v] = i < 0 ? [p, ''] : [p.slice(0, i), p.slice(i + 1)];
    return [enc(decodeURIComponent(k)), enc(decodeURIComponent(v))];
  }).sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)
    .map(([k, v]) => k + '=' + v).join('&');
}

const failures = new Map();

async function verify(ctx, next) {
  const url = ctx.req.url;
  if (url.includes('flaky-')) {
    const key = ctx.method + ' ' + url;
    const n = failures.get(key) || 0;
    if (n < Number(failTimes || 0)) {
      failures.set(key, n + 1);
      return fail(ctx, 503, 'SlowDown', 'Please reduce your request rate.');
    }
  }
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/
      .exec(ctx.get('authorization'));
  if (!m) return fail(ctx, 403, 'AccessDenied', 'missing or malformed SigV4 Authorization');
  const [, accessKey, day, region, signedHeaders, signature] = m;
  const secret = SECRETS[accessKey];
  if (!secret) return fail(ctx, 403, 'InvalidAccessKeyId', 'unknown access key');
  const names = signedHeaders.split(';');
  for (const required of ['host', 'x-amz-content-sha256', 'x-amz-date']) {
    if (!names.includes(required)) return fail(ctx, 403, 'AccessDenied', required + ' not signed');
  }
  const amzDate = ctx.get('x-amz-date');
  if (!amzDate.startsWith(day)) return fail(ctx, 403, 'AccessDenied', 'date/scope mismatch');
  const body = await readBody(ctx.req);
  const payloadHash = ctx.get('x-amz-content-sha256');
  if (sha256(body) !== payloadHash) {
    return fail(ctx, 400, 'XAmzContentSHA256Mismatch', 'payload hash mismatch');
  }
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const uri = rawPath.split('/').map(s => enc(decodeURIComponent(s))).join('/');
  const headers = names.map(h =>
      h + ':' + String(ctx.req.headers[h] || '').trim().replace(/ +/g, ' ') + '\n').join('');
  const canonical = [ctx.method, uri, canonicalQuery(q < 0 ? '' : url.slice(q + 1)), headers,
      signedHeaders, payloadHash].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, day + '/' + region + '/s3/aws4_request',
      sha256(canonical)].join('\n');
  let key = hmac('AWS4' + secret, day);
  for (const part of [region, 's3', 'aws4_request']) key = hmac(key, part);
  if (hmac(key, stringToSign).toString('hex') !== signature) {
    return fail(ctx, 403, 'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided.');
  }
  // s3rver reads the object from ctx.req, which we consumed: hand it the bytes again.
  const replay = new PassThrough();
  replay.end(body);
  ctx.req = replay;
  return next();
}

fs.mkdirSync(dir, { recursive: true });
// S3RVER_LOG=1 in the test's environment shows s3rver's request log in its stdout.
const server = new S3rver({ directory: dir, address: '127.0.0.1', port: Number(port),
                            silent: !process.env.S3RVER_LOG });
server.middleware.unshift(verify);
server.run().then(() => console.log('listening on ' + port),
                  err => { console.error(err); process.exit(1); });
)js";

}  // namespace

std::string S3rver::SdkDir() {
  const char* dir = getenv("OTLPD_SDK_DIR");
  return dir == nullptr ? "" : dir;
}

absl::Status S3rver::Start(bool verify, int fail_times) {
  const std::string sdk = SdkDir();
  if (sdk.empty()) {
    return absl::FailedPreconditionError(
        "OTLPD_SDK_DIR is not set: run through ctest (fixture sdk_npm_install) or set it to "
        "a directory whose node_modules holds s3rver 3.7.1");
  }
  const std::string node = FindProgram("node");
  if (node.empty()) return absl::FailedPreconditionError("node not found in PATH");
  const std::string module = sdk + "/node_modules/s3rver";
  if (!std::filesystem::exists(module + "/bin/s3rver.js")) {
    return absl::FailedPreconditionError(
        absl::StrCat(module, " missing: run the sdk_npm_install test (npm ci) first"));
  }
  port_ = FreePort();
  const std::string data = process_.File("data");
  // s3rver's ListObjectsV2 continuation tokens are DES-encrypted, which OpenSSL 3 (Node
  // >= 17) only offers through its legacy provider.
  std::vector<std::string> args = {"--openssl-legacy-provider"};
  if (verify) {
    args.push_back(process_.dir().Write("verifying_s3rver.js", kVerifyingS3rver));
    args.insert(args.end(), {data, absl::StrCat(port_), absl::StrCat(fail_times)});
  } else {
    args.insert(args.end(), {module + "/bin/s3rver.js", "-d", data, "-a", "127.0.0.1", "-p",
                             absl::StrCat(port_), "--silent"});
  }
  absl::Status started = process_.StartProgram(node, args, {{"S3RVER_MODULE", module}});
  if (!started.ok()) return started;
  if (!process_.WaitForPort(port_, absl::Seconds(30))) {
    return absl::DeadlineExceededError(
        absl::StrCat("s3rver did not listen on ", port_, ": ", process_.Stderr()));
  }
  return absl::OkStatus();
}

std::string S3rver::endpoint() const { return absl::StrCat("http://127.0.0.1:", port_); }

}  // namespace otlpd::testing
