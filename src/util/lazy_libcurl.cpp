// libcurl, opened on first use (lazy_library.hpp): the functions of it kbk calls, forwarded. The variadic setopt and
// getinfo calls pass their one argument on with the type libcurl reads for that option (curl.h's CURLOPTTYPE_*
// ranges). A function kbk starts to call is added here (the link fails until it is).
#define CURL_DISABLE_TYPECHECK 1
#include <cstdarg>
#include <curl/curl.h>

#include "lazy_sym.hpp"

#define FWD(ret, name, params, args) KBK_LAZY_FORWARD(kbk::util::k_libcurl_soname, ret, name, params, args)

FWD(void, curl_easy_cleanup, (CURL * h), (h))
FWD(CURL*, curl_easy_init, (void), ())
FWD(CURLcode, curl_easy_perform, (CURL * h), (h))
FWD(CURLcode, curl_easy_recv, (CURL * h, void* b, size_t n, size_t* got), (h, b, n, got))
FWD(void, curl_easy_reset, (CURL * h), (h))
FWD(CURLcode, curl_easy_send, (CURL * h, const void* b, size_t n, size_t* sent), (h, b, n, sent))
FWD(const char*, curl_easy_strerror, (CURLcode c), (c))
FWD(void, curl_free, (void* p), (p))
FWD(CURLcode, curl_global_init, (long flags), (flags))
FWD(CURLSHcode, curl_share_cleanup, (CURLSH * s), (s))
FWD(CURLSH*, curl_share_init, (void), ())
FWD(struct curl_slist*, curl_slist_append, (struct curl_slist * l, const char* s), (l, s))
FWD(void, curl_slist_free_all, (struct curl_slist * l), (l))
FWD(CURLU*, curl_url, (void), ())
FWD(void, curl_url_cleanup, (CURLU * u), (u))
FWD(CURLUcode, curl_url_get, (CURLU * u, CURLUPart what, char** part, unsigned int flags), (u, what, part, flags))
FWD(CURLUcode, curl_url_set, (CURLU * u, CURLUPart what, const char* part, unsigned int flags), (u, what, part, flags))
FWD(curl_version_info_data*, curl_version_info, (CURLversion v), (v))

CURLcode curl_easy_setopt(CURL* h, CURLoption option, ...) {
  using Fn = CURLcode (*)(CURL*, CURLoption, ...);
  static const Fn fn = kbk::util::lazy::symbol<Fn>(kbk::util::k_libcurl_soname, "curl_easy_setopt");
  va_list ap;
  va_start(ap, option);
  CURLcode rc;
  if (option < CURLOPTTYPE_OBJECTPOINT)
    rc = fn(h, option, va_arg(ap, long));
  else if (option < CURLOPTTYPE_OFF_T)  // objects, strings, lists, callbacks and function pointers: one pointer
    rc = fn(h, option, va_arg(ap, void*));
  else if (option < CURLOPTTYPE_BLOB)
    rc = fn(h, option, va_arg(ap, curl_off_t));
  else
    rc = fn(h, option, va_arg(ap, void*));
  va_end(ap);
  return rc;
}

CURLcode curl_easy_getinfo(CURL* h, CURLINFO info, ...) {
  using Fn = CURLcode (*)(CURL*, CURLINFO, ...);
  static const Fn fn = kbk::util::lazy::symbol<Fn>(kbk::util::k_libcurl_soname, "curl_easy_getinfo");
  va_list ap;
  va_start(ap, info);
  CURLcode rc = fn(h, info, va_arg(ap, void*));  // every CURLINFO_* takes a pointer to its result
  va_end(ap);
  return rc;
}

CURLSHcode curl_share_setopt(CURLSH* s, CURLSHoption option, ...) {
  using Fn = CURLSHcode (*)(CURLSH*, CURLSHoption, ...);
  static const Fn fn = kbk::util::lazy::symbol<Fn>(kbk::util::k_libcurl_soname, "curl_share_setopt");
  va_list ap;
  va_start(ap, option);
  CURLSHcode rc;
  if (option == CURLSHOPT_SHARE || option == CURLSHOPT_UNSHARE)
    rc = fn(s, option, va_arg(ap, int));
  else
    rc = fn(s, option, va_arg(ap, void*));  // lock and unlock functions, user data
  va_end(ap);
  return rc;
}
