"""Kubernetes YAML: `kube play` makes running pods from a file, `kube down` removes them,
`kube generate` writes YAML that Kubernetes' own schemas accept and that plays back to the
same containers; podman 4.3.1 plays podpy's YAML and podpy plays podman's."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time

import pytest

INSTALLED = pytest.mark.parametrize("podpy", ["installed"], indirect=True)
LOOP = "trap 'exit 0' TERM; while :; do sleep 1; done"
ID = re.compile(r"[0-9a-f]{64}")


@pytest.fixture
def p(podpy, busybox):
    # the session's store, as other files may leave it: this file lists what it plays
    podpy("pod", "rm", "-a", "-f", "-t", "0", check=False)
    podpy("rm", "-a", "-f", "-t", "0", check=False)
    yield podpy
    podpy("pod", "rm", "-a", "-f", "-t", "0", check=False)
    podpy("rm", "-a", "-f", "-t", "0", check=False)
    podpy("volume", "prune", "-f", check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http(port: int, path: str = "/") -> str:
    """The body the published port answers with (waiting for it to come up)."""
    got = None
    for _ in range(60):
        got = subprocess.run(["curl", "-s", "-f", f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True)
        if got.returncode == 0:
            return got.stdout
        time.sleep(0.25)
    raise AssertionError(f"nothing answers on port {port}: {got.stderr if got else ''}")


def _names(p) -> dict[str, str]:
    """Each container but the infra ones -> its state (running, exited, created...)."""
    names = [n for n in p("ps", "-a", "--format", "{{.Names}}").stdout.split() if "-infra" not in n]
    if not names:
        return {}
    states = p("inspect", "--format", "{{.State.Status}}", *names).stdout.split()
    return dict(zip(names, states))


def _env(p, name: str) -> dict[str, str]:
    doc = json.loads(p("inspect", name).stdout)[0]
    return dict(e.split("=", 1) for e in doc["Config"]["Env"])


PLAY = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {GREETING: hello, index.html: from-the-configmap}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: s3cret}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: kubedata}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata:
  name: kp
  labels: {app: kp}
spec:
  terminationGracePeriodSeconds: 2
  hostAliases: [{ip: 10.1.2.3, hostnames: [db]}]
  initContainers:
  - name: first
    image: busybox
    command: [sh, -c, 'echo one > /app/order']
    volumeMounts: [{name: work, mountPath: /app}]
  - name: second
    image: busybox
    command: [sh, -c, 'echo two >> /app/order']
    volumeMounts: [{name: work, mountPath: /app}]
  containers:
  - name: web
    image: busybox
    command: [httpd, -f, -p, "80", -h, /www]
    ports: [{containerPort: 80, hostPort: HOSTPORT}]
    volumeMounts:
    - {name: site, mountPath: /www, readOnly: true}
  - name: app
    image: busybox
    command: [sh, -c]
    args: ["LOOP"]
    workingDir: /app
    env:
    - {name: PLAIN, value: "1"}
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: settings, key: GREETING}}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: creds, key: password}}
    - name: MYPOD
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    volumeMounts:
    - {name: work, mountPath: /app}
    - {name: data, mountPath: /data}
    - {name: data, mountPath: /part, subPath: sub/dir}
    securityContext:
      capabilities: {add: [NET_ADMIN], drop: [CHOWN]}
    lifecycle:
      preStop: {exec: {command: ["true"]}}
  volumes:
  - {name: work, emptyDir: {}}
  - {name: data, persistentVolumeClaim: {claimName: kubedata}}
  - name: site
    configMap: {name: settings, items: [{key: index.html, path: index.html}]}
"""


