#include <catch2/catch.hpp>

#include <kbk/backup/label_selector.hpp>
#include <kbk/backup/options.hpp>
#include <kbk/backup/selection.hpp>

#include "fake_client.hpp"

using namespace kbk;
using namespace kbk::backup;

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

TEST_CASE("validate applies Velero's rules") {
  Options ok;
  CHECK(validate(ok).ok());
  Options star_exclude;
  star_exclude.exclude_resources = {"*"};
  CHECK_FALSE(validate(star_exclude).ok());
  Options both;
  both.include_namespaces = {"a"};
  both.exclude_namespaces = {"a"};
  CHECK_FALSE(validate(both).ok());
  Options scoped_star;
  scoped_star.exclude_cluster_scoped = {"*"};
  CHECK(validate(scoped_star).ok());
  scoped_star.include_cluster_scoped = {"storageclasses"};
  CHECK_FALSE(validate(scoped_star).ok());
  Options glob;
  glob.include_namespaces = {"a{b,c}"};
  CHECK_FALSE(validate(glob).ok());
  Options par;
  par.parallel = 0;
  CHECK_FALSE(validate(par).ok());
}

TEST_CASE("split_or_selector splits on the literal ' or '") {
  CHECK(split_or_selector("a=b or c=d") == std::vector<std::string>{"a=b", "c=d"});
  CHECK(split_or_selector("color=orange") == std::vector<std::string>{"color=orange"});
}

TEST_CASE("Selection::type follows the old filters' cluster-resource rule") {
  auto d = testing::make_discovery();
  const kube::ResourceType* sc = d.find("storage.k8s.io", "storageclasses");
  const kube::ResourceType* ns = d.find("", "namespaces");
  const kube::ResourceType* cm = d.find("", "configmaps");
  REQUIRE((sc && ns && cm));
  struct Row {
    std::vector<std::string> include_ns;
    ClusterResources icr;
    bool sc_in, ns_in, cm_in;
  };
  std::vector<Row> table = {
      {{}, ClusterResources::automatic, true, true, true},
      {{"app"}, ClusterResources::automatic, false, true, true},
      {{"app"}, ClusterResources::include, true, true, true},
      {{}, ClusterResources::exclude, false, true, true},
      {{"*"}, ClusterResources::automatic, true, true, true},
  };
  for (const auto& row : table) {
    Options o;
    o.include_namespaces = row.include_ns;
    o.include_cluster_resources = row.icr;
    auto s = Selection::make(o, d);
    REQUIRE(s.ok());
    INFO("namespaces " << row.include_ns.size() << " icr " << static_cast<int>(row.icr));
    CHECK(s->type(*sc).included == row.sc_in);
    CHECK(s->type(*ns).included == row.ns_in);
    CHECK(s->type(*cm).included == row.cm_in);
  }
}

TEST_CASE("Selection::type leaves out duplicates served by two groups") {
  auto d = testing::make_discovery();
  Options o;
  o.include_events = IncludeEvents::yes;
  auto s = Selection::make(o, d);
  REQUIRE(s.ok());
  CHECK(s->type(*d.find("", "events")).included);
  CHECK_FALSE(s->type(*d.find("events.k8s.io", "events")).included);
  Options named;
  named.include_resources = {"events"};
  auto s2 = Selection::make(named, d);
  REQUIRE(s2.ok());
  CHECK(s2->type(*d.find("", "events")).included);  // naming events asks for them
}
