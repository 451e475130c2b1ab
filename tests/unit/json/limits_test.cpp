// json::parse's rules for text from outside (depth, encoding, duplicate members, trailing bytes) and the writers'
// behaviour on documents as deep as it allows (iterative, output linear in the input).
#include <catch2/catch.hpp>

#include <pthread.h>

#include <functional>
#include <string>

#include <kbk/json/json.hpp>
#include <kbk/json/yaml_reader.hpp>

using namespace kbk;

namespace {

std::string nested(unsigned levels, const std::string& open = "{\"a\":", const std::string& close = "}") {
  std::string s;
  for (unsigned i = 0; i < levels; ++i) s += open;
  s += "1";
  for (unsigned i = 0; i < levels; ++i) s += close;
  return s;
}

// Runs fn on a thread with a small stack: a walk that recursed once per level would overflow it long before
// k_max_depth levels (a 1 MiB stack holds about 10,000 frames of 100 bytes).
void on_small_stack(const std::function<void()>& fn, size_t stack = 256 * 1024) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stack);
  pthread_t t;
  auto call = [](void* p) -> void* {
    (*static_cast<const std::function<void()>*>(p))();
    return nullptr;
  };
  REQUIRE(pthread_create(&t, &attr, call, const_cast<std::function<void()>*>(&fn)) == 0);
  pthread_join(t, nullptr);
  pthread_attr_destroy(&attr);
}

}  // namespace

TEST_CASE("parse accepts k_max_depth levels and refuses one more, naming the input") {
  auto at_limit = json::parse(nested(json::k_max_depth), "item.json");
  REQUIRE(at_limit.ok());
  CHECK(json::depth(*at_limit) == json::k_max_depth);
  auto over = json::parse(nested(json::k_max_depth + 1), "item.json");
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().code == Errc::parse);
  CHECK(over.error().message.rfind("item.json: nested more than 10000 levels deep", 0) == 0);
  auto arrays = json::parse(nested(20000, "[", "]"), "a.json", Errc::corrupt);
  REQUIRE_FALSE(arrays.ok());
  CHECK(arrays.error().code == Errc::corrupt);
}

TEST_CASE("parse is iterative: 20,000 levels on a 256 KiB stack end in an error, not a crash") {
  std::string text = nested(20000);
  bool refused = false;
  on_small_stack([&] { refused = !json::parse(text, "deep").ok(); });
  CHECK(refused);
}

TEST_CASE("parse refuses duplicate members, invalid UTF-8, a BOM and anything after the value") {
  struct Case {
    std::string text;
    const char* says;
  };
  const Case cases[] = {
      {R"({"kind":"Secret","kind":"ConfigMap"})", "member \"kind\" appears twice"},
      {R"({"a":{"x":1,"y":2,"x":3}})", "member \"x\" appears twice"},
      {R"({"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"e":11})", "member \"e\" appears twice"},
      {std::string("{\"a\":\"\xff\"}"), "invalid JSON at offset"},
      {std::string("\xef\xbb\xbf{}"), "invalid JSON at offset 0"},
      {std::string("{\"a\":1}\0{\"b\":2}", 15), "invalid JSON at offset 7"},
      {"{\"a\":1} x", "invalid JSON at offset 8"},
      {std::string("{\"a\":\"x\0y\"}", 11), "invalid JSON"},
      {"{\"n\":1e400}", "invalid JSON"},
      // Within the exponent RapidJSON checks, beyond a double all the same: its full-precision reader made these
      // infinity, which the writers cannot write (found by fuzz.json).
      {"{\"n\":184467445e300}", "Number too big"},
      {"[1.8e308]", "Number too big"},
      {"[-17976931348623159e292]", "Number too big"},
      // A lone low surrogate escape became bytes that are not UTF-8, which kbk then wrote (found by fuzz.json).
      {"{\"s\":\"x\\ude00\"}", "surrogate pair in string is invalid"},
      {"{\"k\\udfff\":1}", "surrogate pair in string is invalid"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto r = json::parse(c.text, "f.json");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(c.says) != std::string::npos);
  }
  // The same through parse_split (the reader of large lists), and the largest double is still a number.
  auto split = json::parse_split("{\"items\":[{\"n\":1},{\"n\":18e307}]}", "list.json", "items",
                                 [](json::Document&) -> Result<void> { return {}; });
  REQUIRE_FALSE(split.ok());
  CHECK(split.error().message.find("Number too big") != std::string::npos);
  auto pair = json::parse("[\"\\ud83d\\ude00\"]");  // a surrogate pair is one character, and fine
  REQUIRE(pair.ok());
  CHECK(std::string(pair->GetArray()[0].GetString()) == "\xf0\x9f\x98\x80");
  auto max = json::parse("[1.7976931348623157e308]");
  REQUIRE(max.ok());
  CHECK(json::parse(json::to_string(*max)).ok());
  // Same names in different objects, and escaped NUL inside a string, are fine.
  CHECK(json::parse(R"({"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]})").ok());
  auto nul = json::parse(R"({"s":"a\u0000b"})");
  REQUIRE(nul.ok());
  CHECK((*nul)["s"].GetStringLength() == 3);
}

