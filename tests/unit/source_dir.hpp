// Where the tests find the source tree's data files (fixtures, conformance suites, helper scripts):
// $KBK_SOURCE_DIR when it is set at run time, else the source tree the tests were built from (the KBK_SOURCE_DIR
// compile definition). tests/self-contained runs the built tests against a fresh clone this way.
#pragma once

#include <cstdlib>
#include <string>

namespace kbk::test {

inline std::string source_dir() {
  if (const char* env = std::getenv("KBK_SOURCE_DIR"); env && *env) return env;
  return KBK_SOURCE_DIR;
}

// A file or folder of the source tree, e.g. source_path("tests/conformance/json-patch/tests.json").
inline std::string source_path(const std::string& rel) { return source_dir() + "/" + rel; }

}  // namespace kbk::test
