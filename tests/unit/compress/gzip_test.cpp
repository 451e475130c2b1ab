// The one gzip decoder every backup reader uses (include/kbk/compress/gzip.hpp).
#include <catch2/catch.hpp>

#include <zlib.h>

#include <string>

#include <kbk/compress/gzip.hpp>

using namespace kbk;
using namespace kbk::compress;

namespace {

std::string text(size_t n) {
  std::string s;
  for (size_t i = 0; s.size() < n; ++i) s += "line " + std::to_string(i * 7919 % 10007) + "\n";
  s.resize(n);
  return s;
}

// A gzip member of `zeros` zero bytes made from one full-flushed 1 MiB block repeated (a bomb in a few KB).
std::string zero_bomb(size_t mib) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  std::string zeros(1 << 20, '\0'), block(1 << 16, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(zeros.data());
  zs.avail_in = static_cast<uInt>(zeros.size());
  zs.next_out = reinterpret_cast<Bytef*>(block.data());
  zs.avail_out = static_cast<uInt>(block.size());
  deflate(&zs, Z_FULL_FLUSH);
  block.resize(block.size() - zs.avail_out);
  deflateEnd(&zs);
  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
  for (size_t i = 0; i < mib; ++i) out += block;
  out += std::string("\x03\x00", 2);  // an empty final block
  out += std::string(8, '\0');        // CRC and length never reached
  return out;
}

}  // namespace

TEST_CASE("gunzip round-trips and checks CRC, length, truncation and what follows") {
  const std::string plain = text(300000);
  const std::string gz = gzip(plain);
  REQUIRE(is_gzip(gz));
  auto back = gunzip(gz, "x");
  REQUIRE(back.ok());
  CHECK(*back == plain);
  CHECK(gunzip(gzip(""), "x").value().empty());

  std::string crc = gz;
  crc[crc.size() - 8] ^= 1;
  auto r = gunzip(crc, "backup b1: b1-logs.gz");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::corrupt);
  CHECK(r.error().message == "backup b1: b1-logs.gz: damaged gzip data: CRC-32 mismatch: the data was changed");
  std::string len = gz;
  len[len.size() - 2] ^= 1;
  CHECK(gunzip(len, "x").error().message.find("length mismatch") != std::string::npos);
  CHECK(gunzip(gz.substr(0, gz.size() / 2), "x").error().message.find("truncated") != std::string::npos);
  CHECK(gunzip(gz.substr(0, gz.size() - 3), "x").error().message.find("truncated") != std::string::npos);
  CHECK(gunzip(gz + "hidden", "x").error().message == "x: data after the end of the gzip stream");
  CHECK(gunzip(gz + gzip("second member"), "x").error().message == "x: data after the end of the gzip stream");
  CHECK(gunzip(gz + std::string(10240, '\0'), "x").ok());  // block padding of libarchive-based writers
  CHECK(gunzip("", "x").error().message == "x: empty, not gzip data");
  CHECK(gunzip("plain text, not gzip", "x").error().message.find("not gzip data") != std::string::npos);
  std::string damaged = gz;
  damaged[gz.size() / 2] ^= 0x55;
  CHECK_FALSE(gunzip(damaged, "x").ok());
}

TEST_CASE("GzipReader stops a bomb at the limit or the ratio, with an error, using a fixed buffer") {
  const std::string bomb = zero_bomb(200);  // 200 MiB of zeros in a few hundred KB
  CHECK(bomb.size() < 300 * 1024);
  InflateLimits limits;
  limits.max_bytes = 64 << 20;
  limits.ratio_after = 1ull << 40;
  auto r = gunzip(bomb, "b", limits);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "b: decompresses to more than the limit of " + limit_text(64 << 20));

  limits.max_bytes = 1ull << 40;
  limits.ratio_after = 16 << 20;
  size_t offset = 0;
  GzipReader reader(
      [&](char* buf, size_t n) -> Result<size_t> {
        n = std::min(n, bomb.size() - offset);
        std::copy(bomb.data() + offset, bomb.data() + offset + n, buf);
        offset += n;
        return n;
      },
      "backup b1", limits);
  char buf[4096];
  uint64_t total = 0;
  for (;;) {
    auto n = reader.read(buf, sizeof buf);
    if (!n) {
      CHECK(n.error().message == "backup b1: decompression ratio over 1000:1 (a decompression bomb)");
      break;
    }
    REQUIRE(*n > 0);  // the bomb never ends cleanly
    total += *n;
  }
  CHECK(total >= (16u << 20));
  CHECK(total < (20u << 20));
  // The error stays: a caller that reads again gets it again, never a clean end.
  CHECK_FALSE(reader.read(buf, sizeof buf).ok());
}

TEST_CASE("GzipReader passes the source's error on") {
  GzipReader reader([](char*, size_t) -> Result<size_t> { return unexpected(Errc::network, "connection reset"); },
                    "x");
  char buf[16];
  auto r = reader.read(buf, sizeof buf);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::network);
}

TEST_CASE("GzipWriter builds the member piece by piece, as gzip() does whole", "[gzip]") {
  std::string text;
  for (int i = 0; i < 200000; ++i) text += "bench-" + std::to_string(i % 500) + "/cm-" + std::to_string(i) + "\",\"";
  kbk::compress::GzipWriter w;
  size_t at = 0;
  for (size_t step = 1; at < text.size(); step = step * 3 % 70001 + 1) {  // uneven pieces, some bigger than the buffer
    const size_t n = std::min(step, text.size() - at);
    if (n == 1) w.Put(text[at]);
    else w.write(std::string_view(text).substr(at, n));
    at += n;
  }
  const std::string gz = w.finish();
  CHECK(gz.size() < text.size() / 4);
  auto back = kbk::compress::gunzip(gz, "test");
  REQUIRE(back.ok());
  CHECK(*back == text);
  kbk::compress::GzipWriter empty;
  auto nothing = kbk::compress::gunzip(empty.finish(), "empty");
  REQUIRE(nothing.ok());
  CHECK(nothing->empty());
}
