// Shared libraries kbk opens on first use (dlopen) instead of at start (docs/mover.md section 1): libarchive (which
// pulls in libxml2 and ICU, 36 MB) and libcurl (with its TLS, HTTP/2, IDN, LDAP and Kerberos libraries, 14 MB). The
// in-pod mover uses neither, so its bundle carries neither: only the libraries the binary names as DT_NEEDED are
// bundled. The functions kbk calls are defined in src/util/lazy_*.cpp with the libraries' own prototypes and forward
// to the library's symbol, loaded on the first call; a command that needs a library that is not there ends with one
// line naming it (exit 1).
#pragma once

namespace kbk::util {

inline constexpr const char* k_libarchive_soname = "libarchive.so.13";
inline constexpr const char* k_libcurl_soname = "libcurl.so.4";

// Whether the library can be loaded (it is loaded then; nothing happens when it already is).
bool lazy_library_available(const char* soname);

// The symbol `name` of the library; ends the process with one line on stderr when either cannot be found.
void* lazy_symbol(const char* soname, const char* name);

}  // namespace kbk::util
