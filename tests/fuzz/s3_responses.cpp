// What an S3 endpoint answers, as the s3:// backend reads it: the first byte picks delimiter or full listings, the
// rest is a series of HTTP responses separated by fuzz::k_separator, each "STATUS\nName: value\n...\n\nBODY" (a missing status line is 200), handed out one per
// request by a fake transport (none left: a dropped connection). The backend runs the operations the commands use
// (ListObjectsV2 with and without a delimiter, HEAD, GET whole and streamed, PUT, DeleteObjects, multipart upload
// listing and abort, DELETE) with retries off, so every XML listing, error body, redirect and header is parsed.
// Keys the backend hands back must lie under its prefix; errors must print as one line.
// fuzz-link: kbk_storage
#include <cstdlib>
#include <memory>
#include <mutex>

#include <kbk/http/http.hpp>
#include <kbk/storage/aws.hpp>
#include <kbk/storage/s3.hpp>
#include <kbk/util/strings.hpp>

#include "../../src/storage/s3_xml.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace kbk;

class Replay final : public http::Transport {
public:
  explicit Replay(std::vector<std::string_view> parts) : m_parts(std::move(parts)) {}
  Result<http::Response> send(const http::Request& req) override {
    std::string_view part;
    {
      std::lock_guard<std::mutex> l(m_mutex);
      if (m_next >= m_parts.size()) return unexpected(Errc::network, "connection reset by fuzz");
      part = m_parts[m_next++];
    }
    if (req.body_reader) {  // drain a streamed upload as a server would
      char buf[4096];
      while (auto n = req.body_reader(buf, sizeof buf)) {
        if (*n == 0) break;
      }
    }
    http::Response r;
    r.status = 200;
    r.protocol = "HTTP/1.1";
    const size_t head_end = part.find("\n\n");
    std::string_view head = head_end == std::string_view::npos ? std::string_view() : part.substr(0, head_end);
    std::string_view body = head_end == std::string_view::npos ? part : part.substr(head_end + 2);
    bool first = true;
    for (auto line : util::split(std::string(head), '\n')) {
      if (first) {
        first = false;
        if (!line.empty() && line[0] >= '0' && line[0] <= '9') {
          r.status = std::atoi(line.c_str()) % 1000;
          continue;
        }
      }
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      r.headers.emplace_back(line.substr(0, colon), std::string(util::trim(std::string_view(line).substr(colon + 1))));
    }
    if (r.status >= 200 && r.status < 300 && req.on_body) {
      for (size_t at = 0; at < body.size(); at += 1000)
        if (!req.on_body(body.substr(at, 1000))) return unexpected(Errc::cancelled, "cancelled");
    } else {
      r.body.assign(body);
    }
    return r;
  }

private:
  std::mutex m_mutex;
  std::vector<std::string_view> m_parts;
  size_t m_next = 0;
};

void say(const Error& e) { (void)util::printable(e.message); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool delimiter_listing = data[0] & 1;
  auto parts = fuzz::split(data + 1, size - 1, 48);
  {  // the XML reader on its own, over the whole input
    const std::string_view all(reinterpret_cast<const char*>(data), size);
    for (auto e : storage::xml::elements(all, "Contents")) (void)storage::xml::text(e, "Key");
    (void)storage::xml::unescape(all.substr(0, 4096));
  }
  storage::S3Settings s;
  s.bucket = "kbk-fuzz";
  s.prefix = "p/";
  s.endpoint = "http://127.0.0.1:9";
  s.region = "us-east-1";
  s.addressing = storage::Addressing::path;
  s.max_retries = 0;
  s.retry_backoff_seconds = 0;
  s.upload_concurrency = 1;
  s.delimiter_listing = delimiter_listing;
  auto backend = storage::make_s3_backend(
      s, storage::aws::make_static_provider({"AKIDFUZZ", "fuzz/secret", ""}, "fuzz"), std::make_shared<Replay>(parts));
  auto under_prefix = [](const std::string& k) {
    if (k.rfind("backups/", 0) != 0) std::abort();
  };
  auto listed = backend->list("backups/", [&](const storage::ObjectInfo& o) -> Result<void> {
    under_prefix(o.key);
    (void)util::printable(o.key);
    return {};
  });
  if (!listed) say(listed.error());
  if (auto dirs = backend->list_prefixes("backups/"); !dirs) say(dirs.error());
  if (auto g = backend->get("backups/b1/kbk-manifest.json"); !g) say(g.error());
  if (auto st = backend->stat("backups/b1/b1.tar.gz"); !st) say(st.error());
  if (auto r = backend->get_stream("backups/b1/b1.tar.gz"); r) {
    char buf[8192];
    for (int i = 0; i < 64; ++i) {
      auto n = (*r)->read(buf, sizeof buf);
      if (!n) {
        say(n.error());
        break;
      }
      if (*n == 0) break;
    }
  } else {
    say(r.error());
  }
  storage::PutOptions po;
  po.if_exists = storage::IfExists::fail;
  if (auto p = backend->put("backups/b1/kbk-lock.json", "{}", po); !p) say(p.error());
  if (auto d = backend->remove_many({"backups/b1/a", "backups/b1/b"}); !d) say(d.error());
  if (auto c = backend->cleanup_incomplete(std::chrono::seconds(0), "backups/b1/"); !c) say(c.error());
  if (auto d = backend->remove("backups/b1/kbk-lock.json"); !d) say(d.error());
  return 0;
}
