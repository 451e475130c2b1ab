// dlopen on first use (lazy_library.hpp).
#include <kbk/util/lazy_library.hpp>

#include <cstdio>
#include <dlfcn.h>
#include <mutex>
#include <unistd.h>

namespace kbk::util {

namespace {

void* open_library(const char* soname, bool fatal) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  void* h = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!h && fatal) {
    const char* why = ::dlerror();
    std::fprintf(stderr, "kbk: error: %s: this command needs it and it cannot be loaded (%s)\n", soname,
                 why ? why : "not found");
    std::fflush(stderr);
    ::_exit(1);
  }
  return h;
}

}  // namespace

bool lazy_library_available(const char* soname) { return open_library(soname, false) != nullptr; }

void* lazy_symbol(const char* soname, const char* name) {
  void* h = open_library(soname, true);
  void* f = ::dlsym(h, name);
  if (!f) {
    std::fprintf(stderr, "kbk: error: %s: it has no %s (another version than kbk was built with)\n", soname, name);
    std::fflush(stderr);
    ::_exit(1);
  }
  return f;
}

}  // namespace kbk::util