def test_play_a_pod_then_down(p):
    before = set(p("volume", "ls", "--format", "{{.Name}}").stdout.split())   # other tests' volumes
    port = _free_port()
    text = PLAY.replace("HOSTPORT", str(port)).replace("LOOP", LOOP)
    played = p("kube", "play", "-", input=text)
    out = played.stdout
    m = re.fullmatch(r"Volumes:\nkubedata\nPod:\n([0-9a-f]{64})\nContainers:\n([0-9a-f]{64})\n([0-9a-f]{64})\n"
                     r"Init Containers:\n([0-9a-f]{64})\n([0-9a-f]{64})\n\n", out)
    assert m, out
    # one warning for the field podpy does not act on, by its path
    assert "document 4: spec.containers[1].lifecycle ignored: not supported" in played.stderr
    assert _names(p) == {"kp-web": "running", "kp-app": "running"}   # init containers ran and are gone
    assert p("exec", "kp-app", "cat", "/app/order").stdout == "one\ntwo\n"
    env = _env(p, "kp-app")
    assert (env["PLAIN"], env["GREETING"], env["PASSWORD"], env["MYPOD"]) == ("1", "hello", "s3cret", "kp")
    assert p("exec", "kp-app", "pwd").stdout == "/app\n"
    assert "10.1.2.3\tdb" in p("exec", "kp-app", "cat", "/etc/hosts").stdout.replace(" ", "\t")
    assert _http(port, "/index.html") == "from-the-configmap"
    p("exec", "kp-app", "sh", "-c", "echo kept > /data/file; test -d /part")
    caps = p("exec", "kp-app", "sh", "-c", "grep CapEff /proc/self/status").stdout.split()[1]
    assert int(caps, 16) & (1 << 12) and not int(caps, 16) & 1     # NET_ADMIN in, CHOWN out
    pod_id = m.group(1)
    assert p("pod", "inspect", "kp", "--format", "{{.Id}} {{.State}}").stdout == f"{pod_id} Running\n"
    # a second play of the same pods is refused; --replace makes them anew
    again = p("kube", "play", "-", input=text, check=False)
    assert again.returncode == 125 and again.stderr.strip().splitlines()[-1] == \
        'Error: adding pod to state: name "kp" is in use: pod already exists'   # podman's words
    replaced = p("kube", "play", "--replace", "-", input=text).stdout
    new_id = re.search(r"Pod:\n([0-9a-f]{64})", replaced).group(1)
    assert new_id != pod_id
    down = p("kube", "down", "-", input=text).stdout
    assert down == f"Pods stopped:\n{new_id}\nPods removed:\n{new_id}\n"
    assert p("pod", "ps", "-q").stdout == "" and _names(p) == {}
    vols = set(p("volume", "ls", "--format", "{{.Name}}").stdout.split()) - before
    assert vols == {"kubedata"}                                      # the claim's volume is kept, as podman keeps it
    assert p("run", "--rm", "-v", "kubedata:/d", "busybox", "cat", "/d/file").stdout == "kept\n"


def test_play_kube_and_generate_kube_spellings_and_the_zipapp(p, tmp_path):
    f = tmp_path / "one.yaml"
    f.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: old}\nspec:\n  terminationGracePeriodSeconds: 0\n"
                 f"  containers:\n  - {{name: c, image: busybox, command: [sh, -c, \"{LOOP}\"]}}\n")
    out = p("play", "kube", f).stdout
    assert re.fullmatch(r"Pod:\n[0-9a-f]{64}\nContainer:\n[0-9a-f]{64}\n\n", out)
    assert "name: c\n" in p("generate", "kube", "old").stdout
    assert p("play", "kube", "--down", f).stdout.startswith("Pods stopped:\n")


