// AES-256-GCM and (keyed) SHA-256 for repository blobs; see include/kbk/crypto/aead.hpp.
#include <kbk/crypto/aead.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace kbk::crypto {
namespace {

[[noreturn]] void openssl_failed(const char* what) {
  std::fprintf(stderr, "kbk: fatal: OpenSSL %s failed\n", what);
  std::abort();
}

const unsigned char* u8(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

struct Aes256Gcm::Impl {
  EVP_CIPHER_CTX* enc = nullptr;
  EVP_CIPHER_CTX* dec = nullptr;
};

Aes256Gcm::Aes256Gcm(std::string_view key) : m_impl(std::make_unique<Impl>()) {
  if (key.size() != 32) openssl_failed("AES-256-GCM key size");
  m_impl->enc = EVP_CIPHER_CTX_new();
  m_impl->dec = EVP_CIPHER_CTX_new();
  if (!m_impl->enc || !m_impl->dec) openssl_failed("EVP_CIPHER_CTX_new");
  if (EVP_EncryptInit_ex(m_impl->enc, EVP_aes_256_gcm(), nullptr, u8(key), nullptr) != 1 ||
      EVP_DecryptInit_ex(m_impl->dec, EVP_aes_256_gcm(), nullptr, u8(key), nullptr) != 1)
    openssl_failed("AES-GCM init");
}

Aes256Gcm::~Aes256Gcm() {
  EVP_CIPHER_CTX_free(m_impl->enc);
  EVP_CIPHER_CTX_free(m_impl->dec);
}

void Aes256Gcm::seal(std::string_view aad, std::string_view plaintext, std::string& out) {
  const std::string nonce = random_bytes(k_gcm_nonce_size);
  const size_t start = out.size();
  out.resize(start + k_gcm_nonce_size + plaintext.size() + k_gcm_tag_size);
  auto* o = reinterpret_cast<unsigned char*>(out.data()) + start;
  std::memcpy(o, nonce.data(), k_gcm_nonce_size);
  int len = 0;
  EVP_CIPHER_CTX* c = m_impl->enc;
  if (EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, u8(nonce)) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(c, nullptr, &len, u8(aad), static_cast<int>(aad.size())) != 1))
    openssl_failed("AES-GCM init");
  int n = 0;
  if (!plaintext.empty() &&
      EVP_EncryptUpdate(c, o + k_gcm_nonce_size, &n, u8(plaintext), static_cast<int>(plaintext.size())) != 1)
    openssl_failed("AES-GCM encrypt");
  int f = 0;
  if (EVP_EncryptFinal_ex(c, o + k_gcm_nonce_size + n, &f) != 1) openssl_failed("AES-GCM final");
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, static_cast<int>(k_gcm_tag_size),
                          o + k_gcm_nonce_size + plaintext.size()) != 1)
    openssl_failed("AES-GCM tag");
}

bool Aes256Gcm::open(std::string_view aad, std::string_view sealed, std::string& out) {
  if (sealed.size() < k_gcm_nonce_size + k_gcm_tag_size) return false;
  const size_t n_plain = sealed.size() - k_gcm_nonce_size - k_gcm_tag_size;
  out.resize(n_plain);
  EVP_CIPHER_CTX* c = m_impl->dec;
  int len = 0;
  if (EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, u8(sealed)) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(c, nullptr, &len, u8(aad), static_cast<int>(aad.size())) != 1))
    openssl_failed("AES-GCM init");
  int n = 0;
  if (n_plain && EVP_DecryptUpdate(c, reinterpret_cast<unsigned char*>(out.data()), &n,
                                   u8(sealed) + k_gcm_nonce_size, static_cast<int>(n_plain)) != 1)
    return false;
  unsigned char tag[k_gcm_tag_size];
  std::memcpy(tag, sealed.data() + k_gcm_nonce_size + n_plain, k_gcm_tag_size);
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, static_cast<int>(k_gcm_tag_size), tag) != 1)
    openssl_failed("AES-GCM set tag");
  int f = 0;
  if (EVP_DecryptFinal_ex(c, reinterpret_cast<unsigned char*>(out.data()) + n, &f) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return false;
  }
  return true;
}

struct BlobHasher::Impl {
  bool keyed = false;
  EVP_MD_CTX* inner = nullptr;  // SHA-256 state after (key ^ ipad), or empty for plain
  EVP_MD_CTX* outer = nullptr;  // after (key ^ opad)
};

BlobHasher::BlobHasher() : m_impl(std::make_unique<Impl>()) {}

BlobHasher::BlobHasher(std::string_view key) : m_impl(std::make_unique<Impl>()) {
  m_impl->keyed = true;
  unsigned char k[64] = {0};
  if (key.size() > 64) {
    auto d = sha256(key);
    std::memcpy(k, d.data(), d.size());
  } else {
    std::memcpy(k, key.data(), key.size());
  }
  unsigned char ipad[64], opad[64];
  for (int i = 0; i < 64; ++i) {
    ipad[i] = static_cast<unsigned char>(k[i] ^ 0x36);
    opad[i] = static_cast<unsigned char>(k[i] ^ 0x5c);
  }
  m_impl->inner = EVP_MD_CTX_new();
  m_impl->outer = EVP_MD_CTX_new();
  if (!m_impl->inner || !m_impl->outer || EVP_DigestInit_ex(m_impl->inner, EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(m_impl->inner, ipad, 64) != 1 || EVP_DigestInit_ex(m_impl->outer, EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(m_impl->outer, opad, 64) != 1)
    openssl_failed("HMAC init");
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(ipad, sizeof ipad);
  OPENSSL_cleanse(opad, sizeof opad);
}

BlobHasher::~BlobHasher() {
  if (m_impl->inner) EVP_MD_CTX_free(m_impl->inner);
  if (m_impl->outer) EVP_MD_CTX_free(m_impl->outer);
}

bool BlobHasher::keyed() const { return m_impl->keyed; }

Sha256Digest BlobHasher::hash(std::string_view data) const {
  Sha256Digest out{};
  if (!m_impl->keyed) {
    unsigned int n = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr) != 1) openssl_failed("SHA-256");
    return out;
  }
  // One context per thread, freed when the thread ends (a raw thread_local pointer leaks one per worker).
  struct CtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  thread_local std::unique_ptr<EVP_MD_CTX, CtxFree> t_ctx{EVP_MD_CTX_new()};
  EVP_MD_CTX* ctx = t_ctx.get();
  unsigned char inner[32];
  unsigned int n = 0;
  if (EVP_MD_CTX_copy_ex(ctx, m_impl->inner) != 1 || EVP_DigestUpdate(ctx, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, inner, &n) != 1 || EVP_MD_CTX_copy_ex(ctx, m_impl->outer) != 1 ||
      EVP_DigestUpdate(ctx, inner, 32) != 1 || EVP_DigestFinal_ex(ctx, out.data(), &n) != 1)
    openssl_failed("HMAC-SHA-256");
  return out;
}

}  // namespace kbk::crypto
