// The mover protocol (docs/mover.md section 2) as kbk reads it from a helper pod, which may lie: the first byte picks
// the frames of a pod's stdout, read by protocol::Decoder in pieces whose size that byte chooses and by read_frame
// over the same pieces (both must find the same frames, and each frame must encode back to the bytes it came from),
// with every request frame served by serve_request from a file:// location, as kbk serves a mover. A request may
// reach only the repository and write only its data/, index/ and snapshots/: nothing else may appear in the
// location. Or: the headers the pod side reads from kbk (a reply's error, the start frame's S3 access and
// credentials), or a mount table read by the pod's /data check.
// fuzz-link: kbk_volume
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <kbk/json/json.hpp>
#include <kbk/repo/repository.hpp>
#include <kbk/util/strings.hpp>

#include "../../src/volume/mover_protocol.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace kbk;
using volume::protocol::Frame;
namespace fs = std::filesystem;

const std::string& location() {
  static const std::string dir = fuzz::scratch() + "/loc";
  return dir;
}

storage::Backend& backend() {
  static std::unique_ptr<storage::Backend> b = [] {
    auto opened = storage::open(location(), {{}, true});
    if (!opened) std::abort();
    return std::move(*opened);
  }();
  return *b;
}

bool same(const Frame& a, const Frame& b) {
  return a.type == b.type && a.id == b.id && a.header == b.header && a.body == b.body;
}

// Only plugins/kbk/repository/ may exist in the location, whatever the requests were.
void check_location() {
  std::error_code ec;
  const fs::path root(location());
  for (const fs::path& p : {root, root / "plugins", root / "plugins/kbk"})
    for (const auto& e : fs::directory_iterator(p, ec)) {
      const std::string n = e.path().filename().string();
      if (n != "plugins" && n != "kbk" && n != "repository") std::abort();
    }
}

void serve(const Frame& request) {
  volume::protocol::ServeCounts counts;
  bool wrote = false;
  Frame reply = volume::protocol::serve_request(
      backend(), request, counts, [&](const std::string& key, std::string_view) {
        const std::string rel = key.substr(std::min(key.size(), std::string_view(repo::k_prefix).size()));
        const bool below = util::starts_with(rel, "data/") || util::starts_with(rel, "index/") ||
                           util::starts_with(rel, "snapshots/");
        if (!util::starts_with(key, repo::k_prefix) || key.find("..") != std::string::npos || !below) std::abort();
        wrote = true;
      });
  if (reply.type != volume::protocol::Type::reply || reply.id != request.id) std::abort();
  auto h = json::parse(reply.header, "reply");
  if (!h || !h->IsObject()) std::abort();
  const json::Value* ok = json::find(*h, "ok");
  if (!ok || !ok->IsBool()) std::abort();
  if (!ok->GetBool()) (void)util::printable(volume::protocol::header_error(*h, "request").message);
  if (wrote) check_location();
}

void frames(uint8_t pick, std::string_view in) {
  const size_t step = 1 + pick / 4 % 23;
  std::vector<Frame> decoded;
  volume::protocol::Decoder decoder;
  bool decoder_failed = false;
  for (std::string_view rest = in; !rest.empty();) {
    const size_t n = std::min(step, rest.size());
    auto r = decoder.feed(rest.substr(0, n), [&](Frame&& f) -> Result<void> {
      decoded.push_back(std::move(f));
      return {};
    });
    if (!r) {
      (void)util::printable(r.error().message);
      decoder_failed = true;
      break;
    }
    rest.remove_prefix(n);
  }
  size_t pos = 0;
  std::vector<Frame> read;
  bool read_failed = false;
  for (;;) {
    auto f = volume::protocol::read_frame([&](char* b, size_t n) -> Result<size_t> {
      n = std::min({n, step, in.size() - pos});
      std::memcpy(b, in.data() + pos, n);
      pos += n;
      return n;
    });
    if (!f) {
      read_failed = true;
      break;
    }
    if (!*f) break;
    read.push_back(std::move(**f));
  }
  // One reader, one answer: the same frames; read_frame fails where the decoder did, and also on a frame cut short
  // by the end of the stream (which the decoder keeps waiting for).
  if (decoded.size() != read.size() || (decoder_failed && !read_failed)) std::abort();
  std::string again;
  for (size_t i = 0; i < decoded.size(); ++i) {
    if (!same(decoded[i], read[i])) std::abort();
    again += volume::protocol::encode(decoded[i]);
  }
  if (in.substr(0, again.size()) != again) std::abort();
  for (const Frame& f : decoded)
    if (f.type == volume::protocol::Type::request) serve(f);
  std::error_code ec;
  fs::remove_all(fs::path(location()) / "plugins", ec);  // every input starts from an empty location
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
    case 1:
      frames(data[0], in);
      break;
    case 2: {  // a header from kbk as the pod reads it: a reply's error, the start frame's s3 member and credentials
      auto h = json::parse(in, "header");
      if (!h || !h->IsObject()) return 0;
      (void)util::printable(volume::protocol::header_error(*h, "request").message);
      (void)volume::protocol::credentials_of(*h);
      if (const json::Value* s3 = json::find(*h, "s3"); s3 && s3->IsObject()) {
        auto access = volume::protocol::s3_access_of(*s3);
        if (!access) (void)util::printable(access.error().message);
      }
      break;
    }
    default:  // /proc/self/mountinfo as the pod's check reads it
      (void)volume::protocol::mount_point_listed(in, "/data");
      (void)volume::protocol::mount_point_listed(in, "/data-1/");
  }
  return 0;
}
