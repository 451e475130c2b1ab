#include <catch2/catch.hpp>

#include <kbk/json/schema.hpp>

using namespace kbk;
using json::Field;
using json::Schema;

namespace {

const Schema& marker() {
  static const Schema s = Schema::object(
      {Field("name", Schema::string(json::check_single_line), json::required),
       Field("phase", Schema::string()),
       Field("counts", Schema::object({Field("items", Schema::uint()), Field("byResource", Schema::map(Schema::uint()))})),
       Field("started", Schema::string(json::check_rfc3339)),
       Field("archive", Schema::object({Field("sha256", Schema::string(json::check_sha256_hex))})),
       Field("selection", Schema::object({Field("namespaces", Schema::array(Schema::string())),
                                          Field("cluster", Schema::boolean().or_null())})),
       Field("items", Schema::array(Schema::object({Field("name", Schema::string(), json::required)})))});
  return s;
}

std::string problem(const std::string& text) {
  auto doc = json::parse(text);
  REQUIRE(doc.ok());
  auto r = marker().check(*doc, "backup b1: kbk-manifest.json");
  return r ? std::string() : r.error().message;
}

}  // namespace

TEST_CASE("Schema::check names the file and the field of the first wrong type") {
  CHECK(problem(R"({"name":"b1","phase":"Completed","counts":{"items":3,"byResource":{"pods":1}},"x":{"any":[1]}})") == "");
  CHECK(problem(R"({"name":null})") == "backup b1: kbk-manifest.json: name: missing");
  CHECK(problem(R"({"phase":"x"})") == "backup b1: kbk-manifest.json: name: missing");
  CHECK(problem(R"({"name":{"a":1}})") == "backup b1: kbk-manifest.json: name: expected a string, found an object");
  CHECK(problem(R"({"name":"a\u001b[2J"})") == "backup b1: kbk-manifest.json: name: holds a control character");
  CHECK(problem(R"({"name":"b","counts":{"items":"5"}})") ==
        "backup b1: kbk-manifest.json: counts.items: expected a non-negative integer, found a string");
  CHECK(problem(R"({"name":"b","counts":{"items":-1}})") ==
        "backup b1: kbk-manifest.json: counts.items: expected a non-negative integer, found a negative integer");
  CHECK(problem(R"({"name":"b","counts":{"items":1e30}})") ==
        "backup b1: kbk-manifest.json: counts.items: expected a non-negative integer, found a number");
  CHECK(problem(R"({"name":"b","counts":{"byResource":{"a\u001bb":"x"}}})") ==
        "backup b1: kbk-manifest.json: counts.byResource[\"a\\x1bb\"]: expected a non-negative integer, found a string");
  CHECK(problem(R"({"name":"b","started":"yesterday"})") ==
        "backup b1: kbk-manifest.json: started: \"yesterday\" is not an RFC 3339 time");
  CHECK(problem(R"({"name":"b","archive":{"sha256":"abc"}})").find("archive.sha256: expected 64 hexadecimal digits") !=
        std::string::npos);
  CHECK(problem(R"({"name":"b","selection":{"namespaces":["a",null]}})") ==
        "backup b1: kbk-manifest.json: selection.namespaces[1]: expected a string, found null");
  CHECK(problem(R"({"name":"b","selection":{"cluster":null}})") == "");
  CHECK(problem(R"({"name":"b","items":[{"name":"x"},{}]})") == "backup b1: kbk-manifest.json: items[1].name: missing");
  CHECK(problem(R"([1])") == "backup b1: kbk-manifest.json: the document: expected an object, found an array");
}

TEST_CASE("Schema::check uses the error code it is given") {
  auto doc = json::parse(R"({"name":1})");
  REQUIRE(doc.ok());
  CHECK(marker().check(*doc, "f").error().code == Errc::corrupt);
  CHECK(marker().check(*doc, "f", Errc::config).error().code == Errc::config);
}
