// Line diffs (Myers) and JSON Patch generation.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/patch/diff.hpp>
#include <kbk/patch/json_patch.hpp>

using namespace kbk;

namespace {

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

// Length of a longest common subsequence of lines, by the textbook table (the test's own, independent of Myers).
size_t lcs(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::vector<size_t>> t(a.size() + 1, std::vector<size_t>(b.size() + 1, 0));
  for (size_t i = a.size(); i-- > 0;)
    for (size_t j = b.size(); j-- > 0;) t[i][j] = a[i] == b[j] ? t[i + 1][j + 1] + 1 : std::max(t[i + 1][j], t[i][j + 1]);
  return t[0][0];
}

// Applies a unified diff's hunks to a (as patch(1) would, without fuzz); throws when a hunk does not fit.
std::string apply_unified(const std::string& a, const std::string& diff) {
  std::vector<std::string> in = split_lines(a), out;
  std::vector<std::string> d = split_lines(diff);
  size_t pos = 0;  // next line of `in` not yet copied
  for (size_t k = 2; k < d.size();) {
    REQUIRE(d[k].rfind("@@ -", 0) == 0);
    size_t a_start = std::stoul(d[k].substr(4));
    size_t comma = d[k].find(',');
    size_t a_count = std::stoul(d[k].substr(comma + 1));
    size_t first = a_count == 0 ? a_start : a_start - 1;  // 0-based index of the hunk's first line in a
    REQUIRE(first >= pos);
    while (pos < first) out.push_back(in[pos++]);
    for (++k; k < d.size() && d[k].rfind("@@", 0) != 0; ++k) {
      char op = d[k][0];
      std::string line = d[k].substr(1);
      if (op == ' ' || op == '-') {
        REQUIRE(pos < in.size());
        REQUIRE(in[pos] == line);
        ++pos;
      }
      if (op == ' ' || op == '+') out.push_back(line);
    }
  }
  while (pos < in.size()) out.push_back(in[pos++]);
  std::string s;
  for (auto& l : out) s += l + "\n";
  return s;
}

std::string random_text(std::mt19937& rng, size_t lines, int alphabet) {
  std::string s;
  for (size_t i = 0; i < lines; ++i) s += std::string(1, static_cast<char>('a' + rng() % static_cast<unsigned>(alphabet))) + "\n";
  return s;
}

}  // namespace

TEST_CASE("line_edits is a shortest edit script", "[diff]") {
  std::mt19937 rng(20);
  for (int round = 0; round < 400; ++round) {
    std::string a = random_text(rng, rng() % 40, 1 + static_cast<int>(rng() % 6));
    std::string b = random_text(rng, rng() % 40, 1 + static_cast<int>(rng() % 6));
    auto edits = patch::line_edits(a, b);
    std::string ra, rb;
    size_t changes = 0;
    for (const auto& e : edits) {
      if (e.op != '+') ra += std::string(e.line) + "\n";
      if (e.op != '-') rb += std::string(e.line) + "\n";
      if (e.op != ' ') ++changes;
    }
    INFO("a=" << a << " b=" << b);
    CHECK(ra == a);
    CHECK(rb == b);
    auto la = split_lines(a), lb = split_lines(b);
    CHECK(changes == la.size() + lb.size() - 2 * lcs(la, lb));
  }
}

TEST_CASE("unified_diff prints hunks that patch applies", "[diff]") {
  CHECK(patch::unified_diff("a\nb\n", "a\nb\n", "x", "y").empty());
  CHECK(patch::unified_diff("x\n", "", "a", "b") == "--- a\n+++ b\n@@ -1,1 +0,0 @@\n-x\n");
  CHECK(patch::unified_diff("", "x\n", "a", "b") == "--- a\n+++ b\n@@ -0,0 +1,1 @@\n+x\n");
  // Two changes more than 2*3 lines apart make two hunks.
  std::string a, b;
  for (int i = 0; i < 20; ++i) {
    a += "l" + std::to_string(i) + "\n";
    b += (i == 2 ? "L2" : i == 15 ? "L15" : "l" + std::to_string(i)) + "\n";
  }
  std::string d = patch::unified_diff(a, b, "a", "b");
  CHECK(d == "--- a\n+++ b\n@@ -1,6 +1,6 @@\n l0\n l1\n-l2\n+L2\n l3\n l4\n l5\n"
             "@@ -13,7 +13,7 @@\n l12\n l13\n l14\n-l15\n+L15\n l16\n l17\n l18\n");
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::string x = random_text(rng, rng() % 60, 4), y = random_text(rng, rng() % 60, 4);
    INFO("x=" << x << " y=" << y);
    CHECK(apply_unified(x, patch::unified_diff(x, y, "x", "y", static_cast<int>(rng() % 4))) == y);
  }
}

