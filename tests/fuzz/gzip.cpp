// The one gzip decoder (compress::GzipReader) with a 1 MiB limit and the bomb ratio from 64 KiB on, read in odd
// sizes; the whole-buffer gunzip must agree with the stream.
// fuzz-link: kbk_compress kbk_storage
#include <cstdlib>

#include <kbk/compress/gzip.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kbk;
  compress::InflateLimits limits;
  limits.max_bytes = 1 << 20;
  limits.ratio_after = 64 << 10;
  fuzz::InputReader in(data, size, 333);
  compress::GzipReader reader([&in](char* b, size_t n) { return in.read(b, n); }, "fuzz.gz", limits);
  std::string streamed;
  char buf[1000];
  bool ok = true;
  for (;;) {
    auto n = reader.read(buf, sizeof buf);
    if (!n) {
      ok = false;
      break;
    }
    if (*n == 0) break;
    streamed.append(buf, *n);
  }
  auto whole = compress::gunzip(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.gz", limits);
  if (whole.ok() != ok || (ok && *whole != streamed)) std::abort();  // one decoder, one answer
  return 0;
}
