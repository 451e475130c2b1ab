// The cross-cluster flags (crossing_flags.hpp).
#include "crossing_flags.hpp"

#include "commands.hpp"
#include "flags.hpp"

#include <kbk/util/strings.hpp>

namespace kbk::cli {

void add_crossing_flags(CLI::App* cmd, CrossingFlags& f, bool lb_reset_default) {
  // One value per occurrence, never split at commas (a value may hold them).
  cmd->add_option("--set-secret", f.set_secret,
                  "Set a Secret's key from a file: NAMESPACE/NAME:KEY=@FILE (as in the backup; repeatable; the value "
                  "is never logged nor accepted on the command line)")
      ->type_name("NS/NAME:KEY=@FILE")
      ->allow_extra_args(false);
  cmd->add_option("--set-configmap", f.set_configmap,
                  "Set a ConfigMap's key: NAMESPACE/NAME:KEY=VALUE or =@FILE (as in the backup; repeatable)")
      ->type_name("NS/NAME:KEY=VALUE")
      ->allow_extra_args(false);
  add_list_option(cmd, "--lb-annotation-mappings", f.lb_annotation_mappings,
                  "LoadBalancer Service annotations for the new cloud: OLD:NEW (rename), OLD:KEY=VALUE (replace), "
                  "OLD:- (drop), +:KEY=VALUE (add); OLD may end in *",
                  value::k_mappings);
  add_bool_option(cmd, "--lb-reset", f.lb_reset,
                  std::string("Drop loadBalancerIP and the annotations binding LoadBalancer Services to the old "
                              "cloud's load balancer (default ") +
                      (lb_reset_default ? "true" : "false") + ")");
  cmd->add_option("--ingress-class", f.ingress_class,
                  "ingressClassName of the Ingresses made from OpenShift Routes (when the target serves no Routes)")
      ->type_name(value::k_name);
}

restore::CrossingOptions crossing_options(const CrossingFlags& f, bool lb_reset_default) {
  restore::CrossingOptions o;
  o.route.ingress_class = f.ingress_class;
  o.lb.reset = f.lb_reset.empty() ? lb_reset_default : parse_bool_flag("--lb-reset", f.lb_reset);
  for (const std::string& s : f.lb_annotation_mappings) {
    auto m = restore::parse_lb_annotation_mappings(s);
    if (!m) throw Fatal(ExitCode::usage, m.error().message);
    o.lb.mappings.insert(o.lb.mappings.end(), m->begin(), m->end());
  }
  for (const std::string& s : f.set_secret) {
    const size_t colon = s.find(':');
    const size_t eq = s.find('=', colon == std::string::npos ? 0 : colon);
    if (eq != std::string::npos && (eq + 1 >= s.size() || s[eq + 1] != '@'))
      throw Fatal(ExitCode::usage, "--set-secret " + util::printable(s.substr(0, eq), 200) +
                                       "=...: a Secret value on the command line is visible to every process: use =@FILE");
    auto r = restore::parse_value_rewrite(s, "--set-secret");
    if (!r) throw Fatal(ExitCode::usage, r.error().message);
    o.secrets.push_back(std::move(*r));
  }
  for (const std::string& s : f.set_configmap) {
    auto r = restore::parse_value_rewrite(s, "--set-configmap");
    if (!r) throw Fatal(ExitCode::usage, r.error().message);
    o.configmaps.push_back(std::move(*r));
  }
  return o;
}

}  // namespace kbk::cli
