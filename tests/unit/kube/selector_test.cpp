#include <catch2/catch.hpp>

#include "query.hpp"

using namespace kbk::kube;

TEST_CASE("list_query encodes selectors, limit and continue") {
  ListOptions o;
  o.label_selector = "app in (web,api),!canary,tier!=db";
  o.field_selector = "metadata.name=x,status.phase!=Running";
  CHECK(list_query(o, "") ==
        "?limit=500&labelSelector=app%20in%20%28web%2Capi%29%2C%21canary%2Ctier%21%3Ddb"
        "&fieldSelector=metadata.name%3Dx%2Cstatus.phase%21%3DRunning");
  CHECK(list_query(o, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIsInN0YXJ0IjoiYVx1MDAwMCJ9") ==
        "?limit=500&continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIsInN0YXJ0IjoiYVx1MDAwMCJ9"
        "&labelSelector=app%20in%20%28web%2Capi%29%2C%21canary%2Ctier%21%3Ddb"
        "&fieldSelector=metadata.name%3Dx%2Cstatus.phase%21%3DRunning");
}

TEST_CASE("list_query sends resourceVersion on the first page only") {
  ListOptions o;
  o.resource_version = "4711";
  CHECK(list_query(o, "") == "?limit=500&resourceVersion=4711");
  CHECK(list_query(o, "tok") == "?limit=500&continue=tok");
  o.limit = 0;
  o.resource_version.clear();
  CHECK(list_query(o, "").empty());
}

TEST_CASE("list_query escapes label keys with prefixes and dots") {
  ListOptions o;
  o.limit = 10;
  o.label_selector = "app.kubernetes.io/name=my app";
  CHECK(list_query(o, "") == "?limit=10&labelSelector=app.kubernetes.io%2Fname%3Dmy%20app");
}

TEST_CASE("write_query carries field manager, dry run, validation and force") {
  WriteOptions w;
  CHECK(write_query(w, false) == "?fieldManager=kbk");
  w.dry_run = DryRun::yes;
  w.field_validation = "Strict";
  w.force = true;
  CHECK(write_query(w, false) == "?dryRun=All&fieldManager=kbk&fieldValidation=Strict");
  CHECK(write_query(w, true) == "?dryRun=All&fieldManager=kbk&fieldValidation=Strict&force=true");
  w = WriteOptions{};
  w.field_manager.clear();
  CHECK(write_query(w, false).empty());
}

TEST_CASE("delete_body is a DeleteOptions document") {
  DeleteOptions d;
  CHECK(delete_body(d) == R"({"kind":"DeleteOptions","apiVersion":"v1"})");
  d.propagation_policy = "Foreground";
  d.grace_period_seconds = 0;
  d.dry_run = DryRun::yes;
  CHECK(delete_body(d) ==
        R"({"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0,"propagationPolicy":"Foreground","dryRun":["All"]})");
}

TEST_CASE("patch_content_type names the media type of each patch type") {
  CHECK(std::string(patch_content_type(PatchType::json)) == "application/json-patch+json");
  CHECK(std::string(patch_content_type(PatchType::merge)) == "application/merge-patch+json");
  CHECK(std::string(patch_content_type(PatchType::strategic)) == "application/strategic-merge-patch+json");
  CHECK(std::string(patch_content_type(PatchType::apply)) == "application/apply-patch+yaml");
}
