// Hashes and MACs (OpenSSL EVP): SHA-256 for item digests and SigV4, HMAC-SHA256 for SigV4 signing keys, MD5
// only where a protocol demands it (S3's Content-MD5 on DeleteObjects). Everything works on bytes; hex and
// base64 forms are separate helpers so callers choose.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace kbk::crypto {

using Sha256Digest = std::array<unsigned char, 32>;

Sha256Digest sha256(std::string_view data);
std::string sha256_hex(std::string_view data);  // lowercase hex, 64 chars
// HMAC-SHA256 of data under key, as 32 raw bytes in a string (SigV4 chains these).
std::string hmac_sha256(std::string_view key, std::string_view data);
// MD5 digest as 16 raw bytes. Not for security: S3's Content-MD5 header only.
std::string md5(std::string_view data);

// Incremental SHA-256 over a stream (an upload's payload, a multipart part).
class Sha256 {
public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(std::string_view data);
  // Finishes and resets; the object can hash a new stream afterwards.
  Sha256Digest finish();
  std::string finish_hex();

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// Constant-time comparison of two byte strings (MACs, key checks).
bool equal_constant_time(std::string_view a, std::string_view b);

// Cryptographically secure random bytes (OpenSSL RAND_bytes). Aborts the process if the RNG fails, which
// OpenSSL documents only for an unseeded generator: continuing would produce predictable keys.
std::string random_bytes(size_t n);

}  // namespace kbk::crypto
