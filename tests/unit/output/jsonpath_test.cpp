// JSONPath templates as kubectl's -o jsonpath reads them; expectations from kubectl's documentation
// (kubernetes.io/docs/reference/kubectl/jsonpath/) applied to a small backup list.
#include <catch2/catch.hpp>

#include <kbk/json/json.hpp>
#include <kbk/output/jsonpath.hpp>
#include <kbk/output/output.hpp>

using namespace kbk;
using output::JsonPath;

namespace {

const char* const k_doc = R"({
  "kind": "BackupList",
  "items": [
    {"name": "nightly-1", "phase": "Completed", "items": 42, "encrypted": false,
     "labels": {"app": "shop", "tier": "db"}, "volumes": [{"claim": "data-0"}, {"claim": "data-1"}]},
    {"name": "nightly-2", "phase": "PartiallyFailed", "items": 7, "encrypted": true, "labels": {"app": "web"},
     "volumes": []},
    {"name": "weekly", "phase": "Completed", "items": 100, "encrypted": false, "note": null, "volumes": []}
  ],
  "a.b": {"c": 1}
})";

std::string run(const std::string& tmpl) {
  auto doc = json::parse(k_doc, "test");
  REQUIRE(doc.ok());
  auto p = JsonPath::parse(tmpl);
  INFO(tmpl << ": " << (p ? "" : p.error().message));
  REQUIRE(p.ok());
  return p->execute(*doc);
}

}  // namespace

TEST_CASE("JsonPath::execute prints fields, indexes, wildcards and slices as kubectl does") {
  CHECK(run("{.kind}") == "BackupList");
  CHECK(run("{$.kind}") == "BackupList");
  CHECK(run("{.items[0].name}") == "nightly-1");
  CHECK(run("{.items[-1].name}") == "weekly");
  CHECK(run("{.items[*].name}") == "nightly-1 nightly-2 weekly");
  CHECK(run("{.items[0:2].name}") == "nightly-1 nightly-2");
  CHECK(run("{.items[::2].name}") == "nightly-1 weekly");
  CHECK(run("{.items[0,2].name}") == "nightly-1 weekly");
  CHECK(run("{.items[0]['name','phase']}") == "nightly-1 Completed");
  CHECK(run("{.items[0].labels.*}") == "shop db");
  CHECK(run("{['a.b'].c}") == "1");
  CHECK(run("{.items[0].items}") == "42");
  CHECK(run("{.items[1].encrypted}") == "true");
  CHECK(run("{.items[2].note}") == "null");
  CHECK(run("{.items[0].labels}") == R"({"app":"shop","tier":"db"})");  // objects as compact JSON
  CHECK(run("{..claim}") == "data-0 data-1");                           // recursive descent
  CHECK(run("{.items[5].name}").empty());                               // missing: nothing, as kubectl
  CHECK(run("{.nosuch}").empty());
}

TEST_CASE("JsonPath::execute runs filters, ranges and literals") {
  CHECK(run(R"({.items[?(@.phase=="Completed")].name})") == "nightly-1 weekly");
  CHECK(run(R"({.items[?(@.phase!='Completed')].name})") == "nightly-2");
  CHECK(run("{.items[?(@.items > 40)].name}") == "nightly-1 weekly");
  CHECK(run("{.items[?(@.items<=7)].name}") == "nightly-2");
  CHECK(run("{.items[?(@.encrypted==true)].name}") == "nightly-2");
  CHECK(run("{.items[?(@.labels.app)].name}") == "nightly-1 nightly-2");  // member present
  CHECK(run(R"({range .items[*]}{.name}{"\t"}{.phase}{"\n"}{end})") ==
        "nightly-1\tCompleted\nnightly-2\tPartiallyFailed\nweekly\tCompleted\n");
  CHECK(run("{range .items}[{@.name}]{end}") == "[nightly-1][nightly-2][weekly]");
  CHECK(run("{range .items[*]}{.name}:{range .volumes[*]}{.claim},{end};{end}") == "nightly-1:data-0,data-1,;nightly-2:;weekly:;");
  CHECK(run("names: {.items[*].name}!") == "names: nightly-1 nightly-2 weekly!");
  CHECK(run("{range .items[*]}{$.kind} {end}") == "BackupList BackupList BackupList ");
}

TEST_CASE("JsonPath::parse takes kubectl's relaxed form and refuses malformed templates with a column") {
  CHECK(run(".items[*].name") == "nightly-1 nightly-2 weekly");  // no braces: one expression
  CHECK(run("items[1].name") == "nightly-2");
  for (const char* bad : {"{.items[0}", "{.items", "{range .items[*]}{.name}", "{end}", "{.items[?(x)]}", "{}",
                          "{.items[1:2:0]}", "{.items[?(@.a == nope)]}"}) {
    auto p = JsonPath::parse(bad);
    INFO(bad);
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().is(Errc::config));
    CHECK(p.error().message.find("column") != std::string::npos);
  }
}

TEST_CASE("parse_format gives json commands yaml and jsonpath, and names what is supported") {
  using output::Format;
  auto j = output::parse_format("jsonpath={.items[*].name}", {Format::json});
  REQUIRE(j.ok());
  CHECK(j->kind == Format::jsonpath);
  CHECK(j->template_text == "{.items[*].name}");
  CHECK(output::parse_format("yaml", {Format::json})->kind == Format::yaml);
  CHECK(output::parse_format("", {Format::json})->kind == Format::text);
  auto bad = output::parse_format("xml", {Format::json, Format::wide, Format::name});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "unknown output format \"xml\": this command supports json, yaml, "
                               "jsonpath=TEMPLATE, jsonpath-file=FILE, wide, name");
  auto narrow = output::parse_format("wide", {Format::json});
  REQUIRE_FALSE(narrow.ok());
  CHECK(narrow.error().message.find("not supported by this command; it supports json, yaml") != std::string::npos);
  auto tmpl = output::parse_format("jsonpath={.items[", {Format::json});
  REQUIRE_FALSE(tmpl.ok());
  CHECK(tmpl.error().message.find("-o jsonpath") == 0);
}
