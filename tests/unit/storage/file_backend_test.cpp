#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <kbk/storage/backend.hpp>

using namespace kbk;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/kbk-file-backend-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::unique_ptr<storage::Backend> open_ok(const std::string& url) {
  auto b = storage::open(url, {});
  REQUIRE(b.ok());
  return std::move(*b);
}

unsigned mode_of(const std::string& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

std::vector<std::string> keys(storage::Backend& b, const std::string& prefix) {
  std::vector<std::string> out;
  auto r = b.list(prefix, [&](const storage::ObjectInfo& o) -> Result<void> {
    out.push_back(o.key);
    return {};
  });
  REQUIRE(r.ok());
  return out;
}

}  // namespace

TEST_CASE("make_file_backend opens file:// URLs, absolute and relative paths") {
  TempDir t;
  auto a = open_ok("file://" + t.path);
  CHECK(a->display_url() == "file://" + t.path);
  auto b = open_ok(t.path + "/");
  CHECK(b->display_url() == "file://" + t.path);
  char cwd[4096];
  REQUIRE(getcwd(cwd, sizeof cwd));
  REQUIRE(chdir(t.path.c_str()) == 0);
  fs::create_directory(t.path + "/rel");
  auto c = storage::open("./rel", {});
  REQUIRE(chdir(cwd) == 0);
  REQUIRE(c.ok());
  CHECK((*c)->display_url() == "file://" + t.path + "/./rel");

  auto missing = storage::open(t.path + "/nope", {});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::precondition);
  storage::OpenOptions create;
  create.create = true;
  auto made = storage::open(t.path + "/new/deeper", create);
  REQUIRE(made.ok());
  CHECK(fs::is_directory(t.path + "/new/deeper"));
  CHECK(mode_of(t.path + "/new/deeper") == 0700);

  auto relative_url = storage::open("file://relative/path", {});
  REQUIRE_FALSE(relative_url.ok());
  CHECK(relative_url.error().code == Errc::config);
}

TEST_CASE("put writes objects 0600 in folders 0700 and get reads them back") {
  TempDir t;
  auto b = open_ok(t.path);
  REQUIRE(b->put("backups/b1/b1.tar.gz", "payload", {}).ok());
  CHECK(mode_of(t.path + "/backups/b1/b1.tar.gz") == 0600);
  CHECK(mode_of(t.path + "/backups/b1") == 0700);
  CHECK(mode_of(t.path + "/backups") == 0700);
  auto g = b->get("backups/b1/b1.tar.gz");
  REQUIRE(g.ok());
  CHECK(*g == "payload");
  REQUIRE(b->put("backups/b1/b1.tar.gz", "second", {}).ok());
  CHECK(*b->get("backups/b1/b1.tar.gz") == "second");

  auto none = b->get("backups/b1/missing");
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == Errc::not_found);
  auto st = b->stat("backups/b1/missing");
  REQUIRE(st.ok());
  CHECK_FALSE(st->has_value());
  auto st2 = b->stat("backups/b1/b1.tar.gz");
  REQUIRE(st2.ok());
  REQUIRE(st2->has_value());
  CHECK((*st2)->size == 6);
}

TEST_CASE("put refuses keys that leave the location") {
  TempDir t;
  auto b = open_ok(t.path);
  for (std::string bad : {"../x", "/etc/passwd", "a/../../b", "a//b", "", "a/./b", "dir/"}) {
    INFO(bad);
    CHECK_FALSE(b->put(bad, "x", {}).ok());
  }
}

TEST_CASE("put with IfExists::fail lets exactly one writer win") {
  TempDir t;
  auto b = open_ok(t.path);
  storage::PutOptions once;
  once.if_exists = storage::IfExists::fail;
  REQUIRE(b->put("backups/b1/kbk-lock.json", "first", once).ok());
  auto again = b->put("backups/b1/kbk-lock.json", "second", once);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::already_exists);
  CHECK(*b->get("backups/b1/kbk-lock.json") == "first");

  // Two streaming writers racing: both opened before either commits.
  auto w1 = b->put_stream("backups/b2/kbk-lock.json", once);
  auto w2 = b->put_stream("backups/b2/kbk-lock.json", once);
  REQUIRE(w1.ok());
  REQUIRE(w2.ok());
  REQUIRE((*w1)->write("one").ok());
  REQUIRE((*w2)->write("two").ok());
  CHECK((*w1)->commit().ok());
  auto c2 = (*w2)->commit();
  REQUIRE_FALSE(c2.ok());
  CHECK(c2.error().code == Errc::already_exists);
  CHECK(*b->get("backups/b2/kbk-lock.json") == "one");
  CHECK(keys(*b, "backups/b2/").size() == 1);  // the loser left no temp file behind
}

