// Line diffs with Myers' algorithm ("An O(ND) Difference Algorithm and Its Variations", 1986), in its linear-space
// form: the middle snake of the forward and backward searches splits the problem in two, until a side is empty.
// Lines are interned to integers first, so each comparison is one integer compare.
#include <kbk/patch/diff.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>

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

// Work ((N+M) x D) above which one region is given up on and shown as a replacement.
constexpr int64_t k_max_cost = 100'000'000;

class Myers {
public:
  Myers(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b)
      : m_a(a), m_b(b), m_del(a.size(), false), m_ins(b.size(), false) {}

  void run() {
    struct Range {
      size_t a0, a1, b0, b1;
    };
    std::vector<Range> todo{{0, m_a.size(), 0, m_b.size()}};
    while (!todo.empty()) {
      Range r = todo.back();
      todo.pop_back();
      // Common prefix and suffix are kept lines.
      while (r.a0 < r.a1 && r.b0 < r.b1 && m_a[r.a0] == m_b[r.b0]) ++r.a0, ++r.b0;
      while (r.a0 < r.a1 && r.b0 < r.b1 && m_a[r.a1 - 1] == m_b[r.b1 - 1]) --r.a1, --r.b1;
      if (r.a0 == r.a1 || r.b0 == r.b1) {
        mark(r.a0, r.a1, r.b0, r.b1);
        continue;
      }
      auto split = middle(r.a0, r.a1, r.b0, r.b1);
      // A split at a corner would not make the problem smaller (it cannot happen after trimming; be safe).
      if (!split || (split->first == r.a0 && split->second == r.b0) || (split->first == r.a1 && split->second == r.b1)) {
        mark(r.a0, r.a1, r.b0, r.b1);
        continue;
      }
      todo.push_back({split->first, r.a1, split->second, r.b1});
      todo.push_back({r.a0, split->first, r.b0, split->second});
    }
  }

  std::vector<LineEdit> edits(const std::vector<std::string_view>& la, const std::vector<std::string_view>& lb) const {
    std::vector<LineEdit> out;
    out.reserve(std::max(la.size(), lb.size()));
    size_t i = 0, j = 0;
    while (i < la.size() || j < lb.size()) {
      if (i < la.size() && m_del[i]) {
        out.push_back({'-', la[i++]});
      } else if (j < lb.size() && m_ins[j]) {
        out.push_back({'+', lb[j++]});
      } else {
        out.push_back({' ', la[i]});
        ++i;
        ++j;
      }
    }
    return out;
  }

private:
  void mark(size_t a0, size_t a1, size_t b0, size_t b1) {
    for (size_t i = a0; i < a1; ++i) m_del[i] = true;
    for (size_t j = b0; j < b1; ++j) m_ins[j] = true;
  }