@INSTALLED
def test_deployment_replicas_each_run_in_a_pod_of_their_own(p):
    text = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: many}\nspec:\n  replicas: 3\n"
            "  selector: {matchLabels: {app: many}}\n  template:\n    metadata: {labels: {app: many}}\n"
            "    spec:\n      terminationGracePeriodSeconds: 1\n"
            f"      containers:\n      - {{name: c, image: busybox, command: [sh, -c, \"{LOOP}\"]}}\n")
    out = p("kube", "play", "-", input=text).stdout
    assert out.count("Pod:\n") == 3
    pods = p("pod", "ps", "--format", "{{.Name}} {{.Status}}").stdout.splitlines()
    assert sorted(pods) == ["many-pod-0 Running", "many-pod-1 Running", "many-pod-2 Running"]
    assert _names(p) == {f"many-pod-{i}-c": "running" for i in range(3)}
    down = p("kube", "down", "-", input=text).stdout
    assert down.count("\n") == 8 and p("pod", "ps", "-q").stdout == ""


@INSTALLED
def test_service_node_ports_are_published_and_start_false_creates_only(p, tmp_path):
    port, extra, inner = _free_port(), _free_port(), _free_port()
    cm = tmp_path / "cm.yaml"
    cm.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: outside}\ndata: {MODE: fast}\n")
    text = f"""\
apiVersion: v1
kind: Service
metadata: {{name: svc}}
spec:
  type: NodePort
  selector: {{app: svc}}
  ports: [{{port: 8080, targetPort: http, nodePort: {port}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: svc, labels: {{app: svc}}}}
spec:
  containers:
  - name: web
    image: busybox
    command: [httpd, -f, -p, "{inner}", -h, /]
    ports: [{{name: http, containerPort: {inner}}}]
    env: [{{name: MODE, valueFrom: {{configMapKeyRef: {{name: outside, key: MODE}}}}}}]
"""
    p("kube", "play", "--start=false", "--configmap", cm, "--publish", f"{extra}:{inner}", "-", input=text)
    assert _names(p) == {"svc-web": "created"}
    assert _env(p, "svc-web")["MODE"] == "fast"
    p("pod", "start", "svc")
    got = None
    for _ in range(60):   # the Service's nodePort reaches the container's port named http
        got = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                              f"http://127.0.0.1:{port}/nope"], capture_output=True, text=True)
        if got.stdout == "404":
            break
        time.sleep(0.25)
    assert got is not None and got.stdout == "404"
    got = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{extra}/nope"],
                         capture_output=True, text=True)
    assert got.stdout == "404"                                       # --publish: one more port of the pod
    got = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{inner}/nope"],
                         capture_output=True, text=True)
    assert got.stdout == "404"               # a port without hostPort: the same port of the host, as podman's
    bindings = p("pod", "inspect", "svc", "--format", "{{.InfraConfig.PortBindings}}").stdout.strip()
    assert bindings.startswith(f"map[{inner}/tcp:[{{ {inner}}} ")   # podman's Go struct, its own port first


@INSTALLED
@pytest.mark.parametrize("text, message", [
    ("kind: Pod\nmetadata: {name: bad}\nspec: {containers: [{name: c, image: busybox, ports: [{containerPort: x}]}]}",
     "Error: document 1: spec.containers[0].ports[0].containerPort: expected an integer, not a string"),
    ("kind: PersistentVolumeClaim\nmetadata: {name: made}\n---\nkind: Pod\nmetadata: {name: bad}\n"
     "spec: {containers: [{name: c, image: busybox}]\n", "Error: document 2: invalid YAML at line"),
    ("kind: PersistentVolumeClaim\nmetadata: {name: made}\n---\nkind: Pod\nmetadata: {name: bad}\n"
     "spec: {containers: [{name: c, image: busybox, env: [{name: A, valueFrom: {secretKeyRef: {name: gone, key: k}}}]}]}",
     "Error: document 2: spec.containers[0].env[0].valueFrom.secretKeyRef: no Secret named 'gone'"),
    ("kind: PersistentVolumeClaim\nmetadata: {name: made}\n---\nkind: Pod\nmetadata: {name: bad}\n"
     "spec: {containers: [{name: c, image: no-such-image-here, imagePullPolicy: Never}]}", "Error: "),
    ("kind: Pod\nmetadata: {name: bad}\nspec: {nodeName: x, containers: [{name: c, image: busybox}]}\n",
     "Error: document 1: spec.nodeName ignored: not supported (--strict)"),
])
def test_bad_files_make_nothing(p, text, message):
    r = p("kube", "play", "--strict", "-", input=text, check=False)
    assert r.returncode == 125
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), r.stderr
    assert p("pod", "ps", "-q").stdout == "" and p("ps", "-aq").stdout == ""
    assert p("volume", "ls", "-q").stdout == ""


