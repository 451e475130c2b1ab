// AWS Signature Version 4 (header and query signing). See sigv4.hpp for the contract; the steps follow AWS's
// "Create a signed AWS API request": canonical request -> string to sign -> HMAC chain -> signature.
#include <kbk/storage/sigv4.hpp>

#include <algorithm>
#include <cctype>
#include <ctime>

#include <kbk/crypto/hash.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::storage::sigv4 {
namespace {

constexpr std::string_view k_algorithm = "AWS4-HMAC-SHA256";

bool is_unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// Percent-decoding that leaves '+' alone (SigV4 treats '+' as a literal that must become %2B).
std::string decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && is_hex(s[i + 1]) && is_hex(s[i + 2])) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool is_skipped_header(std::string_view lower_name) {
  return lower_name == "authorization" || lower_name == "user-agent" || lower_name == "expect" ||
         lower_name == "transfer-encoding" || lower_name == "x-amzn-trace-id";
}

// Trims and collapses runs of spaces and tabs into one space, as SigV4's canonical header values require.
std::string canonical_value(std::string_view v) {
  std::string out;
  bool in_space = false;
  for (char c : util::trim(v)) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      in_space = true;
      continue;
    }
    if (in_space && !out.empty()) out += ' ';
    in_space = false;
    out += c;
  }
  return out;
}

bool has_header(const Headers& headers, std::string_view lower_name) {
  for (const auto& [k, v] : headers)
    if (util::to_lower(k) == lower_name) return true;
  return false;
}

struct CanonicalHeaders {
  std::string text;    // "name:value\n" lines
  std::string signed_names;
};

CanonicalHeaders canonical_headers(const Headers& headers) {
  std::vector<std::pair<std::string, std::string>> lower;  // stable order of appearance per name
  for (const auto& [k, v] : headers) {
    std::string name = util::to_lower(util::trim(k));
    if (is_skipped_header(name)) continue;
    lower.emplace_back(std::move(name), canonical_value(v));
  }
  std::stable_sort(lower.begin(), lower.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaders out;
  for (size_t i = 0; i < lower.size();) {
    size_t j = i;
    std::string value;
    while (j < lower.size() && lower[j].first == lower[i].first) {
      if (j > i) value += ',';
      value += lower[j].second;
      ++j;
    }
    out.text += lower[i].first + ":" + value + "\n";
    if (!out.signed_names.empty()) out.signed_names += ';';
    out.signed_names += lower[i].first;
    i = j;
  }
  return out;
}

std::string remove_dot_segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view seg = path.substr(i, j - i);
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!seg.empty() && seg != ".") {
      out.push_back(seg);
    }
    i = j + 1;
  }
  std::string result;
  for (auto seg : out) {
    result += '/';
    result += seg;
  }
  bool trailing = !path.empty() && (path.back() == '/' || util::ends_with(path, "/.") || util::ends_with(path, "/.."));
  if (result.empty() || trailing) result += '/';
  return result;
}

std::string date_part(const std::string& amz) { return amz.substr(0, 8); }

std::string scope(const std::string& amz, const Params& p) {
  return date_part(amz) + "/" + p.region + "/" + p.service + "/aws4_request";
}

std::string make_string_to_sign(const std::string& amz, const Params& p, const std::string& creq) {
  return std::string(k_algorithm) + "\n" + amz + "\n" + scope(amz, p) + "\n" + crypto::sha256_hex(creq);
}

std::string hmac_hex(const std::string& key, const std::string& data) {
  std::string mac = crypto::hmac_sha256(key, data);
  return util::hex_encode(mac.data(), mac.size());
}

}  // namespace

std::string uri_encode(std::string_view s, Slash slash) {
  static const char* k_hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  for (unsigned char c : s) {
    if (is_unreserved(c) || (c == '/' && slash == Slash::keep)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += k_hex[c >> 4];
      out += k_hex[c & 15];
    }
  }
  return out;
}

