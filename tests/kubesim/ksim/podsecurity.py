"""Pod Security admission (the API server's built-in PodSecurity plugin), for the baseline and restricted levels of
the current policy version, with the API server's own reasons and details.

A namespace opts in with labels `pod-security.kubernetes.io/<mode>` = privileged|baseline|restricted and
`pod-security.kubernetes.io/<mode>-version` = latest|v1.N (default latest), mode = enforce, warn or audit:
  * enforce: a pod that violates the level is refused, 403 Forbidden,
    `pods "x" is forbidden: violates PodSecurity "restricted:latest": <reason> (<detail>), ...`;
  * warn: the request goes through with a Warning header `would violate PodSecurity "baseline:latest": ...`;
    pod templates of workloads (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
    ReplicationController, PodTemplate) get the warning for the enforce level and the warn level (never refused);
  * audit: accepted and ignored (kubesim keeps no audit log).
Changing a namespace's enforce level warns about the existing pods that violate the new one (grouped by reasons).
Every version label is evaluated with the newest checks (kubesim does not keep old policy versions), and printed as
given. Checks and their order are upstream's: baseline checks sorted by check id, then restricted ones, the
restricted capabilities and seccomp checks replacing their baseline counterparts. Not checked: AppArmor,
SELinux options, Windows hostProcess, probe/lifecycle hosts (nothing in kubesim sets them meaningfully).
"""

PREFIX = "pod-security.kubernetes.io/"
LEVELS = ("privileged", "baseline", "restricted")
WORKLOAD_TEMPLATES = {
    "Deployment": ("spec", "template"), "ReplicaSet": ("spec", "template"), "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"), "Job": ("spec", "template"), "ReplicationController": ("spec", "template"),
    "PodTemplate": ("template",), "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                 "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
ALLOWED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
                   "secret")


def join_quote(items):
    return '"' + '", "'.join(items) + '"' if items else ""


def plural(singular, plural_, n):
    return singular if n == 1 else plural_


def containers(spec):
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            if isinstance(c, dict):
                yield c


def _sc(c):
    return c.get("securityContext") or {}


def _named(what, names):
    return "%s %s" % (plural(what, what + "s", len(names)), join_quote(names))


# ---------------------------------------------------------------------------------------------------- baseline
def capabilities_baseline(spec):
    bad, caps = [], set()
    for c in containers(spec):
        add = [a for a in ((_sc(c).get("capabilities") or {}).get("add") or []) if a not in BASELINE_CAPS]
        if add:
            bad.append(c.get("name", ""))
            caps.update(add)
    if bad:
        return "non-default capabilities", "%s must not include %s in securityContext.capabilities.add" % (
            _named("container", bad), join_quote(sorted(caps)))


def host_namespaces(spec):
    found = sorted(k for k in ("hostIPC", "hostNetwork", "hostPID") if spec.get(k))
    if found:
        return "host namespaces", ", ".join(found)


def host_path_volumes(spec):
    bad = [v.get("name", "") for v in spec.get("volumes") or [] if v.get("hostPath") is not None]
    if bad:
        return "hostPath volumes", _named("volume", bad)


def host_ports(spec):
    bad, ports = [], set()
    for c in containers(spec):
        hp = [p.get("hostPort") for p in c.get("ports") or [] if p.get("hostPort")]
        if hp:
            bad.append(c.get("name", ""))
            ports.update(str(p) for p in hp)
    if bad:
        return "hostPort", "%s %s %s %s" % (_named("container", bad), plural("uses", "use", len(bad)),
                                             plural("hostPort", "hostPorts", len(ports)), ", ".join(sorted(ports)))


def privileged(spec):
    bad = [c.get("name", "") for c in containers(spec) if _sc(c).get("privileged") is True]
    if bad:
        return "privileged", "%s must not set securityContext.privileged=true" % _named("container", bad)


def proc_mount(spec):
    bad, values = [], set()
    for c in containers(spec):
        pm = _sc(c).get("procMount")
        if pm not in (None, "", "Default"):
            bad.append(c.get("name", ""))
            values.add(pm)
    if bad:
        return "procMount", "%s must not set securityContext.procMount to %s" % (_named("container", bad),
                                                                                 join_quote(sorted(values)))


def _seccomp_setters(spec, bad_type):
    setters, values = [], set()
    pod = ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    if pod is not None and bad_type(pod):
        setters.append("pod")
        values.add(pod)
    bad = []
    for c in containers(spec):
        t = (_sc(c).get("seccompProfile") or {}).get("type")
        if t is not None and bad_type(t):
            bad.append(c.get("name", ""))
            values.add(t)
    if bad:
        setters.append(_named("container", bad))
    return setters, values


