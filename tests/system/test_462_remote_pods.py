"""Pods, kube and generate over remote connections: `podpy --remote pod ...`, `kube play|down|
generate` and `generate systemd` against podpy's service (the same output as the local
commands) and against podman 4.3.1's; podman 4.3.1's own client against podpy's pod and kube
routes; and `generate spec`, whose JSON podman's service and podpy's create containers and
pods from."""

from __future__ import annotations

import json
import subprocess

import pytest

from helpers import run_command
from registry import free_port
from remotes import PODMAN, eventually, podman_client
from remotes import service, podman_service  # noqa: F401 - fixtures


YAML = """apiVersion: v1
kind: Pod
metadata:
  name: rp-kube
spec:
  containers:
  - name: web
    image: {image}
    command: ["/bin/sleep", "300"]
"""


def _curl(sock: str, method: str, path: str, body: str | None = None, env=None) -> tuple[int, str]:
    """curl over a unix socket: (status, body)."""
    args = ["curl", "-s", "--unix-socket", sock, "-X", method, "-H", "Content-Type: application/json",
            "-w", "\n%{http_code}", f"http://d/v4.3.1/libpod{path}"]
    if body is not None:
        args += ["--data-binary", "@-"]
    res = subprocess.run(args, input=body, capture_output=True, text=True, timeout=120, env=env)
    text, _, code = res.stdout.rpartition("\n")
    return int(code), text


# -- podpy's client, podpy's service: what local prints ---------------------------------------

def test_podpys_pod_verbs_through_podpys_service(service, podpy, busybox):
    url = f"unix://{service.sock}"
    port = free_port()

    def remote(*args, check=True):
        return podpy("--url", url, *args, check=check, timeout=120)

    pod_id = remote("pod", "create", "--name", "rp-one", "-p", f"{port}:80", "--label", "tier=web").stdout.strip()
    assert len(pod_id) == 64 and podpy("pod", "exists", "rp-one").returncode == 0
    remote("run", "-d", "--pod", "rp-one", "--name", "rp-one-app", busybox, "sleep", "300")
    listing = ("pod", "ps", "--filter", "name=^rp-", "--format", "{{.ID}} {{.Name}} {{.Status}} {{.InfraID}} "
               "{{.NumberOfContainers}} {{.Labels}}")
    assert remote(*listing).stdout == podpy(*listing).stdout
    assert remote(*listing).stdout.split()[:3] == [pod_id[:12], "rp-one", "Running"]
    for args in (("pod", "inspect", "rp-one"), ("pod", "ps", "--filter", "label=tier=web", "--format", "json"),
                 ("pod", "ps", "-q", "--no-trunc", "--filter", "name=rp-one"),
                 ("pod", "inspect", "--format", "{{.Name}} {{.NumContainers}} {{.SharedNamespaces}}", "rp-one")):
        assert remote(*args).stdout == podpy(*args).stdout, args
    top = remote("pod", "top", "rp-one").stdout.splitlines()
    assert top[0].split()[0] == "USER" and any(line.endswith("sleep 300") for line in top[1:])
    assert remote("pod", "top", "rp-one", "pid", "args").stdout.splitlines()[0].split() == ["PID", "COMMAND"]
    stats = json.loads(remote("pod", "stats", "--no-stream", "--format", "json", "rp-one").stdout)
    assert {row["Name"] for row in stats} == {"rp-one-app", f"{pod_id[:12]}-infra"}
    assert {row["Pod"] for row in stats} == {pod_id[:12]}
    paused = remote("pod", "pause", "rp-one", check=False)
    local_pause = podpy("pod", "pause", "rp-one", check=False)   # a cgroup to freeze, or the same refusal
    assert paused.returncode == local_pause.returncode
    if paused.returncode == 0:
        assert remote("pod", "unpause", "rp-one").stdout.strip() == pod_id
    else:
        assert paused.stderr == local_pause.stderr
    assert remote("pod", "kill", "-s", "KILL", "rp-one").stdout.strip() == pod_id
    eventually(lambda: podpy("pod", "inspect", "--format", "{{.State}}", "rp-one").stdout.strip() != "Running")
    assert remote("pod", "restart", "rp-one").stdout.strip() == pod_id
    assert podpy("pod", "inspect", "--format", "{{.State}}", "rp-one").stdout.strip() == "Running"
    assert remote("pod", "stop", "-t", "1", "rp-one").stdout.strip() == pod_id
    assert remote("pod", "stop", "rp-one").stdout.strip() == pod_id   # 304: nothing to do, as podman says it
    assert remote("pod", "start", "rp-one").stdout.strip() == pod_id
    assert remote("pod", "exists", "rp-one", check=False).returncode == 0
    assert remote("pod", "exists", "rp-none", check=False).returncode == 1
    for args in (("pod", "rm", "rp-none"), ("pod", "start", "rp-none"), ("pod", "inspect", "rp-none")):
        there, here = remote(*args, check=False), podpy(*args, check=False)
        assert (there.returncode, there.stdout, there.stderr) == (here.returncode, here.stdout, here.stderr), args
    busy = remote("pod", "rm", "rp-one", check=False)
    assert busy.returncode == 125 and "cannot remove container" in busy.stderr and len(busy.stderr.splitlines()) == 1
    assert remote("pod", "rm", "-f", "-t", "1", "rp-one").stdout.strip() == pod_id
    two = remote("pod", "create", "--name", "rp-two").stdout.strip()
    assert two in remote("pod", "prune", "-f").stdout.split()
    assert podpy("pod", "exists", "rp-two", check=False).returncode == 1
    bad = remote("pod", "ps", "--filter", "bogus=1", check=False)
    assert bad.returncode == 125 and bad.stderr.strip() == "Error: bogus is an invalid filter"
    refused = remote("pod", "create", "--subuidname", "podpy-test", check=False)
    assert refused.returncode == 125 and refused.stderr.strip() == \
        "Error: podpy pod create --subuidname: not available with --remote"


