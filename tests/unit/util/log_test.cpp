#include <catch2/catch.hpp>

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
