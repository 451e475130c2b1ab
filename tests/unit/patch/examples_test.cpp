// Every file in examples/modifiers/ is validated and applied to its fixture (tests/unit/patch/examples/NAME.in.yaml)
// and must give NAME.out.yaml (written by hand). A new example without fixtures fails this test.
#include <catch2/catch.hpp>

#include <filesystem>

#include <kbk/json/json.hpp>
#include <kbk/patch/modifiers.hpp>
#include <kbk/patch/objects.hpp>
#include <kbk/util/fs.hpp>
#include "source_dir.hpp"

using namespace kbk;

TEST_CASE("ModifierSet::apply on every example in examples/modifiers", "[examples]") {
  std::string dir = kbk::test::source_path("examples/modifiers");
  std::string fixtures = kbk::test::source_path("tests/unit/patch/examples");
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 8);
  for (const auto& f : files) {
    std::string stem = f.stem().string();
    INFO("example " << f.string());
    auto set = patch::ModifierSet::load(f.string());
    INFO((set.ok() ? std::string("valid") : set.error().message));
    REQUIRE(set.ok());
    auto in_text = util::read_file(fixtures + "/" + stem + ".in.yaml");
    auto out_text = util::read_file(fixtures + "/" + stem + ".out.yaml");
    REQUIRE(in_text.ok());
    REQUIRE(out_text.ok());
    auto objs = patch::read_objects(*in_text, stem + ".in.yaml");
    auto want = patch::read_objects(*out_text, stem + ".out.yaml");
    REQUIRE(objs.ok());
    REQUIRE(want.ok());
    REQUIRE(objs->size() == want->size());
    for (size_t i = 0; i < objs->size(); ++i) {
      auto r = set->apply((*objs)[i]);
      INFO("object " << i << (r.errors.empty() ? std::string() : ": " + r.errors[0].message));
      CHECK(r.errors.empty());
      set->mappings().apply((*objs)[i]);
      INFO("got:\n" << json::to_yaml((*objs)[i]));
      CHECK(json::equal((*objs)[i], (*want)[i]));
    }
  }
}
