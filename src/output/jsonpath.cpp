// kubectl's JSONPath templates (see jsonpath.hpp for what is supported).
#include <kbk/output/jsonpath.hpp>

#include <cmath>
#include <cstdlib>
#include <optional>
#include <variant>

#include <kbk/util/strings.hpp>

namespace kbk::output {

namespace {

// ---- expressions --------------------------------------------------------------------------------------------

enum class StepKind { field, wildcard, recursive, index, slice, union_, filter };
enum class CompareOp { exists, eq, ne, lt, le, gt, ge };

struct Step;
using Path = std::vector<Step>;

struct Literal {
  enum class Type { string, number, boolean, null } type = Type::null;
  std::string text;
  double number = 0;
  bool boolean = false;
};

struct Filter {
  Path left;  // relative to @
  CompareOp op = CompareOp::exists;
  Literal right;
};

struct Step {
  StepKind kind = StepKind::field;
  std::string name;                       // field; recursive: the member name ("" = every member)
  int64_t index = 0;                      // index
  std::optional<int64_t> start, end;      // slice
  int64_t step = 1;                       // slice
  std::vector<std::variant<std::string, int64_t>> members;  // union
  std::shared_ptr<Filter> filter;         // filter
};

struct Expr {
  bool from_root = false;  // $...: always the document; otherwise the current element (the root at top level)
  Path path;
};

Error parse_error(std::string_view text, size_t pos, const std::string& what) {
  return Error{Errc::config, "jsonpath \"" + std::string(text) + "\": " + what + " at column " + std::to_string(pos + 1)};
}

bool name_char(char c) { return c != '.' && c != '[' && c != ']' && c != '(' && c != ')' && c != ' ' && c != '\t'; }

// The index of the ']' (or ')') that closes the bracket opening at `open`, skipping quoted text and nesting.
std::optional<size_t> closing(std::string_view s, size_t open) {
  const char o = s[open];
  const char c = o == '[' ? ']' : ')';
  int depth = 0;
  char quote = 0;
  for (size_t i = open; i < s.size(); ++i) {
    const char ch = s[i];
    if (quote) {
      if (ch == '\\') ++i;
      else if (ch == quote) quote = 0;
      continue;
    }
    if (ch == '\'' || ch == '"') quote = ch;
    else if (ch == o) ++depth;
    else if (ch == c && --depth == 0) return i;
  }
  return std::nullopt;
}

std::optional<std::string> unquote(std::string_view s) {
  s = util::trim(s);
  if (s.size() < 2 || (s.front() != '\'' && s.front() != '"') || s.back() != s.front()) return std::nullopt;
  std::string out;
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    if (s[i] == '\\' && i + 2 < s.size()) {
      const char n = s[++i];
      out += n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : n;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::optional<int64_t> parse_int(std::string_view s) {
  s = util::trim(s);
  if (s.empty()) return std::nullopt;
  size_t i = s[0] == '-' || s[0] == '+' ? 1 : 0;
  if (i == s.size() || s.find_first_not_of("0123456789", i) != std::string_view::npos) return std::nullopt;
  return std::strtoll(std::string(s).c_str(), nullptr, 10);
}

Result<Path> parse_path(std::string_view text, std::string_view s, size_t base);

Result<Literal> parse_literal(std::string_view text, std::string_view s, size_t pos) {
  Literal l;
  s = util::trim(s);
  if (auto q = unquote(s)) {
    l.type = Literal::Type::string;
    l.text = *q;
  } else if (s == "true" || s == "false") {
    l.type = Literal::Type::boolean;
    l.boolean = s == "true";
  } else if (s == "null" || s == "nil") {
    l.type = Literal::Type::null;
  } else {
    char* end = nullptr;
    const std::string str(s);
    l.number = std::strtod(str.c_str(), &end);
    if (str.empty() || end != str.c_str() + str.size()) return parse_error(text, pos, "expected a string, number, true, false or null, not \"" + str + "\"");
    l.type = Literal::Type::number;
  }
  return l;
}

Result<std::shared_ptr<Filter>> parse_filter(std::string_view text, std::string_view body, size_t pos) {
  // body is what is inside ?( ... )
  auto f = std::make_shared<Filter>();
  static const std::pair<const char*, CompareOp> k_ops[] = {{"==", CompareOp::eq}, {"!=", CompareOp::ne},
                                                            {"<=", CompareOp::le}, {">=", CompareOp::ge},
                                                            {"<", CompareOp::lt},  {">", CompareOp::gt}};
  size_t op_at = std::string_view::npos, op_len = 0;
  char quote = 0;
  for (size_t i = 0; i < body.size() && op_at == std::string_view::npos; ++i) {
    const char ch = body[i];
    if (quote) {
      if (ch == quote) quote = 0;
      continue;
    }
    if (ch == '\'' || ch == '"') {
      quote = ch;
      continue;
    }
    for (const auto& [sym, op] : k_ops) {
      if (body.substr(i, std::char_traits<char>::length(sym)) == sym) {
        op_at = i;
        op_len = std::char_traits<char>::length(sym);
        f->op = op;
        break;
      }
    }
  }
  std::string_view left = util::trim(op_at == std::string_view::npos ? body : body.substr(0, op_at));
  if (left.empty() || left[0] != '@') return parse_error(text, pos, "a filter compares @.field with a value");
  KBK_ASSIGN_OR_RETURN(f->left, parse_path(text, left.substr(1), pos + 1));
  if (op_at != std::string_view::npos) {
    KBK_ASSIGN_OR_RETURN(f->right, parse_literal(text, body.substr(op_at + op_len), pos + op_at + op_len));
  }
  return f;
}

// s: a path after its optional $ or @ (".a.b[0]", "..name", "a.b"); base: its column in text, for messages.
Result<Path> parse_path(std::string_view text, std::string_view s, size_t base) {
  Path path;
  size_t i = 0;
  auto read_name = [&]() {
    size_t start = i;
    while (i < s.size() && name_char(s[i])) ++i;
    return std::string(s.substr(start, i - start));
  };
  while (i < s.size()) {
    if (s[i] == ' ' || s[i] == '\t') {
      ++i;
      continue;
    }
    if (s.substr(i, 2) == "..") {
      i += 2;
      Step st;
      st.kind = StepKind::recursive;
      if (i < s.size() && s[i] == '*') {
        ++i;
      } else if (i < s.size() && s[i] == '[') {
        // ..[...]: every descendant, then the bracket applies to each
        path.push_back(st);
        continue;
      } else {
        st.name = read_name();
        if (st.name.empty()) return parse_error(text, base + i, "expected a member name after ..");
      }
      path.push_back(std::move(st));
      continue;
    }
    if (s[i] == '.') {
      ++i;
      if (i < s.size() && s[i] == '*') {
        ++i;
        Step st;
        st.kind = StepKind::wildcard;
        path.push_back(std::move(st));
        continue;
      }
      if (i < s.size() && s[i] == '[') continue;  // ".[0]" as "[0]"
      Step st;
      st.name = read_name();
      if (st.name.empty()) {
        if (i >= s.size()) break;  // "." alone: the current element
        return parse_error(text, base + i, "expected a member name after .");
      }
      path.push_back(std::move(st));
      continue;
    }
    if (s[i] == '[') {
      auto close = closing(s, i);
      if (!close) return parse_error(text, base + i, "unclosed [");
      std::string_view inner = util::trim(s.substr(i + 1, *close - i - 1));
      const size_t inner_pos = base + i + 1;
      Step st;
      if (inner == "*") {
        st.kind = StepKind::wildcard;
      } else if (!inner.empty() && inner[0] == '?') {
        std::string_view rest = util::trim(inner.substr(1));
        if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')')
          return parse_error(text, inner_pos, "a filter is written [?(@.field == value)]");
        st.kind = StepKind::filter;
        KBK_ASSIGN_OR_RETURN(st.filter, parse_filter(text, rest.substr(1, rest.size() - 2), inner_pos + 2));
      } else if (inner.find(':') != std::string_view::npos && !unquote(inner)) {
        st.kind = StepKind::slice;
        auto parts = util::split(inner, ':', false);
        if (parts.size() > 3) return parse_error(text, inner_pos, "a slice is [start:end:step]");
        auto bound = [&](size_t k) -> Result<std::optional<int64_t>> {
          if (k >= parts.size() || util::trim(parts[k]).empty()) return std::optional<int64_t>();
          auto v = parse_int(parts[k]);
          if (!v) return parse_error(text, inner_pos, "a slice bound must be a number");
          return std::optional<int64_t>(*v);
        };
        KBK_ASSIGN_OR_RETURN(st.start, bound(0));
        KBK_ASSIGN_OR_RETURN(st.end, bound(1));
        KBK_ASSIGN_OR_RETURN(auto step, bound(2));
        st.step = step ? *step : 1;
        if (st.step == 0) return parse_error(text, inner_pos, "a slice step cannot be 0");
      } else {
        // one index, one quoted name, or a union of them
        std::vector<std::string> parts;
        std::string cur;
        char quote = 0;
        for (char ch : inner) {
          if (quote) {
            cur += ch;
            if (ch == quote) quote = 0;
          } else if (ch == '\'' || ch == '"') {
            quote = ch;
            cur += ch;
          } else if (ch == ',') {
            parts.push_back(cur);
            cur.clear();
          } else {
            cur += ch;
          }
        }
        parts.push_back(cur);
        for (const auto& p : parts) {
          if (auto n = parse_int(p)) st.members.emplace_back(*n);
          else if (auto q = unquote(p)) st.members.emplace_back(*q);
          else if (!util::trim(p).empty() && util::trim(p).find_first_of("'\"") == std::string_view::npos)
            st.members.emplace_back(std::string(util::trim(p)));  // [name] unquoted, as kubectl tolerates
          else return parse_error(text, inner_pos, "expected an index, a quoted name, *, a slice or a filter in []");
        }
        if (st.members.size() == 1 && std::holds_alternative<int64_t>(st.members[0])) {
          st.kind = StepKind::index;
          st.index = std::get<int64_t>(st.members[0]);
        } else if (st.members.size() == 1) {
          st.kind = StepKind::field;
          st.name = std::get<std::string>(st.members[0]);
        } else {
          st.kind = StepKind::union_;
        }
      }
      path.push_back(std::move(st));
      i = *close + 1;
      continue;
    }
    // A bare member name at the start ("items[0]"): kubectl's relaxed form.
    if (path.empty() && name_char(s[i])) {
      Step st;
      st.name = read_name();
      path.push_back(std::move(st));
      continue;
    }
    return parse_error(text, base + i, std::string("unexpected '") + s[i] + "'");
  }
  return path;
}

Result<Expr> parse_expr(std::string_view text, std::string_view s, size_t base) {
  Expr e;
  std::string_view t = s;
  size_t off = 0;
  while (!t.empty() && (t[0] == ' ' || t[0] == '\t')) {
    t.remove_prefix(1);
    ++off;
  }
  if (!t.empty() && t[0] == '$') {
    e.from_root = true;
    t.remove_prefix(1);
    ++off;
  } else if (!t.empty() && t[0] == '@') {
    t.remove_prefix(1);
    ++off;
  }
  KBK_ASSIGN_OR_RETURN(e.path, parse_path(text, t, base + off));
  return e;
}

// ---- evaluation ---------------------------------------------------------------------------------------------

using Values = std::vector<const json::Value*>;

void descendants(const json::Value& v, Values& out) {
  out.push_back(&v);
  if (v.IsObject())
    for (const auto& m : v.GetObject()) descendants(m.value, out);
  else if (v.IsArray())
    for (const auto& e : v.GetArray()) descendants(e, out);
}

Values eval(const Path& path, Values in);

bool compare(const json::Value& v, CompareOp op, const Literal& l) {
  using T = Literal::Type;
  int cmp = 0;
  bool comparable = true;
  if (l.type == T::string && v.IsString()) {
    cmp = std::string_view(v.GetString(), v.GetStringLength()).compare(l.text);
  } else if (l.type == T::number && v.IsNumber()) {
    const double d = v.GetDouble();
    cmp = d < l.number ? -1 : d > l.number ? 1 : 0;
  } else if (l.type == T::boolean && v.IsBool()) {
    cmp = v.GetBool() == l.boolean ? 0 : 1;
  } else if (l.type == T::null && v.IsNull()) {
    cmp = 0;
  } else {
    comparable = false;
  }
  switch (op) {
    case CompareOp::eq: return comparable && cmp == 0;
    case CompareOp::ne: return !comparable || cmp != 0;
    case CompareOp::lt: return comparable && cmp < 0;
    case CompareOp::le: return comparable && cmp <= 0;
    case CompareOp::gt: return comparable && cmp > 0;
    case CompareOp::ge: return comparable && cmp >= 0;
    case CompareOp::exists: return true;
  }
  return false;
}

bool matches(const Filter& f, const json::Value& element) {
  Values r = eval(f.left, {&element});
  if (f.op == CompareOp::exists) return !r.empty();
  if (r.empty()) return f.op == CompareOp::ne;
  return compare(*r.front(), f.op, f.right);
}

Values apply_step(const Step& st, const Values& in) {
  Values out;
  for (const json::Value* v : in) {
    switch (st.kind) {
      case StepKind::field:
        if (v->IsObject())
          if (const json::Value* m = json::find(*v, st.name)) out.push_back(m);
        break;
      case StepKind::wildcard:
        if (v->IsObject())
          for (const auto& m : v->GetObject()) out.push_back(&m.value);
        else if (v->IsArray())
          for (const auto& e : v->GetArray()) out.push_back(&e);
        break;
      case StepKind::recursive: {
        Values all;
        descendants(*v, all);
        for (const json::Value* d : all) {
          if (st.name.empty()) {
            if (d != v) out.push_back(d);
          } else if (d->IsObject()) {
            if (const json::Value* m = json::find(*d, st.name)) out.push_back(m);
          }
        }
        break;
      }
      case StepKind::index:
        if (v->IsArray()) {
          const auto n = static_cast<int64_t>(v->Size());
          const int64_t k = st.index < 0 ? n + st.index : st.index;
          if (k >= 0 && k < n) out.push_back(&(*v)[static_cast<rapidjson::SizeType>(k)]);
        }
        break;
      case StepKind::slice:
        if (v->IsArray()) {
          const auto n = static_cast<int64_t>(v->Size());
          auto clamp = [&](std::optional<int64_t> b, int64_t dflt) {
            if (!b) return dflt;
            int64_t x = *b < 0 ? n + *b : *b;
            return std::max<int64_t>(st.step > 0 ? 0 : -1, std::min<int64_t>(x, st.step > 0 ? n : n - 1));
          };
          if (st.step > 0) {
            for (int64_t k = clamp(st.start, 0), e = clamp(st.end, n); k < e; k += st.step)
              out.push_back(&(*v)[static_cast<rapidjson::SizeType>(k)]);
          } else {
            for (int64_t k = clamp(st.start, n - 1), e = clamp(st.end, -1); k > e; k += st.step)
              out.push_back(&(*v)[static_cast<rapidjson::SizeType>(k)]);
          }
        }
        break;
      case StepKind::union_:
        for (const auto& m : st.members) {
          if (const auto* name = std::get_if<std::string>(&m)) {
            if (v->IsObject())
              if (const json::Value* x = json::find(*v, *name)) out.push_back(x);
          } else if (v->IsArray()) {
            const auto n = static_cast<int64_t>(v->Size());
            const int64_t k = std::get<int64_t>(m) < 0 ? n + std::get<int64_t>(m) : std::get<int64_t>(m);
            if (k >= 0 && k < n) out.push_back(&(*v)[static_cast<rapidjson::SizeType>(k)]);
          }
        }
        break;
      case StepKind::filter:
        if (v->IsArray()) {
          for (const auto& e : v->GetArray())
            if (matches(*st.filter, e)) out.push_back(&e);
        } else if (matches(*st.filter, *v)) {
          out.push_back(v);
        }
        break;
    }
  }
  return out;
}

Values eval(const Path& path, Values in) {
  for (const Step& st : path) in = apply_step(st, in);
  return in;
}

std::string text_of(const json::Value& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  return json::to_string(v);
}

// ---- templates ----------------------------------------------------------------------------------------------

enum class NodeKind { text, expr, range, end };

struct Node {
  NodeKind kind = NodeKind::text;
  std::string text;
  Expr expr;
  size_t end = 0;  // range: the index of its {end}
};

}  // namespace

struct JsonPath::Impl {
  std::vector<Node> nodes;

