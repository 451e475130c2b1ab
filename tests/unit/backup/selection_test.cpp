#include <catch2/catch.hpp>

#include <kbk/backup/options.hpp>
#include <kbk/backup/selection.hpp>

#include "fake_client.hpp"

using namespace kbk;
using namespace kbk::backup;

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