TEST_CASE("line_edits on a large input with few changes", "[diff]") {
  std::string a, b;
  for (int i = 0; i < 50000; ++i) {
    a += "line " + std::to_string(i) + "\n";
    if (i % 10000 == 5000) b += "changed " + std::to_string(i) + "\n";
    else if (i % 10000 != 7000) b += "line " + std::to_string(i) + "\n";
  }
  auto edits = patch::line_edits(a, b);
  size_t minus = 0, plus = 0;
  for (const auto& e : edits) minus += e.op == '-', plus += e.op == '+';
  CHECK(minus == 10);  // 5 replaced, 5 removed
  CHECK(plus == 5);
  CHECK(apply_unified(a, patch::unified_diff(a, b, "a", "b")) == b);
}

TEST_CASE("json_diff writes the operations of a change", "[diff]") {
  auto diff = [](const char* a, const char* b) {
    auto da = json::parse(a), db = json::parse(b);
    REQUIRE(da.ok());
    REQUIRE(db.ok());
    return json::to_string(patch::json_diff(*da, *db));
  };
  CHECK(diff(R"({"a":1})", R"({"a":1})") == "[]");
  CHECK(diff(R"({"a":1,"b":2})", R"({"b":3,"c":4})") ==
        R"([{"op":"remove","path":"/a"},{"op":"add","path":"/c","value":4},{"op":"replace","path":"/b","value":3}])");
  CHECK(diff(R"({"metadata":{"annotations":{"a/b":"1","c~d":"x"}}})", R"({"metadata":{"annotations":{"a/b":"2"}}})") ==
        R"([{"op":"remove","path":"/metadata/annotations/c~0d"},{"op":"replace","path":"/metadata/annotations/a~1b","value":"2"}])");
  CHECK(diff(R"({"c":[{"n":"a","i":"x:1"},{"n":"b"}]})", R"({"c":[{"n":"a","i":"x:2"},{"n":"b"}]})") ==
        R"([{"op":"replace","path":"/c/0/i","value":"x:2"}])");
  CHECK(diff(R"([1,2,3,4])", R"([1,4])") == R"([{"op":"remove","path":"/2"},{"op":"remove","path":"/1"}])");
  CHECK(diff(R"([1,4])", R"([1,2,3,4])") ==
        R"([{"op":"add","path":"/1","value":2},{"op":"add","path":"/2","value":3}])");
  CHECK(diff(R"({"a":[1]})", R"({"a":{"x":1}})") == R"([{"op":"replace","path":"/a","value":{"x":1}}])");
  CHECK(diff(R"({"a":1})", R"([1])") == R"([{"op":"replace","path":"","value":[1]}])");
}

namespace {

void random_value(std::mt19937& rng, json::Value& out, json::Allocator& alloc, int depth) {
  int pick = static_cast<int>(rng() % (depth > 3 ? 3 : 6));
  if (pick == 0) out.SetInt(static_cast<int>(rng() % 4));
  else if (pick == 1) out = json::make_string(std::string(1, static_cast<char>('a' + rng() % 3)), alloc);
  else if (pick == 2) out.SetNull();
  else if (pick == 3 || pick == 4) {
    out.SetObject();
    int n = static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      json::Value v;
      random_value(rng, v, alloc, depth + 1);
      std::string key = std::string(1, static_cast<char>('k' + rng() % 4)) + (rng() % 5 == 0 ? "/~" : "");
      json::set(out, key, std::move(v), alloc);
    }
  } else {
    out.SetArray();
    int n = static_cast<int>(rng() % 5);
    for (int i = 0; i < n; ++i) {
      json::Value v;
      random_value(rng, v, alloc, depth + 1);
      out.PushBack(v, alloc);
    }
  }
}

}  // namespace

TEST_CASE("json_diff applied with JsonPatch gives the target", "[diff]") {
  std::mt19937 rng(11);
  for (int round = 0; round < 2000; ++round) {
    json::Document a, b;
    random_value(rng, a, a.GetAllocator(), 0);
    random_value(rng, b, b.GetAllocator(), 0);
    json::Document ops = patch::json_diff(a, b);
    auto p = patch::JsonPatch::parse(ops);
    REQUIRE(p.ok());
    json::Document applied = json::clone(a);
    INFO(json::to_string(a) << " -> " << json::to_string(b) << " via " << json::to_string(ops));
    REQUIRE(p->apply(applied).ok());
    CHECK(json::equal(applied, b));
    CHECK((ops.Empty() == json::equal(a, b)));
  }
}

TEST_CASE("json_diff on a deeply nested document", "[diff]") {
  std::string a, b;
  for (int i = 0; i < 5000; ++i) a += "[", b += "[";
  a += "1";
  b += "2";
  for (int i = 0; i < 5000; ++i) a += "]", b += "]";
  auto da = json::parse(a), db = json::parse(b);
  REQUIRE(da.ok());
  REQUIRE(db.ok());
  json::Document ops = patch::json_diff(*da, *db);
  REQUIRE(ops.Size() == 1);
  CHECK(json::get_string(ops[0], {"op"}) == "replace");
}
