#include <catch2/catch.hpp>

#include <archive.h>
#include <archive_entry.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <kbk/archive/archive.hpp>

#include "test_support.hpp"

using namespace kbk;
using namespace kbk::archive;

namespace {

// An in-memory storage writer/reader pair.
struct MemoryWriter final : storage::Writer {
  std::string* out;
  bool* committed;
  std::string buf;
  MemoryWriter(std::string* o, bool* c) : out(o), committed(c) {}
  Result<void> write(std::string_view d) override {
    buf.append(d);
    return {};
  }
  Result<void> commit() override {
    *out = buf;
    *committed = true;
    return {};
  }
  void abort() override {}
  uint64_t bytes_written() const override { return buf.size(); }
};

using test::MemoryReader;

struct FailingReader final : storage::Reader {
  Result<size_t> read(char*, size_t) override { return unexpected(Errc::network, "connection reset"); }
};

// Builds a tar(.gz) with libarchive directly, so tests can make archives kbk's writer would never write.
struct RawEntry {
  std::string path;
  std::string data;
  unsigned type = AE_IFREG;
  std::string link;       // symlink target or hardlink
  bool hardlink = false;
  int64_t declared_size = -1;
  RawEntry(std::string p, std::string d = "", unsigned t = AE_IFREG, std::string l = "", bool h = false,
           int64_t size = -1)
      : path(std::move(p)), data(std::move(d)), type(t), link(std::move(l)), hardlink(h), declared_size(size) {}
};

la_ssize_t append_cb(struct archive*, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

std::string build_raw(const std::vector<RawEntry>& entries, bool gzip = true) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip) archive_write_add_filter_gzip(a);
  archive_write_open2(a, &out, nullptr, append_cb, nullptr, nullptr);
  for (const auto& r : entries) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, r.path.c_str());
    archive_entry_set_filetype(e, r.type);
    archive_entry_set_perm(e, 0644);
    if (r.hardlink) archive_entry_set_hardlink(e, r.link.c_str());
    else if (r.type == AE_IFLNK) archive_entry_set_symlink(e, r.link.c_str());
    if (r.type == AE_IFREG && !r.hardlink)
      archive_entry_set_size(e, r.declared_size >= 0 ? r.declared_size : static_cast<int64_t>(r.data.size()));
    else archive_entry_set_size(e, 0);
    archive_write_header(a, e);
    if (!r.data.empty()) archive_write_data(a, r.data.data(), r.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

const RawEntry k_version{"metadata/version", "1.1.0\n"};

struct ReadResult {
  bool ok = false;
  std::string error;
  std::vector<std::string> paths;
  std::vector<std::string> datas;
};

ReadResult read_all(const std::string& bytes, const ReaderLimits& limits = {}) {
  MemoryReader r(bytes);
  ReadResult rr;
  auto res = read_archive(r, "b1", limits, [&](const Entry& e) -> Result<void> {
    rr.paths.push_back(e.path);
    rr.datas.emplace_back(e.data);
    return {};
  });
  rr.ok = res.ok();
  if (!res) {
    CHECK(res.error().code == Errc::corrupt);
    rr.error = res.error().message;
  }
  return rr;
}

std::string write_sample(std::vector<std::string>* sums = nullptr) {
  std::string out;
  bool committed = false;
  auto w = make_writer(std::make_unique<MemoryWriter>(&out, &committed));
  REQUIRE(w.ok());
  auto s1 = (*w)->add_item({"", "v1", "configmaps", "ns1", "cm1"}, "{}", true);
  REQUIRE(s1.ok());
  auto s2 = (*w)->add_item({"apps", "v1", "deployments", "ns1", "web"}, R"({"kind":"Deployment"})", true);
  REQUIRE(s2.ok());
  auto s3 = (*w)->add_item({"", "v1", "persistentvolumes", "", "pv1"}, "{}", true);
  REQUIRE(s3.ok());
  REQUIRE((*w)->add_file("kbk/manifest.json", "{\"m\":1}").ok());
  CHECK_FALSE(committed);
  REQUIRE((*w)->finish().ok());
  CHECK(committed);
  if (sums) *sums = {*s1, *s2, *s3};
  return out;
}

}  // namespace

