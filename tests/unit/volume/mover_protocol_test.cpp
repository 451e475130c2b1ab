// The mover protocol (docs/mover.md sections 2 and 6): frames read from a stream in pieces, a pack's range read
// through kbk; start's s3 member (what is logged holds no secret; the copy sent over stdin does, and the pod reads it
// back) and the credentials request (kbk refreshes what S3 called expired).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <unistd.h>
#include <vector>

#include <kbk/storage/aws.hpp>
#include <kbk/storage/s3.hpp>

#include "mover_protocol.hpp"

using namespace kbk;
using namespace kbk::volume;

namespace {

// A provider whose sessions are numbered: invalidate() of the current one makes get() hand out the next.
class Sessions final : public storage::aws::CredentialsProvider {
public:
  Result<storage::sigv4::Credentials> get() override {
    return storage::sigv4::Credentials{"ASIA" + std::to_string(n), "secret-" + std::to_string(n), "token-" + std::to_string(n)};
  }
  std::string source() const override { return "profile mover (assume role)"; }
  bool invalidate(const std::string& rejected) override {
    if (rejected == "ASIA" + std::to_string(n)) ++n;
    return true;
  }
  int n = 1;
};

storage::S3Access access_with(std::shared_ptr<storage::aws::CredentialsProvider> creds) {
  storage::S3Access a;
  a.settings.bucket = "corp";
  a.settings.prefix = "prod/";
  a.settings.endpoint = "https://s3.eu-west-1.amazonaws.com";
  a.settings.region = "eu-west-1";
  a.settings.addressing = storage::Addressing::virtual_host;
  a.settings.part_size = 32ull << 20;
  a.settings.upload_concurrency = 6;
  a.settings.delimiter_listing = false;
  a.ca_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  a.credentials = std::move(creds);
  a.limit_upload_bytes_per_second = 10 << 20;
  return a;
}

}  // namespace

TEST_CASE("start's s3 member: logged without secrets, sent with them, read back in the pod") {
  auto sessions = std::make_shared<Sessions>();
  const storage::S3Access access = access_with(sessions);
  json::Document d;
  d.SetObject();
  json::set(d, "s3", protocol::s3_settings_json(access, d.GetAllocator()), d.GetAllocator());
  const std::string logged = json::to_string(d);
  CHECK(logged.find("\"bucket\":\"corp\"") != std::string::npos);
  CHECK(logged.find("secret-1") == std::string::npos);
  CHECK(logged.find("token-1") == std::string::npos);
  CHECK(logged.find("credentials") == std::string::npos);
  CHECK(logged.find("BEGIN CERTIFICATE") == std::string::npos);

  REQUIRE(protocol::add_s3_secrets(*json::find(d, "s3"), access, d.GetAllocator()));
  auto sent = json::parse(json::to_string(d));
  REQUIRE(sent);
  const json::Value& s3 = *json::find(*sent, "s3");
  auto back = protocol::s3_access_of(s3);
  REQUIRE(back);
  CHECK(back->settings.bucket == "corp");
  CHECK(back->settings.prefix == "prod/");
  CHECK(back->settings.endpoint == "https://s3.eu-west-1.amazonaws.com");
  CHECK(back->settings.region == "eu-west-1");
  CHECK(back->settings.addressing == storage::Addressing::virtual_host);
  CHECK(back->settings.part_size == (32ull << 20));
  CHECK(back->settings.upload_concurrency == 6);
  CHECK_FALSE(back->settings.delimiter_listing);
  CHECK(back->ca_pem == access.ca_pem);
  CHECK(back->limit_upload_bytes_per_second == (10u << 20));
  CHECK_FALSE(back->credentials);  // the pod makes its own provider from them
  auto creds = protocol::credentials_of(s3);
  REQUIRE(creds);
  CHECK(creds->access_key_id == "ASIA1");
  CHECK(creds->secret_access_key == "secret-1");
  CHECK(creds->session_token == "token-1");

  json::Document bad;
  bad.SetObject();
  CHECK_FALSE(protocol::s3_access_of(bad));
}

