#include <kbk/crypto/hash.hpp>

#include <catch2/catch.hpp>

#include <kbk/util/strings.hpp>

using namespace kbk;

TEST_CASE("sha256_hex and Sha256: FIPS 180-2 vectors, incremental equals one-shot") {
  CHECK(crypto::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(crypto::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  crypto::Sha256 h;
  h.update("ab");
  h.update("c");
  CHECK(h.finish_hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  h.update("");
  CHECK(h.finish_hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");  // reset after finish
}

TEST_CASE("hmac_sha256: RFC 4231 test case 2") {
  std::string mac = crypto::hmac_sha256("Jefe", "what do ya want for nothing?");
  CHECK(util::hex_encode(mac.data(), mac.size()) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("md5: RFC 1321 vector (S3 Content-MD5)") {
  std::string d = crypto::md5("abc");
  CHECK(util::hex_encode(d.data(), d.size()) == "900150983cd24fb0d6963f7d28e17f72");
}

TEST_CASE("random_bytes and equal_constant_time") {
  auto a = crypto::random_bytes(32), b = crypto::random_bytes(32);
  CHECK(a.size() == 32);
  CHECK(a != b);
  CHECK(crypto::equal_constant_time(a, a));
  CHECK_FALSE(crypto::equal_constant_time(a, b));
  CHECK_FALSE(crypto::equal_constant_time("a", "ab"));
}
