"""podman 5's flags that the units of Quadlet files use, each doing what it says: the pull's
--retry and --retry-delay, startup healthchecks and the health log's flags, the global
--module, network create --interface-name and --dns, build --group-add, kube down --force,
kube play's --service-exit-code-propagation; and a .container file using many of them,
generated and its unit run as systemd would run it (tests/system/units.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from helpers import own_store_fixtures
from units import UnitRunner, delegated_cgroup, load

DEAD_REGISTRY = "localhost:1/nothing:latest"   # nothing listens: the connection is refused


# podpy (each build) with a store and a runtime directory of this module's own (its monitor,
# and the kube watcher, are this module's alone)
podpy, busybox = own_store_fixtures("qflags")


def _until(predicate, timeout: float = 30, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def _health(podpy, name: str) -> dict:
    return json.loads(podpy("inspect", "--format", "{{json .State.Health}}", name).stdout)


# -- pull --------------------------------------------------------------------------------

def test_pull_retries_as_often_as_asked_with_the_delay(podpy):
    started = time.monotonic()
    result = podpy("pull", "--retry", "2", "--retry-delay", "300ms", DEAD_REGISTRY, check=False, timeout=120)
    assert result.returncode == 125
    assert result.stderr.count(f"Trying to pull {DEAD_REGISTRY}...") == 3, result.stderr
    assert "Failed, retrying in 0.3s ... (1/2)" in result.stderr
    assert "Failed, retrying in 0.3s ... (2/2)" in result.stderr
    assert time.monotonic() - started >= 0.6
    once = podpy("image", "pull", "--retry=0", DEAD_REGISTRY, check=False, timeout=120)
    assert once.returncode == 125 and "retrying" not in once.stderr


def test_pull_refuses_bad_retry_values_and_decryption_keys(podpy):
    for flags, message in ((["--retry", "-1"], "invalid --retry '-1'"),
                           (["--retry-delay", "soon"], "invalid --retry-delay 'soon'"),
                           (["--decryption-key", "key.pem"],
                            "invalid decryption keys: Unable to read file: open key.pem: no such file")):
        result = podpy("pull", *flags, "busybox", check=False)
        assert result.returncode == 125 and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr     # one line, no pull tried


def test_run_retries_the_pull_of_its_image(podpy):
    result = podpy("run", "--rm", "--retry", "1", "--retry-delay", "0s", DEAD_REGISTRY, "true",
                   check=False, timeout=120)
    assert result.returncode == 125
    assert result.stderr.count("Trying to pull") == 2 and "Failed, retrying in 0s ... (1/1)" in result.stderr
    bad = podpy("create", "--retry", "many", "busybox", "true", check=False)
    assert bad.returncode == 125 and "invalid --retry 'many'" in bad.stderr


# -- healthchecks ------------------------------------------------------------------------

def test_the_startup_check_gates_the_regular_one(podpy):
    name = "startup-gate"
    podpy("run", "-d", "--name", name, "--health-cmd", "echo regular", "--health-interval", "1s",
          "--health-startup-cmd", "echo startup; test -e /tmp/go", "--health-startup-interval", "500ms",
          "--health-startup-success", "2", "busybox", "sleep", "1000")
    try:
        # failing startup checks (retries 0: never a restart) keep it starting, not unhealthy
        assert _until(lambda: len(_health(podpy, name)["Log"]) >= 3)
        health = _health(podpy, name)
        assert health["Status"] == "starting" and health["FailingStreak"] == 0
        assert {e["Output"].strip() for e in health["Log"]} == {"startup"}
        assert all(e["ExitCode"] == 1 for e in health["Log"])
        podpy("exec", name, "touch", "/tmp/go")
        assert _until(lambda: _health(podpy, name)["Status"] == "healthy")
        log = _health(podpy, name)["Log"]
        outputs = [e["Output"].strip() for e in log]
        # two startup successes, then the regular check's
        assert outputs[-1] == "regular" and "startup" in outputs
        assert podpy("inspect", "--format", "{{.State.StartedAt}}", name).stdout.strip()
    finally:
        podpy("rm", "-f", "-t", "0", name, check=False)


def test_failed_startup_checks_restart_the_container(podpy):
    name = "startup-restart"
    podpy("run", "-d", "--name", name, "--stop-timeout", "1", "--health-cmd", "true",
          "--health-startup-cmd", "false", "--health-startup-interval", "500ms", "--health-startup-retries", "2",
          "busybox", "sleep", "1000")
    try:
        first = podpy("inspect", "--format", "{{.State.StartedAt}}", name).stdout.strip()
        restarted = _until(lambda: podpy("inspect", "--format", "{{.State.StartedAt}} {{.State.Status}}",
                                         name).stdout.split() not in ([first, "running"], [first, "stopping"])
                           and podpy("inspect", "--format", "{{.State.Status}}", name).stdout.strip() == "running",
                           timeout=40)
        assert restarted, podpy("inspect", "--format", "{{json .State}}", name).stdout
        assert _health(podpy, name)["Status"] == "starting"
    finally:
        podpy("rm", "-f", "-t", "0", name, check=False)


def test_the_health_log_goes_to_a_directory_with_its_limits(podpy, tmp_path):
    logs = tmp_path / "health"
    logs.mkdir()
    cid = podpy("run", "-d", "--health-cmd", "echo 0123456789", "--health-interval", "500ms",
                "--health-log-destination", logs, "--health-max-log-count", "2", "--health-max-log-size", "4",
                "busybox", "sleep", "1000").stdout.strip()
    try:
        path = logs / f"{cid}-healthcheck.log"
        assert _until(lambda: path.exists() and len(json.loads(path.read_text())["Log"]) == 2)
        time.sleep(1.2)   # more checks: still the last two
        kept = json.loads(path.read_text())
        assert len(kept["Log"]) == 2 and {e["Output"] for e in kept["Log"]} == {"0123"}
        assert _health(podpy, cid)["Log"][-1]["Output"] == "0123"      # inspect reads it there
        assert sorted(os.listdir(logs)) == [path.name]
    finally:
        podpy("rm", "-f", "-t", "0", cid, check=False)


def test_the_health_log_goes_to_the_events_with_events_logger(podpy):
    cid = podpy("run", "-d", "--health-cmd", "echo fine", "--health-interval", "500ms",
                "--health-log-destination", "events_logger", "busybox", "sleep", "1000").stdout.strip()
    try:
        def events():
            out = podpy("events", "--stream=false", "--filter", f"container={cid}", "--filter",
                        "event=health_status", "--format", "{{json .}}").stdout
            return [json.loads(line) for line in out.splitlines() if line.strip()]
        found = _until(events)
        assert found, "no health_status event"
        assert found[0]["Status"] == "health_status" and found[0]["Attributes"]["health_status"] == "healthy"
        assert _health(podpy, cid)["Status"] == "healthy"      # kept locally too
    finally:
        podpy("rm", "-f", "-t", "0", cid, check=False)


@pytest.mark.parametrize("flags,message", [
    (["--health-startup-cmd", "true"], "need a healthcheck"),
    (["--health-cmd", "true", "--health-startup-retries", "2"], "need a --health-startup-cmd"),
    (["--health-cmd", "true", "--health-log-destination", "logs"], "invalid --health-log-destination 'logs'"),
    (["--health-cmd", "true", "--health-max-log-count", "-1"], "invalid --health-max-log-count"),
])
def test_bad_health_flags_are_refused_before_anything_is_made(podpy, flags, message):
    result = podpy("create", "--name", "bad-health", *flags, "busybox", "true", check=False)
    assert result.returncode == 125 and message in result.stderr
    assert podpy("ps", "-a", "--filter", "name=bad-health", "-q").stdout.strip() == ""


# -- --module ----------------------------------------------------------------------------

def test_a_module_is_applied_over_containers_conf(podpy, tmp_path):
    module = tmp_path / "pasta.conf"
    module.write_text('[network]\ndefault_rootless_network_cmd = "pasta"\n')
    info = json.loads(podpy("--module", module, "info", "--format", "json").stdout)
    assert (info["host"]["networkDefault"], info["host"]["networkDefaultSource"]) == ("pasta", str(module))
    assert json.loads(podpy("info", "--format", "json").stdout)["host"]["networkDefault"] == "slirp4netns"
    podpy(f"--module={module}", "create", "--name", "moduled", "busybox", "true")
    try:
        assert podpy("inspect", "--format", "{{.HostConfig.NetworkMode}}", "moduled").stdout.strip() == "pasta"
    finally:
        podpy("rm", "moduled")
    # a relative name is looked up in the user's modules directory
    own = podpy.config_home / "podpy" / "containers.conf.modules"
    own.mkdir(parents=True, exist_ok=True)
    (own / "mine.conf").write_text('[network]\ndefault_rootless_network_cmd = "pasta"\n')
    info = json.loads(podpy("--module", "mine.conf", "info", "--format", "json").stdout)
    assert info["host"]["networkDefaultSource"] == str(own / "mine.conf")
    missing = podpy("--module", "absent.conf", "ps", check=False)
    assert missing.returncode == 125 and "could not resolve module 'absent.conf'" in missing.stderr


# -- network create, build, kube ---------------------------------------------------------

def test_network_interface_name_and_dns(podpy):
    podpy("network", "create", "--interface-name", "qfbr7", "--dns", "192.0.2.53", "--disable-dns=false",
          "qfnet")
    try:
        net = json.loads(podpy("network", "inspect", "qfnet").stdout)[0]
        assert net["network_interface"] == "qfbr7" and net["network_dns_servers"] == ["192.0.2.53"]
        resolv = podpy("run", "--rm", "--network", "qfnet", "busybox", "cat", "/etc/resolv.conf").stdout
        servers = [line.split()[1] for line in resolv.splitlines() if line.startswith("nameserver")]
        assert servers == [net["subnets"][0]["gateway"], "192.0.2.53"]     # the responder, then the network's
        taken = podpy("network", "create", "--interface-name", "qfbr7", "other", check=False)
        assert taken.returncode == 125 and "bridge name qfbr7 already in use" in taken.stderr
        for flags, message in ((["--interface-name", "a/b"], "invalid --interface-name"),
                               (["--dns", "resolver"], "invalid --dns 'resolver'")):
            bad = podpy("network", "create", *flags, "bad", check=False)
            assert bad.returncode == 125 and message in bad.stderr
    finally:
        podpy("network", "rm", "-f", "qfnet", check=False)


def test_build_group_add_gives_run_steps_the_groups(podpy, tmp_path):
    (tmp_path / "Containerfile").write_text("FROM localhost/busybox:latest\nRUN id -G > /groups\n")
    podpy("build", "-q", "--group-add", "10", "--group-add", "extra", "-t", "grouped", tmp_path, timeout=120)
    try:
        # extra is gid 1001 in the busybox image's /etc/group
        assert podpy("run", "--rm", "grouped", "cat", "/groups").stdout.split() == ["0", "10", "1001"]
        # (the layer cache ignores run flags, as buildah's does: --no-cache runs the step again)
        bad = podpy("build", "--no-cache", "--group-add", "nosuch", tmp_path, check=False, timeout=120)
        assert bad.returncode == 125 and "unable to find group nosuch" in bad.stderr
    finally:
        podpy("rmi", "-f", "grouped", check=False)


KUBE = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: qf-claim
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: v1
kind: Pod
metadata:
  name: qf-pod
spec:
  restartPolicy: Never
  containers:
  - name: ok
    image: localhost/busybox:latest
    command: ["sh", "-c", "sleep 1; exit 0"]
  - name: bad
    image: localhost/busybox:latest
    command: ["sh", "-c", "sleep 2; exit 7"]
    volumeMounts:
    - name: data
      mountPath: /data
  volumes:
  - name: data
    persistentVolumeClaim:
      claimName: qf-claim
"""


