#include <catch2/catch.hpp>

#include <kbk/kube/label_selector.hpp>

using namespace kbk;
using kbk::kube::LabelSelector;

namespace {
bool sel_matches(const std::string& selector, const std::string& labels_json) {
  auto s = LabelSelector::parse(selector);
  REQUIRE(s.ok());
  auto labels = json::parse(labels_json);
  REQUIRE(labels.ok());
  return s->matches(&*labels);
}
}  // namespace

TEST_CASE("LabelSelector::parse and matches follow the -l grammar") {
  CHECK(sel_matches("app=web", R"({"app":"web"})"));
  CHECK(sel_matches("app==web", R"({"app":"web"})"));
  CHECK_FALSE(sel_matches("app=web", R"({"app":"db"})"));
  CHECK(sel_matches("app!=web", R"({"app":"db"})"));
  CHECK(sel_matches("app!=web", R"({})"));
  CHECK(sel_matches("tier in (a, b),app", R"({"tier":"b","app":"x"})"));
  CHECK_FALSE(sel_matches("tier in (a,b)", R"({"tier":"c"})"));
  CHECK(sel_matches("tier notin (a,b)", R"({})"));
  CHECK(sel_matches("!legacy", R"({"app":"x"})"));
  CHECK_FALSE(sel_matches("!legacy", R"({"legacy":"1"})"));
  CHECK(sel_matches("example.com/team=a", R"({"example.com/team":"a"})"));
  CHECK(sel_matches("rank>3", R"({"rank":"4"})"));
  CHECK_FALSE(sel_matches("rank<3", R"({"rank":"4"})"));
  CHECK(sel_matches("", R"({})"));
  for (const char* bad : {"app=", "=x", "a in b", "a in (x", "a,,b", "a>x"}) {
    INFO(bad);
    auto s = LabelSelector::parse(bad);
    if (std::string(bad) == "app=") continue;  // an empty value is allowed (app= matches app="")
    CHECK_FALSE(s.ok());
  }
}

TEST_CASE("LabelSelector::to_label_selector gives metav1.LabelSelector") {
  auto s = LabelSelector::parse("app=web,tier in (a,b),!old");
  REQUIRE(s.ok());
  auto d = s->to_label_selector();
  CHECK(json::to_string(d) ==
        R"({"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["a","b"]},{"key":"old","operator":"DoesNotExist"}]})");
}

