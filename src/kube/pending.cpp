// TEMPORARY: lets the binary link until kubeconfig loading and the REST client land (issue 2).
// The helper implementing config.cpp / rest_client.cpp deletes this file.
#include <kbk/kube/config.hpp>
#include <kbk/kube/rest_client.hpp>
#include <kbk/util/exit_code.hpp>

namespace kbk::kube {
RestConfig load_config(const ConfigFlags&) { throw Fatal(ExitCode::failed, "kubeconfig loading is not built yet"); }
std::unique_ptr<Client> make_client(const RestConfig&, const ClientOptions&) {
  throw Fatal(ExitCode::failed, "the REST client is not built yet");
}
}  // namespace kbk::kube