def test_podpys_kube_and_generate_through_podpys_service(service, podpy, busybox, tmp_path):
    url = f"unix://{service.sock}"
    yaml = tmp_path / "pod.yaml"
    yaml.write_text(YAML.format(image="localhost/busybox"))

    def remote(*args, check=True):
        return podpy("--url", url, *args, check=check, timeout=180)

    played = remote("kube", "play", yaml).stdout.splitlines()
    assert played[0] == "Pod:" and played[2] == "Container:" and len(played[1]) == 64
    assert podpy("pod", "inspect", "--format", "{{.State}}", "rp-kube").stdout.strip() == "Running"
    def generated(run, *args):
        # the same document, but for its creationTimestamp: the time of the generation, which two
        # calls may make in different seconds
        return [line for line in run(*args).stdout.splitlines() if "creationTimestamp:" not in line]

    assert generated(remote, "kube", "generate", "rp-kube") == generated(podpy, "kube", "generate", "rp-kube")
    assert generated(remote, "generate", "kube", "-s", "rp-kube") == generated(podpy, "generate", "kube", "-s", "rp-kube")
    assert "creationTimestamp:" in remote("kube", "generate", "rp-kube").stdout
    units = ("generate", "systemd", "--no-header", "--name", "rp-kube")
    assert remote(*units).stdout == podpy(*units).stdout
    assert "[Service]" in remote(*units).stdout
    as_json = json.loads(remote("generate", "systemd", "--no-header", "--format", "json", "rp-kube").stdout)
    assert as_json == json.loads(podpy("generate", "systemd", "--no-header", "--format", "json", "rp-kube").stdout)
    again = remote("kube", "play", yaml, check=False)
    assert again.returncode == 125 and len(again.stderr.splitlines()) == 1
    assert remote("kube", "play", "--replace", yaml).stdout.startswith("Pod:\n")
    refused = remote("kube", "play", "--build", yaml, check=False)
    assert refused.returncode == 125 and refused.stderr.strip() == \
        "Error: podpy kube play --build: not available with --remote"
    down = remote("kube", "down", yaml).stdout.splitlines()
    assert down[0] == "Pods stopped:" and down[2] == "Pods removed:" and down[1] == down[3]
    assert podpy("pod", "exists", "rp-kube", check=False).returncode == 1
    gone = remote("kube", "down", yaml, check=False)
    here = podpy("kube", "down", yaml, check=False)
    assert (gone.returncode, gone.stderr) == (here.returncode, here.stderr) and gone.returncode == 125