TEST_CASE("the credentials request: the pod names the rejected key, kbk answers with a fresh session") {
  auto sessions = std::make_shared<Sessions>();
  protocol::RemoteBackend* self = nullptr;
  int asked = 0;
  // kbk's side, answering at once on the same thread (serve_credentials, as KbkMover does).
  protocol::RemoteBackend pod([&](const std::string& bytes) -> Result<void> {
    protocol::Decoder dec;
    return dec.feed(bytes, [&](protocol::Frame&& f) -> Result<void> {
      REQUIRE(protocol::is_credentials_request(f));
      ++asked;
      self->deliver(protocol::serve_credentials(f, *sessions));
      return {};
    });
  });
  self = &pod;
  auto fresh = pod.fresh_credentials("ASIA1");
  REQUIRE(fresh);
  CHECK(fresh->access_key_id == "ASIA2");
  CHECK(fresh->secret_access_key == "secret-2");
  CHECK(fresh->session_token == "token-2");
  // A key kbk replaced already: the current session, no second refresh.
  fresh = pod.fresh_credentials("ASIA1");
  REQUIRE(fresh);
  CHECK(fresh->access_key_id == "ASIA2");
  CHECK(asked == 2);

  // Static keys cannot be refreshed: the same key comes back (the pod then fails the volume with one line).
  auto fixed = storage::aws::make_static_provider({"AKIDSTATIC", "static-secret", ""}, "environment");
  protocol::Frame req;
  req.type = protocol::Type::request;
  req.id = 7;
  req.header = R"({"op":"credentials","rejected":"AKIDSTATIC"})";
  const protocol::Frame reply = protocol::serve_credentials(req, *fixed);
  CHECK(reply.id == 7);
  auto h = json::parse(reply.header);
  REQUIRE(h);
  auto c = protocol::credentials_of(*h);
  REQUIRE(c);
  CHECK(c->access_key_id == "AKIDSTATIC");

  protocol::Frame other;
  other.type = protocol::Type::request;
  other.header = R"({"op":"get","key":"plugins/kbk/repository/config"})";
  CHECK_FALSE(protocol::is_credentials_request(other));
}

TEST_CASE("a mover's own STS session is limited to the repository's packs of the location") {
  storage::S3Settings s;
  s.bucket = "corp";
  s.prefix = "prod/";
  s.region = "eu-west-1";
  auto policy = json::parse(protocol::mover_session_policy(s, true));
  REQUIRE(policy);
  const std::string text = json::to_string(*policy);
  CHECK(text.find("\"arn:aws:s3:::corp/prod/plugins/kbk/repository/data/*\"") != std::string::npos);
  CHECK(text.find("s3:PutObject") != std::string::npos);
  CHECK(text.find("backups/") == std::string::npos);
  CHECK(text.find("s3:DeleteObject") == std::string::npos);
  const std::string read_only = protocol::mover_session_policy(s, false);
  CHECK(read_only.find("s3:PutObject") == std::string::npos);
  CHECK(read_only.find("s3:GetObject") != std::string::npos);
  s.region = "cn-north-1";
  CHECK(protocol::mover_session_policy(s, false).find("arn:aws-cn:s3:::corp") != std::string::npos);
}