def _round_trip_pod(p, port: int, memory: bool = True) -> None:
    p("pod", "create", "--name", "rt", "-p", f"{port}:80")
    p("volume", "create", "rtvol")
    p("run", "-d", "--pod", "rt", "--name", "rt-srv", "-e", "GREETING=hi", "-v", "rtvol:/data",
      "--health-cmd", "true", "--health-interval", "5s", "--stop-timeout", "1",
      "busybox", "httpd", "-f", "-p", "80", "-h", "/data")
    p("run", "-d", "--pod", "rt", "--name", "rt-side", "-e", "SIDE=1", *(["--memory", "64m"] if memory else []),
      "--cap-add", "NET_ADMIN", "--stop-timeout", "1", "busybox", "sh", "-c", LOOP)
    p("exec", "rt-srv", "sh", "-c", "echo hello > /data/index.html")


def _summary(p, name: str) -> dict[str, object]:
    doc = json.loads(p("inspect", name).stdout)[0]
    env = {k: v for k, v in (e.split("=", 1) for e in doc["Config"]["Env"]) if k not in ("HOSTNAME",)}
    # what runs: `command` plays back as the entrypoint (Kubernetes' meaning), which podman's
    # generate writes for a container's command when it has no entrypoint
    return {"env": env, "cmd": [doc["Path"], *doc["Args"][doc["Args"] == [doc["Path"]]:]], "health": (doc["Config"].get("Healthcheck") or {}).get("Test"),
            "mounts": sorted((m.get("Name"), m["Destination"]) for m in doc["Mounts"]),
            "state": doc["State"]["Status"], "caps": sorted(doc["EffectiveCaps"] or [])
            if "EffectiveCaps" in doc else None}


@INSTALLED
def test_generate_down_play_gives_the_same_running_containers(p, tmp_path):
    port = _free_port()
    _round_trip_pod(p, port)
    before = {n: _summary(p, n) for n in ("rt-srv", "rt-side")}
    out = tmp_path / "rt.yaml"
    p("kube", "generate", "-s", "-f", out, "rt")
    again = p("kube", "generate", "-f", out, "rt", check=False)
    assert again.returncode == 125 and "exists" in again.stderr
    text = out.read_text()
    assert "kind: PersistentVolumeClaim" in text and "claimName: rtvol" in text and "livenessProbe" in text
    p("kube", "down", out)
    assert p("pod", "ps", "-q").stdout == ""
    p("kube", "play", out)
    after = {n: _summary(p, n) for n in ("rt-srv", "rt-side")}
    assert after == before
    assert _http(port, "/index.html") == "hello\n"                   # the named volume kept its data