std::string canonical_uri(std::string_view path, PathNormalization normalization, PathEncoding encoding) {
  std::string p = path.empty() ? std::string("/") : std::string(path);
  if (normalization == PathNormalization::rfc3986) p = remove_dot_segments(p);
  if (encoding == PathEncoding::twice) return uri_encode(p, Slash::keep);
  // Once: the path is already the wire form; encode only what is not (raw bytes), keeping valid %XX escapes.
  std::string out;
  static const char* k_hex = "0123456789ABCDEF";
  for (size_t i = 0; i < p.size(); ++i) {
    auto c = static_cast<unsigned char>(p[i]);
    if (c == '%' && i + 2 < p.size() && is_hex(p[i + 1]) && is_hex(p[i + 2])) {
      out += p.substr(i, 3);
      i += 2;
    } else if (is_unreserved(c) || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += k_hex[c >> 4];
      out += k_hex[c & 15];
    }
  }
  return out;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  for (const auto& part : util::split(query, '&')) {
    auto eq = part.find('=');
    std::string key = eq == std::string::npos ? part : part.substr(0, eq);
    std::string value = eq == std::string::npos ? std::string() : part.substr(eq + 1);
    params.emplace_back(uri_encode(decode(key), Slash::encode), uri_encode(decode(value), Slash::encode));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += k + "=" + v;
  }
  return out;
}

std::string amz_date(std::chrono::system_clock::time_point time) {
  std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string signing_key(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service) {
  std::string k = crypto::hmac_sha256("AWS4" + std::string(secret), date);
  k = crypto::hmac_sha256(k, region);
  k = crypto::hmac_sha256(k, service);
  return crypto::hmac_sha256(k, "aws4_request");
}

Signed sign(const Request& request, const Params& params) {
  Signed out;
  const std::string amz = amz_date(params.time);
  Headers headers = request.headers;
  if (!has_header(headers, "x-amz-date")) out.add_headers.emplace_back("X-Amz-Date", amz);
  if (params.body_hash_header == BodyHashHeader::add && !has_header(headers, "x-amz-content-sha256"))
    out.add_headers.emplace_back("x-amz-content-sha256", request.payload_hash);
  const auto& token = params.credentials.session_token;
  bool token_signed = !token.empty() && params.token_signing == TokenSigning::sign &&
                      !has_header(headers, "x-amz-security-token");
  if (token_signed) out.add_headers.emplace_back("X-Amz-Security-Token", token);
  headers.insert(headers.end(), out.add_headers.begin(), out.add_headers.end());

  auto ch = canonical_headers(headers);
  out.signed_headers = ch.signed_names;
  out.canonical_request = request.method + "\n" +
                          canonical_uri(request.path, params.normalization, params.encoding) + "\n" +
                          canonical_query(request.query) + "\n" + ch.text + "\n" + ch.signed_names + "\n" +
                          request.payload_hash;
  out.string_to_sign = make_string_to_sign(amz, params, out.canonical_request);
  out.signature = hmac_hex(signing_key(params.credentials.secret_access_key, date_part(amz), params.region,
                                       params.service),
                           out.string_to_sign);
  if (!token.empty() && params.token_signing == TokenSigning::add_after)
    out.add_headers.emplace_back("X-Amz-Security-Token", token);
  out.add_headers.emplace_back("Authorization", std::string(k_algorithm) + " Credential=" +
                                                    params.credentials.access_key_id + "/" + scope(amz, params) +
                                                    ", SignedHeaders=" + ch.signed_names +
                                                    ", Signature=" + out.signature);
  return out;
}

Presigned presign(const Request& request, const Params& params, std::chrono::seconds expires) {
  Presigned out;
  const std::string amz = amz_date(params.time);
  auto ch = canonical_headers(request.headers);
  const auto& token = params.credentials.session_token;
  std::string added = "X-Amz-Algorithm=" + std::string(k_algorithm) +
                      "&X-Amz-Credential=" +
                      uri_encode(params.credentials.access_key_id + "/" + scope(amz, params), Slash::encode) +
                      "&X-Amz-Date=" + amz + "&X-Amz-Expires=" + std::to_string(expires.count()) +
                      "&X-Amz-SignedHeaders=" + uri_encode(ch.signed_names, Slash::encode);
  if (!token.empty() && params.token_signing == TokenSigning::sign)
    added += "&X-Amz-Security-Token=" + uri_encode(token, Slash::encode);
  std::string query = request.query.empty() ? added : request.query + "&" + added;
  out.canonical_request = request.method + "\n" +
                          canonical_uri(request.path, params.normalization, params.encoding) + "\n" +
                          canonical_query(query) + "\n" + ch.text + "\n" + ch.signed_names + "\n" +
                          request.payload_hash;
  out.string_to_sign = make_string_to_sign(amz, params, out.canonical_request);
  out.signature = hmac_hex(signing_key(params.credentials.secret_access_key, date_part(amz), params.region,
                                       params.service),
                           out.string_to_sign);
  if (!token.empty() && params.token_signing == TokenSigning::add_after)
    query += "&X-Amz-Security-Token=" + uri_encode(token, Slash::encode);
  out.query = query + "&X-Amz-Signature=" + out.signature;
  return out;
}

}  // namespace kbk::storage::sigv4
