// lz4 and zstd block compression; see include/kbk/compress/compress.hpp.
#include <kbk/compress/compress.hpp>

#include <cstring>
#include <memory>

#include <lz4.h>
#include <zstd.h>

namespace kbk::compress {

const char* codec_name(Codec c) {
  switch (c) {
    case Codec::none: return "none";
    case Codec::lz4: return "lz4";
    case Codec::zstd: return "zstd";
  }
  return "?";
}

Result<Setting> parse_setting(std::string_view text) {
  Setting s;
  if (text == "lz4") return Setting{Codec::lz4, 0};
  if (text == "none") return Setting{Codec::none, 0};
  if (text == "zstd") return Setting{Codec::zstd, 0};
  if (text.substr(0, 5) == "zstd:") {
    std::string_view l = text.substr(5);
    int level = 0;
    bool ok = !l.empty() && l.size() <= 2;
    for (char c : l) {
      if (c < '0' || c > '9') ok = false;
      else level = level * 10 + (c - '0');
    }
    if (ok && level >= 1 && level <= 19) return Setting{Codec::zstd, level};
  }
  return unexpected(Errc::config, "compression " + std::string(text) + ": expected lz4, zstd, zstd:LEVEL (1-19) or none");
}

std::string setting_name(const Setting& s) {
  if (s.codec == Codec::zstd && s.level > 0) return "zstd:" + std::to_string(s.level);
  return codec_name(s.codec);
}

bool compress_block(const Setting& s, std::string_view in, std::string& out) {
  if (s.codec == Codec::none || in.size() < 64) return false;
  const size_t limit = in.size() - in.size() / 32;  // must be smaller than this to be worth it
  const size_t start = out.size();
  if (s.codec == Codec::lz4) {
    out.resize(start + limit);
    int n = LZ4_compress_default(in.data(), out.data() + start, static_cast<int>(in.size()), static_cast<int>(limit));
    if (n <= 0) {
      out.resize(start);
      return false;
    }
    out.resize(start + static_cast<size_t>(n));
    return true;
  }
  struct CCtxFree {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  };
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> t_cctx{ZSTD_createCCtx()};
  ZSTD_CCtx* cctx = t_cctx.get();
  out.resize(start + limit);
  size_t n = ZSTD_compressCCtx(cctx, out.data() + start, limit, in.data(), in.size(), s.level ? s.level : 4);
  if (ZSTD_isError(n) || n >= limit) {
    out.resize(start);
    return false;
  }
  out.resize(start + n);
  return true;
}

bool block_length_plausible(Codec codec, std::string_view in, size_t raw_length) {
  switch (codec) {
    case Codec::none: return in.size() == raw_length;
    case Codec::lz4: return raw_length / 256 <= in.size();
    case Codec::zstd: {
      const unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
      if (declared == ZSTD_CONTENTSIZE_ERROR) return false;
      if (declared == ZSTD_CONTENTSIZE_UNKNOWN) return raw_length / 32768 <= in.size();
      return declared == raw_length;
    }
  }
  return false;
}

Result<void> decompress_block(Codec codec, std::string_view in, char* out, size_t raw_length) {
  switch (codec) {
    case Codec::none:
      if (in.size() != raw_length) return unexpected(Errc::corrupt, "raw block has the wrong length");
      std::memcpy(out, in.data(), in.size());
      return {};
    case Codec::lz4: {
      int n = LZ4_decompress_safe(in.data(), out, static_cast<int>(in.size()), static_cast<int>(raw_length));
      if (n < 0 || static_cast<size_t>(n) != raw_length)
        return unexpected(Errc::corrupt, "lz4 block does not decompress to its length");
      return {};
    }
    case Codec::zstd: {
      struct DCtxFree {
        void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
      };
      thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> t_dctx{ZSTD_createDCtx()};
      ZSTD_DCtx* dctx = t_dctx.get();
      size_t n = ZSTD_decompressDCtx(dctx, out, raw_length, in.data(), in.size());
      if (ZSTD_isError(n) || n != raw_length) return unexpected(Errc::corrupt, "zstd block does not decompress to its length");
      return {};
    }
  }
  return unexpected(Errc::corrupt, "unknown compression codec " + std::to_string(static_cast<int>(codec)));
}

}  // namespace kbk::compress
