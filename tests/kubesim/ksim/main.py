"""kubesim entry point: arguments, certificates, kubeconfig, wiring, ready line, signals."""
import argparse
import base64
import os
import secrets
import signal
import ssl
import subprocess
import sys
import threading


def log(msg):
    print("kubesim: " + msg, file=sys.stderr, flush=True)


def _openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ensure_certs(d):
    paths = {k: os.path.join(d, k) for k in ("ca.crt", "ca.key", "server.crt", "server.key", "admin.crt",
                                             "admin.key")}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", paths["ca.key"], "-out", paths["ca.crt"], "-days", "3650",
             "-subj", "/CN=kubesim-ca", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")

    def leaf(name, subj, ext):
        csr = os.path.join(d, name + ".csr")
        extf = os.path.join(d, name + ".ext")
        with open(extf, "w") as f:
            f.write(ext)
        _openssl("req", *ec, "-keyout", paths[name + ".key"], "-out", csr, "-subj", subj)
        _openssl("x509", "-req", "-in", csr, "-CA", paths["ca.crt"], "-CAkey", paths["ca.key"], "-CAcreateserial",
                 "-out", paths[name + ".crt"], "-days", "3650", "-extfile", extf)
        os.remove(csr)
        os.remove(extf)
    leaf("server", "/CN=kube-apiserver",
         "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default\n"
         "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n")
    leaf("admin", "/O=system:masters/CN=kubesim-admin",
         "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n")
    return paths


def b64file(p):
    with open(p, "rb") as f:
        return base64.b64encode(f.read()).decode()


def write_kubeconfig(path, url, paths, viewer_token):
    text = """apiVersion: v1
kind: Config
clusters:
- name: kubesim
  cluster:
    server: {url}
    certificate-authority-data: {ca}
users:
- name: admin
  user:
    client-certificate-data: {cc}
    client-key-data: {ck}
- name: viewer
  user:
    token: {tok}
contexts:
- name: admin
  context:
    cluster: kubesim
    user: admin
    namespace: default
- name: viewer
  context:
    cluster: kubesim
    user: viewer
    namespace: default
current-context: admin
preferences: {{}}
""".format(url=url, ca=b64file(paths["ca.crt"]), cc=b64file(paths["admin.crt"]), ck=b64file(paths["admin.key"]),
           tok=viewer_token)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def preload(store, n, namespaces=1):
    """N ConfigMaps bench-000000.. in namespace `bench`, or spread round-robin over `bench-000`.. when namespaces > 1."""
    from .store import ApiError
    nss = ["bench"] if namespaces <= 1 else ["bench-%03d" % j for j in range(namespaces)]
    for ns in nss:
        if store.raw_get("", "namespaces", None, ns) is None:
            store.create("", "namespaces", {"metadata": {"name": ns}}, manager="kubesim")
    have = sum(len(store.raw_items("", "configmaps", ns)[0]) for ns in nss)
    if have >= n:
        return
    for i in range(n):
        name = "bench-%06d" % i
        ns = nss[i % len(nss)]
        if store.raw_get("", "configmaps", ns, name) is not None:
            continue
        try:
            store.create("", "configmaps", {"metadata": {"name": name, "namespace": ns,
                                                         "labels": {"bench": "true", "shard": str(i % 10)}},
                                            "data": {"key": "value-%d" % i, "payload": "x" * 64}},
                         manager="kubesim")
        except ApiError:
            pass


