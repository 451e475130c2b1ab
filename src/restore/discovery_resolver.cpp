// TypeResolver over kube::Discovery (kept apart so unit tests that fake the resolver do not link discovery).
#include <kbk/restore/applier.hpp>

#include <kbk/kube/discovery.hpp>

namespace kbk::restore {
namespace {

class DiscoveryResolver : public TypeResolver {
public:
  explicit DiscoveryResolver(kube::Client& client) : m_client(client) {}

  std::optional<kube::ResourceType> find(const std::string& group, const std::string& version,
                                         const std::string& resource) override {
    if (!ensure()) return std::nullopt;
    if (const kube::ResourceType* rt = m_d->find(group, version, resource)) return *rt;
    return std::nullopt;
  }

  std::vector<std::string> served_versions(const std::string& group, const std::string& resource) override {
    std::vector<std::string> out;
    if (!ensure()) return out;
    if (const kube::ResourceType* p = m_d->find(group, resource)) out.push_back(p->version);
    for (const kube::ResourceType& rt : m_d->all_versions())
      if (rt.group == group && rt.resource == resource && (out.empty() || rt.version != out.front()))
        out.push_back(rt.version);
    return out;
  }

  Result<void> refresh() override {
    KBK_ASSIGN_OR_RETURN(kube::Discovery d, kube::Discovery::fetch(m_client));
    m_d = std::move(d);
    return {};
  }

private:
  bool ensure() {
    if (m_d) return true;
    return refresh().ok();
  }

  kube::Client& m_client;
  std::optional<kube::Discovery> m_d;
};

}  // namespace

std::unique_ptr<TypeResolver> make_discovery_resolver(kube::Client& client) {
  return std::make_unique<DiscoveryResolver>(client);
}

}  // namespace kbk::restore
