#include <catch2/catch.hpp>

#include <kbk/json/json.hpp>

using namespace kbk;

TEST_CASE("YAML scalars follow kubectl's rules") {
  auto doc = json::parse_yaml(R"(
a: yes
b: "yes"
c: 010
d: 1.5
e: ~
f: '123'
g: 12345678901234
h: hello world
i: -7
)");
  REQUIRE(doc);
  const auto& d = *doc;
  CHECK(d["a"].IsBool());
  CHECK(d["b"].IsString());
  CHECK(d["d"].GetDouble() == 1.5);
  CHECK(d["e"].IsNull());
  CHECK(std::string(d["f"].GetString()) == "123");
  CHECK(d["g"].GetInt64() == 12345678901234LL);
  CHECK(std::string(d["h"].GetString()) == "hello world");
  CHECK(d["i"].GetInt64() == -7);
}

TEST_CASE("YAML streams split on --- and drop empty documents") {
  auto docs = json::parse_yaml_stream("a: 1\n---\n---\nb: 2\n");
  REQUIRE(docs);
  CHECK(docs->size() == 2);
}

TEST_CASE("parse errors name the source and position") {
  auto bad = json::parse("{\"a\": }", "cm.json");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::parse);
  CHECK(bad.error().message.find("cm.json") != std::string::npos);
  auto ybad = json::parse_yaml("a: [1, 2\nb: 3", "rules.yaml");
  REQUIRE_FALSE(ybad);
  CHECK(ybad.error().message.rfind("rules.yaml:", 0) == 0);
}

TEST_CASE("to_yaml quotes strings that would read back as other types") {
  auto doc = json::parse(R"({"s":"true","n":"10","e":"","plain":"abc","num":3,"list":["x"],"multi":"a\nb"})");
  REQUIRE(doc);
  auto y = json::to_yaml(*doc);
  auto back = json::parse_yaml(y);
  REQUIRE(back);
  CHECK(json::equal(*doc, *back));
}

TEST_CASE("equal ignores member order but not array order") {
  auto a = json::parse(R"({"x":1,"y":[1,2]})");
  auto b = json::parse(R"({"y":[1,2],"x":1.0})");
  auto c = json::parse(R"({"y":[2,1],"x":1})");
  CHECK(json::equal(*a, *b));
  CHECK_FALSE(json::equal(*a, *c));
}
