// The repository over S3: s3rver (a real S3 implementation from npm) and the strict fake S3 (tests/s3), as the
// storage conformance suite starts them: backup (packs, index, snapshot, lock), ranged reads in restore, check.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include <unistd.h>

#include "test_servers.hpp"
#include <kbk/repo/operations.hpp>
#include <kbk/repo/repository.hpp>

using namespace kbk;
using namespace kbk::repo;
namespace fs = std::filesystem;

namespace {

void round_trip(const std::string& url) {
  INFO("location " << url);
  const fs::path dir = fs::temp_directory_path() / ("kbk-repo-s3-" + test::unique_prefix());
  fs::create_directories(dir / "src" / "sub");
  std::mt19937_64 rng(5);
  std::string big(12u << 20, '\0');
  for (auto& c : big) c = static_cast<char>(rng() & 0x7f);
  { std::ofstream(dir / "src" / "big", std::ios::binary) << big; }
  { std::ofstream(dir / "src" / "sub" / "small", std::ios::binary) << "small file"; }
  storage::OpenOptions so;
  so.create = true;
  auto b = storage::open(url, so);
  if (!b) FAIL(b.error().message);
  auto key = crypto::parse_user_key(std::string(32, 'k'), "key");
  REQUIRE(key);
  OpenOptions oo;
  oo.key = &*key;
  oo.create = true;
  auto r = Repository::open(**b, oo);
  if (!r) FAIL(r.error().message);
  auto lock = Lock::acquire(**b, false);
  REQUIRE(lock);
  auto res = backup_folder(**r, (dir / "src").string(), BackupOptions{});
  if (!res) FAIL(res.error().message);
  (*lock)->release();
  oo.create = false;
  auto r2 = Repository::open(**b, oo);
  REQUIRE(r2);
  REQUIRE((*r2)->load_index());
  auto snaps = (*r2)->list_snapshots();
  REQUIRE(snaps);
  REQUIRE(snaps->size() == 1);
  auto out = restore_to_folder(**r2, snaps->front(), (dir / "out").string(), RestoreOptions{});
  if (!out) FAIL(out.error().message);
  std::ifstream f(dir / "out" / "big", std::ios::binary);
  CHECK(std::string(std::istreambuf_iterator<char>(f), {}) == big);
  auto rep = check(**r2, CheckOptions{true, 0, 0, nullptr});
  REQUIRE(rep);
  CHECK(rep->errors.empty());
  auto locks = list_locks(**b);
  REQUIRE(locks);
  CHECK(locks->empty());
  fs::remove_all(dir);
}

std::string s3_url(const test::ServerProcess& server, const std::string& profile, const std::string& extra = "") {
  return "s3://" + std::string(test::k_bucket) + "/" + test::unique_prefix() + "?endpoint=" + server.endpoint() +
         "&profile=" + profile + "&part-size=5MiB&retry-backoff=0.01" + extra;
}

}  // namespace

TEST_CASE("Repository over s3:// on s3rver: backup, restore with ranged reads, check") {
  test::use_test_aws_files();
  std::string why;
  auto* server = test::s3rver(&why);
  if (!server) {
    if (why.rfind("FAIL", 0) == 0) FAIL(why);
    WARN("s3rver cases skipped: " << why);
    return;
  }
  round_trip(s3_url(*server, "s3rver", "&list-delimiter=false"));
}

TEST_CASE("Repository over s3:// on the strict fake S3: backup, restore with ranged reads, check") {
  test::use_test_aws_files();
  std::string why;
  auto* server = test::strict_s3(&why);
  if (!server) FAIL("strict fake S3 did not start: " << why);
  round_trip(s3_url(*server, "strict"));
}
