// AWS Signature Version 4: the request signer S3 (and STS) requests go through.
//
// Contract: the signer sees the request exactly as it will be sent (method, path, raw query string, headers)
// and returns what to add to it. It signs every header it is given except the few that proxies and clients
// rewrite (user-agent, expect, transfer-encoding, x-amzn-trace-id, authorization), so callers pass only the
// headers they send verbatim. S3's rules are the default: the path, already percent-encoded on the wire, is
// encoded once and never normalised ("a//b/../c" is a key, not a path); the generic rules of other services
// (RFC 3986 dot-segment removal, encoding the path again) are options, because the public test vectors use them.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kbk::storage::sigv4 {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // "" without one
};

enum class PathNormalization { none, rfc3986 };  // none: S3
enum class PathEncoding { once, twice };         // once: S3 (the wire path is the canonical path)
enum class TokenSigning { sign, add_after };     // add_after: the token is appended unsigned (STS legacy)
enum class BodyHashHeader { add, omit };         // add: x-amz-content-sha256 is set and signed (S3 always)

struct Params {
  Credentials credentials;
  std::string region;
  std::string service = "s3";
  std::chrono::system_clock::time_point time;
  PathNormalization normalization = PathNormalization::none;
  PathEncoding encoding = PathEncoding::once;
  TokenSigning token_signing = TokenSigning::sign;
  BodyHashHeader body_hash_header = BodyHashHeader::add;
};

struct Request {
  std::string method;         // "GET"
  std::string path;           // as sent: "/bucket/key%20x" (raw bytes allowed; they are encoded)
  std::string query;          // as sent, without '?': "list-type=2&prefix=a%2Fb"
  Headers headers;            // must include Host
  std::string payload_hash;   // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

// The payload hash of an empty body.
inline constexpr std::string_view k_empty_payload_hash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr std::string_view k_unsigned_payload = "UNSIGNED-PAYLOAD";

struct Signed {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;       // hex
  std::string signed_headers;  // "host;x-amz-date"
  // Headers to add to the request, in this order: X-Amz-Date (when the request had none), x-amz-content-sha256
  // (BodyHashHeader::add and none given), X-Amz-Security-Token (with a token), Authorization.
  Headers add_headers;
};

// Header signing (the Authorization header).
Signed sign(const Request& request, const Params& params);

struct Presigned {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;
  std::string query;  // the full query string to send, X-Amz-Signature last
};

// Query signing (a presigned URL valid for `expires`). The payload hash is request.payload_hash.
Presigned presign(const Request& request, const Params& params, std::chrono::seconds expires);

// Pieces, exposed for tests and for the fake S3's verification logic to be cross-checked.
std::string canonical_uri(std::string_view path, PathNormalization normalization, PathEncoding encoding);
std::string canonical_query(std::string_view query);
// "20150830T123600Z"
std::string amz_date(std::chrono::system_clock::time_point time);
std::string signing_key(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service);
// RFC 3986 unreserved kept, everything else %XX (uppercase), '/' kept only when keep_slash.
enum class Slash { keep, encode };
std::string uri_encode(std::string_view s, Slash slash);

}  // namespace kbk::storage::sigv4
