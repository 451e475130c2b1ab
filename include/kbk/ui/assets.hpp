// The page's files (ui/ in the source tree), embedded in the binary at build time by cmake/EmbedAssets.cmake:
// kbk ui serves nothing from disk and fetches nothing from anywhere.
#pragma once

#include <cstddef>
#include <string_view>

namespace kbk::ui {

struct Asset {
  const char* name;          // file name under ui/ ("index.html", "app.js")
  const char* content_type;  // from the extension
  const unsigned char* data;
  size_t size;
};

// nullptr when there is no such asset.
const Asset* find_asset(std::string_view name);

}  // namespace kbk::ui