def main(argv=None):
    ap = argparse.ArgumentParser(prog="kubesim", description="Kubernetes API server simulator")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--profile", choices=["1.30", "1.21"], default="1.30")
    ap.add_argument("--kubeconfig-out")
    ap.add_argument("--faults", default="")
    ap.add_argument("--token-auth-file")
    ap.add_argument("--continue-ttl", type=float, default=300.0,
                    help="seconds a LIST continue token stays valid (default 300)")
    ap.add_argument("--namespace-termination-seconds", type=float, default=2.0,
                    help="minimum time a deleted namespace stays Terminating (passed to the controllers)")
    ap.add_argument("--crd-establish-seconds", type=float, default=0.3)
    ap.add_argument("--persist-interval", type=float, default=0.5)
    ap.add_argument("--watch-history", type=int, default=50000)
    ap.add_argument("--no-anonymous", action="store_true", help="answer 401 to requests without credentials")
    ap.add_argument("--preload-configmaps", type=int, default=0, metavar="N",
                    help="make sure namespace 'bench' holds N ConfigMaps bench-000000.. (benchmarks, scale tests)")
    ap.add_argument("--preload-namespaces", type=int, default=1, metavar="M",
                    help="with --preload-configmaps: spread them round-robin over namespaces bench-000.. (M > 1)")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)

    sd = os.path.abspath(a.state_dir)
    os.makedirs(sd, exist_ok=True)
    from .registry import Registry
    from .store import Store
    from .admission import Admission
    from .auth import Authenticator
    from .rbac import Authorizer, Aggregator
    from .faults import Faults
    from .crd import CRDManager
    from . import bootstrap, server

    prof_file = os.path.join(sd, "profile")
    if os.path.exists(prof_file):
        with open(prof_file) as f:
            have = f.read().strip()
        if have != a.profile:
            log("state dir %s holds a %s cluster; refusing to start it as %s" % (sd, have, a.profile))
            return 2
    else:
        with open(prof_file, "w") as f:
            f.write(a.profile + "\n")

    paths = ensure_certs(sd)
    tok_file = os.path.join(sd, "viewer.token")
    if not os.path.exists(tok_file):
        with open(tok_file, "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
    with open(tok_file) as f:
        viewer_token = f.read().strip()
    with open(paths["ca.crt"]) as f:
        ca_pem = f.read()

    try:
        faults = Faults(a.faults)
    except ValueError as e:
        log("bad --faults: %s" % e)
        return 2
    options = {"continue_ttl": a.continue_ttl, "namespace_termination_seconds": a.namespace_termination_seconds,
               "ca_pem": ca_pem, "verbose": a.verbose, "persist_interval": a.persist_interval,
               "history": a.watch_history, "state_dir": sd}
    reg = Registry(a.profile)
    store = Store(sd, a.profile, reg, options)
    store.hooks = Admission(a.profile, options)
    crdm = CRDManager(store, reg, a.crd_establish_seconds)
    store.subscribe(crdm.on_event)
    authz = Authorizer(store)
    agg = Aggregator(store)
    store.subscribe(agg.on_event)
    def viewer_follows_crds(etype, group, resource, obj):
        if (group, resource) == ("apiextensions.k8s.io", "customresourcedefinitions"):
            try:
                bootstrap.ensure_viewer(store, reg)
            except Exception as e:
                log("viewer role update failed: %s" % e)
    store.subscribe(viewer_follows_crds)
    fresh = store.is_empty()
    if fresh:
        bootstrap.bootstrap(store, reg, crdm, options)
    else:
        bootstrap.ensure_viewer(store, reg)
    agg.sync()
    if a.preload_configmaps:
        preload(store, a.preload_configmaps, a.preload_namespaces)
        store.save()  # one snapshot now rather than a huge change-log flush while serving
    import gc
    gc.freeze()  # bootstrap/restored objects are long-lived: keep them out of the cyclic collector's scans
    gc.set_threshold(50000, 20, 100)
    from .auth import User
    authn = Authenticator(a.token_auth_file, {viewer_token: User(bootstrap.VIEWER_USER,
                                                                 [bootstrap.VIEWER_USER + "s",
                                                                  "system:authenticated"])},
                          anonymous=not a.no_anonymous)
    authn.watch_secret_tokens(store)

    controllers = None
    try:
        from .controllers import ControllerManager
    except ImportError:
        ControllerManager = None
    if ControllerManager is not None:
        try:
            controllers = ControllerManager(store, sd, a.profile, options)
            controllers.start()
        except Exception as e:
            import traceback
            traceback.print_exc()
            log("controllers failed to start: %s" % e)
            controllers = None

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(paths["server.crt"], paths["server.key"])
    ctx.load_verify_locations(paths["ca.crt"])
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    ks = server.KubeSim(store, reg, authn, authz, faults, options)
    srv = server.Server(("127.0.0.1", a.port), ks, ctx)
    port = srv.server_address[1]
    url = "https://127.0.0.1:%d" % port
    write_kubeconfig(a.kubeconfig_out or os.path.join(sd, "kubeconfig"), url, paths, viewer_token)

    done = threading.Event()

    def stop(signum, frame):
        done.set()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    sys.stdout.write("kubesim ready %s\n" % url)
    sys.stdout.flush()
    log("profile %s, state %s%s" % (a.profile, sd, " (fresh)" if fresh else " (restored)"))
    while not done.wait(1.0):
        pass
    log("shutting down")
    srv.shutdown()
    if controllers is not None:
        try:
            controllers.stop()
        except Exception:
            pass
    store.close()
    srv.server_close()
    return 0
