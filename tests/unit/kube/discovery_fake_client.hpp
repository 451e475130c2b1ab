// A Client that answers discovery requests from canned documents (path -> status, Content-Type, body).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <kbk/kube/client.hpp>

#include "discovery_fixtures.hpp"
#include "status.hpp"

struct DiscoveryFakeClient : kbk::kube::Client {
  struct Answer {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    bool unreachable = false;
  };
  std::map<std::string, Answer> answers;
  std::vector<std::pair<std::string, std::string>> seen;  // path, accept
  std::mutex mutex;

  using Doc = kbk::Result<kbk::json::Document>;
  Doc get(const kbk::kube::ResourceType&, std::string_view, std::string_view, std::string_view) override { return no(); }
  kbk::Result<void> list(const kbk::kube::ResourceType&, std::string_view, const kbk::kube::ListOptions&,
                         const std::function<kbk::Result<void>(kbk::kube::ListPage&)>&) override {
    return kbk::unexpected(kbk::Errc::unsupported, "fake");
  }
  Doc create(const kbk::kube::ResourceType&, std::string_view, const kbk::json::Value&, const kbk::kube::WriteOptions&) override { return no(); }
  Doc update(const kbk::kube::ResourceType&, std::string_view, const kbk::json::Value&, const kbk::kube::WriteOptions&,
             std::string_view) override { return no(); }
  Doc patch(const kbk::kube::ResourceType&, std::string_view, std::string_view, kbk::kube::PatchType, std::string_view,
            const kbk::kube::WriteOptions&, std::string_view) override { return no(); }
  Doc remove(const kbk::kube::ResourceType&, std::string_view, std::string_view, const kbk::kube::DeleteOptions&) override { return no(); }
  Doc request(std::string_view, std::string_view, std::string_view, std::string_view, std::string_view) override { return no(); }

  kbk::Result<kbk::kube::RawResponse> request_raw(std::string_view, std::string_view path, std::string_view,
                                                 std::string_view, std::string_view accept) override {
    {
      std::lock_guard lock(mutex);
      seen.emplace_back(std::string(path), std::string(accept));
    }
    auto it = answers.find(std::string(path));
    if (it == answers.end()) return kbk::kube::status_error(404, "404 page not found\n", {"GET", "", "", ""});
    const Answer& a = it->second;
    if (a.unreachable) return kbk::unexpected(kbk::Errc::network, "cannot reach the API server: connection refused");
    if (a.status >= 300) return kbk::kube::status_error(a.status, a.body, {"GET", "", "", ""});
    return kbk::kube::RawResponse{a.status, a.content_type, a.body};
  }

private:
  static Doc no() { return kbk::unexpected(kbk::Errc::unsupported, "fake"); }
};

// The two clusters of discovery_fixtures.hpp: a current one (aggregated discovery, /api and /apis only) and an old
// one (legacy discovery, one document per group version).
inline void serve_aggregated_cluster(DiscoveryFakeClient& c) {
  c.answers["/api"] = {200, fixtures::k_v2, fixtures::k_aggregated_core, false};
  c.answers["/apis"] = {200, fixtures::k_v2, fixtures::k_aggregated_apis, false};
}

inline void serve_legacy_cluster(DiscoveryFakeClient& c) {
  c.answers["/api"] = {200, "application/json", fixtures::k_legacy_api, false};
  c.answers["/api/v1"] = {200, "application/json", fixtures::k_legacy_api_v1, false};
  c.answers["/apis"] = {200, "application/json", fixtures::k_legacy_apis, false};
  c.answers["/apis/apps/v1"] = {200, "application/json", fixtures::k_legacy_apps_v1, false};
  c.answers["/apis/events.k8s.io/v1beta1"] = {200, "application/json", fixtures::k_legacy_events_v1beta1, false};
  c.answers["/apis/extensions/v1beta1"] = {200, "application/json", fixtures::k_legacy_extensions, false};
  c.answers["/apis/networking.k8s.io/v1"] = {200, "application/json", fixtures::k_legacy_networking_v1, false};
  c.answers["/apis/networking.k8s.io/v1beta1"] = {200, "application/json", fixtures::k_legacy_networking_v1beta1, false};
}
