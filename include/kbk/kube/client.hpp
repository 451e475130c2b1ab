// The Kubernetes REST client interface. Engines (backup, restore) take a Client& so tests can hand them a
// recording fake; make_client() (kube/rest_client.hpp) builds the real one over the http module.
//
// Contract for every call: an API error comes back as Error with code mapped from Status.reason
// (Errc::not_found, already_exists, conflict, forbidden, invalid, gone, ...), http_status, reason, the server's
// message and causes. Retries (429/5xx/resets, idempotent requests only) happen inside the real client; an
// error returned here is final.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <kbk/http/http.hpp>
#include <kbk/json/json.hpp>
#include <kbk/kube/pod_exec.hpp>
#include <kbk/kube/resource.hpp>
#include <kbk/util/error.hpp>

namespace kbk::kube {

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // "" = most recent
  int64_t limit = 500;           // page size; 0 = no limit
};

// One page of a LIST. `list` is the whole List document the server sent (items lack apiVersion/kind).
struct ListPage {
  json::Document list;
  std::string continue_token;
  std::string resource_version;
  std::optional<int64_t> remaining_item_count;
};

enum class PatchType { json, merge, strategic, apply };
const char* patch_content_type(PatchType type);

enum class DryRun { no, yes };

// A response body as the server sent it, with its Content-Type (discovery picks the document format by it).
struct RawResponse {
  int status = 200;
  std::string content_type;
  std::string body;
};

// A write whose retry waits come back to the caller instead of being slept (http::Deferral): the caller does other
// work and sends it again, with the same Deferral, once Deferral::seconds have passed.
using Deferral = http::Deferral;

struct WriteOptions {
  DryRun dry_run = DryRun::no;
  std::string field_manager = "kbk";
  bool force = false;               // server-side apply only
  std::string field_validation;     // "", "Strict", "Warn", "Ignore"
  // create only: when set, a failure the client would wait out and retry is returned with deferral->deferred set
  // (the error is then not final). Resent with the same Deferral, a create keeps resolving an AlreadyExists
  // after an earlier ambiguous failure (a reset, a 5xx) as the retried create of its own first attempt.
  Deferral* deferral = nullptr;
};

struct DeleteOptions {
  std::string propagation_policy;   // "", "Background", "Foreground", "Orphan"
  DryRun dry_run = DryRun::no;
  std::optional<int64_t> grace_period_seconds;
};

class Client {
public:
  virtual ~Client() = default;

  virtual Result<json::Document> get(const ResourceType& rt, std::string_view ns, std::string_view name,
                                     std::string_view subresource = "") = 0;
  // Pages through a LIST (limit + continue), calling on_page for each page in order; memory stays at one page.
  // An error from on_page stops the listing and is returned. ns "" lists across namespaces.
  // A 410 Expired continue token is returned as Errc::gone (callers decide whether to re-list).
  virtual Result<void> list(const ResourceType& rt, std::string_view ns, const ListOptions& options,
                            const std::function<Result<void>(ListPage&)>& on_page) = 0;
  virtual Result<json::Document> create(const ResourceType& rt, std::string_view ns, const json::Value& obj,
                                        const WriteOptions& options) = 0;
  // PUT of the whole object (obj carries metadata.resourceVersion for optimistic concurrency).
  virtual Result<json::Document> update(const ResourceType& rt, std::string_view ns, const json::Value& obj,
                                        const WriteOptions& options, std::string_view subresource = "") = 0;
  virtual Result<json::Document> patch(const ResourceType& rt, std::string_view ns, std::string_view name,
                                       PatchType type, std::string_view body, const WriteOptions& options,
                                       std::string_view subresource = "") = 0;
  // Returns the deleted object or Status as the server sent it.
  virtual Result<json::Document> remove(const ResourceType& rt, std::string_view ns, std::string_view name,
                                        const DeleteOptions& options) = 0;
  // Any other request: GET /version, POST a SelfSubjectAccessReview, discovery documents.
  // `accept` "" means application/json. Returns the parsed JSON body.
  virtual Result<json::Document> request(std::string_view method, std::string_view path, std::string_view body = "",
                                         std::string_view content_type = "", std::string_view accept = "") = 0;
  // Like request(), but returns the body unparsed with its Content-Type; non-2xx answers are errors as above.
  // The default (for fakes) calls request() and reports application/json.
  virtual Result<RawResponse> request_raw(std::string_view method, std::string_view path, std::string_view body = "",
                                          std::string_view content_type = "", std::string_view accept = "") {
    KBK_ASSIGN_OR_RETURN(json::Document doc, request(method, path, body, content_type, accept));
    return RawResponse{200, "application/json", json::to_string(doc)};
  }
  // Starts a command in a pod (pods/exec; see kube/pod_exec.hpp). Errors before the command starts: the
  // upgrade's Status (Errc::not_found for a missing pod, forbidden, bad_request for a container that is not
  // running or not there, unsupported for a server that speaks only SPDY), transport errors. Fakes return
  // make_fake_exec_session(); the default says Errc::unsupported.
  virtual Result<std::unique_ptr<ExecSession>> exec(const ExecRequest& request) {
    return unexpected(Errc::unsupported, "exec in " + exec_target(request) + ": this client cannot exec");
  }
};

}  // namespace kbk::kube
