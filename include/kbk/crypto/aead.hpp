// Per-blob primitives for the volume-data repository (docs/format-repository.md): AES-256-GCM with a reusable
// context (one per thread: a blob costs no allocation) and a keyed or plain SHA-256 with the key's pads
// precomputed, so millions of small blobs are hashed at the speed of SHA-256 itself.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <kbk/crypto/hash.hpp>

namespace kbk::crypto {

inline constexpr size_t k_gcm_nonce_size = 12;
inline constexpr size_t k_gcm_tag_size = 16;

// AES-256-GCM under one 32-byte key. Not thread-safe: one object per thread.
class Aes256Gcm {
public:
  explicit Aes256Gcm(std::string_view key);
  ~Aes256Gcm();
  Aes256Gcm(const Aes256Gcm&) = delete;
  Aes256Gcm& operator=(const Aes256Gcm&) = delete;

  // Appends nonce (fresh, random) || ciphertext || tag to out.
  void seal(std::string_view aad, std::string_view plaintext, std::string& out);
  // Opens nonce || ciphertext || tag; false when it does not authenticate (out is then unspecified).
  bool open(std::string_view aad, std::string_view sealed, std::string& out);

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// SHA-256 (no key) or HMAC-SHA-256 (key) of whole messages. Thread-safe: hash() copies precomputed states.
class BlobHasher {
public:
  BlobHasher();                            // plain SHA-256
  explicit BlobHasher(std::string_view key);  // HMAC-SHA-256
  ~BlobHasher();
  BlobHasher(const BlobHasher&) = delete;
  BlobHasher& operator=(const BlobHasher&) = delete;
  Sha256Digest hash(std::string_view data) const;
  bool keyed() const;

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace kbk::crypto
