#!/usr/bin/python3
"""Structural check of deploy/k8s/ (no cluster needed).

Renders kustomization.yaml the simple way kustomize would for this folder
(its resources, plus the policy ConfigMap generated from
../../policy/default.yaml) and checks:
  * every file parses as YAML; every object has apiVersion, kind,
    metadata.name, and the kind is one we expect;
  * the worker Deployment (qf-worker, 2 replicas) and the approver (qf-approver,
    1 replica) run /usr/local/bin/qf worker|approver, select their own pod
    labels, set resource requests and limits, run as non-root without
    privilege escalation, take QF_AMQP_URL and QF_DATABASE_URL from the
    Secret qf-secrets (keys present in secret.example.yaml, which holds only
    REPLACE_ placeholders), and probe /healthz (liveness) and /readyz
    (readiness) on the port QF_METRICS_ADDR names, with Prometheus scrape
    annotations for /metrics;
  * terminationGracePeriodSeconds > QF_SHUTDOWN_GRACE_S (the env value, else
    the default from worker/cmd_worker.c), with >= 10 s to spare;
  * the worker mounts the policy ConfigMap at QF_POLICY's folder, and PVCs
    for QF_ARTIFACTS_ROOT and QF_WORKSPACE_ROOT, all of which exist;
  * the ScaledObject targets the worker Deployment with a rabbitmq trigger in
    mode QueueLength on queue qf.orchestrations (the name in
    deploy/asyncapi.yaml), through a TriggerAuthentication that exists and
    reads the host from a key of qf-secrets;
  * the ConfigMap generator's file is the repository's policy/default.yaml.
With kubectl on PATH it also renders the folder with `kubectl kustomize`
(optional: the check passes without it). Exits 1 on any problem.
"""
import pathlib
import re
import shutil
import subprocess
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
KINDS = {"Namespace", "PersistentVolumeClaim", "Deployment", "ConfigMap", "Secret",
         "ScaledObject", "TriggerAuthentication"}
problems = []


def problem(msg):
    problems.append(msg)


def load_all(path):
    try:
        return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as e:
        problem(f"{path.name}: invalid YAML: {e}")
        return []


def c_default(var):
    # qf_cli_env_int("worker", "QF_X", default, ...) in worker/cmd_worker.c
    m = re.search(r'env_int\((?:"[a-z]+",\s*)?"%s",\s*(\d+)' % var,
                  (REPO / "worker" / "cmd_worker.c").read_text())
    if m is None:
        problem(f"cannot find the default of {var} in worker/cmd_worker.c")
        return 0
    return int(m.group(1))


def env_map(container):
    return {e["name"]: e for e in container.get("env") or []}


