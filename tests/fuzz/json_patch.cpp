// RFC 6902 JSON Patch as a modifier rule or `kbk patch` gives it: the input is an object (JSON, as an archive item
// holds it) and the patch text (JSON or YAML), separated by fuzz::k_separator. The patch is parsed by
// JsonPatch::parse_text and applied; apply is atomic, so a failed patch must leave the object as it was.
// fuzz-link: kbk_patch kbk_storage
#include <cstdlib>

#include <kbk/json/json.hpp>
#include <kbk/patch/json_patch.hpp>
#include <kbk/util/strings.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kbk;
  auto parts = fuzz::split(data, size, 2);
  if (parts.size() < 2) return 0;
  auto doc = json::parse(parts[0], "object");
  if (!doc) return 0;
  auto patch = patch::JsonPatch::parse_text(parts[1]);
  if (!patch) {
    (void)util::printable(patch.error().message);
    return 0;
  }
  const json::Document before = json::clone(*doc);
  auto applied = patch->apply(*doc);
  if (!applied) {
    (void)util::printable(applied.error().message);
    if (!json::equal(before, *doc)) std::abort();  // atomic: unchanged on error
    return 0;
  }
  json::write_compact(*doc, fuzz::discard);
  return 0;
}