def test_kube_down_force_removes_the_claims_volumes(podpy, tmp_path):
    yaml = tmp_path / "play.yaml"
    yaml.write_text(KUBE)
    podpy("kube", "play", yaml, timeout=120)
    down = podpy("kube", "down", yaml).stdout
    assert "Volumes removed" not in down
    assert "qf-claim" in podpy("volume", "ls", "--format", "{{.Name}}").stdout.split()   # kept without --force
    podpy("kube", "play", yaml, timeout=120)
    down = podpy("kube", "down", "--force", yaml).stdout
    assert down.rstrip().endswith("Volumes removed:\nqf-claim")
    assert "qf-claim" not in podpy("volume", "ls", "--format", "{{.Name}}").stdout.split()


# The watcher `kube play` leaves for systemd is orphaned on purpose (systemd's user manager, a
# subreaper, reaps it and sees its exit status). This stands in for the manager: it runs the
# command line with a notify socket, reads the MAINPID that comes with READY=1, and reaps
# orphans until that one exits.
REAPER = r"""
import ctypes, json, os, socket, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)     # PR_SET_CHILD_SUBREAPER
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(120)
play = subprocess.run(sys.argv[2:], env={**os.environ, "NOTIFY_SOCKET": path},
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
if play.returncode:
    print(json.dumps({"play": play.returncode, "err": play.stderr})); sys.exit(0)
fields = {}
while fields.get("READY") != "1":   # the pods' containers tell their own MAINPID first
    fields = dict(line.split("=", 1) for line in s.recv(4096).decode().split("\n") if "=" in line)
main = int(fields["MAINPID"])
while True:
    pid, status = os.wait()
    if pid == main:
        print(json.dumps({"ready": fields.get("READY"), "status": os.waitstatus_to_exitcode(status)}))
        break
"""


