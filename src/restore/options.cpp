// Parsers for the restore flags.
#include <kbk/restore/options.hpp>

#include <set>

#include <openssl/evp.h>

#include <kbk/util/strings.hpp>

namespace kbk::restore {
namespace {

bool is_dns_label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return s.front() != '-' && s.back() != '-';
}

}  // namespace

Result<NamespaceMap> parse_namespace_mappings(std::string_view text) {
  NamespaceMap out;
  std::set<std::string> targets;
  for (const std::string& raw : util::split(text, ',')) {
    std::string entry(util::trim(raw));
    if (entry.empty()) continue;
    auto colon = entry.find(':');
    if (colon == std::string::npos || entry.find(':', colon + 1) != std::string::npos)
      return unexpected(Errc::config, "--namespace-mappings: \"" + entry + "\" is not old:new");
    std::string from = entry.substr(0, colon), to = entry.substr(colon + 1);
    for (const std::string* ns : {&from, &to})
      if (!is_dns_label(*ns))
        return unexpected(Errc::config, "--namespace-mappings: \"" + entry + "\": \"" + *ns +
                                            "\" is not a valid namespace name");
    if (out.count(from)) return unexpected(Errc::config, "--namespace-mappings: namespace \"" + from + "\" mapped twice");
    if (!targets.insert(to).second)
      return unexpected(Errc::config, "--namespace-mappings: two namespaces mapped to \"" + to + "\"");
    out[from] = to;
  }
  return out;
}

Result<ExistingPolicy> parse_existing_policy(std::string_view text) {
  if (text.empty() || text == "none") return ExistingPolicy::none;
  if (text == "update") return ExistingPolicy::update;
  if (text == "recreate") return ExistingPolicy::recreate;
  return unexpected(Errc::config, "--existing-resource-policy: \"" + std::string(text) +
                                      "\" is not one of none, update, recreate");
}

const char* existing_policy_name(ExistingPolicy p) {
  switch (p) {
    case ExistingPolicy::none: return "none";
    case ExistingPolicy::update: return "update";
    case ExistingPolicy::recreate: return "recreate";
  }
  return "none";
}

std::string label_value(std::string_view value) {
  if (value.size() <= 63) return std::string(value);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(value.data(), value.size(), digest, &len, EVP_sha256(), nullptr);
  return std::string(value.substr(0, 57)) + util::hex_encode(digest, len).substr(0, 6);
}

}  // namespace kbk::restore