TEST_CASE("make_writer writes Velero's 1.1.0 layout with the preferred-version copy") {
  std::vector<std::string> sums;
  std::string bytes = write_sample(&sums);
  REQUIRE(bytes.size() > 2);
  CHECK(static_cast<unsigned char>(bytes[0]) == 0x1f);  // gzip magic
  CHECK(static_cast<unsigned char>(bytes[1]) == 0x8b);
  // sha256("{}"), computed independently (sha256sum).
  CHECK(sums[0] == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");

  auto rr = read_all(bytes);
  REQUIRE(rr.ok);
  std::vector<std::string> expected{
      "metadata/version",
      "resources/configmaps/namespaces/ns1/cm1.json",
      "resources/configmaps/v1-preferredversion/namespaces/ns1/cm1.json",
      "resources/deployments.apps/namespaces/ns1/web.json",
      "resources/deployments.apps/v1-preferredversion/namespaces/ns1/web.json",
      "resources/persistentvolumes/cluster/pv1.json",
      "resources/persistentvolumes/v1-preferredversion/cluster/pv1.json",
      "kbk/manifest.json",
  };
  CHECK(rr.paths == expected);
  CHECK(rr.datas[0] == "1.1.0\n");
  CHECK(rr.datas[3] == R"({"kind":"Deployment"})");
  CHECK(rr.datas[4] == rr.datas[3]);
}

TEST_CASE("make_writer output is read by GNU tar with regular 0644 entries") {
  std::string bytes = write_sample();
  char tmpl[] = "/tmp/kbk-archive-test-XXXXXX";
  int fd = mkstemp(tmpl);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  ::close(fd);
  std::string cmd = std::string("tar tvzf ") + tmpl + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string listing;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) listing.append(buf, n);
  int rc = pclose(p);
  ::unlink(tmpl);
  CHECK(rc == 0);
  CHECK(listing.find("-rw-r--r--") != std::string::npos);
  CHECK(listing.find("metadata/version") != std::string::npos);
  CHECK(listing.find("resources/persistentvolumes/v1-preferredversion/cluster/pv1.json") != std::string::npos);
  CHECK(listing.find("drwx") == std::string::npos);  // no directory entries
}

TEST_CASE("make_writer keeps long names through PAX headers") {
  std::string out;
  bool committed = false;
  auto w = make_writer(std::make_unique<MemoryWriter>(&out, &committed));
  REQUIRE(w.ok());
  std::string name(200, 'n');
  std::string ns(63, 's');
  REQUIRE((*w)->add_item({"example.com", "v1", "widgets", ns, name}, "{}", true).ok());
  REQUIRE((*w)->finish().ok());
  auto rr = read_all(out);
  REQUIRE(rr.ok);
  REQUIRE(rr.paths.size() == 3);
  CHECK(rr.paths[1] == "resources/widgets.example.com/namespaces/" + ns + "/" + name + ".json");
}

TEST_CASE("make_writer refuses an item whose name would escape its folder") {
  std::string out;
  bool committed = false;
  auto w = make_writer(std::make_unique<MemoryWriter>(&out, &committed));
  REQUIRE(w.ok());
  CHECK_FALSE((*w)->add_item({"", "v1", "configmaps", "ns1", "a/b"}, "{}", true).ok());
  CHECK_FALSE((*w)->add_item({"", "v1", "configmaps", "..", "cm"}, "{}", true).ok());
  CHECK_FALSE((*w)->add_item({"", "v1", "configmaps", "ns1", ""}, "{}", true).ok());
  CHECK_FALSE((*w)->add_file("../x", "").ok());
  CHECK_FALSE((*w)->add_file("/abs", "").ok());
}

TEST_CASE("make_writer aborts the sink when destroyed unfinished") {
  struct TrackingWriter final : storage::Writer {
    bool* aborted;
    explicit TrackingWriter(bool* a) : aborted(a) {}
    Result<void> write(std::string_view) override { return {}; }
    Result<void> commit() override { return {}; }
    void abort() override { *aborted = true; }
    uint64_t bytes_written() const override { return 0; }
  };
  bool aborted = false;
  {
    auto w = make_writer(std::make_unique<TrackingWriter>(&aborted));
    REQUIRE(w.ok());
    REQUIRE((*w)->add_item({"", "v1", "configmaps", "ns1", "cm1"}, "{}", true).ok());
  }
  CHECK(aborted);
}

TEST_CASE("read_archive accepts a Velero tarball with directory entries") {
  std::string bytes = build_raw({k_version,
                                 {"resources/", "", AE_IFDIR},
                                 {"resources/pods/namespaces/ns1/p.json", "{}"}});
  auto rr = read_all(bytes);
  CHECK(rr.ok);
  CHECK(rr.paths.size() == 2);
}