# -- podman's client, podpy's service --------------------------------------------------------

def test_podmans_client_drives_podpys_pods_and_kube(service, podpy, busybox, tmp_path):
    pm = podman_client(service.sock, podpy.environ())
    pod_id = pm("pod", "create", "--name", "rp-pm", "--label", "by=podman").stdout.strip()
    assert podpy("pod", "inspect", "--format", "{{.Id}} {{.Labels}}", "rp-pm").stdout.strip() == \
        f"{pod_id} map[by:podman]"
    assert "rp-pm" in pm("pod", "ps", "--format", "{{.Name}}").stdout.split()
    assert json.loads(pm("pod", "inspect", "rp-pm").stdout)["Id"] == pod_id
    assert pm("pod", "start", "rp-pm").stdout.strip() == pod_id
    assert pm("pod", "ps", "--filter", "name=rp-pm", "--format", "{{.Status}}").stdout.strip() == "Running"
    assert pm("pod", "stop", "-t", "1", "rp-pm").stdout.strip() == pod_id
    assert podpy("pod", "inspect", "--format", "{{.State}}", "rp-pm").stdout.strip() in ("Exited", "Stopped")
    assert pm("pod", "rm", "rp-pm").stdout.strip() == pod_id
    missing = pm("pod", "rm", "rp-pm", check=False)
    assert missing.returncode == 1 and "no such pod" in missing.stderr
    yaml = tmp_path / "pod.yaml"
    yaml.write_text(YAML.format(image="localhost/busybox"))
    played = pm("kube", "play", yaml).stdout.splitlines()
    assert played[0] == "Pod:" and played[2] == "Container:"
    assert podpy("pod", "inspect", "--format", "{{.State}}", "rp-kube").stdout.strip() == "Running"
    assert "name: rp-kube" in pm("generate", "kube", "rp-kube").stdout
    down = pm("kube", "down", yaml).stdout.splitlines()
    assert down[0] == "Pods stopped:" and down[1] == played[1]
    assert podpy("pod", "exists", "rp-kube", check=False).returncode == 1


# -- podpy's client, podman's service ----------------------------------------------------------

def test_podpys_pods_and_kube_through_podmans_service(podman_service, podpy, tmp_path):
    sock, pm_env = podman_service
    url = f"unix://{sock}"

    def remote(*args, check=True):
        return podpy("--url", url, *args, check=check, timeout=180)

    def local_podman(*args):
        return run_command([PODMAN, *map(str, args)], env=pm_env, timeout=120).stdout

    pod_id = remote("pod", "create", "--name", "rp-on-pm", "--label", "a=b").stdout.strip()
    assert local_podman("pod", "inspect", "--format", "{{.Id}} {{.Labels}}", "rp-on-pm").strip() == \
        f"{pod_id} map[a:b]"
    assert remote("pod", "ps", "--format", "{{.Name}} {{.Status}}").stdout.splitlines() == ["rp-on-pm Created"]
    assert json.loads(remote("pod", "inspect", "rp-on-pm").stdout)["Id"] == pod_id
    assert remote("pod", "start", "rp-on-pm").stdout.strip() == pod_id
    assert remote("pod", "top", "rp-on-pm").stdout.splitlines()[0].split()[0] == "USER"
    assert remote("pod", "exists", "rp-on-pm", check=False).returncode == 0
    assert remote("pod", "stop", "-t", "1", "rp-on-pm").stdout.strip() == pod_id
    assert remote("pod", "rm", "rp-on-pm").stdout.strip() == pod_id
    missing = remote("pod", "rm", "rp-on-pm", check=False)
    assert missing.returncode == 1 and missing.stderr.strip() == \
        "Error: no pod with name or ID rp-on-pm found: no such pod"
    yaml = tmp_path / "pod.yaml"
    yaml.write_text(YAML.format(image="localhost/busybox"))
    played = remote("kube", "play", yaml).stdout.splitlines()
    assert played[0] == "Pod:" and played[1] in local_podman("pod", "ps", "-q", "--no-trunc").split()
    assert "name: rp-kube" in remote("kube", "generate", "rp-kube").stdout
    assert "[Service]" in remote("generate", "systemd", "--name", "rp-kube").stdout
    down = remote("kube", "down", yaml).stdout.splitlines()
    assert down[:2] == ["Pods stopped:", played[1]]
    assert local_podman("pod", "ps", "-q").strip() == ""


