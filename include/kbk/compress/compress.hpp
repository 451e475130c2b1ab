// Block compression for repository blobs (docs/format-repository.md section 4): lz4 (block format, fast, the
// default), zstd (libzstd frames, smaller, ~0.4 GB/s a core at level 3) and none. A block that does not shrink by at
// least 1/32 is reported as incompressible so the caller stores it raw; the compression attempt is the test.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <kbk/util/error.hpp>

namespace kbk::compress {

enum class Codec : uint8_t { none = 0, lz4 = 1, zstd = 2 };

struct Setting {
  Codec codec = Codec::lz4;
  int level = 0;  // zstd level (1..19; 0 = 4: measured on /usr/share, 1% smaller than 3 for 5% more CPU)
};

// "lz4", "zstd", "zstd:LEVEL", "none"; Errc::config naming the value otherwise.
Result<Setting> parse_setting(std::string_view text);
std::string setting_name(const Setting& s);
const char* codec_name(Codec c);

// Appends the compressed form of in to out and returns true, or leaves out as it was and returns false when the
// block does not compress by at least 1/32 (or the codec is none).
bool compress_block(const Setting& s, std::string_view in, std::string& out);

// Decompresses in (compressed by codec) into exactly raw_length bytes at out. Errc::corrupt when the data does not
// decompress to that length.
Result<void> decompress_block(Codec codec, std::string_view in, char* out, size_t raw_length);

// Whether in can decompress to raw_length bytes at all, checked before the output is allocated, so a few stored bytes
// that claim a large length cost nothing: none must be exactly that long, a zstd frame must declare that content size
// (compress_block always writes it; one without it may claim at most 32768:1, zstd's own bound), lz4 at most 256:1.
bool block_length_plausible(Codec codec, std::string_view in, size_t raw_length);

}  // namespace kbk::compress