def seccomp_baseline(spec):
    setters, values = _seccomp_setters(spec, lambda t: t == "Unconfined")
    if setters:
        return "seccompProfile", "%s must not set securityContext.seccompProfile.type to %s" % (
            " and ".join(setters), join_quote(sorted(values)))


def sysctls(spec):
    bad = [s.get("name", "") for s in (spec.get("securityContext") or {}).get("sysctls") or []
           if s.get("name") not in SAFE_SYSCTLS]
    if bad:
        return "forbidden sysctls", ", ".join(bad)


# ---------------------------------------------------------------------------------------------------- restricted
def allow_privilege_escalation(spec):
    bad = [c.get("name", "") for c in containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False]
    if bad:
        return "allowPrivilegeEscalation != false", \
            "%s must set securityContext.allowPrivilegeEscalation=false" % _named("container", bad)


def capabilities_restricted(spec):
    missing, adding, caps = [], [], set()
    for c in containers(spec):
        capsec = _sc(c).get("capabilities")
        if not capsec:
            missing.append(c.get("name", ""))
            continue
        if "ALL" not in (capsec.get("drop") or []):
            missing.append(c.get("name", ""))
        extra = [a for a in capsec.get("add") or [] if a != "NET_BIND_SERVICE"]
        if extra:
            adding.append(c.get("name", ""))
            caps.update(extra)
    details = []
    if missing:
        details.append('%s must set securityContext.capabilities.drop=["ALL"]' % _named("container", missing))
    if adding:
        details.append("%s must not include %s in securityContext.capabilities.add" % (
            _named("container", adding), join_quote(sorted(caps))))
    if details:
        return "unrestricted capabilities", "; ".join(details)


def restricted_volumes(spec):
    bad, types = [], set()
    for v in spec.get("volumes") or []:
        if any(v.get(k) is not None for k in ALLOWED_VOLUMES):
            continue
        bad.append(v.get("name", ""))
        kind = next((k for k in v if k != "name"), "unknown")
        types.add(kind if kind in ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs",
                                   "iscsi", "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc",
                                   "azureFile", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk",
                                   "portworxVolume", "scaleIO", "storageos") else "unknown")
    if bad:
        return "restricted volume types", "%s %s %s %s" % (
            _named("volume", bad), plural("uses", "use", len(bad)),
            plural("restricted volume type", "restricted volume types", len(types)), join_quote(sorted(types)))


def run_as_non_root(spec):
    setters = []
    pod = (spec.get("securityContext") or {}).get("runAsNonRoot")
    if pod is False:
        setters.append("pod")
    explicit, implicit = [], []
    for c in containers(spec):
        v = _sc(c).get("runAsNonRoot")
        if v is not None:
            if v is False:
                explicit.append(c.get("name", ""))
        elif pod is not True:
            implicit.append(c.get("name", ""))
    if explicit:
        setters.append(_named("container", explicit))
    if setters:
        return "runAsNonRoot != true", "%s must not set securityContext.runAsNonRoot=false" % " and ".join(setters)
    if implicit:
        return "runAsNonRoot != true", "pod or %s must set securityContext.runAsNonRoot=true" % _named(
            "container", implicit)


def run_as_user(spec):
    setters = []
    if (spec.get("securityContext") or {}).get("runAsUser") == 0:
        setters.append("pod")
    bad = [c.get("name", "") for c in containers(spec) if _sc(c).get("runAsUser") == 0]
    if bad:
        setters.append(_named("container", bad))
    if setters:
        return "runAsUser=0", "%s must not set runAsUser=0" % " and ".join(setters)


def seccomp_restricted(spec):
    setters, values = _seccomp_setters(spec, lambda t: t not in ("RuntimeDefault", "Localhost"))
    if setters:
        return "seccompProfile", "%s must not set securityContext.seccompProfile.type to %s" % (
            " and ".join(setters), join_quote(sorted(values)))
    pod = ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    if pod in ("RuntimeDefault", "Localhost"):
        return None
    implicit = [c.get("name", "") for c in containers(spec) if not (_sc(c).get("seccompProfile") or {}).get("type")]
    if implicit:
        return "seccompProfile", ('pod or %s must set securityContext.seccompProfile.type to "RuntimeDefault" or '
                                  '"Localhost"' % _named("container", implicit))


# (check id, level, function, ids it replaces) in upstream's evaluation order: by level, then by id.
CHECKS = [
    ("capabilities_baseline", "baseline", capabilities_baseline, ()),
    ("hostNamespaces", "baseline", host_namespaces, ()),
    ("hostPathVolumes", "baseline", host_path_volumes, ()),
    ("hostPorts", "baseline", host_ports, ()),
    ("privileged", "baseline", privileged, ()),
    ("procMount", "baseline", proc_mount, ()),
    ("seccompProfile_baseline", "baseline", seccomp_baseline, ()),
    ("sysctls", "baseline", sysctls, ()),
    ("allowPrivilegeEscalation", "restricted", allow_privilege_escalation, ()),
    ("capabilities_restricted", "restricted", capabilities_restricted, ("capabilities_baseline",)),
    ("restrictedVolumes", "restricted", restricted_volumes, ()),
    ("runAsNonRoot", "restricted", run_as_non_root, ()),
    ("runAsUser", "restricted", run_as_user, ()),
    ("seccompProfile_restricted", "restricted", seccomp_restricted, ("seccompProfile_baseline",)),
]