@pytest.mark.parametrize("policy,expected", [("any", 7), ("all", 0)])
def test_the_service_container_propagates_the_pods_exit_code(podpy, tmp_path, policy, expected):
    yaml = tmp_path / "play.yaml"
    yaml.write_text(KUBE)
    script = tmp_path / "reaper.py"
    script.write_text(REAPER)
    try:
        done = subprocess.run([sys.executable, script, tmp_path / "notify", *podpy.command(
            "kube", "play", "--service-container=true", f"--service-exit-code-propagation={policy}", yaml)],
            env=podpy.environ(), capture_output=True, text=True, timeout=120)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result == {"ready": "1", "status": expected}, (result, done.stderr)
        service = [n for n in podpy("ps", "-a", "--format", "{{.Names}}").stdout.split() if n.endswith("-service")]
        assert len(service) == 1
        state = podpy("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", service[0]).stdout.split()
        assert state == ["exited", str(expected)]
    finally:
        podpy("kube", "down", "--force", yaml, check=False)


def test_bad_propagation_values_are_refused(podpy, tmp_path):
    yaml = tmp_path / "play.yaml"
    yaml.write_text(KUBE)
    bad = podpy("kube", "play", "--service-container", "--service-exit-code-propagation=some", yaml, check=False)
    assert bad.returncode == 125 and "invalid --service-exit-code-propagation 'some'" in bad.stderr
    alone = podpy("kube", "play", "--service-exit-code-propagation=any", yaml, check=False)
    assert alone.returncode == 125 and "needs --service-container" in alone.stderr
    assert "qf-pod" not in podpy("pod", "ps", "--format", "{{.Name}}").stdout.split()


