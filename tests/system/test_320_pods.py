"""Pods: containers that share the network, IPC and UTS namespaces of an infra container, made,
started, stopped and removed together, as podman 4.3.1 has them (compared with podman run as
the same user where it is installed)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time

import pytest

NAMESPACES = "for n in net uts ipc; do readlink /proc/self/ns/$n; done"
HTTP_GET = 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc 127.0.0.1 80 | head -1'


@pytest.fixture
def p(podpy, busybox):
    yield podpy
    podpy("pod", "rm", "-a", "-f", "-t", "0", check=False)
    podpy("rm", "-a", "-f", check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pods(p) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in p("pod", "ps", "--format", "{{.Name}} {{.Status}}").stdout.splitlines())


def test_create_ps_inspect_and_the_pause_image(p):
    pid = p("pod", "create", "--name", "web", "-l", "tier=front").stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", pid)
    lines = p("pod", "ps").stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["POD ID", "NAME", "STATUS", "CREATED", "INFRA ID", "# OF CONTAINERS"]
    cols = re.split(r"\s{2,}", lines[1])
    assert cols[0] == pid[:12] and cols[1:3] == ["web", "Created"] and cols[5] == "1"
    doc = json.loads(p("pod", "inspect", "web").stdout)
    assert doc["Id"] == pid and doc["Name"] == "web" and doc["State"] == "Created"
    assert doc["SharedNamespaces"] == ["net", "uts", "ipc"] and doc["NumContainers"] == 1
    assert doc["Labels"] == {"tier": "front"}
    infra = doc["InfraContainerID"]
    assert [c["Id"] for c in doc["Containers"]] == [infra]
    assert p("pod", "inspect", "--format", "{{.Name}} {{.NumContainers}}", "web").stdout == "web 1\n"
    # the infra container runs catatonit from an image made here, named as podman names its own
    ctr = json.loads(p("inspect", infra).stdout)[0]
    assert ctr["Name"] == f"{pid[:12]}-infra" and ctr["IsInfra"] is True and ctr["Pod"] == pid
    assert p("images", "--format", "{{.Repository}}").stdout.count("localhost/podpy-pause") == 1
    assert p("pod", "exists", "web").returncode == 0
    assert p("pod", "exists", "nope", check=False).returncode == 1


def test_members_share_network_uts_and_ipc(p):
    p("pod", "create", "--name", "shared")
    p("run", "-d", "--pod", "shared", "--name", "srv", "busybox", "httpd", "-f", "-p", "80", "-h", "/")
    # the infra container was started first: the member joined its namespaces
    out = p("run", "--rm", "--pod", "shared", "busybox", "sh", "-c",
            f"hostname; {HTTP_GET}; {NAMESPACES}").stdout
    lines = out.splitlines()
    assert lines[0] == "shared"                      # the pod's name, as podman's pods have it
    assert lines[1].startswith("HTTP/1.")            # the other container, on localhost
    srv_ns = p("exec", "srv", "sh", "-c", NAMESPACES).stdout
    assert lines[2:] == srv_ns.splitlines()
    assert _pods(p)["shared"] == "Running"
    ps = p("ps", "-a", "--pod", "--format", "{{.Names}} {{.PodName}}").stdout.splitlines()
    assert "srv shared" in ps and any(line.endswith("-infra shared") for line in ps)
    header = p("ps", "--pod").stdout.splitlines()[0]
    assert header.split()[-3:] == ["POD", "ID", "PODNAME"]


def test_members_of_a_pod_on_the_hosts_network_are_on_it(p):
    p("pod", "create", "--network", "host", "--name", "hp")
    assert p("pod", "inspect", "--format", "{{.InfraConfig.HostNetwork}}", "hp").stdout == "true\n"
    host_net = os.readlink("/proc/self/ns/net")
    out = p("run", "--rm", "--pod", "hp", "busybox", "readlink", "/proc/self/ns/net").stdout
    assert out.strip() == host_net
    p("create", "--pod", "hp", "--name", "hpm", "busybox", "true")
    assert p("inspect", "--format", "{{.HostConfig.NetworkMode}}", "hpm").stdout == "host\n"


def test_published_ports_belong_to_the_pod(p):
    port = _free_port()
    p("pod", "create", "--name", "ports", "-p", f"{port}:80")
    p("run", "-d", "--pod", "ports", "busybox", "httpd", "-f", "-p", "80", "-h", "/")
    for _ in range(50):
        got = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{port}/"],
                             capture_output=True, text=True)
        if got.stdout == "404":
            break
        time.sleep(0.1)
    assert got.stdout == "404"
    res = p("create", "--pod", "ports", "-p", "9999:99", "busybox", "true", check=False)
    assert res.returncode == 125 and res.stderr == (
        "Error: invalid config provided: published or exposed ports must be defined when the pod is created: "
        "network cannot be configured when it is shared with a pod\n")
    res = p("create", "--pod", "ports", "--hostname", "x", "busybox", "true", check=False)
    assert res.returncode == 125 and "cannot set hostname when joining the pod UTS namespace" in res.stderr


def test_stop_start_restart_and_states(p):
    p("pod", "create", "--name", "life")
    p("create", "--pod", "life", "--name", "worker", "busybox", "sleep", "600")
    assert _pods(p)["life"] == "Created"
    pid = p("pod", "inspect", "--format", "{{.Id}}", "life").stdout.strip()
    assert p("pod", "start", "life").stdout == pid + "\n"
    assert _pods(p)["life"] == "Running"
    assert p("pod", "stop", "-t", "0", "life").stdout == pid + "\n"
    assert _pods(p)["life"] == "Exited"
    assert p("pod", "restart", "life").stdout == pid + "\n"
    assert _pods(p)["life"] == "Running"
    p("stop", "-t", "0", "worker")
    assert _pods(p)["life"] == "Degraded"
    p("pod", "kill", "life")
    p("wait", "worker", check=False)
    assert _pods(p)["life"] in ("Exited", "Stopped")
    res = p("pod", "stop", "nope", check=False)
    assert res.returncode == 125 and res.stderr == "Error: no pod with name or ID nope found: no such pod\n"


def test_rm_removes_the_pods_containers(p):
    p("pod", "create", "--name", "gone")
    p("run", "-d", "--pod", "gone", "--name", "busy", "busybox", "sleep", "600")
    infra = p("pod", "inspect", "--format", "{{.InfraContainerID}}", "gone").stdout.strip()
    res = p("rm", "-f", infra, check=False)
    assert res.returncode != 0 and "is the infra container of pod" in res.stderr
    res = p("pod", "rm", "gone", check=False)
    assert res.returncode == 125 and "cannot remove container" in res.stderr and "without force" in res.stderr
    assert p("ps", "-a", "--format", "{{.Names}}").stdout.count("busy") == 1
    p("pod", "rm", "-f", "-t", "0", "gone")
    assert p("ps", "-a", "--format", "{{.Names}}").stdout == ""
    assert p("pod", "ps", "-q").stdout == ""
    res = p("pod", "rm", "gone", check=False)
    assert res.returncode == 1 and res.stderr == "Error: no pod with name or ID gone found: no such pod\n"
    assert p("pod", "rm", "-i", "gone").returncode == 0
    # a pod whose members have ended goes without --force: its infra container alone keeps nothing
    p("pod", "create", "--name", "done")
    p("run", "--rm", "--pod", "done", "busybox", "true")
    p("pod", "rm", "done")
    assert p("ps", "-a", "-q").stdout == ""


def test_new_pod_from_run_and_pod_id_files(p, tmp_path):
    out = p("run", "--rm", "--pod", "new:fresh", "busybox", "hostname").stdout
    assert out == "fresh\n" and "fresh" in _pods(p)
    idfile = tmp_path / "pod.id"
    pid = p("pod", "create", "--name", "byfile", "--pod-id-file", idfile).stdout.strip()
    assert idfile.read_text() == pid
    p("create", "--pod-id-file", idfile, "--name", "member", "busybox", "true")
    assert p("ps", "-a", "--pod", "--format", "{{.Names}} {{.PodName}}", "--filter", "name=member").stdout == \
        "member byfile\n"
    assert p("pod", "rm", "--pod-id-file", idfile).stdout == pid + "\n"
    res = p("pod", "create", "--name", "byfile", "--share", "bogus", check=False)
    assert res.returncode == 125 and "invalid kernel namespace to share: bogus" in res.stderr
    assert "byfile" not in _pods(p)


def test_name_clashes_and_replace(p):
    p("pod", "create", "--name", "twice")
    res = p("pod", "create", "--name", "twice", check=False)
    assert res.returncode == 125 and res.stderr == \
        'Error: adding pod to state: name "twice" is in use: pod already exists\n'
    p("create", "--name", "ctrname", "busybox", "true")
    res = p("pod", "create", "--name", "ctrname", check=False)
    assert res.returncode == 125 and "container already exists" in res.stderr
    old = p("pod", "inspect", "--format", "{{.Id}}", "twice").stdout
    p("pod", "create", "--replace", "--name", "twice")
    assert p("pod", "inspect", "--format", "{{.Id}}", "twice").stdout != old
    assert len(p("pod", "ps", "-q").stdout.split()) == 1


def test_a_detached_member_starts_its_pod_and_a_refused_one_leaves_it_created(p):
    # `run -d --pod` of a created pod starts its infra container first; a member refused for
    # its name leaves the pod created, as podman does
    p("pod", "create", "--name", "lazy")
    p("create", "--name", "taken", "busybox", "true")
    res = p("run", "-d", "--pod", "lazy", "--name", "taken", "busybox", "sleep", "600", check=False)
    assert res.returncode == 125 and "already in use" in res.stderr
    assert _pods(p)["lazy"] == "Created"
    p("run", "-d", "--pod", "lazy", "--name", "lazy-1", "busybox", "sleep", "600")
    assert _pods(p)["lazy"] == "Running"
    infra = p("pod", "inspect", "--format", "{{.InfraContainerID}}", "lazy").stdout.strip()
    for ctr in (infra, "lazy-1"):
        assert p("inspect", "--format", "{{.State.Status}}", ctr).stdout == "running\n"
    assert p("exec", "lazy-1", "sh", "-c", NAMESPACES).stdout.split() == _infra_namespaces(p, infra)


def _infra_namespaces(p, infra: str) -> list[str]:
    pid = p("inspect", "--format", "{{.State.Pid}}", infra).stdout.strip()
    return [os.readlink(f"/proc/{pid}/ns/{n}") for n in ("net", "uts", "ipc")]


def test_exit_policy_stop_ends_the_pod_with_its_last_container(p):
    p("pod", "create", "--name", "keep")
    p("pod", "create", "--name", "ends", "--exit-policy", "stop")
    for pod in ("keep", "ends"):
        p("run", "--rm", "--pod", pod, "busybox", "true")
        p("run", "-d", "--pod", pod, "--name", f"{pod}-d", "busybox", "sh", "-c", "sleep 0.3")
    p("wait", "keep-d", "ends-d")
    for _ in range(50):
        if _pods(p)["ends"] == "Exited":
            break
        time.sleep(0.1)
    assert _pods(p) == {"keep": "Degraded", "ends": "Exited"}   # continue: the infra container runs on
    res = p("pod", "create", "--exit-policy", "sometimes", check=False)
    assert res.returncode == 125 and res.stderr == \
        'Error: running pod create option: invalid pod exit policy: "sometimes"\n'


def test_a_containers_namespace_donor_is_started_first(p):
    # not only pods: `--network container:X` starts a stopped X first, as podman does
    p("create", "--name", "donor", "busybox", "sleep", "600")
    assert p("run", "--rm", "--network", "container:donor", "busybox", "true").returncode == 0
    assert p("inspect", "--format", "{{.State.Status}}", "donor").stdout == "running\n"


def test_top_and_logs_of_a_pod(p):
    p("pod", "create", "--name", "obs")
    p("run", "-d", "--pod", "obs", "--name", "talker", "busybox", "sh", "-c", "echo hello; sleep 600")
    for _ in range(50):
        if p("pod", "logs", "obs").stdout == "hello\n":
            break
        time.sleep(0.1)
    assert p("pod", "logs", "obs").stdout == "hello\n"
    assert p("pod", "logs", "-c", "talker", "obs").stdout == "hello\n"
    top = p("pod", "top", "obs").stdout.splitlines()
    assert top[0].split()[:2] == ["USER", "PID"] and any("sleep 600" in line for line in top[1:])
    assert any("catatonit" in line for line in top[1:])


def test_ps_and_inspect_match_podman(p, podman):
    podman("pod", "rm", "-f", "cmp", check=False)
    try:
        for tool in (p, podman):
            tool("pod", "create", "--name", "cmp", "-l", "a=b")
        ours = re.split(r"\s{2,}", p("pod", "ps").stdout.splitlines()[0])
        theirs = re.split(r"\s{2,}", podman("pod", "ps").stdout.splitlines()[0])
        assert ours == theirs
        ours_doc = json.loads(p("pod", "inspect", "cmp").stdout)
        theirs_doc = json.loads(podman("pod", "inspect", "cmp").stdout)
        for key in ("Name", "State", "NumContainers", "Labels", "ExitPolicy", "CreateInfra"):
            assert ours_doc[key] == theirs_doc[key], key
        assert sorted(ours_doc["SharedNamespaces"]) == sorted(theirs_doc["SharedNamespaces"])   # podman's order varies
        assert set(ours_doc["InfraConfig"]) == set(theirs_doc["InfraConfig"])
        assert p("run", "--rm", "--pod", "cmp", "busybox", "hostname").stdout == \
            podman("run", "--rm", "--pod", "cmp", "localhost/busybox", "hostname").stdout
    finally:
        podman("pod", "rm", "-f", "cmp", check=False)


def _cgroup2_mount() -> str:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split(" ", 1)[0] == "cgroup2":
                return left.split()[4]
    pytest.skip("no cgroup2 file system on this host")


def test_a_pods_cgroup_holds_its_containers_and_its_limits(p, podman):
    """--cpus/--memory/... on the pod: one cgroup of the pod's own with every container below it;
    each limit written where its controller is delegated, and a warning naming the controller
    where it is not; inspect shows them as podman does; gone with the pod; carried by a clone."""
    mount = _cgroup2_mount()
    flags = ["--cpus", "0.5", "--memory", "100m", "--cpuset-cpus", "0", "--blkio-weight", "300"]
    made = p("pod", "create", "--name", "lim", *flags)
    doc = json.loads(p("pod", "inspect", "lim").stdout)
    if not doc["CreateCgroup"]:
        pytest.skip("the test user's cgroup is not delegated here: pods get no cgroup")
    assert doc["CgroupPath"] == f"{doc['CgroupParent']}/podpy-pod-{doc['Id']}"
    member = p("run", "-d", "--pod", "lim", "busybox", "sleep", "60")
    warnings = made.stderr + member.stderr
    pod_dir = mount + doc["CgroupPath"]
    for ctrl, fname, value in (("cpu", "cpu.max", "50000 100000"), ("memory", "memory.max", "104857600"),
                               ("cpuset", "cpuset.cpus", "0"), ("io", "io.weight", "default 2930")):
        try:
            with open(f"{pod_dir}/{fname}") as f:
                written = f.read().strip()
        except FileNotFoundError:
            written = None
        if written is None:
            assert f"the {ctrl} controller is not delegated" in warnings, (ctrl, warnings)
        else:
            assert written == value, (fname, written)
    # warned once, by the start that made the cgroup, not again by the next
    assert p("pod", "restart", "lim").stderr.count("not delegated") == 0
    ctr_ids = [c["Id"] for c in json.loads(p("pod", "inspect", "lim").stdout)["Containers"]]
    for cid in ctr_ids:
        pid = p("inspect", "--format", "{{.State.Pid}}", cid).stdout.strip()
        with open(f"/proc/{pid}/cgroup") as f:
            own = next(line[3:].strip() for line in f if line.startswith("0::"))
        assert own == f"{doc['CgroupPath']}/podpy-{cid}"
    podman("pod", "rm", "-f", "lim", check=False)
    try:
        podman("pod", "create", "--name", "lim", *flags)
        theirs = json.loads(podman("pod", "inspect", "lim").stdout)
    finally:
        podman("pod", "rm", "-f", "lim", check=False)
    limits = ("cpu_period", "cpu_quota", "cpuset_cpus", "blkio_weight", "memory_limit", "memory_swap")
    assert {k: doc.get(k) for k in limits} == {k: theirs.get(k) for k in limits}
    assert {k: v for k, v in doc["InfraConfig"].items() if k.startswith("cpu")} == \
        {k: v for k, v in theirs["InfraConfig"].items() if k.startswith("cpu")}
    clone = json.loads(p("pod", "inspect", p("pod", "clone", "lim", "lim2").stdout.strip()).stdout)
    assert {k: clone.get(k) for k in limits} == {k: doc.get(k) for k in limits}
    p("pod", "rm", "-f", "-t", "0", "lim", "lim2")
    assert not os.path.exists(pod_dir)


@pytest.mark.parametrize("flags, message", [
    (["--cpus", "lots"], "invalid --cpus 'lots'"),
    (["--memory", "1k"], "the minimum allowed is 6MiB"),
    (["--cgroup-parent", "../up"], "invalid --cgroup-parent"),
    (["--cpuset-cpus", "zero"], "invalid --cpuset-cpus"),
])
def test_bad_pod_limits_are_one_line_and_make_nothing(p, flags, message):
    result = p("pod", "create", "--name", "bad", *flags, check=False)
    assert result.returncode == 125
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert p("pod", "exists", "bad", check=False).returncode == 1
