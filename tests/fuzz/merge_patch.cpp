// RFC 7386 JSON merge patch as a modifier rule gives it (mergePatches): the input is an object (JSON) and the patch
// text (YAML or JSON), separated by fuzz::k_separator. Applying the same merge patch twice must change nothing more
// (a merge patch is idempotent), and the result must write.
// fuzz-link: kbk_patch kbk_storage
#include <cstdlib>

#include <kbk/json/json.hpp>
#include <kbk/patch/json_patch.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kbk;
  auto parts = fuzz::split(data, size, 2);
  if (parts.size() < 2) return 0;
  auto doc = json::parse(parts[0], "object");
  if (!doc) return 0;
  auto patch = json::parse_yaml(parts[1], "patch");
  if (!patch) return 0;
  patch::apply_merge_patch(*doc, *patch, doc->GetAllocator());
  const json::Document once = json::clone(*doc);
  patch::apply_merge_patch(*doc, *patch, doc->GetAllocator());
  if (!json::equal(once, *doc)) std::abort();
  json::write_compact(*doc, fuzz::discard);
  return 0;
}