TEST_CASE("writers, equal and depth walk k_max_depth levels without recursing") {
  auto doc = json::parse(nested(json::k_max_depth));
  REQUIRE(doc.ok());
  auto arrays = json::parse(nested(json::k_max_depth, "[", "]"));
  REQUIRE(arrays.ok());
  on_small_stack([&] {
    CHECK(json::to_string(*doc) == nested(json::k_max_depth));
    CHECK(json::to_string(*arrays) == nested(json::k_max_depth, "[", "]"));
    CHECK(json::equal(*doc, *doc));
    CHECK(json::depth(*arrays) == json::k_max_depth);
    auto pretty = json::to_pretty(*doc);
    auto back = json::parse(pretty);
    REQUIRE(back.ok());
    CHECK(json::equal(*back, *doc));
    auto yaml = json::to_yaml(*doc);
    CHECK(yaml.size() < 200 * 1000);
  });
}

TEST_CASE("to_pretty indents at most k_pretty_indent_levels: the text stays linear in the document") {
  const std::string deep = nested(5000);
  auto doc = json::parse(deep);
  REQUIRE(doc.ok());
  const std::string pretty = json::to_pretty(*doc);
  // Indented: 4 spaces a level up to 64 levels (about 64 * 64 * 4 * 2 bytes), compact below.
  CHECK(pretty.size() < deep.size() + 40000);
  CHECK(pretty.find(std::string(4 * json::k_pretty_indent_levels, ' ') + "\"a\": {\"a\":{") != std::string::npos);
  // Ordinary documents print as RapidJSON's PrettyWriter did.
  auto small = json::parse(R"({"a":[1,{"b":"c"}],"e":{},"f":[]})");
  REQUIRE(small.ok());
  CHECK(json::to_pretty(*small) ==
        "{\n    \"a\": [\n        1,\n        {\n            \"b\": \"c\"\n        }\n    ],\n    \"e\": {},\n    \"f\": []\n}");
  std::string chunked;
  size_t calls = 0;
  json::write_pretty(*doc, [&](std::string_view s) {
    chunked.append(s);
    ++calls;
  });
  CHECK(chunked == pretty);
}

TEST_CASE("to_yaml writes collections below k_pretty_indent_levels in flow style and reads back the same") {
  auto doc = json::parse(nested(300));
  REQUIRE(doc.ok());
  const std::string yaml = json::to_yaml(*doc);
  CHECK(yaml.size() < 30000);  // block style all the way down would take 2 * (1 + ... + 300) spaces = 90,000
  // (parse_yaml reads at most k_max_yaml_depth levels: the text is checked by structure here, not re-read)
  CHECK(yaml.find("{a: {a: {a:") != std::string::npos);
}

TEST_CASE("writers escape characters that change how text displays; the JSON means the same") {
  auto doc = json::parse("{\"k\":\"\\u001b[2J \xe2\x80\xae evil \xc2\x9b \x7f ok \xe2\x80\x93 \xe6\x97\xa5\"}");
  REQUIRE(doc.ok());
  const std::string text = json::to_string(*doc);
  CHECK(text == "{\"k\":\"\\u001B[2J \\u202e evil \\u009b \\u007f ok \xe2\x80\x93 \xe6\x97\xa5\"}");
  auto back = json::parse(text);
  REQUIRE(back.ok());
  CHECK(json::equal(*back, *doc));
  const std::string yaml = json::to_yaml(*doc);
  CHECK(yaml.find("\xe2\x80\xae") == std::string::npos);
  CHECK(yaml.find('\x1b') == std::string::npos);
  auto yback = json::parse_yaml(yaml);
  REQUIRE(yback.ok());
  CHECK(json::equal(*yback, *doc));
}

TEST_CASE("parse_yaml refuses aliases that expand beyond the text's size (billion laughs) and deep nesting") {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c)
    bomb += std::string(1, c) + ": &" + c + " [*" + static_cast<char>(c - 1) + ", *" + static_cast<char>(c - 1) +
            ", *" + static_cast<char>(c - 1) + ", *" + static_cast<char>(c - 1) + ", *" + static_cast<char>(c - 1) +
            ", *" + static_cast<char>(c - 1) + ", *" + static_cast<char>(c - 1) + ", *" + static_cast<char>(c - 1) +
            ", *" + static_cast<char>(c - 1) + ", *" + static_cast<char>(c - 1) + "]\n";
  auto r = json::parse_yaml(bomb, "laughs.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("laughs.yaml: aliases expand") == 0);
  auto deep = json::parse_yaml(std::string(300, '[') + "x" + std::string(300, ']'), "deep.yaml");
  REQUIRE_FALSE(deep.ok());
}

TEST_CASE("YamlReader values (modifier files, application definitions) refuse alias bombs and deep nesting") {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) bomb += std::string(i ? ", *" : "*") + static_cast<char>(c - 1);
    bomb += "]\n";
  }
  json::YamlReader laughs("laughs.yaml");
  const YAML::Node root = laughs.load(bomb);
  REQUIRE(laughs.ok());
  laughs.get_value(root["j"], "value");  // 10^9 nodes if expanded
  REQUIRE_FALSE(laughs.ok());
  CHECK(laughs.errors.front().find("aliases expand to more nodes than the text could hold") != std::string::npos);

  json::YamlReader deep("deep.yaml");
  const YAML::Node d = deep.load(std::string(300, '[') + "x" + std::string(300, ']'));
  REQUIRE(deep.ok());
  deep.get_value(d, "value");
  REQUIRE_FALSE(deep.ok());
  CHECK(deep.errors.front().find("nested more than 200 levels deep") != std::string::npos);

  json::YamlReader fine("fine.yaml");
  const YAML::Node f = fine.load("a: &a {k: v}\nb: [*a, *a]\n");
  const json::Document v = fine.get_value(f, "value");
  CHECK(fine.ok());
  CHECK(json::to_string(v) == R"({"a":{"k":"v"},"b":[{"k":"v"},{"k":"v"}]})");
}
