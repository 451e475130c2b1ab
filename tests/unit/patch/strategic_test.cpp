// Strategic merge patch against the committed oracle cases (tests/unit/patch/smp_cases/*.json, expectations made by
// `kubectl patch --local --type strategic`, see regenerate.sh) and the schema / fallback paths.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include <kbk/json/json.hpp>
#include <kbk/patch/strategic.hpp>
#include <kbk/util/fs.hpp>
#include "source_dir.hpp"

using namespace kbk;

TEST_CASE("apply_strategic_merge_patch matches kubectl on every committed case", "[strategic]") {
  std::string dir = kbk::test::source_path("tests/unit/patch/smp_cases");
  int cases = 0, errors = 0;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 4);
  for (const auto& path : files) {
    auto text = util::read_file(path);
    REQUIRE(text.ok());
    auto suite = json::parse(*text, path);
    REQUIRE(suite.ok());
    for (const auto& c : suite->GetArray()) {
      std::string name = json::get_string(c, {"name"});
      INFO(path << ": " << name);
      REQUIRE((json::find(c, "expected") || json::find(c, "error")));  // regenerate.sh was run
      json::Document obj = json::clone(c["object"]);
      json::Document before = json::clone(c["object"]);
      patch::SmpOptions opts;
      opts.require_metadata = true;  // kubectl refuses kinds it has no Go type for
      auto r = patch::apply_strategic_merge_patch(obj, c["patch"], opts);
      if (const json::Value* expected = json::find(c, "expected")) {
        INFO((r.ok() ? std::string("ok") : r.error().message));
        REQUIRE(r.ok());
        CHECK(*r == patch::SmpSource::builtin);
        INFO("kbk:     " << json::to_string(obj) << "\nkubectl: " << json::to_string(*expected));
        bool same = json::equal(obj, *expected);
        if (!same && std::getenv("KBK_SMP_DUMP")) {  // debugging aid: write kbk's result next to kubectl's
          std::string out = std::string(std::getenv("KBK_SMP_DUMP")) + "/" + std::to_string(cases) + ".json";
          (void)util::write_file_atomic(out, "[" + json::to_string(obj) + "," + json::to_string(*expected) + "," +
                                                 json::to_string(c["patch"]) + "]", 0644);
        }
        CHECK(same);
      } else {
        INFO("kubectl: " << json::get_string(c, {"error"}));
        CHECK_FALSE(r.ok());
        CHECK(json::equal(obj, before));
        ++errors;
      }
      ++cases;
    }
  }
  CHECK(cases >= 70);
  CHECK(errors >= 10);
}

TEST_CASE("apply_strategic_merge_patch uses OpenAPI list metadata for custom resources", "[strategic]") {
  auto schema = json::parse(R"({"type":"object","properties":{"spec":{"type":"object","properties":{
      "items":{"type":"array","x-kubernetes-list-type":"map","x-kubernetes-list-map-keys":["name"],
               "items":{"type":"object","properties":{"name":{"type":"string"},"tags":{"type":"array",
               "x-kubernetes-list-type":"set","items":{"type":"string"}}}}},
      "byKey":{"type":"array","x-kubernetes-patch-strategy":"merge","x-kubernetes-patch-merge-key":"key",
               "items":{"type":"object"}},
      "atomic":{"type":"array","items":{"type":"string"}}}}}})");
  REQUIRE(schema.ok());
  auto obj = json::parse(R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},
      "spec":{"items":[{"name":"a","v":1,"tags":["x"]},{"name":"b","v":2}],"byKey":[{"key":"k1","v":1}],
      "atomic":["p","q"]}})");
  auto p = json::parse(R"({"spec":{"items":[{"name":"a","v":10,"tags":["y"]},{"name":"c","v":3}],
      "byKey":[{"key":"k2","v":2}],"atomic":["r"]}})");
  REQUIRE((obj.ok() && p.ok()));
  patch::SmpOptions opts;
  opts.schema = &*schema;
  auto r = patch::apply_strategic_merge_patch(*obj, *p, opts);
  REQUIRE(r.ok());
  CHECK(*r == patch::SmpSource::schema);
  // The server's ordering: patched items in patch order, then live-only items after them unless the live order
  // places them earlier (so new items land before "b", and a new set member before the old ones).
  auto want = json::parse(R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},
      "spec":{"items":[{"name":"a","v":10,"tags":["y","x"]},{"name":"c","v":3},{"name":"b","v":2}],
      "byKey":[{"key":"k2","v":2},{"key":"k1","v":1}],"atomic":["r"]}})");
  INFO(json::to_string(*obj));
  CHECK(json::equal(*obj, *want));
}

TEST_CASE("apply_strategic_merge_patch falls back to merge patch without metadata and says so", "[strategic]") {
  auto obj = json::parse(R"({"apiVersion":"example.com/v1","kind":"Widget","spec":{"items":[{"name":"a"}],"k":1}})");
  auto p = json::parse(R"({"spec":{"items":[{"name":"b"}],"k":null}})");
  REQUIRE((obj.ok() && p.ok()));
  auto r = patch::apply_strategic_merge_patch(*obj, *p);
  REQUIRE(r.ok());
  CHECK(*r == patch::SmpSource::merge_patch);
  CHECK(json::to_string(*obj) == R"({"apiVersion":"example.com/v1","kind":"Widget","spec":{"items":[{"name":"b"}]}})");
  patch::SmpOptions strict;
  strict.require_metadata = true;
  auto r2 = patch::apply_strategic_merge_patch(*obj, *p, strict);
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().code == Errc::unsupported);
}
