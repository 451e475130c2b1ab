// Strategic merge patch as a modifier rule gives it (patches of type strategic): the input is an object (JSON), the
// patch text (YAML or JSON) and optionally an OpenAPI v3 schema (JSON) for kinds without built-in metadata,
// separated by fuzz::k_separator; the first byte sets require_metadata. apply_strategic_merge_patch is atomic: a
// failed patch leaves the object unchanged.
// fuzz-link: kbk_patch kbk_storage
#include <cstdlib>

#include <kbk/json/json.hpp>
#include <kbk/patch/strategic.hpp>
#include <kbk/util/strings.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kbk;
  if (size == 0) return 0;
  const bool require_metadata = data[0] & 1;
  auto parts = fuzz::split(data + 1, size - 1, 3);
  if (parts.size() < 2) return 0;
  auto doc = json::parse(parts[0], "object");
  if (!doc) return 0;
  auto patch = json::parse_yaml(parts[1], "patch");
  if (!patch) return 0;
  std::optional<json::Document> schema;
  if (parts.size() > 2) {
    auto s = json::parse(parts[2], "schema");
    if (s) schema = std::move(*s);
  }
  patch::SmpOptions opts;
  opts.require_metadata = require_metadata;
  if (schema) {
    opts.schema = &*schema;
    opts.schema_root = &*schema;
  }
  const json::Document before = json::clone(*doc);
  auto applied = patch::apply_strategic_merge_patch(*doc, *patch, opts);
  if (!applied) {
    (void)util::printable(applied.error().message);
    if (!json::equal(before, *doc)) std::abort();  // atomic: unchanged on error
    return 0;
  }
  json::write_compact(*doc, fuzz::discard);
  return 0;
}