@INSTALLED
def test_generated_yaml_is_valid_kubernetes_1_30(p):
    try:
        import kubernetes_validate
        import yaml
    except ImportError as exc:
        print(f"skipped: kubernetes-validate is not importable ({exc})")
        pytest.skip(f"kubernetes-validate is not importable: {exc}")
    _round_trip_pod(p, _free_port())
    p("run", "-d", "--name", "Loose_One", "--read-only", "--tmpfs", "/scratch", "-u", "1000:1000",
      "-v", "/tmp:/hosttmp:ro", "busybox", "sleep", "9")
    p("volume", "create", "Odd_Volume")
    for args in (["rt"], ["-s", "--type", "deployment", "--replicas", "3", "rt"], ["Loose_One", "Odd_Volume"]):
        text = p("kube", "generate", *args).stdout
        docs = list(yaml.safe_load_all(text))
        assert docs
        for doc in docs:
            kubernetes_validate.validate(doc, "1.30", strict=True)
            spec = doc["spec"]["template"]["spec"] if doc["kind"] == "Deployment" else doc["spec"]
            names = [doc["metadata"]["name"]]
            if doc["kind"] in ("Pod", "Deployment"):
                names += [c["name"] for c in spec["containers"]] + [v["name"] for v in spec.get("volumes", [])]
                names += [v["persistentVolumeClaim"]["claimName"] for v in spec.get("volumes", [])
                          if "persistentVolumeClaim" in v]
            for name in names:   # RFC 1123, unlike podman's (which keeps "_" and capitals)
                assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 63, name
    deployment = yaml.safe_load_all(p("kube", "generate", "--type", "deployment", "--replicas", "3", "rt").stdout)
    dep = [d for d in deployment if d["kind"] == "Deployment"][0]
    assert dep["spec"]["replicas"] == 3


@INSTALLED
def test_podman_plays_podpys_yaml_and_podpy_plays_podmans(p, podman, tmp_path):
    port = _free_port()
    _round_trip_pod(p, port, memory=False)   # podman cannot limit memory here (rootless on cgroup v1)
    ours = tmp_path / "ours.yaml"
    p("kube", "generate", "-f", ours, "rt")
    p("pod", "rm", "-f", "-t", "0", "rt")
    ours.write_text(ours.read_text().replace(str(port), str(_free_port())))
    try:
        played = podman("kube", "play", ours)
        assert "Pod:" in played.stdout
        names = podman("ps", "--format", "{{.Names}} {{.State}}").stdout.replace(" Up ", " running ").splitlines()
        assert any(n.startswith("rt-srv running") for n in names) and any(n.startswith("rt-side running") for n in names)
        env = podman("inspect", "rt-side", "--format", "{{range .Config.Env}}{{println .}}{{end}}").stdout
        assert "SIDE=1" in env.splitlines()
        # and back: podman's YAML of its pod, played by podpy
        theirs = podman("kube", "generate", "rt").stdout
    finally:
        podman("kube", "down", ours, check=False)
        podman("volume", "rm", "-f", "rtvol", check=False)
    port2 = _free_port()
    theirs = re.sub(r"hostPort: \d+", f"hostPort: {port2}", theirs)
    played = p("kube", "play", "-", input=theirs)
    assert re.search(r"Pod:\n[0-9a-f]{64}\nContainers:\n", played.stdout)
    assert _names(p) == {"rt-rt-srv": "running", "rt-rt-side": "running"}
    assert _http(port2, "/index.html") == "hello\n"                  # podpy's own rtvol, kept
    assert _env(p, "rt-rt-side")["SIDE"] == "1"


@INSTALLED
def test_a_secret_not_in_the_file_comes_from_podpy_secrets(p, tmp_path):
    data = tmp_path / "data"
    data.write_text("kept-in-the-store")
    p("secret", "create", "stored", data)
    try:
        text = ("kind: Pod\nmetadata: {name: sec}\nspec:\n  terminationGracePeriodSeconds: 0\n  containers:\n"
                f"  - name: c\n    image: busybox\n    command: [sh, -c, \"{LOOP}\"]\n"
                "    env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: stored, key: stored}}}]\n"
                "    volumeMounts: [{name: s, mountPath: /etc/s}]\n"
                "  volumes: [{name: s, secret: {secretName: stored}}]\n")
        p("kube", "play", "-", input=text)
        assert _env(p, "sec-c")["TOKEN"] == "kept-in-the-store"
        assert p("exec", "sec-c", "cat", "/etc/s/stored").stdout == "kept-in-the-store"
        p("kube", "down", "-", input=text)
        assert p("volume", "ls", "-q").stdout == ""      # the pod's own secret volume goes with it
    finally:
        p("secret", "rm", "stored", check=False)


