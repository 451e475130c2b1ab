// RFC 6455 WebSocket framing for the pods/exec client (kube-internal; the unit tests include it directly).
//
// Only what a client needs: the opening handshake's key and accept check, masked frames out, unmasked frames in
// (a masked server frame is a protocol error, RFC 6455 5.1), fragmentation, control frames (ping, pong, close;
// at most 125 bytes, never fragmented), reserved bits refused (no extension is negotiated), and a bound on a
// frame's declared length. Data payloads are streamed through in pieces as they arrive, so no frame is ever
// held whole in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <kbk/util/error.hpp>

namespace kbk::kube::ws {

enum Opcode : uint8_t { continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };

// Close codes (RFC 6455 7.4.1).
inline constexpr uint16_t k_close_normal = 1000;
inline constexpr uint16_t k_close_protocol_error = 1002;
inline constexpr uint16_t k_close_too_big = 1009;

inline constexpr const char* k_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// A fresh Sec-WebSocket-Key: 16 random bytes, base64.
std::string make_key();
// The Sec-WebSocket-Accept a server must answer to key: base64(SHA-1(key + GUID)).
std::string accept_for(std::string_view key);

// A random masking key (4 bytes).
uint32_t make_mask();
// XORs data in place with the mask, starting at byte `offset` of the payload (so a payload masked in parts
// continues the key where the last part ended).
void apply_mask(char* data, size_t size, uint32_t mask, size_t offset = 0);

// Appends one masked client frame: FIN set unless `more`; `prefix` (0-1 bytes, the channel) goes before payload
// inside the same frame without the caller concatenating them.
void append_frame(std::string& out, Opcode opcode, std::string_view payload, uint32_t mask, bool more = false,
                  std::string_view prefix = {});
// An unmasked frame as a server sends it (for tests and the test server).
std::string server_frame(Opcode opcode, std::string_view payload, bool fin = true, bool masked = false);

// What the decoder found.
struct Piece {
  enum class Kind { data, control };
  Kind kind = Kind::data;
  Opcode opcode = binary;  // data: the message's opcode (text or binary); control: close, ping or pong
  bool first = false;      // data: these are the first bytes of a message
  bool last = false;       // data: the message ends here (bytes may be empty)
  std::string_view bytes;  // valid during the call only
};

class FrameDecoder {
public:
  // A frame declaring more payload than this is refused (Errc::request_entity_too_large, close code 1009).
  explicit FrameDecoder(uint64_t max_frame_bytes = 64u << 20) : m_max_frame(max_frame_bytes) {}

  // Consumes all of data (split anywhere), calling on_piece for each piece in order. Protocol errors come back
  // as Errc::bad_request (close code 1002) or Errc::request_entity_too_large; an error from on_piece is
  // returned as is. After an error the decoder must not be fed again.
  Result<void> feed(std::string_view data, const std::function<Result<void>(const Piece&)>& on_piece);

  // The close code a protocol error should be answered with.
  static uint16_t close_code_for(const Error& e) {
    return e.code == Errc::request_entity_too_large ? k_close_too_big : k_close_protocol_error;
  }

private:
  Result<void> header_done(const std::function<Result<void>(const Piece&)>& on_piece);

  uint64_t m_max_frame;
  // current frame header
  unsigned char m_head[14] = {};
  size_t m_head_have = 0;
  size_t m_head_need = 2;
  bool m_in_payload = false;
  bool m_fin = false;
  Opcode m_opcode = continuation;
  uint64_t m_remaining = 0;
  // the data message in progress
  bool m_in_message = false;
  bool m_message_started = false;  // its first piece was delivered
  Opcode m_message_opcode = binary;
  std::string m_control;           // a control frame's payload being collected
};

}  // namespace kbk::kube::ws
