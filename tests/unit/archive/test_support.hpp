// Small fixtures shared by the archive unit tests: a reader over a string handing out odd-sized chunks (so stream
// code meets every boundary) and a temporary folder removed afterwards.
#pragma once

#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>

#include <kbk/storage/backend.hpp>

namespace kbk::test {

struct MemoryReader final : storage::Reader {
  std::string data;
  size_t pos = 0;
  size_t chunk;
  explicit MemoryReader(std::string d, size_t c = 7000) : data(std::move(d)), chunk(c) {}
  Result<size_t> read(char* b, size_t n) override {
    n = std::min({n, chunk, data.size() - pos});
    std::memcpy(b, data.data() + pos, n);
    pos += n;
    return n;
  }
};

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/kbk-archive-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace kbk::test