def check_deployment(d, name, replicas, command, secret_keys, pvcs, configmaps):
    where = f"Deployment {name}"
    spec = d.get("spec") or {}
    if spec.get("replicas") != replicas:
        problem(f"{where}: replicas {spec.get('replicas')}, expected {replicas}")
    tmpl = spec.get("template") or {}
    sel = (spec.get("selector") or {}).get("matchLabels") or {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    if not sel or any(labels.get(k) != v for k, v in sel.items()):
        problem(f"{where}: selector {sel} does not match the pod labels {labels}")
    pod = tmpl.get("spec") or {}
    containers = pod.get("containers") or []
    if len(containers) != 1:
        problem(f"{where}: expected one container")
        return pod, {}
    c = containers[0]
    if c.get("command") != command:
        problem(f"{where}: command {c.get('command')}, expected {command}")
    res = c.get("resources") or {}
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in (res.get(part) or {}):
                problem(f"{where}: resources.{part}.{r} is not set")
    sc = c.get("securityContext") or {}
    if sc.get("allowPrivilegeEscalation") is not False:
        problem(f"{where}: allowPrivilegeEscalation must be false")
    if (pod.get("securityContext") or {}).get("runAsNonRoot") is not True:
        problem(f"{where}: runAsNonRoot must be true")
    env = env_map(c)
    for var in ("QF_AMQP_URL", "QF_DATABASE_URL"):
        ref = ((env.get(var) or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
        if ref.get("name") != "qf-secrets" or ref.get("key") not in secret_keys:
            problem(f"{where}: {var} must come from a key of Secret qf-secrets "
                    f"(got {ref or env.get(var)})")
    # The probes point at the endpoints qf serves (QF_METRICS_ADDR), on the
    # port the env names, and Prometheus is told where to scrape.
    addr = (env.get("QF_METRICS_ADDR") or {}).get("value") or ""
    port = addr.rsplit(":", 1)[-1] if addr else ""
    named = {p.get("name"): str(p.get("containerPort")) for p in c.get("ports") or []}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = (c.get(probe) or {}).get("httpGet") or {}
        if get.get("path") != path:
            problem(f"{where}: {probe} must GET {path} (got {get or c.get(probe)})")
        target = str(get.get("port"))
        if named.get(target, target) != port:
            problem(f"{where}: {probe} port {target} is not QF_METRICS_ADDR's {port!r}")
    notes = (tmpl.get("metadata") or {}).get("annotations") or {}
    if notes.get("prometheus.io/scrape") != "true" or notes.get("prometheus.io/port") != port \
            or notes.get("prometheus.io/path") != "/metrics":
        problem(f"{where}: the pod template needs prometheus.io/scrape, port {port} "
                "and path /metrics annotations")
    vols = {v["name"]: v for v in pod.get("volumes") or []}
    for v in vols.values():
        claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
        if claim and claim not in pvcs:
            problem(f"{where}: volume {v['name']} uses a missing PVC {claim}")
        cm = (v.get("configMap") or {}).get("name")
        if cm and cm not in configmaps:
            problem(f"{where}: volume {v['name']} uses a missing ConfigMap {cm}")
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
    for m in mounts.values():
        if m not in vols:
            problem(f"{where}: volumeMount {m} has no volume")
    return pod, {"env": env, "mounts": mounts, "vols": vols}


def main():
    kust = yaml.safe_load((HERE / "kustomization.yaml").read_text())
    objs = []
    for res in kust.get("resources") or []:
        for d in load_all(HERE / res):
            d["__file"] = res
            objs.append(d)
    for gen in kust.get("configMapGenerator") or []:
        for f in gen.get("files") or []:
            key, _, src = f.partition("=")
            src_path = (HERE / (src or key)).resolve()
            if src_path != (REPO / "policy" / "default.yaml").resolve():
                problem(f"kustomization.yaml: generator {gen['name']} reads {src_path}, "
                        "expected the repository's policy/default.yaml")
            if not src_path.is_file():
                problem(f"kustomization.yaml: {src_path} does not exist")
            else:
                yaml.safe_load(src_path.read_text())  # the policy parses
        objs.append({"apiVersion": "v1", "kind": "ConfigMap", "__file": "(generated)",
                     "metadata": {"name": gen["name"]}, "data": {}})
    secret = load_all(HERE / "secret.example.yaml")
    for path in sorted(HERE.glob("*.yaml")):  # every file parses, listed or not
        load_all(path)

    for d in objs + secret:
        for k in ("apiVersion", "kind"):
            if not d.get(k):
                problem(f"{d.get('__file')}: an object lacks {k}")
        if not (d.get("metadata") or {}).get("name"):
            problem(f"{d.get('__file')}: a {d.get('kind')} lacks metadata.name")
        if d.get("kind") not in KINDS:
            problem(f"{d.get('__file')}: unexpected kind {d.get('kind')}")
    by = {}
    for d in objs:
        by.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    if any(d.get("kind") == "Secret" for d in objs):
        problem("kustomization.yaml: a Secret is among the resources; secrets are "
                "created by the operator from secret.example.yaml")

    # The Secret template: placeholders only.
    keys = set()
    for s in secret:
        if s.get("kind") == "Secret" and s["metadata"]["name"] == "qf-secrets":
            data = s.get("stringData") or {}
            keys = set(data)
            for k, v in data.items():
                if v and "REPLACE_" not in v:
                    problem(f"secret.example.yaml: {k} holds a value that is not a "
                            "REPLACE_ placeholder")
    if not keys:
        problem("secret.example.yaml: no Secret qf-secrets with stringData")

    pvcs = set(by.get("PersistentVolumeClaim", {}))
    cms = set(by.get("ConfigMap", {}))
    deps = by.get("Deployment", {})
    if "qf-worker" not in deps or "qf-approver" not in deps:
        problem("Deployments qf-worker and qf-approver are both required")
        return finish()
    pod, w = check_deployment(deps["qf-worker"], "qf-worker", 2,
                              ["/usr/local/bin/qf", "worker"], keys, pvcs, cms)
    check_deployment(deps["qf-approver"], "qf-approver", 1,
                     ["/usr/local/bin/qf", "approver"], keys, pvcs, cms)

    # Shutdown: the kubelet's SIGKILL after the worker's own grace.
    env = w.get("env", {})
    grace = int((env.get("QF_SHUTDOWN_GRACE_S") or {}).get("value") or
                c_default("QF_SHUTDOWN_GRACE_S"))
    tgps = pod.get("terminationGracePeriodSeconds", 30)
    if not tgps > grace:
        problem(f"qf-worker: terminationGracePeriodSeconds {tgps} must exceed "
                f"QF_SHUTDOWN_GRACE_S {grace}")
    elif tgps < grace + 10:
        problem(f"qf-worker: terminationGracePeriodSeconds {tgps} leaves under 10 s "
                f"after the {grace} s grace to stop the tool group and requeue")
    else:
        print(f"qf-worker: terminationGracePeriodSeconds {tgps} > QF_SHUTDOWN_GRACE_S {grace}")

    # Policy, artifacts and workspaces are mounted where the env says.
    mounts, vols = w.get("mounts", {}), w.get("vols", {})
    def mounted(path, want):
        best = max((m for m in mounts if path == m or path.startswith(m.rstrip("/") + "/")),
                   key=len, default=None)
        v = vols.get(mounts.get(best)) if best else None
        if not v or want not in v:
            problem(f"qf-worker: {path} is not on a {want} volume")
    for var, want in (("QF_POLICY", "configMap"), ("QF_ARTIFACTS_ROOT", "persistentVolumeClaim"),
                      ("QF_WORKSPACE_ROOT", "persistentVolumeClaim")):
        val = (env.get(var) or {}).get("value")
        if not val or not val.startswith("/"):
            problem(f"qf-worker: {var} must be set to an absolute path")
        else:
            mounted(val, want)

    # KEDA
    queue = None
    doc = yaml.safe_load((REPO / "deploy" / "asyncapi.yaml").read_text())
    for ch in (doc.get("channels") or {}).values():
        q = ((ch.get("bindings") or {}).get("amqp") or {}).get("queue") or {}
        if (q.get("name") or "").endswith(".orchestrations"):
            queue = q["name"]
    sos = by.get("ScaledObject", {})
    tas = by.get("TriggerAuthentication", {})
    if len(sos) != 1:
        problem("exactly one ScaledObject expected")
    for name, so in sos.items():
        spec = so.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        if ref.get("name") != "qf-worker" or ref.get("kind", "Deployment") != "Deployment":
            problem(f"ScaledObject {name}: scaleTargetRef {ref} is not Deployment qf-worker")
        mn, mx = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
        if not (isinstance(mn, int) and isinstance(mx, int) and 0 <= mn <= mx):
            problem(f"ScaledObject {name}: min {mn} / max {mx} replicas are inconsistent")
        trig = spec.get("triggers") or []
        if len(trig) != 1 or trig[0].get("type") != "rabbitmq":
            problem(f"ScaledObject {name}: expected one rabbitmq trigger")
            continue
        md = trig[0].get("metadata") or {}
        if md.get("mode") != "QueueLength":
            problem(f"ScaledObject {name}: mode {md.get('mode')}, expected QueueLength")
        if md.get("queueName") != queue or queue != "qf.orchestrations":
            problem(f"ScaledObject {name}: queueName {md.get('queueName')}, expected "
                    f"{queue} (deploy/asyncapi.yaml) = qf.orchestrations")
        if not isinstance(md.get("value"), str) or not re.fullmatch(r"\d+(\.\d+)?", md["value"]):
            problem(f"ScaledObject {name}: value must be a number in a string")
        if "host" in md:
            problem(f"ScaledObject {name}: host belongs in the TriggerAuthentication")
        auth = (trig[0].get("authenticationRef") or {}).get("name")
        ta = tas.get(auth)
        if ta is None:
            problem(f"ScaledObject {name}: TriggerAuthentication {auth} does not exist")
            continue
        refs = {r.get("parameter"): r for r in (ta.get("spec") or {}).get("secretTargetRef") or []}
        h = refs.get("host") or {}
        if h.get("name") != "qf-secrets" or h.get("key") not in keys:
            problem(f"TriggerAuthentication {auth}: host must come from a key of qf-secrets")
        print(f"ScaledObject {name}: Deployment {ref.get('name')}, rabbitmq {md.get('mode')} "
              f"on {md.get('queueName')} ({md.get('protocol', 'auto')}), "
              f"replicas {mn}..{mx}, auth {auth} -> qf-secrets/{h.get('key')}")

    if shutil.which("kubectl"):
        r = subprocess.run(["kubectl", "kustomize", "--load-restrictor",
                            "LoadRestrictionsNone", str(HERE)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            problem(f"kubectl kustomize failed: {r.stderr.strip()}")
        else:
            kinds = [d["kind"] for d in yaml.safe_load_all(r.stdout) if d]
            print(f"kubectl kustomize: rendered {len(kinds)} objects")
    else:
        print("kubectl not found: skipped rendering with kubectl kustomize")
    return finish(len(objs))


def finish(n=0):
    for p in problems:
        print("deploy/k8s: " + p, file=sys.stderr)
    if problems:
        print("deploy/k8s: FAILED", file=sys.stderr)
        return 1
    print(f"deploy/k8s: ok ({n} objects)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