TEST_CASE("scoped credentials: sessions of a role when it can make them, else the source's own") {
  class Role final : public storage::aws::CredentialsProvider {
  public:
    Result<storage::sigv4::Credentials> get() override { return storage::sigv4::Credentials{"ASIACLI", "cli", "t"}; }
    std::string source() const override { return "profile p (role_arn via STS AssumeRole)"; }
    Result<std::optional<storage::aws::TimedCredentials>> scoped_session(const std::string& p, int seconds) override {
      policy = p;
      duration = seconds;
      ++made;
      storage::aws::TimedCredentials t;
      t.credentials = {"ASIAMOVER" + std::to_string(made), "mover", "t"};
      return std::optional<storage::aws::TimedCredentials>(t);
    }
    std::string policy;
    int duration = 0, made = 0;
  };
  auto role = std::make_shared<Role>();
  auto scoped = storage::aws::make_scoped_provider(role, "{\"Version\":\"2012-10-17\"}", 3600);
  auto c = scoped->get();
  REQUIRE(c);
  CHECK(c->access_key_id == "ASIAMOVER1");
  CHECK(scoped->get()->access_key_id == "ASIAMOVER1");  // kept
  CHECK(role->policy == "{\"Version\":\"2012-10-17\"}");
  CHECK(role->duration == 3600);
  CHECK(scoped->invalidate("ASIAMOVER1"));
  CHECK(scoped->get()->access_key_id == "ASIAMOVER2");
  CHECK(scoped->source().find("limited to the repository's packs") != std::string::npos);

  auto fixed = storage::aws::make_static_provider({"AKIDSTATIC", "static-secret", ""}, "environment");
  auto plain = storage::aws::make_scoped_provider(fixed, "{}", 3600);
  CHECK(plain->get()->access_key_id == "AKIDSTATIC");
  CHECK_FALSE(plain->invalidate("AKIDSTATIC"));
  CHECK(plain->source() == "environment");
}

TEST_CASE("mount_point_listed: the mover finds its volume's mount point in /proc/self/mountinfo") {
  // As in a helper pod: the claim at /data, the scratch volume at /kbk, a path with a space escaped by the kernel.
  const std::string table =
      "1466 1385 0:312 / / rw,relatime master:493 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w\n"
      "1467 1466 0:315 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
      "1475 1466 259:1 /var/lib/kubelet/pods/x/volumes/kubernetes.io~csi/pvc-1/mount /data rw,relatime - ext4 "
      "/dev/nvme1n1 rw\n"
      "1476 1466 259:1 /var/lib/kubelet/pods/x/volumes/kubernetes.io~empty-dir/kbk /kbk rw,relatime - ext4 /dev/root rw\n"
      "1477 1466 259:1 /vol /mnt/my\\040data rw - ext4 /dev/root rw\n";
  CHECK(protocol::mount_point_listed(table, "/data"));
  CHECK(protocol::mount_point_listed(table, "/data/"));
  CHECK(protocol::mount_point_listed(table, "/kbk"));
  CHECK(protocol::mount_point_listed(table, "/mnt/my data"));
  // A folder of the container's own tree, a prefix of a mount point, a mount's source path: not mounted.
  CHECK_FALSE(protocol::mount_point_listed(table, "/dat"));
  CHECK_FALSE(protocol::mount_point_listed(table, "/data/sub"));
  CHECK_FALSE(protocol::mount_point_listed(table, "/vol"));
  CHECK_FALSE(protocol::mount_point_listed(table, "/mnt/my\\040data"));
  CHECK_FALSE(protocol::mount_point_listed("", "/data"));
  CHECK_FALSE(protocol::mount_point_listed("garbage\n\n1 2 3\n", "/data"));
}

