// The forms of a diff report (diff.hpp): text with unified YAML diffs, and the JSON document of docs/fleet.md.
#include <kbk/diff/diff.hpp>

#include <algorithm>
#include <utility>
#include <vector>

#include <kbk/patch/diff.hpp>

namespace kbk::diff {

namespace {

// Sorts the members of every object in v by name, in place, without recursion (a document may nest deeply).
void sort_members(json::Value& root, json::Allocator& alloc) {
  std::vector<json::Value*> todo{&root};
  while (!todo.empty()) {
    json::Value* v = todo.back();
    todo.pop_back();
    if (v->IsObject()) {
      std::vector<std::pair<json::Value, json::Value>> members;
      members.reserve(v->MemberCount());
      for (auto& m : v->GetObject()) members.emplace_back(std::move(m.name), std::move(m.value));
      v->RemoveAllMembers();
      std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) {
        return std::string_view(a.first.GetString(), a.first.GetStringLength()) <
               std::string_view(b.first.GetString(), b.first.GetStringLength());
      });
      for (auto& [name, value] : members) v->AddMember(name, value, alloc);
      for (auto& m : v->GetObject()) todo.push_back(&m.value);
    } else if (v->IsArray()) {
      for (auto& e : v->GetArray()) todo.push_back(&e);
    }
  }
}

std::string yaml_of_text(const std::string& text) {
  if (text.empty()) return "";
  auto doc = json::parse(text, "object");
  if (!doc) return "";
  return to_sorted_yaml(*doc);
}

json::Value counts_json(const Counts& c, json::Allocator& a) {
  json::Value v(rapidjson::kObjectType);
  v.AddMember("added", static_cast<uint64_t>(c.added), a);
  v.AddMember("removed", static_cast<uint64_t>(c.removed), a);
  v.AddMember("changed", static_cast<uint64_t>(c.changed), a);
  v.AddMember("unchanged", static_cast<uint64_t>(c.unchanged), a);
  return v;
}

json::Value strings_json(const std::vector<std::string>& lines, json::Allocator& a) {
  json::Value v(rapidjson::kArrayType);
  for (const auto& l : lines) v.PushBack(json::make_string(l, a), a);
  return v;
}

}  // namespace

std::string to_sorted_yaml(const json::Value& object) {
  json::Document copy = json::clone(object);
  sort_members(copy, copy.GetAllocator());
  return json::to_yaml(copy);
}

std::string summary_line(const Report& r) {
  std::string s;
  const Counts& c = r.counts;
  if (!r.different()) {
    s = "no differences: " + std::to_string(c.unchanged) + " object" + (c.unchanged == 1 ? "" : "s") + " the same";
  } else {
    s = std::to_string(c.differing()) + " object" + (c.differing() == 1 ? " differs" : "s differ") + ": " +
        std::to_string(c.changed) + " changed, " + std::to_string(c.added) + " added, " + std::to_string(c.removed) +
        " removed; " + std::to_string(c.unchanged) + " unchanged";
  }
  size_t skipped = 0;
  std::string reasons;
  for (const auto& [reason, n] : r.not_compared) {
    skipped += n;
    reasons += (reasons.empty() ? "" : ", ") + reason + " " + std::to_string(n);
  }
  if (skipped)
    s += "; " + std::to_string(skipped) + " not compared (what a restore would not apply: " + reasons + ")";
  return s;
}

std::string to_text(const Report& r, int context) {
  std::string out;
  for (const ObjectChange& c : r.changes) {
    out += change_name(c.change);
    out += " " + c.display() + "\n";
    if (c.change != Change::changed) continue;
    out += patch::unified_diff(yaml_of_text(c.from), yaml_of_text(c.to), r.from + "/" + c.display(),
                               r.to + "/" + c.display(), context);
  }
  out += summary_line(r) + "\n";
  return out;
}

json::Document to_json(const Report& r) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  d.AddMember("apiVersion", "kbk.io/v1alpha1", a);
  d.AddMember("kind", "Diff", a);
  d.AddMember("from", json::make_string(r.from, a), a);
  d.AddMember("to", json::make_string(r.to, a), a);
  d.AddMember("different", r.different(), a);
  d.AddMember("counts", counts_json(r.counts, a), a);
  json::Value by_kind(rapidjson::kObjectType);
  for (const auto& [kind, c] : r.by_kind) by_kind.AddMember(json::make_string(kind, a), counts_json(c, a), a);
  d.AddMember("byKind", by_kind, a);
  json::Value not_compared(rapidjson::kObjectType);
  for (const auto& [reason, n] : r.not_compared)
    not_compared.AddMember(json::make_string(reason, a), json::Value(static_cast<uint64_t>(n)), a);
  d.AddMember("notCompared", not_compared, a);
  json::Value items(rapidjson::kArrayType);
  for (const ObjectChange& c : r.changes) {
    json::Value it(rapidjson::kObjectType);
    it.AddMember("change", json::Value(rapidjson::StringRef(change_name(c.change))), a);
    it.AddMember("group", json::make_string(c.group, a), a);
    it.AddMember("version", json::make_string(c.version, a), a);
    it.AddMember("kind", json::make_string(c.kind, a), a);
    it.AddMember("resource", json::make_string(c.resource, a), a);
    it.AddMember("namespace", json::make_string(c.namespace_, a), a);
    it.AddMember("name", json::make_string(c.name, a), a);
    if (c.change == Change::changed) {
      auto from = json::parse(c.from, "object"), to = json::parse(c.to, "object");
      json::Document ops = from && to ? patch::json_diff(*from, *to) : json::Document();
      it.AddMember("patch", json::copy(ops, a), a);
    }
    items.PushBack(it, a);
  }
  d.AddMember("items", items, a);
  d.AddMember("warnings", strings_json(r.warnings, a), a);
  d.AddMember("errors", strings_json(r.errors, a), a);
  return d;
}

}  // namespace kbk::diff
