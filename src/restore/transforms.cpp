// Transforms over the patch module (see transforms.hpp).
#include <kbk/restore/transforms.hpp>

#include <kbk/util/strings.hpp>

namespace kbk::restore {
namespace {

class ModifiersTransform : public Transform {
public:
  ModifiersTransform(patch::ModifierSet rules, std::string file) : m_rules(std::move(rules)), m_file(std::move(file)) {}
  std::string name() const override { return "resource modifiers " + m_file; }
  Result<TransformOutcome> apply(const TransformContext& ctx, json::Document& obj) override {
    patch::MatchContext mc;
    mc.group_resource = ctx.group.empty() ? ctx.resource : ctx.resource + "." + ctx.group;
    mc.original_namespace = ctx.original_namespace;
    patch::ApplyResult r = m_rules.apply(obj, mc);
    for (const auto& a : r.applied)
      if (a.changed && ctx.notes)
        ctx.notes->push_back(m_file + ": " + a.name + " applied" + (a.note.empty() ? "" : " (" + a.note + ")"));
    if (!r.errors.empty()) {
      std::vector<std::string> msgs;
      // The plan says "resource modifiers FILE: ...": a message that starts with the file does not say it again.
      for (const Error& e : r.errors)
        msgs.push_back(util::starts_with(e.message, m_file + ": ") ? e.message.substr(m_file.size() + 2) : e.message);
      return unexpected(Errc::invalid, util::join(msgs, "; "));
    }
    TransformOutcome out;
    out.changed = r.changed;
    return out;
  }

private:
  patch::ModifierSet m_rules;
  std::string m_file;
};

class MappingsTransform : public Transform {
public:
  explicit MappingsTransform(patch::Mappings m) : m_m(std::move(m)) {}
  std::string name() const override { return "mappings"; }
  Result<TransformOutcome> apply(const TransformContext& ctx, json::Document& obj) override {
    std::vector<std::string> changes = m_m.apply(obj);
    if (ctx.notes)
      for (const std::string& c : changes) ctx.notes->push_back(c);
    TransformOutcome out;
    out.changed = !changes.empty();
    return out;
  }

private:
  patch::Mappings m_m;
};

class ConversionTransform : public Transform {
public:
  explicit ConversionTransform(patch::ServedApis served) : m_served(std::move(served)) {}
  std::string name() const override { return "API-version conversion"; }
  TransformStage stage() const override { return TransformStage::convert; }
  Result<TransformOutcome> apply(const TransformContext& ctx, json::Document& obj) override {
    patch::ConversionResult r = patch::convert_to_served(obj, m_served);
    TransformOutcome out;
    if (r.status == patch::ConversionStatus::no_match) {
      // Custom resources are the cluster's business (their CRD is restored first); only built-in APIs fail here.
      if (ctx.group.find('.') != std::string::npos && !util::ends_with(ctx.group, ".k8s.io")) return out;
      return unexpected(Errc::unsupported, r.from + " is not served by the cluster" +
                                               (r.reason.empty() ? "" : ": " + r.reason));
    }
    if (r.status == patch::ConversionStatus::converted) {
      out.changed = true;
      if (ctx.notes) {
        ctx.notes->push_back("converted " + r.from + " -> " + r.to);
        for (const std::string& n : r.notes) ctx.notes->push_back(n);
      }
    }
    return out;
  }

private:
  patch::ServedApis m_served;
};

}  // namespace

std::shared_ptr<Transform> make_modifiers_transform(patch::ModifierSet rules, std::string file) {
  return std::make_shared<ModifiersTransform>(std::move(rules), std::move(file));
}
std::shared_ptr<Transform> make_mappings_transform(patch::Mappings mappings) {
  return std::make_shared<MappingsTransform>(std::move(mappings));
}
std::shared_ptr<Transform> make_conversion_transform(patch::ServedApis served) {
  return std::make_shared<ConversionTransform>(std::move(served));
}

}  // namespace kbk::restore