TEST_CASE("frames: read whole from a stream in pieces, bodies as sent; a cut or lying frame is an error") {
  protocol::Frame f;
  f.type = protocol::Type::reply;
  f.id = 77;
  f.header = "{\"ok\":true}";
  f.body = std::string(300000, 'x') + "end";
  // The head and the body sent apart (a large reply) are the same bytes as the whole frame.
  const std::string wire = protocol::encode(f);
  CHECK(protocol::encode_head(f) + f.body == wire);
  const std::string two = wire + protocol::encode(protocol::Frame{protocol::Type::progress, 0, "{}", ""});
  size_t pos = 0;
  auto dribble = [&](char* buf, size_t n) -> Result<size_t> {  // at most 7 bytes per read
    const size_t k = std::min({n, size_t{7}, two.size() - pos});
    std::memcpy(buf, two.data() + pos, k);
    pos += k;
    return k;
  };
  auto a = protocol::read_frame(dribble);
  REQUIRE(a.ok());
  REQUIRE(a->has_value());
  CHECK((*a)->type == protocol::Type::reply);
  CHECK((*a)->id == 77);
  CHECK((*a)->header == f.header);
  CHECK(((*a)->body == f.body));
  auto b = protocol::read_frame(dribble);
  REQUIRE(b.ok());
  REQUIRE(b->has_value());
  CHECK((*b)->type == protocol::Type::progress);
  CHECK((*b)->body.empty());
  auto end = protocol::read_frame(dribble);
  REQUIRE(end.ok());
  CHECK_FALSE(end->has_value());

  auto from = [](std::string bytes) {
    return [bytes, pos = size_t{0}](char* buf, size_t n) mutable -> Result<size_t> {
      const size_t k = std::min(n, bytes.size() - pos);
      std::memcpy(buf, bytes.data() + pos, k);
      pos += k;
      return k;
    };
  };
  auto cut = protocol::read_frame(from(wire.substr(0, wire.size() - 1)));
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.error().is(Errc::corrupt));
  std::string lying = wire;
  lying[12] = '\x7f';  // a header length past the frame's end (its high byte)
  auto bad = protocol::read_frame(from(lying));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().is(Errc::corrupt));
}

TEST_CASE("getRange through kbk: the pod gets exactly the range an index names, or an error naming the pack") {
  const auto dir = std::filesystem::temp_directory_path() / ("kbk-mover-range-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto location = storage::open("file://" + dir.string(), {});
  REQUIRE(location.ok());
  const std::string key = "plugins/kbk/repository/data/ab/abcdef";
  std::string pack(70000, '\0');
  for (size_t i = 0; i < pack.size(); ++i) pack[i] = static_cast<char>(i * 7);
  REQUIRE((*location)->put(key, pack, {}).ok());
  protocol::ServeCounts counts;
  protocol::RemoteBackend* pod = nullptr;
  // kbk's side answers each request as it is sent (the reply is delivered before the caller waits for it).
  protocol::RemoteBackend remote([&](const std::string& bytes) -> Result<void> {
    protocol::Decoder d;
    return d.feed(bytes, [&](protocol::Frame&& request) -> Result<void> {
      pod->deliver(protocol::serve_request(**location, request, counts, nullptr));
      return {};
    });
  });
  pod = &remote;
  auto got = remote.get_range(key, 1000, 60000);
  REQUIRE(got.ok());
  CHECK((*got == pack.substr(1000, 60000)));
  CHECK(counts.bytes_out == 60000);
  auto past = remote.get_range(key, 69000, 2000);
  REQUIRE_FALSE(past.ok());
  CHECK(past.error().is(Errc::corrupt));
  auto missing = remote.get_range("plugins/kbk/repository/data/ab/none", 0, 10);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().is(Errc::not_found));
  std::filesystem::remove_all(dir);
}