TEST_CASE("read_archive reads an uncompressed tar") {
  auto rr = read_all(build_raw({k_version, {"resources/pods/namespaces/ns1/p.json", "{}"}}, false));
  CHECK(rr.ok);
}

TEST_CASE("read_archive refuses hostile entries naming backup and entry") {
  SECTION("dot-dot") {
    auto rr = read_all(build_raw({k_version, {"resources/../../etc/passwd", "x"}}));
    CHECK_FALSE(rr.ok);
    CHECK(rr.error.find("backup b1: entry resources/../../etc/passwd") != std::string::npos);
  }
  SECTION("absolute path") {
    auto rr = read_all(build_raw({k_version, {"/etc/passwd", "x"}}));
    CHECK_FALSE(rr.ok);
    CHECK(rr.error.find("/etc/passwd") != std::string::npos);
  }
  SECTION("symlink") {
    RawEntry link{"resources/pods/namespaces/ns1/p.json", "", AE_IFLNK, "/etc/passwd"};
    auto rr = read_all(build_raw({k_version, link}));
    CHECK_FALSE(rr.ok);
    CHECK(rr.error.find("symbolic links") != std::string::npos);
  }
  SECTION("hardlink") {
    RawEntry a{"resources/pods/namespaces/ns1/a.json", "{}"};
    RawEntry h{"resources/pods/namespaces/ns1/b.json", "", AE_IFREG, "resources/pods/namespaces/ns1/a.json", true};
    auto rr = read_all(build_raw({k_version, a, h}));
    CHECK_FALSE(rr.ok);
    CHECK(rr.error.find("hard links") != std::string::npos);
  }
  SECTION("device") {
    auto rr = read_all(build_raw({k_version, {"resources/dev", "", AE_IFCHR}}));
    CHECK_FALSE(rr.ok);
    CHECK(rr.error.find("entry resources/dev") != std::string::npos);
  }
  SECTION("oversized entry") {
    ReaderLimits limits;
    limits.max_entry_bytes = 100;
    auto rr = read_all(build_raw({k_version, {"resources/pods/namespaces/ns1/p.json", std::string(101, 'x')}}), limits);
    CHECK_FALSE(rr.ok);
    CHECK(rr.error.find("exceeds the limit") != std::string::npos);
  }
  SECTION("decompressed total over the limit") {
    ReaderLimits limits;
    limits.max_total_bytes = 1000;
    std::string big(600, 'x');
    auto rr = read_all(build_raw({k_version, {"resources/a/cluster/a.json", big}, {"resources/a/cluster/b.json", big}}),
                       limits);
    CHECK_FALSE(rr.ok);
    CHECK(rr.error.find("limit of 1000") != std::string::npos);
  }
  SECTION("too many entries") {
    ReaderLimits limits;
    limits.max_entries = 2;
    auto rr = read_all(build_raw({k_version, {"resources/a/cluster/a.json", "{}"}, {"resources/a/cluster/b.json", "{}"}}),
                       limits);
    CHECK_FALSE(rr.ok);
  }
}

TEST_CASE("read_archive refuses a missing or unsupported metadata/version") {
  auto missing = read_all(build_raw({{"resources/pods/namespaces/ns1/p.json", "{}"}}));
  CHECK_FALSE(missing.ok);
  CHECK(missing.error.find("first entry must be metadata/version") != std::string::npos);
  auto v2 = read_all(build_raw({{"metadata/version", "2.0.0\n"}}));
  CHECK_FALSE(v2.ok);
  CHECK(v2.error.find("2.0.0") != std::string::npos);
  auto v11 = read_all(build_raw({{"metadata/version", "1.1\n"}}));
  CHECK(v11.ok);
  auto v10x = read_all(build_raw({{"metadata/version", "10.0.0\n"}}));
  CHECK_FALSE(v10x.ok);
  auto empty = read_all(build_raw({}));
  CHECK_FALSE(empty.ok);
}

