// Velero's request validation (prepareBackupRequest, includes_excludes.go), plus kbk's name patterns.
#include <kbk/backup/options.hpp>

#include <algorithm>

#include <kbk/kube/label_selector.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::backup {

using kube::LabelSelector;
namespace {

Result<void> check_lists(const std::vector<std::string>& inc, const std::vector<std::string>& exc,
                         const std::string& inc_flag, const std::string& exc_flag, bool star_in_excludes_ok) {
  for (const auto& e : exc) {
    if (e == "*" && !(star_in_excludes_ok && inc.empty()))
      return unexpected(Errc::config, exc_flag + ": \"*\" is not allowed" +
                                          (star_in_excludes_ok ? std::string(" together with ") + inc_flag : std::string()));
    if (std::find(inc.begin(), inc.end(), e) != inc.end())
      return unexpected(Errc::config, "\"" + e + "\" is in both " + inc_flag + " and " + exc_flag);
  }
  for (const auto& i : inc) {
    if (i.empty()) return unexpected(Errc::config, inc_flag + ": empty entry");
    if (i == "*" && inc.size() > 1) return unexpected(Errc::config, inc_flag + ": \"*\" must be the only entry");
  }
  return {};
}

Result<void> check_globs(const std::vector<std::string>& v, const std::string& flag) {
  // gobwas/glob syntax Velero refuses: "**", "|", "(", ")", "!", "{", "}", ",".
  for (const auto& p : v) {
    if (p.find("**") != std::string::npos || p.find_first_of("|()!{},") != std::string::npos)
      return unexpected(Errc::config, flag + " \"" + p + "\": unsupported glob syntax (only *, ? and [...] are allowed)");
  }
  return {};
}

Result<void> check_name_patterns(const std::vector<std::string>& v, const std::string& flag) {
  for (const auto& p : v) {
    auto parts = util::split(p, '/', false);
    if (parts.size() < 2 || parts.size() > 3 || std::any_of(parts.begin(), parts.end(), [](auto& s) { return s.empty(); }))
      return unexpected(Errc::config, flag + " \"" + p +
                                          "\": expected resource/namespace/name or resource/name (globs allowed)");
  }
  return {};
}

}  // namespace

bool uses_old_filters(const Options& o) {
  return !o.include_resources.empty() || !o.exclude_resources.empty() ||
         o.include_cluster_resources != ClusterResources::automatic;
}

bool uses_scoped_filters(const Options& o) {
  return !o.include_cluster_scoped.empty() || !o.exclude_cluster_scoped.empty() ||
         !o.include_namespace_scoped.empty() || !o.exclude_namespace_scoped.empty();
}

Result<void> validate(const Options& o) {
  if (uses_old_filters(o) && uses_scoped_filters(o))
    return unexpected(Errc::config,
                      "--include-resources, --exclude-resources and --include-cluster-resources cannot be combined with "
                      "--include-cluster-scoped-resources, --exclude-cluster-scoped-resources, "
                      "--include-namespace-scoped-resources or --exclude-namespace-scoped-resources");
  if (!o.label_selector.empty() && !o.or_label_selectors.empty())
    return unexpected(Errc::config, "--selector and --or-selector cannot be used together");
  KBK_TRY(check_lists(o.include_namespaces, o.exclude_namespaces, "--include-namespaces", "--exclude-namespaces", false));
  KBK_TRY(check_globs(o.include_namespaces, "--include-namespaces"));
  KBK_TRY(check_globs(o.exclude_namespaces, "--exclude-namespaces"));
  KBK_TRY(check_lists(o.include_resources, o.exclude_resources, "--include-resources", "--exclude-resources", false));
  KBK_TRY(check_lists(o.include_cluster_scoped, o.exclude_cluster_scoped, "--include-cluster-scoped-resources",
                      "--exclude-cluster-scoped-resources", true));
  KBK_TRY(check_lists(o.include_namespace_scoped, o.exclude_namespace_scoped, "--include-namespace-scoped-resources",
                      "--exclude-namespace-scoped-resources", true));
  KBK_TRY(check_name_patterns(o.include_names, "--include-names"));
  KBK_TRY(check_name_patterns(o.exclude_names, "--exclude-names"));
  KBK_TRY(LabelSelector::parse(o.label_selector));
  for (const auto& s : o.or_label_selectors) KBK_TRY(LabelSelector::parse(s));
  if (o.parallel < 1) return unexpected(Errc::config, "--parallel must be at least 1");
  if (o.page_size < 0) return unexpected(Errc::config, "page size must not be negative");
  if (o.ttl.count() < 0) return unexpected(Errc::config, "--ttl must not be negative");
  return {};
}

Result<void> validate_cluster_name(const std::string& name) {
  if (name.size() > 253)
    return unexpected(Errc::config, "--cluster-name: " + std::to_string(name.size()) + " bytes, at most 253");
  for (unsigned char c : name)
    if (c <= 0x20 || c == 0x7f)
      return unexpected(Errc::config, "--cluster-name \"" + name + "\": spaces and control characters are not allowed");
  return {};
}

std::vector<std::string> split_or_selector(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t pos = text.find(" or ", start);
    std::string part(util::trim(std::string_view(text).substr(start, pos == std::string::npos ? std::string::npos : pos - start)));
    if (!part.empty()) out.push_back(part);
    if (pos == std::string::npos) break;
    start = pos + 4;
  }
  return out;
}



Result<std::map<std::string, std::string>> parse_labels(const std::string& text) {
  std::map<std::string, std::string> out;
  for (const auto& part : util::split(text, ',')) {
    const std::string pair(util::trim(part));
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0)
      return unexpected(Errc::config, "--labels " + pair + ": expected KEY=VALUE (a=b,c=d)");
    // A label is a selector's equality requirement: the selector's parser checks key and value syntax.
    if (auto sel = kube::LabelSelector::parse(pair); !sel)
      return unexpected(Errc::config, "--labels " + pair + ": " + sel.error().message);
    out[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return out;
}

}  // namespace kbk::backup
