// RFC 6902 / RFC 7386 conformance (tests/conformance) and error reporting.
#include <catch2/catch.hpp>

#include <kbk/json/json.hpp>
#include <kbk/patch/json_patch.hpp>
#include <kbk/util/fs.hpp>
#include "source_dir.hpp"

using namespace kbk;

namespace {

json::Document load_suite(const std::string& rel) {
  std::string path = kbk::test::source_path("tests" + rel);
  auto text = util::read_file(path);
  INFO("conformance file " << path << " (tests/conformance of the source tree; KBK_SOURCE_DIR overrides it)");
  REQUIRE(text.ok());  // a missing suite fails, it never skips
  // RapidJSON's own parser, not json::parse: the suites hold a patch with two "op" members (a case they disable,
  // since most parsers cannot see it), and json::parse refuses duplicate members in any document.
  json::Document doc;
  doc.Parse(text->data(), text->size());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsArray());
  return doc;
}

int run_json_patch_suite(const std::string& rel) {
  json::Document suite = load_suite(rel);
  int ran = 0;
  for (rapidjson::SizeType i = 0; i < suite.Size(); ++i) {
    const json::Value& rec = suite[i];
    const json::Value* disabled = json::find(rec, "disabled");
    if (disabled && disabled->IsBool() && disabled->GetBool()) continue;
    std::string comment = json::get_string(rec, {"comment"});
    INFO(rel << " record " << i << ": " << comment << " patch " << json::to_string(rec["patch"]));
    json::Document doc = json::clone(rec["doc"]);
    json::Document before = json::clone(rec["doc"]);
    auto r = patch::apply_json_patch(doc, rec["patch"]);
    if (const json::Value* err = json::find(rec, "error")) {
      INFO("expected error: " << json::to_string(*err));
      CHECK_FALSE(r.ok());
      CHECK(json::equal(doc, before));  // atomic: a failed patch leaves the document unchanged
    } else {
      INFO((r.ok() ? std::string("applied") : r.error().message));
      REQUIRE(r.ok());
      if (const json::Value* expected = json::find(rec, "expected")) {
        INFO("got " << json::to_string(doc) << " expected " << json::to_string(*expected));
        CHECK(json::equal(doc, *expected));
      }
    }
    ++ran;
  }
  return ran;
}

}  // namespace

TEST_CASE("apply_json_patch passes json-patch/tests.json", "[json_patch][conformance]") {
  CHECK(run_json_patch_suite("/conformance/json-patch/tests.json") == 92);
}

TEST_CASE("apply_json_patch passes json-patch/spec_tests.json", "[json_patch][conformance]") {
  CHECK(run_json_patch_suite("/conformance/json-patch/spec_tests.json") == 16);
}

TEST_CASE("apply_merge_patch passes merge-patch/rfc7386.json", "[merge_patch][conformance]") {
  json::Document suite = load_suite("/conformance/merge-patch/rfc7386.json");
  REQUIRE(suite.Size() == 17);
  for (rapidjson::SizeType i = 0; i < suite.Size(); ++i) {
    const json::Value& rec = suite[i];
    INFO("record " << i << ": " << json::get_string(rec, {"comment"}));
    json::Document doc = json::clone(rec["doc"]);
    patch::apply_merge_patch(doc, rec["patch"], doc.GetAllocator());
    INFO("got " << json::to_string(doc));
    CHECK(json::equal(doc, rec["expected"]));
  }
}

TEST_CASE("JsonPatch::apply is atomic and names the failing operation", "[json_patch]") {
  auto doc = json::parse(R"({"a":1,"b":[1,2]})");
  REQUIRE(doc.ok());
  auto ops = json::parse(R"([{"op":"replace","path":"/a","value":2},{"op":"add","path":"/b/7","value":0}])");
  REQUIRE(ops.ok());
  auto r = patch::apply_json_patch(*doc, *ops);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("operation 1") != std::string::npos);
  CHECK(r.error().message.find("/b/7") != std::string::npos);
  CHECK(json::to_string(*doc) == R"({"a":1,"b":[1,2]})");
}

TEST_CASE("JsonPatch::apply reports a failed test as a precondition", "[json_patch]") {
  auto doc = json::parse(R"({"a":1})");
  auto ops = json::parse(R"([{"op":"test","path":"/a","value":2},{"op":"remove","path":"/a"}])");
  REQUIRE((doc.ok() && ops.ok()));
  auto r = patch::apply_json_patch(*doc, *ops);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::precondition);
  auto missing = json::parse(R"([{"op":"remove","path":"/zz"}])");
  auto r2 = patch::apply_json_patch(*doc, *missing);
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().code == Errc::invalid);
}

TEST_CASE("Pointer::parse unescapes ~1 before ~0", "[pointer]") {
  auto p = patch::Pointer::parse("/a~1b/~01/-");
  REQUIRE(p.ok());
  REQUIRE(p->tokens().size() == 3);
  CHECK(p->tokens()[0] == "a/b");
  CHECK(p->tokens()[1] == "~1");
  CHECK(p->str() == "/a~1b/~01/-");
  CHECK_FALSE(patch::Pointer::parse("a").ok());
  CHECK_FALSE(patch::Pointer::parse("/a~2").ok());
  CHECK_FALSE(patch::parse_index("01").has_value());
  CHECK(patch::parse_index("10") == 10u);
}