TEST_CASE("serve_request: a mover reaches only the repository, writes only its data, index and snapshots") {
  const auto dir = std::filesystem::temp_directory_path() / ("kbk-mover-serve-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto location = storage::open("file://" + dir.string(), {});
  REQUIRE(location.ok());
  REQUIRE((*location)->put("backups/b1/b1.tar.gz", "the resource backup", {}).ok());
  protocol::ServeCounts counts;
  std::vector<std::string> written;
  auto ask = [&](const std::string& header, std::string body = "") {
    protocol::Frame request;
    request.type = protocol::Type::request;
    request.id = 7;
    request.header = header;
    request.body = std::move(body);
    protocol::Frame reply = protocol::serve_request(
        **location, request, counts, [&](const std::string& k, std::string_view) { written.push_back(k); });
    CHECK(reply.id == 7);
    auto h = json::parse(reply.header);
    REQUIRE(h.ok());
    return json::find(*h, "ok")->GetBool() ? std::string() : json::get_string(*h, {"message"});
  };
  const std::string repo = "plugins/kbk/repository/";
  CHECK(ask(R"({"op":"put","key":")" + repo + R"(data/ab/abcd"})", "pack").empty());
  CHECK(ask(R"({"op":"put","key":")" + repo + R"(index/ef01"})", "index").empty());
  CHECK(ask(R"({"op":"get","key":")" + repo + R"(data/ab/abcd"})").empty());
  for (const std::string& h : std::vector<std::string>{R"({"op":"get","key":"backups/b1/b1.tar.gz"})",
                                                       R"({"op":"list","key":""})",
                                                       R"({"op":"get","key":")" + repo + R"(../../b1.tar.gz"})",
                                                       R"({"op":"put","key":")" + repo + R"(data/../../../escape"})"})
    CHECK(ask(h, "x").find("may only reach the repository") != std::string::npos);
  for (const std::string& h : std::vector<std::string>{R"({"op":"put","key":")" + repo + R"(config"})",
                                                       R"({"op":"put","key":")" + repo + R"(keys/k1"})",
                                                       R"({"op":"put","key":")" + repo + R"(locks/l1"})"})
    CHECK(ask(h, "x").find("may not write") != std::string::npos);
  CHECK(ask(R"({"op":"remove","key":")" + repo + R"(data/ab/abcd"})").find("unknown request") != std::string::npos);
  CHECK(ask("not json").find("without a JSON header") != std::string::npos);
  CHECK(written == std::vector<std::string>{repo + "data/ab/abcd", repo + "index/ef01"});
  CHECK((*location)->get(repo + "data/ab/abcd").value() == "pack");
  CHECK((*location)->get("backups/b1/b1.tar.gz").value() == "the resource backup");
  CHECK_FALSE(std::filesystem::exists(dir / "escape"));
  CHECK_FALSE(std::filesystem::exists(dir / (repo + "config")));
  std::filesystem::remove_all(dir);
}

TEST_CASE("serve_request: a mover's put never replaces an existing pack, index file or snapshot") {
  // A helper pod runs whatever image its volume's pod runs; one that put over an index file or a snapshot could
  // change what earlier backups restore. kbk's own mover asks ifExists "fail" for every put; the CLI applies it to
  // all of them and names the pod when one without it is refused.
  const auto dir = std::filesystem::temp_directory_path() / ("kbk-mover-overwrite-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto location = storage::open("file://" + dir.string(), {});
  REQUIRE(location.ok());
  protocol::ServeCounts counts;
  std::vector<std::string> refused;
  auto put = [&](const std::string& key, const std::string& body, bool if_exists_fail) {
    protocol::Frame request;
    request.type = protocol::Type::request;
    request.id = 9;
    request.header = R"({"op":"put","key":")" + key + "\"" + (if_exists_fail ? R"(,"ifExists":"fail"})" : "}");
    request.body = body;
    protocol::Frame reply = protocol::serve_request(**location, request, counts, nullptr,
                                                    [&](const Error& e) { refused.push_back(e.message); });
    auto h = json::parse(reply.header);
    REQUIRE(h.ok());
    return json::find(*h, "ok")->GetBool() ? std::string() : json::get_string(*h, {"message"});
  };
  const std::string repo = "plugins/kbk/repository/";
  for (const std::string& key : {repo + "data/ab/abcd", repo + "index/ef01", repo + "snapshots/2345"}) {
    INFO(key);
    refused.clear();
    CHECK(put(key, "first", false).empty());
    // Another content under the same name, without ifExists: refused, with the line the CLI logs.
    const std::string said = put(key, "second", false);
    CHECK(said == "refused to overwrite " + key + ", which exists (a mover never replaces a repository file)");
    CHECK(refused == std::vector<std::string>{said});
    // With ifExists "fail" (kbk's mover): the storage's answer, nothing to report.
    CHECK_FALSE(put(key, "third", true).empty());
    CHECK(refused.size() == 1);
    CHECK((*location)->get(key).value() == "first");
  }
  std::filesystem::remove_all(dir);
}
