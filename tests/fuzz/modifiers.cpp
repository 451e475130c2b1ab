// A resource-modifier file (Velero v1 or kbk.io/v1) as `kbk restore create --modifiers` reads it, applied to the
// objects after it: the input is the file's text and a YAML stream of objects, separated by fuzz::k_separator.
// Problems must come back as Errc::invalid with FILE:LINE:COL causes; a rule that fails is an error of that object,
// never a crash; every object must still write after the rules ran.
// fuzz-link: kbk_patch kbk_storage
#include <kbk/json/json.hpp>
#include <kbk/patch/modifiers.hpp>
#include <kbk/util/strings.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kbk;
  auto parts = fuzz::split(data, size, 2);
  auto set = patch::ModifierSet::parse(parts[0], "fuzz-modifiers.yaml");
  if (!set) {
    (void)util::printable(set.error().message);
    for (const auto& c : set.error().causes) (void)util::printable(c.message);
    return 0;
  }
  if (parts.size() < 2) return 0;
  auto objects = json::parse_yaml_stream(parts[1], "objects");
  if (!objects) return 0;
  for (auto& obj : *objects) {
    if (!obj.IsObject()) continue;
    auto r = set->apply(obj);
    for (const auto& e : r.errors) (void)util::printable(e.message);
    json::write_compact(obj, fuzz::discard);
  }
  return 0;
}