# -- a .container file using them, generated and run -----------------------------------

CONTAINER = """
[Container]
Image=localhost/busybox:latest
Exec=sleep 1000
ContainersConfModule={module}
Retry=2
RetryDelay=1s
GroupAdd=10
DNS=192.0.2.1
HealthCmd=echo regular
HealthInterval=1s
HealthStartupCmd=echo startup
HealthStartupInterval=500ms
HealthStartupRetries=5
HealthStartupSuccess=1
HealthStartupTimeout=5s
HealthLogDestination={logs}
HealthMaxLogCount=3
HealthMaxLogSize=5
"""


def test_a_container_file_using_the_flags_runs(podpy, tmp_path):
    logs = tmp_path / "health"
    logs.mkdir()
    module = tmp_path / "pasta.conf"
    module.write_text('[network]\ndefault_rootless_network_cmd = "pasta"\n')
    source = tmp_path / "quadlet"
    source.mkdir()
    (source / "flagged.container").write_text(textwrap.dedent(CONTAINER.format(module=module, logs=logs)).lstrip())
    out = tmp_path / "units"
    podpy("quadlet", "-user", "-no-kmsg-log", out, env={"QUADLET_UNIT_DIRS": str(source)})
    unit = load(out / "flagged.service")
    exec_start = unit.get("Service", "ExecStart")
    for flag in (f"--module={module}", "--retry 2", "--retry-delay 1s", "--group-add 10", "--dns 192.0.2.1",
                 "--health-startup-cmd", "--health-log-destination", "--health-max-log-size 5"):
        assert flag in exec_start, exec_start
    runner = UnitRunner(unit, podpy.environ(), tmp_path, cgroup_parent=delegated_cgroup())
    try:
        runner.start(timeout=60)
        name = "systemd-flagged"
        assert podpy("inspect", "--format", "{{.HostConfig.NetworkMode}}", name).stdout.strip() == "pasta"
        assert "10" in podpy("exec", name, "id", "-G").stdout.split()
        assert "nameserver 192.0.2.1" in podpy("exec", name, "cat", "/etc/resolv.conf").stdout
        cid = podpy("inspect", "--format", "{{.Id}}", name).stdout.strip()
        path = logs / f"{cid}-healthcheck.log"
        assert _until(lambda: path.exists() and json.loads(path.read_text())["Status"] == "healthy"), runner.output()
        assert _until(lambda: len(json.loads(path.read_text())["Log"]) == 3)
        outputs = {e["Output"] for e in json.loads(path.read_text())["Log"]}
        assert outputs <= {"start", "regul"}
        runner.stop(timeout=60)
        assert podpy("ps", "-a", "--filter", f"name={name}", "-q").stdout.strip() == ""
    finally:
        runner.close()
        podpy("rm", "-f", "-i", "-t", "0", "systemd-flagged", check=False)
