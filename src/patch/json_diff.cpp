// json_diff (diff.hpp): the JSON Patch from one document to another. Walks both documents with an explicit stack,
// so deep documents cost no native stack. Every operation is valid whatever runs before it: member removals and
// additions name keys no other operation goes through, and an array's removals (highest index first) and additions
// only shift indexes past the pairs that are compared element by element.
#include <kbk/patch/diff.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <kbk/patch/pointer.hpp>

namespace kbk::patch {

namespace {

class Writer {
public:
  Writer() { m_doc.SetArray(); }

  void op(const char* name, const std::string& path, const json::Value* value) {
    auto& a = m_doc.GetAllocator();
    json::Value o(rapidjson::kObjectType);
    o.AddMember("op", json::Value(rapidjson::StringRef(name)), a);
    o.AddMember("path", json::make_string(path, a), a);
    if (value) o.AddMember("value", json::copy(*value, a), a);  // iterative: backups nest 10,000 levels
    m_doc.PushBack(o, a);
  }
  json::Document take() { return std::move(m_doc); }

private:
  json::Document m_doc;
};

bool same_kind(const json::Value& a, const json::Value& b) {
  if (a.IsObject() || b.IsObject()) return a.IsObject() && b.IsObject();
  if (a.IsArray() || b.IsArray()) return a.IsArray() && b.IsArray();
  return true;
}

struct Frame {
  const json::Value* a;
  const json::Value* b;
  std::string path;
};

}  // namespace

json::Document json_diff(const json::Value& from, const json::Value& to) {
  Writer w;
  // Children are pushed in reverse so that they run in document order.
  std::vector<Frame> stack{{&from, &to, ""}};
  while (!stack.empty()) {
    Frame f = std::move(stack.back());
    stack.pop_back();
    const json::Value& a = *f.a;
    const json::Value& b = *f.b;
    if (!same_kind(a, b) || (!a.IsObject() && !a.IsArray())) {
      if (!json::equal(a, b)) w.op("replace", f.path, &b);
      continue;
    }
    if (a.IsObject()) {
      std::vector<Frame> children;
      for (const auto& m : a.GetObject()) {
        std::string key(m.name.GetString(), m.name.GetStringLength());
        std::string path = f.path + "/" + escape_token(key);
        const json::Value* bv = json::find(b, key);
        if (!bv) w.op("remove", path, nullptr);
        else if (!json::equal(m.value, *bv)) children.push_back({&m.value, bv, std::move(path)});
      }
      for (const auto& m : b.GetObject()) {
        std::string key(m.name.GetString(), m.name.GetStringLength());
        if (!json::find(a, key)) w.op("add", f.path + "/" + escape_token(key), &m.value);
      }
      for (auto it = children.rbegin(); it != children.rend(); ++it) stack.push_back(std::move(*it));
      continue;
    }
    // Arrays: common prefix and suffix stay; the middle is compared index by index, and what one side has more of
    // is removed (highest index first) or added.
    const size_t n = a.Size(), m = b.Size();
    size_t pre = 0;
    while (pre < n && pre < m && json::equal(a[static_cast<rapidjson::SizeType>(pre)], b[static_cast<rapidjson::SizeType>(pre)])) ++pre;
    size_t suf = 0;
    while (suf < n - pre && suf < m - pre &&
           json::equal(a[static_cast<rapidjson::SizeType>(n - 1 - suf)], b[static_cast<rapidjson::SizeType>(m - 1 - suf)]))
      ++suf;
    const size_t na = n - pre - suf, nb = m - pre - suf, common = std::min(na, nb);
    // Removals and additions only shift indexes at or after pre + common, which no other operation names: the
    // pairs before them are compared later (from the stack) at indexes that stay put.
    for (size_t i = common; i-- > 0;) {
      const auto idx = static_cast<rapidjson::SizeType>(pre + i);
      if (!json::equal(a[idx], b[idx])) stack.push_back({&a[idx], &b[idx], f.path + "/" + std::to_string(pre + i)});
    }
    for (size_t i = na; i > common; --i) w.op("remove", f.path + "/" + std::to_string(pre + i - 1), nullptr);
    for (size_t i = common; i < nb; ++i)
      w.op("add", f.path + "/" + std::to_string(pre + i), &b[static_cast<rapidjson::SizeType>(pre + i)]);
  }
  return w.take();
}

}  // namespace kbk::patch