def test_images_with_a_build_directory_are_built_as_podman_builds_them(p, tmp_path):
    """An image named after a directory holding a Containerfile (or Dockerfile) is built when
    it is not in the store, again with --build, never with --build=false; --context-dir says
    where the directories are and needs --build."""
    name = f"kbuild{tmp_path.name[-6:].lower().replace('_', '')}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "Containerfile").write_text("FROM busybox\nARG N=1\nRUN date +%s%N > /stamp\n")
    f = tmp_path / "pod.yaml"
    f.write_text(f"apiVersion: v1\nkind: Pod\nmetadata: {{name: kb}}\nspec:\n  terminationGracePeriodSeconds: 0\n"
                 f"  containers:\n  - {{name: c, image: 'localhost/{name}:latest', command: [sh, -c, \"{LOOP}\"]}}\n")
    try:
        out = p("kube", "play", f, cwd=tmp_path).stdout
        assert f"Successfully tagged localhost/{name}:latest" in out
        stamp = p("exec", "kb-c", "cat", "/stamp").stdout
        # in the store now: not built again, unless --build (the cache is skipped for nothing: a RUN
        # that is cached gives the same stamp, so a rebuild is seen in the output)
        again = p("kube", "play", "--replace", f, cwd=tmp_path).stdout
        assert "STEP" not in again and p("exec", "kb-c", "cat", "/stamp").stdout == stamp
        forced = p("kube", "play", "--replace", "--build", "--context-dir", tmp_path, f).stdout
        assert "STEP 1/3: FROM busybox" in forced
        p("kube", "down", f)
        p("rmi", f"localhost/{name}")
        # --build=false: never built, so the image is pulled, and there is no registry for it
        failed = p("kube", "play", "--build=false", f, cwd=tmp_path, check=False)
        assert failed.returncode == 125 and "STEP" not in failed.stdout
        assert p("pod", "exists", "kb", check=False).returncode == 1
        # a Dockerfile is taken when there is no Containerfile
        (tmp_path / name / "Containerfile").rename(tmp_path / name / "Dockerfile")
        assert "Successfully tagged" in p("kube", "play", f, cwd=tmp_path).stdout
        bad = p("kube", "play", "--context-dir", tmp_path, f, check=False)
        assert bad.returncode == 125 and bad.stderr == "Error: --build must be specified when using --context-dir option\n"
    finally:
        p("kube", "down", f, check=False)
        p("rmi", "-f", f"localhost/{name}", check=False)


def test_generate_writes_what_podman_writes(podpy, busybox):
    """`kube generate` of a container as podman 4.3.1 writes it (podman's own test reads these
    fields): the command under `command`, a creation time, the dropped capabilities by their
    CAP_ names; a pod with only its infra container in podman's words."""
    import yaml

    podpy("container", "create", "--cap-drop", "fowner", "--cap-drop", "setfcap", "--name", "gencap", busybox, "top")
    try:
        doc = yaml.safe_load(podpy("kube", "generate", "gencap").stdout)
        ctr = doc["spec"]["containers"][0]
        assert (doc["kind"], doc["metadata"]["name"], doc["metadata"]["labels"]["app"]) == ("Pod", "gencap-pod",
                                                                                           "gencap-pod")
        assert doc["metadata"]["creationTimestamp"].endswith("Z")
        assert ctr["command"] == ["top"] and "args" not in ctr and ctr["name"] == "gencap"
        assert ctr["securityContext"]["capabilities"] == {"drop": ["CAP_FOWNER", "CAP_SETFCAP"]}
    finally:
        podpy("rm", "gencap")
    pid = podpy("pod", "create", "--name", "lonely").stdout.strip()
    try:
        res = podpy("kube", "generate", "lonely", check=False)
        assert res.returncode == 125 and res.stderr == f"Error: pod {pid} only has an infra container\n"
    finally:
        podpy("pod", "rm", "lonely")
