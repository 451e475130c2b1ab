// RFC 6902 JSON Patch and RFC 7386 merge patch.
#include <kbk/patch/json_patch.hpp>

namespace kbk::patch {

const char* op_name(OpKind op) {
  switch (op) {
    case OpKind::add: return "add";
    case OpKind::remove: return "remove";
    case OpKind::replace: return "replace";
    case OpKind::move: return "move";
    case OpKind::copy: return "copy";
    case OpKind::test: return "test";
  }
  return "?";
}

namespace {

Error op_error(size_t index, const std::string& what, Errc code = Errc::invalid) {
  return Error{code, "operation " + std::to_string(index) + " " + what};
}

std::string describe(size_t index, const Operation& op) {
  (void)index;
  std::string s = std::string("(") + op_name(op.op) + " ";
  if (op.op == OpKind::move || op.op == OpKind::copy) s += op.from.str() + " -> ";
  s += op.path.str().empty() ? "\"\"" : op.path.str();
  return s + ")";
}

// Inserts value into the container that `path` points into. The caller has checked everything but the target.
Result<void> add_at(json::Document& doc, const Pointer& path, json::Value& value, size_t index, const Operation& op) {
  auto& alloc = doc.GetAllocator();
  if (path.is_root()) {
    static_cast<json::Value&>(doc) = std::move(value);
    return {};
  }
  json::Value* parent = path.parent().resolve(doc);
  if (!parent) return op_error(index, describe(index, op) + ": parent " + path.parent().str() + " does not exist");
  const std::string& last = path.back();
  if (parent->IsObject()) {
    json::set(*parent, last, std::move(value), alloc);
    return {};
  }
  if (parent->IsArray()) {
    size_t size = parent->Size();
    size_t at = size;
    if (last != "-") {
      auto idx = parse_index(last);
      if (!idx) return op_error(index, describe(index, op) + ": \"" + last + "\" is not an array index");
      if (*idx > size)
        return op_error(index, describe(index, op) + ": index " + last + " is greater than the array size " +
                                   std::to_string(size));
      at = *idx;
    }
    parent->PushBack(value, alloc);
    for (size_t i = size; i > at; --i)
      (*parent)[static_cast<rapidjson::SizeType>(i)].Swap((*parent)[static_cast<rapidjson::SizeType>(i - 1)]);
    return {};
  }
  return op_error(index, describe(index, op) + ": parent " + path.parent().str() + " is not an object or array");
}

// Removes the value at path, moving it into *out when out is not null.
Result<void> remove_at(json::Document& doc, const Pointer& path, json::Value* out, size_t index, const Operation& op,
                       const std::string& which) {
  if (path.is_root()) return op_error(index, describe(index, op) + ": cannot remove the whole document");
  json::Value* parent = path.parent().resolve(doc);
  const std::string& last = path.back();
  if (parent && parent->IsObject()) {
    auto it = parent->FindMember(json::Value(rapidjson::StringRef(last.data(), static_cast<rapidjson::SizeType>(last.size()))));
    if (it == parent->MemberEnd()) return op_error(index, describe(index, op) + ": " + which + " not found");
    if (out) *out = std::move(it->value);
    parent->EraseMember(it);
    return {};
  }
  if (parent && parent->IsArray()) {
    auto idx = parse_index(last);
    if (!idx || *idx >= parent->Size()) return op_error(index, describe(index, op) + ": " + which + " not found");
    if (out) *out = std::move((*parent)[static_cast<rapidjson::SizeType>(*idx)]);
    parent->Erase(parent->Begin() + static_cast<std::ptrdiff_t>(*idx));
    return {};
  }
  return op_error(index, describe(index, op) + ": " + which + " not found");
}

Result<void> apply_one(json::Document& doc, const Operation& op, size_t index) {
  auto& alloc = doc.GetAllocator();
  switch (op.op) {
    case OpKind::add: {
      json::Value v(op.value, alloc);
      return add_at(doc, op.path, v, index, op);
    }
    case OpKind::remove:
      return remove_at(doc, op.path, nullptr, index, op, "path");
    case OpKind::replace: {
      json::Value* target = op.path.resolve(doc);
      if (!target) return op_error(index, describe(index, op) + ": path not found");
      json::Value v(op.value, alloc);
      *target = std::move(v);
      return {};
    }
    case OpKind::test: {
      const json::Value* target = op.path.resolve(doc);
      if (!target) return op_error(index, describe(index, op) + ": path not found", Errc::precondition);
      if (!json::equal(*target, op.value))
        return op_error(index, describe(index, op) + ": value is " + json::to_string(*target) + ", not " +
                                   json::to_string(op.value), Errc::precondition);
      return {};
    }
    case OpKind::move: {
      if (!op.from.resolve(doc)) return op_error(index, describe(index, op) + ": from not found");
      if (op.from.tokens() == op.path.tokens()) return {};
      if (op.from.is_proper_prefix_of(op.path))
        return op_error(index, describe(index, op) + ": cannot move a value into one of its own children");
      json::Value v;
      KBK_TRY(remove_at(doc, op.from, &v, index, op, "from"));
      return add_at(doc, op.path, v, index, op);
    }
    case OpKind::copy: {
      const json::Value* src = op.from.resolve(doc);
      if (!src) return op_error(index, describe(index, op) + ": from not found");
      json::Value v(*src, alloc);
      return add_at(doc, op.path, v, index, op);
    }
  }
  return {};
}

}  // namespace

Result<JsonPatch> JsonPatch::parse(const json::Value& ops) {
  if (!ops.IsArray()) return unexpected(Errc::invalid, "a JSON patch must be an array of operations");
  std::vector<Operation> out;
  out.reserve(ops.Size());
  for (rapidjson::SizeType i = 0; i < ops.Size(); ++i) {
    const json::Value& o = ops[i];
    if (!o.IsObject()) return op_error(i, "is not an object");
    const json::Value* opv = json::find(o, "op");
    if (!opv || !opv->IsString()) return op_error(i, "has no \"op\" string");
    std::string_view name(opv->GetString(), opv->GetStringLength());
    Operation op;
    if (name == "add") op.op = OpKind::add;
    else if (name == "remove") op.op = OpKind::remove;
    else if (name == "replace") op.op = OpKind::replace;
    else if (name == "move") op.op = OpKind::move;
    else if (name == "copy") op.op = OpKind::copy;
    else if (name == "test") op.op = OpKind::test;
    else return op_error(i, "has an unknown op \"" + std::string(name) + "\"");
    const json::Value* path = json::find(o, "path");
    if (!path || !path->IsString()) return op_error(i, "(" + std::string(name) + ") has no \"path\" string");
    auto p = Pointer::parse(std::string_view(path->GetString(), path->GetStringLength()));
    if (!p) return op_error(i, "(" + std::string(name) + "): " + p.error().message);
    op.path = std::move(*p);
    if (op.op == OpKind::move || op.op == OpKind::copy) {
      const json::Value* from = json::find(o, "from");
      if (!from || !from->IsString()) return op_error(i, "(" + std::string(name) + ") has no \"from\" string");
      auto f = Pointer::parse(std::string_view(from->GetString(), from->GetStringLength()));
      if (!f) return op_error(i, "(" + std::string(name) + "): " + f.error().message);
      op.from = std::move(*f);
    }
    if (op.op == OpKind::add || op.op == OpKind::replace || op.op == OpKind::test) {
      const json::Value* value = json::find(o, "value");
      if (!value) return op_error(i, "(" + std::string(name) + " " + op.path.str() + ") has no \"value\"");
      json::copy_into(op.value, *value, op.value.GetAllocator());
    }
    out.push_back(std::move(op));
  }
  return from_operations(std::move(out));
}

Result<JsonPatch> JsonPatch::parse_text(std::string_view text) {
  KBK_ASSIGN_OR_RETURN(auto doc, json::parse_yaml(text, "JSON patch"));
  return parse(doc);
}

JsonPatch JsonPatch::from_operations(std::vector<Operation> ops) {
  JsonPatch p;
  p.m_ops = std::move(ops);
  bool mutated = false;
  for (const auto& op : p.m_ops) {
    if (mutated || op.op == OpKind::move) p.m_needs_copy = true;
    if (op.op != OpKind::test) mutated = true;
  }
  return p;
}

Result<void> JsonPatch::apply(json::Document& doc) const {
  if (!m_needs_copy) {
    // Every operation checks before it changes anything, so one mutating op (after tests) is atomic as is.
    for (size_t i = 0; i < m_ops.size(); ++i) KBK_TRY(apply_one(doc, m_ops[i], i));
    return {};
  }
  // Apply to a copy made in the document's own pool, keep it on success.
  json::Value saved(doc, doc.GetAllocator());
  for (size_t i = 0; i < m_ops.size(); ++i) {
    auto r = apply_one(doc, m_ops[i], i);
    if (!r) {
      static_cast<json::Value&>(doc) = std::move(saved);
      return r;
    }
  }
  return {};
}

Result<void> apply_json_patch(json::Document& doc, const json::Value& ops) {
  KBK_ASSIGN_OR_RETURN(auto p, JsonPatch::parse(ops));
  return p.apply(doc);
}

void apply_merge_patch(json::Value& target, const json::Value& patch, json::Allocator& alloc) {
  if (!patch.IsObject()) {
    json::copy_into(target, patch, alloc);
    return;
  }
  if (!target.IsObject()) target.SetObject();
  for (const auto& m : patch.GetObject()) {
    std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (m.value.IsNull()) {
      json::erase(target, key);
      continue;
    }
    if (json::Value* existing = json::find(target, key)) {
      apply_merge_patch(*existing, m.value, alloc);
    } else {
      json::Value v;
      apply_merge_patch(v, m.value, alloc);
      target.AddMember(json::make_string(key, alloc), v, alloc);
    }
  }
}

}  // namespace kbk::patch
