#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <string>

#include <kbk/util/fs.hpp>

namespace util = kbk::util;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/kbk-fs-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { (void)std::system(("rm -rf '" + path + "'").c_str()); }
};

}  // namespace

TEST_CASE("read_file: a file from outside is read up to its bound, and one clear line past it (issue 19)") {
  TempDir d;
  const std::string small = d.path + "/kubeconfig";
  REQUIRE(util::write_file_atomic(small, "apiVersion: v1\n").ok());
  auto r = util::read_file(small, util::k_max_input_file);
  REQUIRE(r.ok());
  CHECK(*r == "apiVersion: v1\n");

  // A regular file over the bound is refused from its size, before anything is read.
  const std::string big = d.path + "/big";
  REQUIRE(util::write_file_atomic(big, std::string(5000, 'x')).ok());
  auto refused = util::read_file(big, 4096);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().is(kbk::Errc::config));
  CHECK(refused.error().message == big + ": larger than 4.0 KiB, more than kbk reads of such a file");
  CHECK(util::read_file(big, 5000).ok());  // exactly the bound is fine
  CHECK(util::read_file(big).ok());         // kbk's own files: no bound

  // A file that is not regular and never ends (/dev/zero: a mistaken --kubeconfig) stops at the bound.
  auto endless = util::read_file("/dev/zero", 1 << 20);
  REQUIRE_FALSE(endless.ok());
  CHECK(endless.error().message.find("/dev/zero: larger than") == 0);

  auto missing = util::read_file(d.path + "/nope", util::k_max_input_file);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().is(kbk::Errc::io));
}
