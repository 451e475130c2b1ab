// TEMPORARY: lets the binary link until kubeconfig loading and the exec plugin runner land (issue 2).
// Whoever lands the real definition deletes its stub here; whoever empties this file deletes it.
#include <kbk/kube/config.hpp>
#include <kbk/util/exit_code.hpp>

namespace kbk::kube {
RestConfig load_config(const ConfigFlags&) { throw Fatal(ExitCode::failed, "kubeconfig loading is not built yet"); }
Result<ExecCredential> run_exec_plugin(const ExecConfig&, const std::string&, bool) {
  return unexpected(Errc::unsupported, "exec credential plugins are not built yet");
}
}  // namespace kbk::kube
