#include "glob_path.hpp"

#include <kbk/patch/pointer.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::patch::detail {

Result<GlobPath> GlobPath::parse(std::string_view text) {
  KBK_ASSIGN_OR_RETURN(Pointer p, Pointer::parse(text));
  GlobPath g;
  g.segments = p.tokens();
  g.text = std::string(text);
  return g;
}

namespace {
bool is_glob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

template <class V, class Out>
void walk(V& cur, const std::vector<std::string>& segs, size_t i, std::vector<std::string>& tokens, Out& out) {
  if (i == segs.size()) {
    if constexpr (std::is_const_v<V>) out.push_back(&cur);
    else out.push_back(PathMatch{tokens, &cur});
    return;
  }
  const std::string& seg = segs[i];
  bool glob = is_glob(seg);
  if (cur.IsObject()) {
    for (auto m = cur.MemberBegin(); m != cur.MemberEnd(); ++m) {
      std::string_view key(m->name.GetString(), m->name.GetStringLength());
      if (glob ? util::glob_match(seg, key) : key == seg) {
        tokens.emplace_back(key);
        walk(m->value, segs, i + 1, tokens, out);
        tokens.pop_back();
        if (!glob) break;
      }
    }
  } else if (cur.IsArray()) {
    for (rapidjson::SizeType k = 0; k < cur.Size(); ++k) {
      std::string idx = std::to_string(k);
      if (glob ? util::glob_match(seg, idx) : idx == seg) {
        tokens.push_back(idx);
        walk(cur[k], segs, i + 1, tokens, out);
        tokens.pop_back();
      }
    }
  }
}
}  // namespace

bool GlobPath::has_glob() const {
  for (const auto& s : segments)
    if (is_glob(s)) return true;
  return false;
}

std::vector<PathMatch> find_all(json::Value& doc, const GlobPath& path) {
  std::vector<PathMatch> out;
  std::vector<std::string> tokens;
  walk(doc, path.segments, 0, tokens, out);
  return out;
}

std::vector<const json::Value*> find_all(const json::Value& doc, const GlobPath& path) {
  std::vector<const json::Value*> out;
  std::vector<std::string> tokens;
  walk(doc, path.segments, 0, tokens, out);
  return out;
}

namespace {
bool match_at(std::string_view p, size_t pi, std::string_view t, size_t ti, char sep, int depth) {
  if (depth > 64) return false;
  while (pi < p.size()) {
    char c = p[pi];
    if (c == '*') {
      bool any = pi + 1 < p.size() && p[pi + 1] == '*';
      size_t next = pi + (any ? 2 : 1);
      for (size_t k = ti; k <= t.size(); ++k) {
        if (match_at(p, next, t, k, sep, depth + 1)) return true;
        if (k < t.size() && !any && t[k] == sep) return false;
      }
      return false;
    }
    if (c == '{') {
      size_t close = p.find('}', pi);
      if (close == std::string_view::npos) return false;
      std::string rest(p.substr(close + 1));
      for (const auto& alt : util::split(p.substr(pi + 1, close - pi - 1), ',', false)) {
        std::string candidate = alt + rest;
        if (match_at(candidate, 0, t, ti, sep, depth + 1)) return true;
      }
      return false;
    }
    if (ti >= t.size()) return false;
    if (c == '?') {
      if (t[ti] == sep) return false;
      ++pi;
      ++ti;
      continue;
    }
    if (c == '[') {
      size_t close = p.find(']', pi + 1);
      if (close == std::string_view::npos) return false;
      std::string_view cls = p.substr(pi + 1, close - pi - 1);
      bool neg = !cls.empty() && (cls[0] == '!' || cls[0] == '^');
      if (neg) cls.remove_prefix(1);
      bool hit = false;
      for (size_t k = 0; k < cls.size(); ++k) {
        if (k + 2 < cls.size() && cls[k + 1] == '-') {
          if (t[ti] >= cls[k] && t[ti] <= cls[k + 2]) hit = true;
          k += 2;
        } else if (cls[k] == t[ti]) {
          hit = true;
        }
      }
      if (hit == neg || t[ti] == sep) return false;
      pi = close + 1;
      ++ti;
      continue;
    }
    if (c == '\\' && pi + 1 < p.size()) c = p[++pi];
    if (t[ti] != c) return false;
    ++pi;
    ++ti;
  }
  return ti == t.size();
}
}  // namespace

bool glob_sep_match(std::string_view pattern, std::string_view text, char sep) {
  return match_at(pattern, 0, text, 0, sep, 0);
}

}  // namespace kbk::patch::detail
