// RFC 6455 framing (see websocket.hpp).
#include "websocket.hpp"

#include <openssl/sha.h>

#include <cstring>
#include <random>

#include <kbk/util/strings.hpp>

namespace kbk::kube::ws {
namespace {

std::mt19937_64& rng() {
  // Seeded from the OS per thread: masking keys must not be predictable by the page behind a proxy (RFC 6455
  // 10.3); they protect intermediaries, not secrets.
  thread_local std::mt19937_64 gen{[] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }()};
  return gen;
}

Error protocol_error(const std::string& what) { return Error{Errc::bad_request, "WebSocket protocol error: " + what}; }

}  // namespace

std::string make_key() {
  std::string raw(16, '\0');
  for (size_t i = 0; i < 16; i += 8) {
    const uint64_t v = rng()();
    std::memcpy(raw.data() + i, &v, 8);
  }
  return util::base64_encode(raw);
}

std::string accept_for(std::string_view key) {
  const std::string text = std::string(key) + k_guid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return util::base64_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

uint32_t make_mask() { return static_cast<uint32_t>(rng()()); }

void apply_mask(char* data, size_t size, uint32_t mask, size_t offset) {
  unsigned char key[4];
  std::memcpy(key, &mask, 4);
  size_t i = 0;
  // Bytes up to an offset multiple of 4, then 8 bytes at a time with the key rotated to match.
  while (i < size && (offset + i) % 4 != 0) {
    data[i] = static_cast<char>(static_cast<unsigned char>(data[i]) ^ key[(offset + i) % 4]);
    ++i;
  }
  uint64_t wide;
  unsigned char k8[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
  std::memcpy(&wide, k8, 8);
  for (; i + 8 <= size; i += 8) {
    uint64_t v;
    std::memcpy(&v, data + i, 8);
    v ^= wide;
    std::memcpy(data + i, &v, 8);
  }
  for (; i < size; ++i) data[i] = static_cast<char>(static_cast<unsigned char>(data[i]) ^ key[(offset + i) % 4]);
}

void append_frame(std::string& out, Opcode opcode, std::string_view payload, uint32_t mask, bool more,
                  std::string_view prefix) {
  const uint64_t n = payload.size() + prefix.size();
  unsigned char head[14];
  size_t h = 0;
  head[h++] = static_cast<unsigned char>((more ? 0x00 : 0x80) | opcode);
  if (n < 126) {
    head[h++] = static_cast<unsigned char>(0x80 | n);
  } else if (n < 65536) {
    head[h++] = 0x80 | 126;
    head[h++] = static_cast<unsigned char>(n >> 8);
    head[h++] = static_cast<unsigned char>(n);
  } else {
    head[h++] = 0x80 | 127;
    for (int s = 56; s >= 0; s -= 8) head[h++] = static_cast<unsigned char>(n >> s);
  }
  std::memcpy(head + h, &mask, 4);
  h += 4;
  const size_t at = out.size();
  out.append(reinterpret_cast<const char*>(head), h);
  out.append(prefix);
  out.append(payload);
  apply_mask(out.data() + at + h, n, mask, 0);
}

std::string server_frame(Opcode opcode, std::string_view payload, bool fin, bool masked) {
  std::string out;
  const uint64_t n = payload.size();
  out.push_back(static_cast<char>((fin ? 0x80 : 0x00) | opcode));
  const unsigned char m = masked ? 0x80 : 0x00;
  if (n < 126) {
    out.push_back(static_cast<char>(m | n));
  } else if (n < 65536) {
    out.push_back(static_cast<char>(m | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
  } else {
    out.push_back(static_cast<char>(m | 127));
    for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>((n >> s) & 0xff));
  }
  if (masked) {
    const uint32_t key = 0x5a5a5a5a;
    out.append(reinterpret_cast<const char*>(&key), 4);
    const size_t at = out.size();
    out.append(payload);
    apply_mask(out.data() + at, n, key);
  } else {
    out.append(payload);
  }
  return out;
}

Result<void> FrameDecoder::header_done(const std::function<Result<void>(const Piece&)>& on_piece) {
  const unsigned char b0 = m_head[0];
  const unsigned char b1 = m_head[1];
  m_fin = (b0 & 0x80) != 0;
  m_opcode = static_cast<Opcode>(b0 & 0x0f);
  const unsigned ln7 = b1 & 0x7f;
  uint64_t len = ln7;
  if (ln7 == 126) {
    len = (static_cast<uint64_t>(m_head[2]) << 8) | m_head[3];
  } else if (ln7 == 127) {
    len = 0;
    for (int i = 2; i < 10; ++i) len = (len << 8) | m_head[i];
    if (len >> 63) return protocol_error("a frame length with the most significant bit set");
  }
  const bool control = (m_opcode & 0x08) != 0;
  if (control) {
    if (m_opcode != close && m_opcode != ping && m_opcode != pong)
      return protocol_error("unknown control opcode " + std::to_string(m_opcode));
    if (!m_fin) return protocol_error("a fragmented control frame");
    if (len > 125) return protocol_error("a control frame of " + std::to_string(len) + " bytes (at most 125)");
    m_control.clear();
  } else {
    if (m_opcode != continuation && m_opcode != text && m_opcode != binary)
      return protocol_error("unknown data opcode " + std::to_string(m_opcode));
    if (m_opcode == continuation && !m_in_message) return protocol_error("a continuation frame outside a message");
    if (m_opcode != continuation && m_in_message)
      return protocol_error("a new message before the fragmented one ended");
    if (len > m_max_frame)
      return unexpected(Errc::request_entity_too_large,
                        "WebSocket frame of " + std::to_string(len) + " bytes refused (the limit is " +
                            std::to_string(m_max_frame) + ")");
    if (m_opcode != continuation) {
      m_in_message = true;
      m_message_started = false;
      m_message_opcode = m_opcode;
    }
  }
  m_remaining = len;
  m_in_payload = true;
  if (len == 0) {
    m_in_payload = false;
    m_head_have = 0;
    m_head_need = 2;
    if (control) {
      Piece p;
      p.kind = Piece::Kind::control;
      p.opcode = m_opcode;
      return on_piece(p);
    }
    if (m_fin) {
      Piece p;
      p.opcode = m_message_opcode;
      p.first = !m_message_started;
      p.last = true;
      m_in_message = false;
      return on_piece(p);
    }
  }
  return {};
}

Result<void> FrameDecoder::feed(std::string_view data, const std::function<Result<void>(const Piece&)>& on_piece) {
  while (!data.empty()) {
    if (!m_in_payload) {
      const size_t k = std::min(m_head_need - m_head_have, data.size());
      std::memcpy(m_head + m_head_have, data.data(), k);
      m_head_have += k;
      data.remove_prefix(k);
      if (m_head_have == 2 && m_head_need == 2) {
        if (m_head[0] & 0x70) return protocol_error("reserved bits set (no extension was negotiated)");
        if (m_head[1] & 0x80) return protocol_error("a masked frame from the server");
        const unsigned ln7 = m_head[1] & 0x7f;
        m_head_need = 2 + (ln7 == 126 ? 2 : ln7 == 127 ? 8 : 0);
      }
      if (m_head_have == m_head_need) KBK_TRY(header_done(on_piece));
      continue;
    }
    const size_t k = static_cast<size_t>(std::min<uint64_t>(m_remaining, data.size()));
    const std::string_view chunk = data.substr(0, k);
    data.remove_prefix(k);
    m_remaining -= k;
    const bool frame_end = m_remaining == 0;
    if (m_opcode & 0x08) {
      m_control.append(chunk);
      if (frame_end) {
        if (m_opcode == close && m_control.size() == 1) return protocol_error("a close frame with a 1-byte payload");
        Piece p;
        p.kind = Piece::Kind::control;
        p.opcode = m_opcode;
        p.bytes = m_control;
        KBK_TRY(on_piece(p));
      }
    } else {
      Piece p;
      p.opcode = m_message_opcode;
      p.first = !m_message_started;
      p.last = frame_end && m_fin;
      p.bytes = chunk;
      m_message_started = true;
      if (p.last) m_in_message = false;
      KBK_TRY(on_piece(p));
    }
    if (frame_end) {
      m_in_payload = false;
      m_head_have = 0;
      m_head_need = 2;
    }
  }
  return {};
}

}  // namespace kbk::kube::ws
