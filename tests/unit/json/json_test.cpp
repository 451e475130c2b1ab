#include <sstream>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/json/yaml_reader.hpp>

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

TEST_CASE("YAML numbers beyond a double are an error, not an exception; beyond 64 bits a double") {
  // std::stod threw std::out_of_range for both 1e400 and 1e-400, and nothing caught it: kbk ended in terminate.
  for (const std::string& text : std::vector<std::string>{"a: 1e400", "a: -1e400", "a: " + std::string(400, '9')}) {
    INFO(text);
    auto r = json::parse_yaml(text, "rules.yaml");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("cannot be represented in JSON") != std::string::npos);
  }
  auto doc = json::parse_yaml("tiny: 1e-400\nbig: 123456789012345678901234567890\n");
  REQUIRE(doc);
  CHECK((*doc)["tiny"].GetDouble() == 0.0);
  CHECK((*doc)["big"].GetDouble() == 123456789012345678901234567890.0);
}

TEST_CASE("a token yaml-cpp's LoadAll never moves past is a syntax error, not an endless loop") {
  // yaml-cpp 0.7 added a null document per turn for ever, until memory ran out (found by fuzz.ui_requests).
  const std::string found = "spec:[n  a patch\n#!x\n    nginx: traefik\n  ,images:nul   2ginx: x\n";
  for (const std::string& text : std::vector<std::string>{",", "a: 1\n---\n,\n", found}) {
    INFO(text);
    auto r = json::parse_yaml_stream(text, "rules.yaml");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.rfind("rules.yaml:", 0) == 0);
    json::YamlReader reader("m.yaml");
    CHECK(reader.load_all(text).empty());
    REQUIRE(reader.errors.size() == 1);
    CHECK(reader.errors[0].rfind("m.yaml:", 0) == 0);
  }
  auto docs = json::parse_yaml_stream("a: 1\n---\n---\nb: [1, 2]\n...\n---\nc: 3\n");
  REQUIRE(docs);
  CHECK(docs->size() == 3);
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

TEST_CASE("to_yaml writes a line of text with control characters double-quoted, not as a literal block") {
  // fuzz.json: a string with one trailing newline went out as a literal block (|), which cannot hold a NUL or a
  // form feed: it read back cut short at the NUL.
  auto doc = json::parse(R"({"s":"00\u0b10\ud83d\ude00\u0000\u0b10\no\f\n","t":"a\u0001\n","u":"a\u007f\n",)"
                         R"("block":"line one\nline two\n"})");
  REQUIRE(doc);
  const std::string y = json::to_yaml(*doc);
  CHECK(y.find('\0') == std::string::npos);
  CHECK(y.find("block: |") != std::string::npos);  // plain text with a trailing newline still reads as a block
  auto back = json::parse_yaml(y);
  REQUIRE(back);
  CHECK(json::equal(*doc, *back));
}

TEST_CASE("to_yaml keeps Unicode noncharacters, which yaml-cpp's emitter writes as U+FFFD") {
  // fuzz.json: "\u0080\uffff" came back as "\u0080\ufffd" (docs/security.md section 9, item 8). Every noncharacter
  // range, in a value and a key, quoted, as a block candidate and with escapes around it; and a document that holds
  // the writer's own placeholder text.
  for (const char* cp : {"\\ufdd0", "\\ufdef", "\\ufffe", "\\uffff", "\\ud83f\\udffe", "\\udbff\\udfff"}) {
    const std::string c(cp);
    const std::string text = R"({"a":")" + c + R"(","b":"\u0080)" + c + R"(","c":"x: )" + c + R"(\n","k)" + c +
                             R"(":[")" + c + R"(\"\\\t"],"p":"kbkyamlescape0x0z","q":"kbkyamlescape1x0z"})";
    auto doc = json::parse(text);
    REQUIRE(doc);
    const std::string y = json::to_yaml(*doc);
    auto back = json::parse_yaml(y);
    REQUIRE(back);
    CHECK(json::equal(*doc, *back));
    // A key over 1024 characters, which YAML writes as an explicit key (fuzz.json).
    auto long_key = json::parse(R"({")" + std::string(1100, 'k') + c + R"(":1,"v":")" + std::string(1100, 'v') + c + R"("})");
    REQUIRE(long_key);
    auto long_back = json::parse_yaml(json::to_yaml(*long_key));
    REQUIRE(long_back);
    CHECK(json::equal(*long_key, *long_back));
    std::ostringstream streamed;
    json::write_yaml(*doc, streamed);
    CHECK(streamed.str() == y);
  }
}

