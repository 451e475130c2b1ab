// Longest-common-subsequence line diff. The common prefix and suffix are trimmed first, so the quadratic table only
// covers the changed middle; a middle too large for it is shown as one replacement.
#include <kbk/patch/diff.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace kbk::patch {

namespace {

std::vector<std::string_view> lines_of(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string_view::npos) {
      out.push_back(s.substr(start));
      break;
    }
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

struct Edit {
  char op;  // ' ', '-', '+'
  std::string_view line;
};

std::vector<Edit> edits(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
  size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre && a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) ++suf;
  std::vector<Edit> out;
  for (size_t i = 0; i < pre; ++i) out.push_back({' ', a[i]});
  size_t n = a.size() - pre - suf, m = b.size() - pre - suf;
  if (n * m > 25'000'000) {
    for (size_t i = 0; i < n; ++i) out.push_back({'-', a[pre + i]});
    for (size_t j = 0; j < m; ++j) out.push_back({'+', b[pre + j]});
  } else {
    std::vector<uint32_t> t((n + 1) * (m + 1), 0);
    auto at = [&](size_t i, size_t j) -> uint32_t& { return t[i * (m + 1) + j]; };
    for (size_t i = n; i-- > 0;)
      for (size_t j = m; j-- > 0;)
        at(i, j) = a[pre + i] == b[pre + j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
    size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[pre + i] == b[pre + j]) {
        out.push_back({' ', a[pre + i]});
        ++i;
        ++j;
      } else if (i < n && (j == m || at(i + 1, j) >= at(i, j + 1))) {
        out.push_back({'-', a[pre + i++]});
      } else {
        out.push_back({'+', b[pre + j++]});
      }
    }
  }
  for (size_t i = a.size() - suf; i < a.size(); ++i) out.push_back({' ', a[i]});
  return out;
}

}  // namespace

std::string unified_diff(std::string_view a, std::string_view b, std::string_view a_name, std::string_view b_name,
                         int context) {
  if (a == b) return "";
  auto la = lines_of(a), lb = lines_of(b);
  std::vector<Edit> e = edits(la, lb);
  std::string out = "--- " + std::string(a_name) + "\n+++ " + std::string(b_name) + "\n";
  size_t ctx = static_cast<size_t>(std::max(context, 0));
  size_t k = 0;
  while (k < e.size()) {
    if (e[k].op == ' ') {
      ++k;
      continue;
    }
    // A hunk: from ctx lines before this change to ctx lines after the last change closer than 2*ctx.
    size_t start = k >= ctx ? k - ctx : 0;
    size_t end = k;
    size_t last_change = k;
    while (end < e.size()) {
      if (e[end].op != ' ') last_change = end;
      else if (end - last_change > 2 * ctx) break;
      ++end;
    }
    end = std::min(e.size(), last_change + ctx + 1);
    size_t a_line = 1, b_line = 1;
    for (size_t i = 0; i < start; ++i) {
      if (e[i].op != '+') ++a_line;
      if (e[i].op != '-') ++b_line;
    }
    size_t a_count = 0, b_count = 0;
    for (size_t i = start; i < end; ++i) {
      if (e[i].op != '+') ++a_count;
      if (e[i].op != '-') ++b_count;
    }
    out += "@@ -" + std::to_string(a_count ? a_line : a_line - 1) + "," + std::to_string(a_count) + " +" +
           std::to_string(b_count ? b_line : b_line - 1) + "," + std::to_string(b_count) + " @@\n";
    for (size_t i = start; i < end; ++i) {
      out += e[i].op;
      out += e[i].line;
      out += '\n';
    }
    k = end;
  }
  return out;
}

}  // namespace kbk::patch
