// What a pods/exec WebSocket brings in from the API server: the frames (RFC 6455, FrameDecoder) fed in pieces
// whose sizes the input's first bytes choose, and the Status the server sends on channel 3 when the command ends
// (parse_exec_status). The decoder must stream, never hold a frame whole, and stop at the first protocol error.
// fuzz-link: kbk_kube kbk_storage
#include <cstdlib>

#include <kbk/util/strings.hpp>

#include "../../src/kube/pod_exec_impl.hpp"
#include "../../src/kube/websocket.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kbk;
  if (size < 2) return 0;
  if (data[0] == 0xff) {  // the channel-3 Status
    auto s = kube::parse_exec_status(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
    if (!s) (void)util::printable(s.error().message);
    else if (s->command_error) (void)util::printable(s->command_error->message);
    return 0;
  }
  const size_t step = 1 + data[0] % 17;  // the piece size: every header split point gets met
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  kube::ws::FrameDecoder decoder(4096);
  uint64_t delivered = 0;
  bool in_message = false;
  auto on_piece = [&](const kube::ws::Piece& p) -> Result<void> {
    if (p.kind == kube::ws::Piece::Kind::control) {
      if (p.bytes.size() > 125) std::abort();  // RFC 6455 5.5
      return {};
    }
    if (p.first == in_message) std::abort();  // a message starts exactly once, after the last one ended
    in_message = !p.last;
    delivered += p.bytes.size();
    return {};
  };
  while (!in.empty()) {
    const size_t n = std::min(step, in.size());
    auto r = decoder.feed(in.substr(0, n), on_piece);
    if (!r) {
      (void)kube::ws::FrameDecoder::close_code_for(r.error());
      break;
    }
    in.remove_prefix(n);
  }
  if (delivered > size) std::abort();  // nothing invented
  return 0;
}