TEST_CASE("equal ignores member order but not array order") {
  auto a = json::parse(R"({"x":1,"y":[1,2]})");
  auto b = json::parse(R"({"y":[1,2],"x":1.0})");
  auto c = json::parse(R"({"y":[2,1],"x":1})");
  CHECK(json::equal(*a, *b));
  CHECK_FALSE(json::equal(*a, *c));
}

TEST_CASE("parse_split hands out each element of the list and keeps the rest of the document") {
  const std::string text = R"({"name":"b1","items":[{"a":1,"s":"x\u00e9"},[1,[2]],"str",-5,18446744073709551615,)"
                           R"(2.5,true,null,{"items":[9]}],"after":{"items":[7]},"n":3})";
  std::vector<std::string> seen;
  auto doc = json::parse_split(text, "m.json", "items", [&](json::Document& e) -> Result<void> {
    seen.push_back(json::to_string(e));
    return {};
  });
  REQUIRE(doc.ok());
  // Each element as parse() would read it.
  auto whole = json::parse(text);
  REQUIRE(whole.ok());
  const json::Value& items = (*whole)["items"];
  REQUIRE(seen.size() == items.Size());
  for (rapidjson::SizeType i = 0; i < items.Size(); ++i) CHECK(seen[i] == json::to_string(items[i]));
  // The rest is there, the list empty; a member of that name deeper down is left alone.
  CHECK(json::to_string(*doc) == R"({"name":"b1","items":[],"after":{"items":[7]},"n":3})");
}

TEST_CASE("parse_split follows parse()'s rules and stops at on_element's error") {
  auto none = [](json::Document&) -> Result<void> { return {}; };
  auto bad = json::parse_split(R"({"items":[{"a":1},{"a":2)", "m.json", "items", none);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("m.json: invalid JSON at offset") == 0);
  auto dup = json::parse_split(R"({"items":[{"a":1,"a":2}]})", "m.json", "items", none, Errc::corrupt);
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == Errc::corrupt);
  CHECK(dup.error().message == "m.json: member \"a\" appears twice in one object");
  auto dup_top = json::parse_split(R"({"items":[],"items":[]})", "m.json", "items", none);
  REQUIRE_FALSE(dup_top.ok());
  CHECK(dup_top.error().message == "m.json: member \"items\" appears twice in one object");
  // Depth counts from the root, as parse() counts it.
  std::string deep = R"({"items":[)";
  for (unsigned i = 0; i < json::k_max_depth; ++i) deep += "[";
  for (unsigned i = 0; i < json::k_max_depth; ++i) deep += "]";
  deep += "]}";
  auto too_deep = json::parse_split(deep, "m.json", "items", none);
  REQUIRE_FALSE(too_deep.ok());
  CHECK(too_deep.error().message.find("nested more than") != std::string::npos);
  CHECK_FALSE(json::parse(deep).ok());
  int calls = 0;
  auto stop = json::parse_split(R"({"items":[1,2,3]})", "m.json", "items", [&](json::Document&) -> Result<void> {
    if (++calls == 2) return unexpected(Errc::io, "stopped");
    return {};
  });
  REQUIRE_FALSE(stop.ok());
  CHECK(stop.error().message == "stopped");
  CHECK(calls == 2);
  // Not an array: kept as it is.
  auto scalar = json::parse_split(R"({"items":5})", "m.json", "items", none);
  REQUIRE(scalar.ok());
  CHECK((*scalar)["items"].GetInt() == 5);
}
