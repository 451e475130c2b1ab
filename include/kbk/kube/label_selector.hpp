// Kubernetes label selectors (the -l syntax: a=b, a==b, a!=b, a in (x,y), a notin (x), a, !a, a>1, a<1),
// matched client-side where the server cannot: backup (namespace selection, related objects, --explain) and
// restore (selection over backed-up objects) share this one implementation.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/util/error.hpp>

namespace kbk::kube {

struct LabelRequirement {
  enum class Op { equals, not_equals, in, not_in, exists, does_not_exist, greater, less };
  std::string key;
  Op op = Op::exists;
  std::vector<std::string> values;
};

class LabelSelector {
public:
  // Errc::config naming the selector for malformed text. "" selects everything.
  static Result<LabelSelector> parse(std::string_view text);
  bool empty() const { return m_requirements.empty(); }
  const std::string& text() const { return m_text; }
  const std::vector<LabelRequirement>& requirements() const { return m_requirements; }
  // labels: the metadata.labels object (may be nullptr).
  bool matches(const json::Value* labels) const;
  // metav1.LabelSelector {matchLabels, matchExpressions}; gt/lt (not expressible) are left out.
  json::Document to_label_selector() const;

private:
  std::string m_text;
  std::vector<LabelRequirement> m_requirements;
};

}  // namespace kbk::kube
