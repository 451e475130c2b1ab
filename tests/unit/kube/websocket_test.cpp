// RFC 6455 framing: the decoder against frames split at every byte, fragments, control frames and bad frames.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "websocket.hpp"

using namespace kbk;
using namespace kbk::kube;

namespace {

struct Seen {
  std::vector<std::string> messages;  // data messages, reassembled
  std::vector<std::pair<int, std::string>> controls;
  std::string current;
  bool in_message = false;
  Result<void> on(const ws::Piece& p) {
    if (p.kind == ws::Piece::Kind::control) {
      controls.emplace_back(p.opcode, std::string(p.bytes));
      return {};
    }
    if (p.first) {
      if (in_message) return unexpected(Errc::internal_error, "first piece inside a message");
      in_message = true;
      current.clear();
    } else if (!in_message) {
      return unexpected(Errc::internal_error, "piece outside a message");
    }
    current += p.bytes;
    if (p.last) {
      messages.push_back(current);
      in_message = false;
    }
    return {};
  }
};

Result<Seen> decode(const std::vector<std::string_view>& parts, uint64_t max_frame = 1 << 20) {
  ws::FrameDecoder d(max_frame);
  Seen s;
  for (auto part : parts) KBK_TRY(d.feed(part, [&](const ws::Piece& p) { return s.on(p); }));
  return s;
}

std::string stream_of_frames() {
  std::string s;
  s += ws::server_frame(ws::binary, std::string("\x01hello", 6));
  s += ws::server_frame(ws::binary, std::string("\x01" "frag", 5), false);   // fragment 1
  s += ws::server_frame(ws::ping, "p1");                                       // control between fragments
  s += ws::server_frame(ws::continuation, std::string(300, 'x'), false);      // 16-bit length
  s += ws::server_frame(ws::continuation, "", false);                         // empty fragment
  s += ws::server_frame(ws::continuation, std::string(70000, 'y'));           // 64-bit length, FIN
  s += ws::server_frame(ws::binary, "");                                      // empty message
  s += ws::server_frame(ws::close, std::string("\x03\xe8" "bye", 5));
  return s;
}

void check_stream(const Seen& s) {
  REQUIRE(s.messages.size() == 3);
  CHECK(s.messages[0] == std::string("\x01hello", 6));
  CHECK(s.messages[1] == std::string("\x01" "frag", 5) + std::string(300, 'x') + std::string(70000, 'y'));
  CHECK(s.messages[2].empty());
  REQUIRE(s.controls.size() == 2);
  CHECK(s.controls[0] == std::pair<int, std::string>(ws::ping, "p1"));
  CHECK(s.controls[1] == std::pair<int, std::string>(ws::close, std::string("\x03\xe8" "bye", 5)));
}

}  // namespace

TEST_CASE("FrameDecoder reassembles a stream split at every byte boundary") {
  const std::string all = stream_of_frames();
  // Every two-part split around the frame headers and payload edges (all positions of the small frames, and
  // around the boundaries of the large one).
  for (size_t cut = 0; cut <= all.size(); cut += (cut < 400 || cut > all.size() - 400) ? 1 : 997) {
    auto s = decode({std::string_view(all).substr(0, cut), std::string_view(all).substr(cut)});
    REQUIRE(s.ok());
    check_stream(*s);
  }
  // One byte at a time.
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < all.size(); ++i) bytes.push_back(std::string_view(all).substr(i, 1));
  auto s = decode(bytes);
  REQUIRE(s.ok());
  check_stream(*s);
}

TEST_CASE("FrameDecoder refuses what a server must not send") {
  auto fails = [](const std::string& bytes, Errc code, const std::string& text) {
    auto s = decode({bytes});
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == code);
    CHECK_THAT(s.error().message, Catch::Contains(text));
  };
  fails(ws::server_frame(ws::binary, "abc", true, true), Errc::bad_request, "masked frame");
  fails(std::string("\xc2\x01x", 3), Errc::bad_request, "reserved bits");
  fails(std::string("\x83\x00", 2), Errc::bad_request, "unknown data opcode");
  fails(std::string("\x8b\x00", 2), Errc::bad_request, "unknown control opcode");
  fails(ws::server_frame(ws::ping, "x", false), Errc::bad_request, "fragmented control frame");
  fails(std::string("\x89\x7e\x00\x80", 4) + std::string(128, 'p'), Errc::bad_request, "control frame of 128 bytes");
  fails(ws::server_frame(ws::continuation, "x"), Errc::bad_request, "continuation frame outside a message");
  fails(ws::server_frame(ws::binary, "a", false) + ws::server_frame(ws::binary, "b"), Errc::bad_request,
        "new message before the fragmented one ended");
  fails(ws::server_frame(ws::close, "\x03"), Errc::bad_request, "1-byte payload");
  // 2^40 bytes declared: refused from the header alone, nothing is allocated for it.
  fails(std::string("\x82\x7f\x00\x00\x01\x00\x00\x00\x00\x00", 10), Errc::request_entity_too_large,
        "WebSocket frame of 1099511627776 bytes refused");
  fails(std::string("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10), Errc::bad_request, "most significant bit");
}

TEST_CASE("FrameDecoder close_code_for answers protocol errors with 1002 and oversized frames with 1009") {
  CHECK(ws::FrameDecoder::close_code_for(Error{Errc::bad_request, ""}) == 1002);
  CHECK(ws::FrameDecoder::close_code_for(Error{Errc::request_entity_too_large, ""}) == 1009);
}

TEST_CASE("append_frame masks the payload with the key and picks the length encoding") {
  for (size_t n : {size_t{0}, size_t{125}, size_t{126}, size_t{65535}, size_t{65536}, size_t{100000}}) {
    const std::string payload(n, 'q');
    std::string out;
    const uint32_t mask = 0x11223344;
    ws::append_frame(out, ws::binary, payload, mask, false, "\x05");
    const auto* b = reinterpret_cast<const unsigned char*>(out.data());
    CHECK(b[0] == 0x82);
    CHECK((b[1] & 0x80) != 0);  // client frames are always masked
    const size_t header = n + 1 < 126 ? 2 : n + 1 < 65536 ? 4 : 10;
    REQUIRE(out.size() == header + 4 + n + 1);
    std::string body = out.substr(header + 4);
    uint32_t key;
    std::memcpy(&key, out.data() + header, 4);
    CHECK(key == mask);
    ws::apply_mask(body.data(), body.size(), key);
    CHECK(body == "\x05" + payload);
  }
}

TEST_CASE("apply_mask continues the key across parts at any offset") {
  std::string data(1000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  std::string whole = data;
  ws::apply_mask(whole.data(), whole.size(), 0xa1b2c3d4);
  for (size_t cut : {size_t{1}, size_t{3}, size_t{5}, size_t{8}, size_t{13}, size_t{999}}) {
    std::string parts = data;
    ws::apply_mask(parts.data(), cut, 0xa1b2c3d4, 0);
    ws::apply_mask(parts.data() + cut, parts.size() - cut, 0xa1b2c3d4, cut);
    CHECK(parts == whole);
  }
}

TEST_CASE("accept_for computes RFC 6455's example answer") {
  CHECK(ws::accept_for("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK(ws::make_key().size() == 24);
  CHECK(ws::make_key() != ws::make_key());
}