TEST_CASE("read_archive refuses truncated and corrupt gzip") {
  std::string bytes = write_sample();
  SECTION("cut at every tenth of the stream") {
    for (int i = 1; i < 10; ++i) {
      std::string cut = bytes.substr(0, bytes.size() * static_cast<size_t>(i) / 10);
      auto rr = read_all(cut);
      INFO("cut at " << cut.size() << " of " << bytes.size());
      CHECK_FALSE(rr.ok);
      CHECK(rr.error.find("backup b1") == 0);
    }
  }
  SECTION("cut just before the gzip trailer") {
    auto rr = read_all(bytes.substr(0, bytes.size() - 4));
    CHECK_FALSE(rr.ok);
  }
  SECTION("flipped byte in the deflate data") {
    std::string bad = bytes;
    bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x55);
    auto rr = read_all(bad);
    CHECK_FALSE(rr.ok);
  }
  SECTION("not an archive at all") {
    auto rr = read_all(std::string("hello, this is not a tarball at all, just text\n"));
    CHECK_FALSE(rr.ok);
  }
  SECTION("an uncompressed tar cut inside an entry's data") {
    std::string tar = build_raw({k_version, {"resources/pods/namespaces/ns1/p.json", std::string(3000, 'x')}}, false);
    // version header + data block, then the item's header, then 1000 of its 3000 bytes
    auto rr = read_all(tar.substr(0, 512 + 512 + 512 + 1000));
    CHECK_FALSE(rr.ok);
    CHECK(rr.error.find("p.json") != std::string::npos);
  }
}

TEST_CASE("read_archive passes on storage errors and callback errors") {
  FailingReader fr;
  auto r = read_archive(fr, "b1", {}, [](const Entry&) -> Result<void> { return {}; });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::network);
  CHECK(r.error().message.find("backup b1") != std::string::npos);

  MemoryReader mr(write_sample());
  int seen = 0;
  auto r2 = read_archive(mr, "b1", {}, [&](const Entry& e) -> Result<void> {
    ++seen;
    if (e.is_item) return unexpected(Errc::invalid, "stop here");
    return {};
  });
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().code == Errc::invalid);
  CHECK(seen == 2);
}

TEST_CASE("read_archive marks items and parses their keys") {
  MemoryReader mr(write_sample());
  std::vector<Entry> items;
  auto r = read_archive(mr, "b1", {}, [&](const Entry& e) -> Result<void> {
    if (e.is_item) {
      Entry copy;
      copy.path = e.path;
      copy.key = e.key;
      copy.version_dir = e.version_dir;
      items.push_back(copy);
    }
    return {};
  });
  REQUIRE(r.ok());
  REQUIRE(items.size() == 6);
  CHECK(items[2].key.group == "apps");
  CHECK(items[2].key.resource == "deployments");
  CHECK(items[2].key.namespace_ == "ns1");
  CHECK(items[2].key.name == "web");
  CHECK(items[2].version_dir.empty());
  CHECK(items[3].version_dir == "v1-preferredversion");
  CHECK(items[3].key.version == "v1");
}

TEST_CASE("parse_item_path splits every Velero path form") {
  ItemKey k;
  std::string vd;
  REQUIRE(parse_item_path("resources/pods/namespaces/ns1/web-0.json", k, vd));
  CHECK((k.group == "" && k.resource == "pods" && k.namespace_ == "ns1" && k.name == "web-0" && vd == ""));
  REQUIRE(parse_item_path("resources/persistentvolumes/cluster/pv1.json", k, vd));
  CHECK((k.resource == "persistentvolumes" && k.namespace_ == "" && k.name == "pv1"));
  REQUIRE(parse_item_path("resources/deployments.apps/v1-preferredversion/namespaces/ns1/web.json", k, vd));
  CHECK((k.group == "apps" && k.version == "v1" && vd == "v1-preferredversion" && k.name == "web"));
  REQUIRE(parse_item_path("resources/customresourcedefinitions.apiextensions.k8s.io/v1-preferredversion/cluster/"
                          "widgets.example.com.json",
                          k, vd));
  CHECK((k.group == "apiextensions.k8s.io" && k.resource == "customresourcedefinitions"));
  CHECK(k.name == "widgets.example.com");
  REQUIRE(parse_item_path("resources/widgets.example.com/v1beta1/namespaces/cluster/w.json", k, vd));
  CHECK((k.version == "v1beta1" && k.namespace_ == "cluster" && vd == "v1beta1"));
  REQUIRE(parse_item_path("resources/clusterroles.rbac.authorization.k8s.io/cluster/system:controller:x.json", k, vd));
  CHECK(k.name == "system:controller:x");
  // a namespace literally named "namespaces"
  REQUIRE(parse_item_path("resources/pods/namespaces/namespaces/p.json", k, vd));
  CHECK((k.namespace_ == "namespaces" && k.name == "p"));

  CHECK_FALSE(parse_item_path("metadata/version", k, vd));
  CHECK_FALSE(parse_item_path("resources/pods/namespaces/ns1/p.yaml", k, vd));
  CHECK_FALSE(parse_item_path("resources/pods/namespaces/ns1/.json", k, vd));
  CHECK_FALSE(parse_item_path("resources/pods/cluster/extra/p.json", k, vd));
  CHECK_FALSE(parse_item_path("resources/pods/namespaces/ns1", k, vd));
  CHECK_FALSE(parse_item_path("resources/pods/v1/v2/cluster/p.json", k, vd));
  CHECK_FALSE(parse_item_path("kbk/manifest.json", k, vd));
}

