// The table of storage backends by URL scheme. A backend adds one line here; nothing else branches on scheme.
#include <kbk/storage/backend.hpp>
#include <kbk/storage/read.hpp>

#include <map>
#include <mutex>
#include <string>

namespace kbk::storage {
namespace {

std::mutex& table_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, Factory>& table() {
  static std::map<std::string, Factory> t;
  return t;
}

}  // namespace

// Defined by each backend's .cpp (registered lazily so static libraries need no static initialisers).
void register_builtin_backends();

void register_scheme(const std::string& scheme, Factory factory) {
  std::lock_guard lock(table_mutex());
  table()[scheme] = std::move(factory);
}

Result<std::string> read_up_to(Backend& backend, const std::string& key, uint64_t offset, uint64_t length) {
  if (length == 0) return std::string();
  KBK_ASSIGN_OR_RETURN(auto r, backend.get_stream(key, offset, length));
  std::string out(length, '\0');
  size_t got = 0;
  while (got < out.size()) {
    KBK_ASSIGN_OR_RETURN(size_t n, r->read(out.data() + got, out.size() - got));
    if (n == 0) break;
    got += n;
  }
  out.resize(got);
  return out;
}

Result<std::string> Backend::get_range(const std::string& key, uint64_t offset, uint64_t length) {
  KBK_ASSIGN_OR_RETURN(std::string out, read_up_to(*this, key, offset, length));
  if (out.size() != length)
    return unexpected(Errc::corrupt, "storage object " + key + " in " + display_url() + " ends " +
                                         std::to_string(length - out.size()) + " bytes short of the range " +
                                         std::to_string(offset) + "+" + std::to_string(length));
  return out;
}

Result<std::unique_ptr<Backend>> open(const std::string& url, const OpenOptions& options) {
  static std::once_flag once;
  std::call_once(once, register_builtin_backends);
  if (url.empty()) return unexpected(Errc::config, "empty storage location");
  std::string scheme = "file";
  auto pos = url.find("://");
  if (pos != std::string::npos) scheme = url.substr(0, pos);
  Factory f;
  {
    std::lock_guard lock(table_mutex());
    auto it = table().find(scheme);
    if (it == table().end())
      return unexpected(Errc::config, "storage location " + url + ": unknown scheme \"" + scheme + "\"");
    f = it->second;
  }
  return f(url, options);
}

}  // namespace kbk::storage
