// json::parse and the writers: whatever parses must write (compact, pretty, YAML) and read back equal — the text
// kbk prints and sends to an API server is the document it read.
// fuzz-link: kbk_json kbk_storage
#include <cstdlib>

#include <kbk/json/json.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kbk;
  auto doc = json::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
  if (!doc) return 0;
  auto compact = json::parse(json::to_string(*doc));
  if (!compact || !json::equal(*compact, *doc)) std::abort();
  auto pretty = json::parse(json::to_pretty(*doc));
  if (!pretty || !json::equal(*pretty, *doc)) std::abort();
  const std::string yaml = json::to_yaml(*doc);
  if (json::depth(*doc) <= json::k_max_yaml_depth && (doc->IsObject() || doc->IsArray())) {
    auto back = json::parse_yaml(yaml, "fuzz.yaml");
    if (!back || !json::equal(*back, *doc)) std::abort();
  }
  return 0;
}