  void run(size_t from, size_t to, const json::Value& root, const json::Value& current, std::string& out) const {
    for (size_t i = from; i < to; ++i) {
      const Node& n = nodes[i];
      switch (n.kind) {
        case NodeKind::text: out += n.text; break;
        case NodeKind::expr: {
          Values r = eval(n.expr.path, {n.expr.from_root ? &root : &current});
          for (size_t k = 0; k < r.size(); ++k) {
            if (k) out += ' ';
            out += text_of(*r[k]);
          }
          break;
        }
        case NodeKind::range: {
          Values r = eval(n.expr.path, {n.expr.from_root ? &root : &current});
          Values items;
          if (r.size() == 1 && r[0]->IsArray()) {
            for (const auto& e : r[0]->GetArray()) items.push_back(&e);
          } else {
            items = r;
          }
          for (const json::Value* e : items) run(i + 1, n.end, root, *e, out);
          i = n.end;
          break;
        }
        case NodeKind::end: break;
      }
    }
  }
};

JsonPath::JsonPath(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
JsonPath::JsonPath(JsonPath&&) noexcept = default;
JsonPath& JsonPath::operator=(JsonPath&&) noexcept = default;
JsonPath::~JsonPath() = default;

Result<JsonPath> JsonPath::parse(std::string_view text) {
  auto impl = std::make_unique<Impl>();
  std::string relaxed;
  std::string_view t = text;
  if (t.find('{') == std::string_view::npos) {  // kubectl's relaxed form: the whole template is one expression
    relaxed = "{" + std::string(text) + "}";
    t = relaxed;
  }
  std::vector<size_t> open_ranges;
  size_t i = 0;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) impl->nodes.push_back(Node{NodeKind::text, std::move(literal), {}, 0});
    literal.clear();
  };
  while (i < t.size()) {
    if (t[i] != '{') {
      literal += t[i++];
      continue;
    }
    // find the closing brace, skipping quoted text
    size_t j = i + 1;
    char quote = 0;
    for (; j < t.size(); ++j) {
      if (quote) {
        if (t[j] == '\\') ++j;
        else if (t[j] == quote) quote = 0;
      } else if (t[j] == '\'' || t[j] == '"') {
        quote = t[j];
      } else if (t[j] == '}') {
        break;
      }
    }
    if (j >= t.size()) return parse_error(text, i, "unclosed {");
    std::string_view body = util::trim(t.substr(i + 1, j - i - 1));
    flush();
    if (body.empty()) return parse_error(text, i, "empty {}");
    if (auto s = unquote(body)) {
      impl->nodes.push_back(Node{NodeKind::text, *s, {}, 0});
    } else if (body == "end") {
      if (open_ranges.empty()) return parse_error(text, i, "{end} without {range}");
      impl->nodes[open_ranges.back()].end = impl->nodes.size();
      open_ranges.pop_back();
      impl->nodes.push_back(Node{NodeKind::end, "", {}, 0});
    } else if (util::starts_with(body, "range ") || util::starts_with(body, "range\t")) {
      Node n;
      n.kind = NodeKind::range;
      KBK_ASSIGN_OR_RETURN(n.expr, parse_expr(text, body.substr(6), i + 7));
      open_ranges.push_back(impl->nodes.size());
      impl->nodes.push_back(std::move(n));
    } else {
      Node n;
      n.kind = NodeKind::expr;
      KBK_ASSIGN_OR_RETURN(n.expr, parse_expr(text, body, i + 1));
      impl->nodes.push_back(std::move(n));
    }
    i = j + 1;
  }
  flush();
  if (!open_ranges.empty()) return parse_error(text, text.size(), "{range} without {end}");
  return JsonPath(std::move(impl));
}

std::string JsonPath::execute(const json::Value& root) const {
  std::string out;
  m_impl->run(0, m_impl->nodes.size(), root, root, out);
  return out;
}

}  // namespace kbk::output