TEST_CASE("item_path builds the legacy and versioned paths") {
  CHECK(item_path({"", "v1", "configmaps", "ns1", "cm1"}) == "resources/configmaps/namespaces/ns1/cm1.json");
  CHECK(item_path({"apps", "v1", "deployments", "ns1", "web"}, "v1-preferredversion") ==
        "resources/deployments.apps/v1-preferredversion/namespaces/ns1/web.json");
  CHECK(item_path({"storage.k8s.io", "v1", "storageclasses", "", "fast"}) ==
        "resources/storageclasses.storage.k8s.io/cluster/fast.json");
}

TEST_CASE("add_file_stream writes chunks of a declared size and refuses a wrong total") {
  std::string out;
  bool committed = false;
  auto w = make_writer(std::make_unique<MemoryWriter>(&out, &committed));
  REQUIRE(w.ok());
  auto ok = (*w)->add_file_stream("kbk/manifest.json", 6, [](const ArchiveWriter::ChunkSink& sink) -> Result<void> {
    KBK_TRY(sink("abc"));
    return sink("def");
  });
  REQUIRE(ok.ok());
  auto shorter = (*w)->add_file_stream("kbk/other.json", 10, [](const ArchiveWriter::ChunkSink& sink) -> Result<void> {
    return sink("abc");
  });
  CHECK_FALSE(shorter.ok());
  std::string out2;
  auto w2 = make_writer(std::make_unique<MemoryWriter>(&out2, &committed));
  REQUIRE(w2.ok());
  REQUIRE((*w2)->add_file_stream("kbk/manifest.json", 6, [](const ArchiveWriter::ChunkSink& sink) -> Result<void> {
    return sink("abcdef");
  }).ok());
  REQUIRE((*w2)->finish().ok());
  auto rr = read_all(out2);
  REQUIRE(rr.ok);
  REQUIRE(rr.paths.size() == 2);
  CHECK(rr.datas[1] == "abcdef");
}

TEST_CASE("read_archive streams the entries asked for, with every check of a whole entry") {
  const std::string big(300000, 'm');
  const std::string tar = build_raw({k_version, {"kbk/manifest.json", big}, {"kbk/results.json", "{}"}});
  ReadOptions options;
  options.streamed = [](std::string_view path) { return path == "kbk/manifest.json"; };
  SECTION("read in pieces, the rest after the callback drained") {
    for (size_t take : {size_t{0}, size_t{1000}, big.size()}) {
      MemoryReader r(tar);
      std::string got;
      std::vector<std::string> after;
      auto res = read_archive(r, "b1", {}, [&](const Entry& e) -> Result<void> {
        if (e.path != "kbk/manifest.json") {
          CHECK(e.read == nullptr);
          after.push_back(e.path);
          return {};
        }
        REQUIRE(e.read != nullptr);
        CHECK(e.data.empty());
        char buf[777];
        while (got.size() < take) {
          auto n = (*e.read)(buf, std::min(sizeof buf, take - got.size()));
          REQUIRE(n.ok());
          if (*n == 0) break;
          got.append(buf, *n);
        }
        return {};
      }, options);
      REQUIRE(res.ok());
      CHECK(got == big.substr(0, take));
      CHECK(after == std::vector<std::string>{"metadata/version", "kbk/results.json"});
    }
  }
  SECTION("cut inside the streamed entry: the stream's error, whatever the consumer returns") {
    const std::string plain = build_raw({k_version, {"kbk/manifest.json", big}}, false);
    MemoryReader r(plain.substr(0, 512 + 512 + 512 + 100000));
    auto res = read_archive(r, "b1", {}, [&](const Entry& e) -> Result<void> {
      if (!e.read) return {};
      char buf[4096];
      for (;;) {
        auto n = (*e.read)(buf, sizeof buf);
        if (!n) return unexpected(Errc::invalid, "the consumer's own error");
        if (*n == 0) return {};
      }
    }, options);
    REQUIRE_FALSE(res.ok());
    CHECK(res.error().code == Errc::corrupt);
    CHECK(res.error().message.find("kbk/manifest.json") != std::string::npos);
    CHECK(res.error().message.find("the consumer's own error") == std::string::npos);
  }
}