  // The point where a shortest path through a[a0,a1) x b[b0,b1) crosses the middle snake, in absolute
  // coordinates; nullopt when the search would cost too much. Both ranges are non-empty and differ at both ends.
  std::optional<std::pair<size_t, size_t>> middle(size_t a0, size_t a1, size_t b0, size_t b1) {
    const int64_t n = static_cast<int64_t>(a1 - a0), m = static_cast<int64_t>(b1 - b0);
    const int64_t max_d = (n + m + 1) / 2;
    const int64_t offset = max_d + 1;
    const size_t width = static_cast<size_t>(2 * max_d + 3);
    m_vf.assign(width, -1);
    m_vb.assign(width, -1);
    m_vf[static_cast<size_t>(offset + 1)] = 0;
    m_vb[static_cast<size_t>(offset + 1)] = 0;
    const int64_t delta = n - m;
    const bool odd = (delta & 1) != 0;
    auto A = [&](int64_t x) { return m_a[a0 + static_cast<size_t>(x)]; };
    auto B = [&](int64_t y) { return m_b[b0 + static_cast<size_t>(y)]; };
    // Diagonals outside the grid are trimmed from the search as they run off it.
    int64_t kf_start = 0, kf_end = 0, kb_start = 0, kb_end = 0;
    for (int64_t d = 0; d < max_d; ++d) {
      if ((n + m) * d > k_max_cost) return std::nullopt;
      // Forward: furthest x reached on diagonal k = x - y.
      for (int64_t k = -d + kf_start; k <= d - kf_end; k += 2) {
        const size_t ko = static_cast<size_t>(offset + k);
        int64_t x = (k == -d || (k != d && m_vf[ko - 1] < m_vf[ko + 1])) ? m_vf[ko + 1] : m_vf[ko - 1] + 1;
        int64_t y = x - k;
        while (x < n && y < m && A(x) == B(y)) ++x, ++y;
        m_vf[ko] = x;
        if (x > n) {
          kf_end += 2;
        } else if (y > m) {
          kf_start += 2;
        } else if (odd) {
          const int64_t kb = delta - k;
          const int64_t kbo = offset + kb;
          if (kbo >= 0 && kbo < static_cast<int64_t>(width) && m_vb[static_cast<size_t>(kbo)] != -1) {
            if (x >= n - m_vb[static_cast<size_t>(kbo)]) return std::make_pair(a0 + static_cast<size_t>(x), b0 + static_cast<size_t>(y));
          }
        }
      }
      // Backward: furthest x reached from the end on diagonal k (in reversed coordinates).
      for (int64_t k = -d + kb_start; k <= d - kb_end; k += 2) {
        const size_t ko = static_cast<size_t>(offset + k);
        int64_t x = (k == -d || (k != d && m_vb[ko - 1] < m_vb[ko + 1])) ? m_vb[ko + 1] : m_vb[ko - 1] + 1;
        int64_t y = x - k;
        while (x < n && y < m && A(n - x - 1) == B(m - y - 1)) ++x, ++y;
        m_vb[ko] = x;
        if (x > n) {
          kb_end += 2;
        } else if (y > m) {
          kb_start += 2;
        } else if (!odd) {
          const int64_t kf = delta - k;
          const int64_t kfo = offset + kf;
          if (kfo >= 0 && kfo < static_cast<int64_t>(width) && m_vf[static_cast<size_t>(kfo)] != -1) {
            const int64_t xf = m_vf[static_cast<size_t>(kfo)];
            const int64_t yf = xf - kf;
            if (xf >= n - x) return std::make_pair(a0 + static_cast<size_t>(xf), b0 + static_cast<size_t>(yf));
          }
        }
      }
    }
    return std::nullopt;
  }

  const std::vector<uint32_t>& m_a;
  const std::vector<uint32_t>& m_b;
  std::vector<bool> m_del, m_ins;
  std::vector<int64_t> m_vf, m_vb;
};

}  // namespace

std::vector<LineEdit> line_edits(std::string_view a, std::string_view b) {
  auto la = lines_of(a), lb = lines_of(b);
  std::unordered_map<std::string_view, uint32_t> ids;
  ids.reserve(la.size() + lb.size());
  auto intern = [&](const std::vector<std::string_view>& lines) {
    std::vector<uint32_t> out;
    out.reserve(lines.size());
    for (auto l : lines) out.push_back(ids.emplace(l, static_cast<uint32_t>(ids.size())).first->second);
    return out;
  };
  std::vector<uint32_t> ia = intern(la), ib = intern(lb);
  Myers m(ia, ib);
  m.run();
  return m.edits(la, lb);
}

std::string unified_diff(std::string_view a, std::string_view b, std::string_view a_name, std::string_view b_name,
                         int context) {
  if (a == b) return "";
  std::vector<LineEdit> e = line_edits(a, b);
  std::string out = "--- " + std::string(a_name) + "\n+++ " + std::string(b_name) + "\n";
  const size_t ctx = static_cast<size_t>(std::max(context, 0));
  // Line numbers (1-based) of e[k] in a and b, advanced as k moves forward.
  size_t k = 0, a_line = 1, b_line = 1;
  auto advance = [&](size_t to) {
    for (; k < to; ++k) {
      if (e[k].op != '+') ++a_line;
      if (e[k].op != '-') ++b_line;
    }
  };
  size_t next = 0;
  while (next < e.size()) {
    while (next < e.size() && e[next].op == ' ') ++next;
    if (next == e.size()) break;
    // A hunk: ctx lines before this change, up to ctx lines after the last change closer than 2*ctx + 1.
    const size_t start = next >= ctx ? next - ctx : 0;
    size_t last_change = next;
    for (size_t i = next; i < e.size(); ++i) {
      if (e[i].op != ' ') last_change = i;
      else if (i - last_change > 2 * ctx) break;
    }
    const size_t end = std::min(e.size(), last_change + ctx + 1);
    advance(start);
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
    next = end;
  }
  return out;
}

}  // namespace kbk::patch
