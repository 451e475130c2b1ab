#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <kbk/util/log.hpp>

using kbk::log::redact;

TEST_CASE("redact masks credentials wherever they appear") {
  CHECK(redact("Authorization: Bearer abc.def-123") == "Authorization: [REDACTED]");
  CHECK(redact("sending with bearer s3cr3tTOKEN now").find("s3cr3tTOKEN") == std::string::npos);
  CHECK(redact(R"({"token":"abc","x":1})") == R"({"token":"[REDACTED]","x":1})");
  // IAM Identity Center: the portal's bearer header and the AWS CLI's token cache members.
  CHECK(redact("Request Header: x-amz-sso_bearer_token: aoaAAAAGsso") == "Request Header: x-amz-sso_bearer_token: [REDACTED]");
  CHECK(redact(R"({"accessToken": "aoaAAAAGsso", "refreshToken": "aorAAAAGref"})") ==
        R"({"accessToken": "[REDACTED]", "refreshToken": "[REDACTED]"})");
  CHECK(redact(R"({"password": "hunter2"})").find("hunter2") == std::string::npos);
  auto q = redact("GET /b/k?X-Amz-Credential=AKID/2026&X-Amz-Signature=deadbeef");
  CHECK(q.find("deadbeef") == std::string::npos);
  std::string pem = "key: -----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY----- end";
  CHECK(redact(pem).find("MIIabc") == std::string::npos);
  CHECK(redact("listing pods in default") == "listing pods in default");
}

TEST_CASE("redact: what database clients take on a command line and print (issue 19)") {
  // Each secret is gone, and what names it stays so a reader knows what was there.
  const std::string lines[] = {
      "hook command: mysql -uroot -phunter2 -e 'FLUSH TABLES WITH READ LOCK'",
      "exec: sh -c \"mariadb-dump --user=root -p'hunter2' shop\"",
      "env: PGPASSWORD=hunter2 pg_dump -h db shop",
      "env: MYSQL_PWD=hunter2 REDISCLI_AUTH=hunter2",
      "connecting with password=hunter2; host=db",
      "mongodump --password=\"hunter2\" --out /tmp/x",
      "config: password: hunter2",
      "url: https://ui.example/?token=hunter2&x=1",
  };
  for (const auto& l : lines) {
    INFO(l);
    const std::string r = redact(l);
    CHECK(r.find("hunter2") == std::string::npos);
    CHECK(r.find("[REDACTED]") != std::string::npos);
  }
  CHECK(redact("mysql -uroot -phunter2 -e 'SELECT 1'") == "mysql -uroot -p[REDACTED] -e 'SELECT 1'");
  CHECK(redact("PGPASSWORD=hunter2 psql") == "PGPASSWORD=[REDACTED] psql");
  CHECK(redact("password=hunter2") == "password=[REDACTED]");
  // Not secrets: -p flags of other programs, the words in prose, a password prompt.
  CHECK(redact("find /data -print -prune") == "find /data -print -prune");
  CHECK(redact("reading Secret shop/db: not found") == "reading Secret shop/db: not found");
  CHECK(redact("backing up secrets of namespace shop, token file unchanged") ==
        "backing up secrets of namespace shop, token file unchanged");
  CHECK(redact("mysql -uroot -p -e 'SELECT 1'") == "mysql -uroot -p -e 'SELECT 1'");
}

TEST_CASE("format_line stamps a line with an RFC 3339 time and its level") {
  const std::string l = kbk::log::format_line(kbk::log::Level::warning, "backup x: something");
  // 2026-11-26T07:16:34.123Z WARN  backup x: something
  REQUIRE(l.size() > 30);
  CHECK(l[4] == '-');
  CHECK(l[10] == 'T');
  CHECK(l[23] == 'Z');
  CHECK(l.substr(24) == " WARN  backup x: something\n");
  CHECK(kbk::log::format_line(kbk::log::Level::info, "a\n").substr(24) == " INFO  a\n");
}

TEST_CASE("the log file and sinks get info lines up to -v 2 with timestamps; stderr only what -v asks for") {
  std::vector<std::string> lines;
  kbk::log::set_verbosity(0);
  kbk::log::set_sink([&](std::string_view l) { lines.emplace_back(l); });
  kbk::log::info(1, "an info line");
  kbk::log::info(2, "a detail line");
  kbk::log::info(3, "a debug-ish line");
  kbk::log::record(kbk::log::Level::error, "failed configmaps/a: Forbidden");
  kbk::log::set_sink(nullptr);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].substr(24) == " INFO  an info line\n");
  CHECK(lines[1].substr(24) == " INFO  a detail line\n");
  CHECK(lines[2].substr(24) == " ERROR failed configmaps/a: Forbidden\n");
  CHECK(kbk::log::recorded_verbosity() == 2);
  kbk::log::set_verbosity(5);
  CHECK(kbk::log::recorded_verbosity() == 5);
  kbk::log::set_verbosity(0);
}

TEST_CASE("set_log_file creates the file 0600 and log lines from outside text are escaped") {
  namespace log = kbk::log;
  char tmpl[] = "/tmp/kbk-log-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::string path = std::string(tmpl) + "/kbk.log";
  REQUIRE(log::set_log_file(path));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::string seen;
  log::set_sink([&](std::string_view line) { seen += std::string(line); });
  log::error("entry \x1b[2Jevil\nkbk: error: fake");
  log::set_sink(nullptr);
  REQUIRE(log::set_log_file(""));
  // The sink gets the stamped line: "2026-...Z ERROR " and the escaped message.
  REQUIRE(seen.size() > 24);
  CHECK(seen.substr(24) == " ERROR entry \\x1b[2Jevil\\x0akbk: error: fake\n");
  ::unlink(path.c_str());
  ::rmdir(tmpl);
}

TEST_CASE("redact: a Secret's data in a logged response body, and a private key cut off by truncation") {
  using kbk::log::redact;
  const std::string secret =
      R"({"kind":"Secret","apiVersion":"v1","metadata":{"name":"db"},"data":{"conn":"ZTJlLVNFQ1JFVA==","k":"}{\""},)"
      R"("stringData":{"plain":"hunter2"},"type":"Opaque"})";
  const std::string r = redact("Response Body: " + secret);
  CHECK(r == R"(Response Body: {"kind":"Secret","apiVersion":"v1","metadata":{"name":"db"},"data":{[REDACTED]},)"
             R"("stringData":{[REDACTED]},"type":"Opaque"})");
  // A list as kubesim writes it (spaces after the colons), cut off in the middle of an item's data.
  const std::string list = R"({"kind": "SecretList", "items": [{"data": {"a": "c2VjcmV0"}}, {"data": {"b": "bW9y)";
  CHECK(redact(list) == R"({"kind": "SecretList", "items": [{"data": {[REDACTED]}}, {"data": {[REDACTED]})");
  // Other kinds keep their data (a ConfigMap's is not secret).
  const std::string cm = R"({"kind":"ConfigMap","data":{"a":"b"},"metadata":{"name":"secret-config"}})";
  CHECK(redact(cm) == cm);
  const std::string cut = "Response Body: {\"tls.key\":\"-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEA";
  CHECK(redact(cut) == "Response Body: {\"tls.key\":\"[REDACTED PRIVATE KEY]");
}
