// SHA-256, HMAC-SHA256 and MD5 through OpenSSL 3's EVP interfaces.
#include <kbk/crypto/hash.hpp>

#include <cstdio>
#include <cstdlib>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <kbk/util/strings.hpp>

namespace kbk::crypto {
namespace {

[[noreturn]] void openssl_failed(const char* what) {
  // Only allocation failure makes these calls fail; there is nothing sensible to return.
  std::fprintf(stderr, "kbk: fatal: OpenSSL %s failed\n", what);
  std::abort();
}

std::string digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), out, &n, md, nullptr) != 1) openssl_failed("EVP_Digest");
  return std::string(reinterpret_cast<const char*>(out), n);
}

}  // namespace

Sha256Digest sha256(std::string_view data) {
  Sha256Digest d{};
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), d.data(), &n, EVP_sha256(), nullptr) != 1) openssl_failed("SHA-256");
  return d;
}

std::string sha256_hex(std::string_view data) {
  auto d = sha256(data);
  return util::hex_encode(d.data(), d.size());
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &n))
    openssl_failed("HMAC-SHA256");
  return std::string(reinterpret_cast<const char*>(out), n);
}

std::string md5(std::string_view data) { return digest(EVP_md5(), data); }

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
  Impl() {
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) openssl_failed("SHA-256 init");
  }
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : m_impl(std::make_unique<Impl>()) {}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::string_view data) {
  if (EVP_DigestUpdate(m_impl->ctx, data.data(), data.size()) != 1) openssl_failed("SHA-256 update");
}

Sha256Digest Sha256::finish() {
  Sha256Digest d{};
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(m_impl->ctx, d.data(), &n) != 1) openssl_failed("SHA-256 final");
  if (EVP_DigestInit_ex(m_impl->ctx, EVP_sha256(), nullptr) != 1) openssl_failed("SHA-256 init");
  return d;
}

std::string Sha256::finish_hex() {
  auto d = finish();
  return util::hex_encode(d.data(), d.size());
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (n && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    openssl_failed("RAND_bytes");
  return out;
}

}  // namespace kbk::crypto
