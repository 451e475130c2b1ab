// The forwarders of src/util/lazy_*.cpp: a definition with the library's own prototype that calls the library's
// symbol, looked up on the first call (lazy_library.hpp).
#pragma once

#include <cstring>

#include <kbk/util/lazy_library.hpp>

namespace kbk::util::lazy {

template <class F>
F symbol(const char* soname, const char* name) {
  void* p = lazy_symbol(soname, name);
  F f;
  static_assert(sizeof f == sizeof p);
  std::memcpy(&f, &p, sizeof f);
  return f;
}

}  // namespace kbk::util::lazy

// Defines `ret name params` (already declared extern "C" by the library's header) as a call of the library's
// function with `args`.
#define KBK_LAZY_FORWARD(soname, ret, name, params, args)                                 \
  ret name params {                                                                       \
    using Fn = ret(*) params;                                                             \
    static const Fn fn = kbk::util::lazy::symbol<Fn>(soname, #name);                      \
    return fn args;                                                                       \
  }