TEST_CASE("put_stream makes the object visible only on commit") {
  TempDir t;
  auto b = open_ok(t.path);
  auto w = b->put_stream("backups/b1/b1.tar.gz", {});
  REQUIRE(w.ok());
  REQUIRE((*w)->write("part1-").ok());
  REQUIRE((*w)->write("part2").ok());
  CHECK((*w)->bytes_written() == 11);
  CHECK_FALSE(b->stat("backups/b1/b1.tar.gz")->has_value());
  CHECK(keys(*b, "backups/").empty());  // temp files are not objects
  REQUIRE((*w)->commit().ok());
  CHECK(*b->get("backups/b1/b1.tar.gz") == "part1-part2");
  CHECK(mode_of(t.path + "/backups/b1/b1.tar.gz") == 0600);

  {
    auto w2 = b->put_stream("backups/b1/aborted", {});
    REQUIRE(w2.ok());
    REQUIRE((*w2)->write("x").ok());
  }  // destroyed without commit
  CHECK_FALSE(b->stat("backups/b1/aborted")->has_value());
  size_t files = 0;
  for (auto& e : fs::directory_iterator(t.path + "/backups/b1")) {
    (void)e;
    ++files;
  }
  CHECK(files == 1);
}

TEST_CASE("get_stream reads ranges") {
  TempDir t;
  auto b = open_ok(t.path);
  REQUIRE(b->put("k", "0123456789", {}).ok());
  auto read_range = [&](uint64_t off, uint64_t len) {
    auto r = b->get_stream("k", off, len);
    REQUIRE(r.ok());
    std::string out;
    char buf[3];
    for (;;) {
      auto n = (*r)->read(buf, sizeof buf);
      REQUIRE(n.ok());
      if (*n == 0) break;
      out.append(buf, *n);
    }
    return out;
  };
  CHECK(read_range(0, 0) == "0123456789");
  CHECK(read_range(3, 4) == "3456");
  CHECK(read_range(8, 100) == "89");
  CHECK(read_range(10, 0) == "");
  CHECK_FALSE(b->get_stream("k", 11, 0).ok());
}

TEST_CASE("list returns objects under a prefix in key order") {
  TempDir t;
  auto b = open_ok(t.path);
  for (std::string k : {"backups/b2/x", "backups/b1/z", "backups/b1/a", "backups/b10/a", "restores/r1/x", "top"})
    REQUIRE(b->put(k, "v", {}).ok());
  CHECK(keys(*b, "backups/") == std::vector<std::string>{"backups/b1/a", "backups/b1/z", "backups/b10/a", "backups/b2/x"});
  CHECK(keys(*b, "backups/b1/") == std::vector<std::string>{"backups/b1/a", "backups/b1/z"});
  CHECK(keys(*b, "backups/b1") == std::vector<std::string>{"backups/b1/a", "backups/b1/z", "backups/b10/a"});
  CHECK(keys(*b, "").size() == 6);
  CHECK(keys(*b, "nothing/").empty());

  auto p = b->list_prefixes("backups/");
  REQUIRE(p.ok());
  CHECK(*p == std::vector<std::string>{"b1/", "b10/", "b2/"});
  auto root = b->list_prefixes("");
  REQUIRE(root.ok());
  CHECK(*root == std::vector<std::string>{"backups/", "restores/"});
  auto none = b->list_prefixes("missing/");
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("remove deletes objects, succeeds on missing ones and prunes empty folders") {
  TempDir t;
  auto b = open_ok(t.path);
  REQUIRE(b->put("backups/b1/a", "v", {}).ok());
  REQUIRE(b->put("backups/b1/b", "v", {}).ok());
  REQUIRE(b->remove("backups/b1/a").ok());
  CHECK(keys(*b, "backups/") == std::vector<std::string>{"backups/b1/b"});
  REQUIRE(b->remove("backups/b1/a").ok());
  REQUIRE(b->remove_many({"backups/b1/b"}).ok());
  CHECK_FALSE(fs::exists(t.path + "/backups/b1"));
  CHECK(fs::exists(t.path));
}

TEST_CASE("cleanup_incomplete removes temp files older than the age") {
  TempDir t;
  auto b = open_ok(t.path);
  auto w_old = b->put_stream("backups/b1/old", {});
  auto w_new = b->put_stream("backups/b1/new", {});
  REQUIRE(w_old.ok());
  REQUIRE(w_new.ok());
  // Age one temp file by two hours.
  std::string old_tmp;
  for (auto& e : fs::directory_iterator(t.path + "/backups/b1"))
    if (e.path().filename().string().find(".old") == 0) old_tmp = e.path().string();
  REQUIRE(!old_tmp.empty());
  struct utimbuf times {};
  times.actime = times.modtime = time(nullptr) - 7200;
  REQUIRE(utime(old_tmp.c_str(), &times) == 0);
  auto n = b->cleanup_incomplete(std::chrono::hours(1), "");
  REQUIRE(n.ok());
  CHECK(*n == 1);
  CHECK_FALSE(fs::exists(old_tmp));
  REQUIRE((*w_new)->commit().ok());
  CHECK(b->stat("backups/b1/new")->has_value());
}
