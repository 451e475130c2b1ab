// A kubeconfig as `kbk --kubeconfig` reads it, and what an exec credential plugin prints. The first byte picks:
// kubeconfig files (parts separated by fuzz::k_separator, read in order and merged first-wins as KUBECONFIG=a:b
// merges them), or an exec plugin's stdout read as an ExecCredential of v1 or v1beta1. Errors are kbk::Fatal
// (exit 3, one line) for a kubeconfig and Errc::config for a plugin's output; the line must print.
// fuzz-link: kbk_kube kbk_storage
#include <kbk/kube/config.hpp>
#include <kbk/util/error.hpp>
#include <kbk/util/exit_code.hpp>
#include <kbk/util/strings.hpp>

#include "../../src/kube/kubeconfig.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kbk;
  if (size == 0) return 0;
  const uint8_t pick = data[0] % 3;
  ++data;
  --size;
  if (pick == 0) {
    kube::detail::Kubeconfig merged;
    int n = 0;
    for (auto part : fuzz::split(data, size, 4)) {
      try {
        auto one = kube::detail::parse_kubeconfig(part, "/fuzz/config-" + std::to_string(n++));
        kube::detail::merge_first_wins(merged, std::move(one));
      } catch (const Fatal& f) {
        (void)util::printable(f.what());
      }
    }
    return 0;
  }
  kube::ExecConfig exec;
  exec.api_version = pick == 1 ? "client.authentication.k8s.io/v1" : "client.authentication.k8s.io/v1beta1";
  auto cred = kube::parse_exec_credential(std::string(reinterpret_cast<const char*>(data), size), exec, "plugin");
  if (!cred) (void)util::printable(cred.error().message);
  return 0;
}
