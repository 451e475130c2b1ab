// The encrypted stream reader (docs/format-encryption.md) with a fixed data key: the first byte picks the path —
// the streaming DecryptingReader (as restore reads an archive), the whole-buffer decrypt (logs, results), or a
// sealed marker opened against its plaintext summary. The seeds are valid streams under that key, so mutations
// reach the header checks, the segment arithmetic and the authentication of every segment.
// fuzz-link: kbk_archive
#include <kbk/archive/encryption.hpp>
#include <kbk/crypto/encryption.hpp>
#include <kbk/json/json.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kbk;
  if (size == 0) return 0;
  static const crypto::SecretKey key(std::string(32, '\x42'));
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      archive::DecryptingReader reader(std::make_unique<fuzz::InputReader>(data + 1, size - 1, 1 + data[0] * 37),
                                       key, "fuzz.kbk");
      char buf[65536];
      for (;;) {
        auto n = reader.read(buf, sizeof buf);
        if (!n || *n == 0) break;
      }
      break;
    }
    case 1:
      (void)crypto::decrypt(key, rest, "fuzz.gz.kbk");
      break;
    default: {
      auto marker = json::parse(rest, "fuzz marker", Errc::corrupt);
      if (marker) (void)archive::open_marker(*marker, key);
      break;
    }
  }
  return 0;
}