def violations(level, spec):
    """[(reason, detail)] of a pod spec against a level ('privileged' allows everything)."""
    if level == "privileged" or not isinstance(spec, dict):
        return []
    active = [c for c in CHECKS if c[1] == "baseline" or level == "restricted"]
    replaced = {r for c in active for r in c[3]}
    out = []
    for cid, _lvl, fn, _rep in active:
        if cid in replaced:
            continue
        r = fn(spec)
        if r:
            out.append(r)
    return out


def describe(found):
    return ", ".join("%s (%s)" % r for r in found)


def namespace_policy(store, ns):
    """{mode: (level, version)} from the namespace's labels (modes without a valid level are absent)."""
    nsobj = store.raw_get("", "namespaces", None, ns) if ns else None  # read only: no copy
    labels = ((nsobj or {}).get("metadata") or {}).get("labels") or {}
    out = {}
    for mode in ("enforce", "warn", "audit"):
        level = labels.get(PREFIX + mode)
        if level in LEVELS:
            version = labels.get(PREFIX + mode + "-version") or "latest"
            out[mode] = (level, version)
    return out


def enforce_pod(store, pod):
    """The 403 message for a pod its namespace's enforce level refuses, else None."""
    md = pod.get("metadata") or {}
    pol = namespace_policy(store, md.get("namespace"))
    if "enforce" not in pol:
        return None
    level, version = pol["enforce"]
    found = violations(level, pod.get("spec"))
    if not found:
        return None
    return 'violates PodSecurity "%s:%s": %s' % (level, version, describe(found))


def warnings(store, kind, obj):
    """Warning texts for a create or update: pods against the warn level; workload templates against the enforce
    and warn levels (once per distinct level)."""
    if kind == "Pod":
        spec, modes = obj.get("spec"), ("warn",)
    elif kind in WORKLOAD_TEMPLATES:
        t = obj
        for k in WORKLOAD_TEMPLATES[kind]:
            t = (t or {}).get(k) if isinstance(t, dict) else None
        spec, modes = (t or {}).get("spec") if isinstance(t, dict) else None, ("enforce", "warn")
    else:
        return []  # other kinds have no pod template: no need to read the namespace
    md = obj.get("metadata") or {}
    pol = namespace_policy(store, md.get("namespace"))
    out, seen = [], set()
    for mode in modes:
        if mode not in pol or pol[mode] in seen:
            continue
        seen.add(pol[mode])
        level, version = pol[mode]
        if kind == "Pod" and "enforce" in pol and pol["enforce"] == pol[mode]:
            continue  # refused anyway
        found = violations(level, spec)
        if found:
            out.append('would violate PodSecurity "%s:%s": %s' % (level, version, describe(found)))
    return out


def _labels_policy(labels, mode):
    level = (labels or {}).get(PREFIX + mode)
    if level not in LEVELS:
        return None
    return level, (labels or {}).get(PREFIX + mode + "-version") or "latest"


def namespace_warnings(store, old, new):
    """What the API server says when a namespace's enforce level changes (kubectl label, dry-run included): the
    existing pods that violate the new level, grouped by identical reasons, pods by name."""
    new_labels = ((new or {}).get("metadata") or {}).get("labels") or {}
    old_labels = ((old or {}).get("metadata") or {}).get("labels") or {}
    pol = _labels_policy(new_labels, "enforce")
    if pol is None or pol == _labels_policy(old_labels, "enforce") or pol[0] == "privileged":
        return []
    ns = ((new or {}).get("metadata") or {}).get("name")
    groups, order = {}, []
    for p in sorted(store.list("", "pods", ns), key=lambda o: o["metadata"]["name"]):
        found = violations(pol[0], p.get("spec"))
        if not found:
            continue
        key = ", ".join(r for r, _d in found)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(p["metadata"]["name"])
    if not order:
        return []
    out = ['existing pods in namespace "%s" violate the new PodSecurity enforce level "%s:%s"' % (ns, pol[0], pol[1])]
    for key in order:
        names = groups[key]
        if len(names) == 1:
            out.append("%s: %s" % (names[0], key))
        else:
            out.append("%s (and %d other pod%s): %s" % (names[0], len(names) - 1, "" if len(names) == 2 else "s", key))
    return out
