// The backup listing over an S3 bucket whose keys a writer chose (docs/security.md, the bucket writer): folders
// named .., ., empty or with control characters are reported as skipped by a printable name, never read as backups.
#include <catch2/catch.hpp>

#include <kbk/archive/location.hpp>
#include <kbk/json/json.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/strings.hpp>

#include "test_servers.hpp"

using namespace kbk;

TEST_CASE("list_backups over S3: hostile folder names are skipped by a printable name, the real backup listed") {
  test::use_test_aws_files();
  std::string why;
  auto* s3 = test::strict_s3(&why);
  if (!s3) FAIL("strict fake S3 did not start: " << why);
  const std::string prefix = test::unique_prefix();
  auto b = storage::open("s3://" + std::string(test::k_bucket) + "/" + prefix + "?endpoint=" + s3->endpoint() +
                         "&profile=strict&retry-backoff=0.001");
  REQUIRE(b.ok());
  // One real (incomplete: a lock only) backup, and keys only a bucket writer could make.
  REQUIRE((*b)->put("backups/good/kbk-lock.json",
                    R"({"apiVersion":"kbk.io/v1alpha1","kind":"BackupLock","name":"good","host":"h","pid":1,)"
                    R"("startTimestamp":"2026-01-01T00:00:00Z"})", {}).ok());
  std::string body = "{\"bucket\":\"" + std::string(test::k_bucket) + "\",\"objects\":[";
  const std::vector<std::string> hostile = {"backups/../kbk-manifest.json", "backups/./kbk-manifest.json",
                                            "backups//kbk-manifest.json", "backups/a\x1b[31m/kbk-manifest.json",
                                            "backups/UPPER/kbk-manifest.json"};
  for (size_t i = 0; i < hostile.size(); ++i) {
    json::Document k;
    const json::Value v = json::make_string(prefix + "/" + hostile[i], k.GetAllocator());
    body += (i ? ",{\"key\":" : "{\"key\":") + json::to_string(v) + ",\"body\":\"{}\"}";
  }
  REQUIRE(test::control(*s3, "POST", "/__put_raw", body + "]}").status == 200);

  std::vector<Error> skipped;
  auto listed = archive::list_backups(**b, &skipped);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().name == "good");
  REQUIRE(skipped.size() == hostile.size());
  for (const auto& e : skipped) {
    CHECK(e.message.find("not a backup name") != std::string::npos);
    CHECK(e.message.find('\x1b') == std::string::npos);  // printed escaped
  }
}