# -- generate spec -------------------------------------------------------------------------------

def test_generate_spec_makes_what_the_services_create(service, podman_service, podpy, busybox, tmp_path):
    pm_sock, pm_env = podman_service
    podpy("create", "--name", "rp-spec", "-e", "GREETING=from-spec", "--label", "l=v", busybox,
          "sh", "-c", "echo $GREETING")
    doc = json.loads(podpy("generate", "spec", "rp-spec").stdout)
    assert doc["name"] == "rp-spec-clone" and doc["env"] == {"GREETING": "from-spec"} and doc["labels"] == {"l": "v"}
    assert doc["command"] == ["sh", "-c", "echo $GREETING"] and doc["image"] == "localhost/busybox:latest"
    compact = podpy("generate", "spec", "--compact", "--name=false", "rp-spec").stdout
    assert compact.count("\n") == 1 and json.loads(compact)["name"] == "rp-spec"
    written = podpy("generate", "spec", "-f", tmp_path / "spec.json", "rp-spec").stdout
    assert written.strip() == str(tmp_path / "spec.json")
    assert json.loads((tmp_path / "spec.json").read_text()) == doc
    missing = podpy("generate", "spec", "rp-nothing", check=False)
    assert missing.returncode == 125 and missing.stderr.strip() == \
        "Error: could not find a pod or container with the id rp-nothing"
    podpy("create", "--name", "rp-spec-shm", "--shm-size", "10m", busybox, "true")
    refused = podpy("generate", "spec", "rp-spec-shm", check=False)
    assert refused.returncode == 125 and refused.stdout == "" and len(refused.stderr.splitlines()) == 1
    assert "--shm-size" in refused.stderr
    text = json.dumps(doc)
    for sock, env in ((service.sock, podpy.environ()), (str(pm_sock), pm_env)):
        status, body = _curl(sock, "POST", "/containers/create", text, env)
        assert status == 201, body
        status, body = _curl(sock, "POST", "/containers/rp-spec-clone/start", None, env)
        assert status == 204, body
        status, body = _curl(sock, "POST", "/containers/rp-spec-clone/wait", None, env)
        assert (status, body.strip()) == (200, "0")
        status, body = _curl(sock, "GET", "/containers/rp-spec-clone/logs?stdout=true", None, env)
        assert status == 200 and body.endswith("from-spec\n"), body
        assert _curl(sock, "DELETE", "/containers/rp-spec-clone?force=true", None, env)[0] == 200
    podpy("rm", "rp-spec", "rp-spec-shm")
    podpy("pod", "create", "--name", "rp-spec-pod", "--label", "p=q")
    pod_doc = json.loads(podpy("generate", "spec", "rp-spec-pod").stdout)
    assert pod_doc["name"] == "rp-spec-pod-clone" and pod_doc["labels"] == {"p": "q"}
    for sock, env in ((service.sock, podpy.environ()), (str(pm_sock), pm_env)):
        status, body = _curl(sock, "POST", "/pods/create", json.dumps(pod_doc), env)
        assert status == 201, body
        status, body = _curl(sock, "GET", "/pods/rp-spec-pod-clone/json", None, env)
        assert status == 200 and json.loads(body)["Labels"] == {"p": "q"}
        assert _curl(sock, "DELETE", "/pods/rp-spec-pod-clone?force=true", None, env)[0] == 200
    podpy("pod", "rm", "rp-spec-pod")


@pytest.fixture(autouse=True)
def _no_pods_left(podpy):
    yield
    for name in podpy("pod", "ps", "-q", "--filter", "name=^rp-", check=False).stdout.split():
        podpy("pod", "rm", "-f", "-t", "0", name, check=False)
