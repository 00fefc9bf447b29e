"""The last parts of podman's command line: `init`, IPv6 on user networks, --volumepath and
--namespace; compared with rootless podman where it runs here."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest


@pytest.fixture(scope="session")
def podpy(podpy, tmp_path_factory):
    """The harness's podpy with a runtime directory of its own: the monitor (which holds
    initialized containers) and the rootless network namespace's holder (which sets up IPv6)
    are then this tree's, not those of another podpy that serves the login's runtime
    directory meanwhile."""
    from helpers import Podpy

    run = tmp_path_factory.mktemp("run")
    run.chmod(0o700)
    yield Podpy(variant=podpy.variant, argv=podpy.argv, home=podpy.home,
                base_env={**podpy.base_env, "XDG_RUNTIME_DIR": str(run)}, driver=podpy.driver)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _state(podpy, name: str) -> tuple[str, int]:
    out = podpy("inspect", "--format", "{{.State.Status}} {{.State.Pid}}", name).stdout.split()
    return out[0], int(out[1])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


# -- init ------------------------------------------------------------------------------------

def test_init_holds_the_process_until_start(podpy, busybox):
    """init: the container is set up, its process created and waiting; ps and inspect say
    initialized; start runs the command; init again is podman's error."""
    name = _name("init")
    podpy("create", "--name", name, busybox, "sh", "-c", "echo started; sleep 60")
    assert podpy("init", name).stdout.strip() == name
    state, pid = _state(podpy, name)
    assert state == "initialized" and pid > 0 and _alive(pid)
    assert podpy("logs", name).stdout == ""   # the command has not run
    ps = podpy("ps", "-a", "--filter", f"name={name}", "--format", "{{.Status}} {{.State}}").stdout.split()
    assert ps == ["Initialized", "Initialized"]   # podman 4.3.1 capitalises both
    assert podpy("ps", "--filter", f"name={name}", "-q").stdout == ""   # not running
    listed = podpy("ps", "-a", "--filter", "status=initialized", "--format", "{{.Names}}").stdout.split()
    assert name in listed
    again = podpy("init", name, check=False)
    assert again.returncode == 125
    cid = podpy("inspect", "--format", "{{.Id}}", name).stdout.strip()
    assert again.stderr.strip() == f"Error: container {cid} has already been created in runtime: " \
                                   "container state improper"
    podpy("start", name)
    assert _state(podpy, name) == ("running", pid)   # the process it held is the one that runs
    for _ in range(100):
        if "started" in podpy("logs", name).stdout:
            break
        time.sleep(0.05)
    assert podpy("logs", name).stdout == "started\n"
    running_again = podpy("init", name, check=False)
    assert running_again.returncode == 125 and "has already been created in runtime" in running_again.stderr
    events = podpy("events", "--stream=false", "--filter", f"container={name}", "--format", "{{.Status}}").stdout
    assert events.split()[:3] == ["create", "init", "start"]
    podpy("rm", "-f", "-t", "0", name)


def test_stop_and_rm_of_an_initialized_container_end_its_process(podpy, busybox):
    name = _name("init-stop")
    podpy("create", "--name", name, busybox, "sleep", "60")
    podpy("init", name)
    _, pid = _state(podpy, name)
    assert podpy("stop", name).stdout.strip() == name
    assert _state(podpy, name)[0] == "exited"
    assert not _alive(pid)
    # an exited container can be initialized again, and rm takes an initialized one without -f
    podpy("init", name)
    _, pid = _state(podpy, name)
    assert _alive(pid)
    run_dir = podpy("inspect", "--format", "{{.Id}}", name).stdout.strip()
    assert podpy("rm", name).stdout.strip() == name
    assert not _alive(pid)
    assert podpy("ps", "-a", "-q", "--filter", f"id={run_dir}").stdout == ""


def test_start_attach_of_an_initialized_container_shows_all_its_output(podpy, busybox):
    name = _name("init-attach")
    podpy("create", "--name", name, busybox, "sh", "-c", "echo out; echo err >&2; exit 3")
    podpy("init", name)
    res = podpy("start", "-a", name, check=False)
    assert (res.returncode, res.stdout, res.stderr) == (3, "out\n", "err\n")
    podpy("rm", name)


def test_start_of_an_initialized_container_whose_command_is_missing(podpy, busybox):
    name = _name("init-missing")
    podpy("create", "--name", name, busybox, "no-such-command")
    podpy("init", name)
    res = podpy("start", name, check=False)
    cid = podpy("inspect", "--format", "{{.Id}}", name).stdout.strip()
    # podman's start: its own words around the cause, and 125 whatever the cause
    assert res.returncode == 125 and res.stderr.startswith(f'Error: unable to start container "{cid}": ')
    assert "no-such-command" in res.stderr
    assert _state(podpy, name)[0] == "created"
    podpy("rm", name)


def test_init_on_a_user_network_sets_the_network_up(podpy, busybox):
    net, name = _name("initnet"), _name("init-net")
    podpy("network", "create", net)
    try:
        podpy("create", "--name", name, "--network", net, busybox, "sleep", "60")
        podpy("init", name)
        ip = podpy("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                   name).stdout.strip()
        assert ip
        podpy("run", "--rm", "--cap-add", "NET_RAW", "--network", net, busybox, "ping", "-c", "1", "-W", "5", ip)
        podpy("rm", "-f", name)
    finally:
        podpy("network", "rm", "-f", net, check=False)


def test_init_flags_as_podman(podpy, busybox, podman):
    for args in (["init"], ["init", "--all", "x"], ["init", "no-such-container"]):
        ours, theirs = podpy(*args, check=False), podman(*args, check=False)
        assert (ours.returncode, ours.stderr.strip()) == (theirs.returncode, theirs.stderr.strip()), args
    name = _name("init-cmp")
    for tool in (podpy, podman):
        tool("create", "--name", name, "localhost/busybox", "sleep", "60")
        tool("init", name)
    assert _state(podpy, name)[0] == _state(podman, name)[0] == "initialized"
    ours = podpy("ps", "-a", "--filter", f"name={name}", "--format", "{{.Status}}").stdout
    assert ours == podman("ps", "-a", "--filter", f"name={name}", "--format", "{{.Status}}").stdout
    for tool in (podpy, podman):
        tool("rm", "-f", "-t", "0", name)


# -- IPv6 on user networks ---------------------------------------------------------------------

def _subnets(podpy, net: str) -> list[dict]:
    return json.loads(podpy("network", "inspect", "--format", "{{json .Subnets}}", net).stdout)


def test_network_create_ipv6_as_podman(podpy, podman):
    """--ipv6: an IPv4 subnet from the pool and a random unique local /64, ipv6_enabled; an
    IPv6 --subnet comes first, with an IPv4 one added; the same shapes as podman's."""
    for tool in (podpy, podman):
        a, b = _name("v6a"), _name("v6b")
        tool("network", "create", "--ipv6", a)
        tool("network", "create", "--ipv6", "--subnet", "fd31:4159:2653::/64", b)
        try:
            assert tool("network", "inspect", "--format", "{{.IPv6Enabled}}", a).stdout.strip() == "true"
            first, second = _subnets(tool, a)
            assert ":" not in first["subnet"] and second["subnet"].startswith("fd")
            assert second["subnet"].endswith("::/64") and second["gateway"] == second["subnet"][:-3] + "1"
            subs = _subnets(tool, b)
            assert subs[0] == {"subnet": "fd31:4159:2653::/64", "gateway": "fd31:4159:2653::1"}
            assert ":" not in subs[1]["subnet"]
        finally:
            tool("network", "rm", a, b, check=False)


def test_containers_talk_over_ipv6(podpy, busybox):
    """Two containers on an --ipv6 network: each has an IPv6 address (one chosen with --ip6),
    they ping each other over IPv6 by address and by name (DNS AAAA), and TCP goes over it."""
    net, srv, cli = _name("v6net"), _name("v6srv"), _name("v6cli")
    podpy("network", "create", "--ipv6", "--subnet", "fd42:7:7:7::/64", net)
    try:
        podpy("run", "-d", "--name", srv, "--network", net, "--ip6", "fd42:7:7:7::99", busybox,
              "sh", "-c", "nc -l -p 8080; sleep 60")
        podpy("run", "-d", "--name", cli, "--cap-add", "NET_RAW", "--network", net, busybox, "sleep", "60")
        fmt = "{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}/{{.GlobalIPv6PrefixLen}} {{.IPv6Gateway}}{{end}}"
        assert podpy("inspect", "--format", fmt, srv).stdout.strip() == "fd42:7:7:7::99/64 fd42:7:7:7::1"
        mine = podpy("inspect", "--format", fmt, cli).stdout.split("/")[0]
        assert mine.startswith("fd42:7:7:7::")
        shown = podpy("exec", srv, "ip", "-6", "addr", "show", "eth0").stdout
        assert "inet6 fd42:7:7:7::99/64 scope global" in shown
        hosts = podpy("exec", srv, "cat", "/etc/hosts").stdout.splitlines()
        assert any(line.startswith("fd42:7:7:7::99\t") and line.endswith(f" {srv}") for line in hosts)   # as podman
        podpy("exec", cli, "ping", "-6", "-c", "1", "-W", "5", "fd42:7:7:7::99")
        by_name = podpy("exec", cli, "ping", "-6", "-c", "1", "-W", "5", srv).stdout
        assert "fd42:7:7:7::99" in by_name
        podpy("exec", "-i", cli, "nc", "-w", "5", "fd42:7:7:7::99", "8080", input="over ipv6\n")
        for _ in range(100):
            if podpy("logs", srv).stdout:
                break
            time.sleep(0.05)
        assert podpy("logs", srv).stdout == "over ipv6\n"
    finally:
        podpy("rm", "-f", "-t", "0", srv, cli, check=False)
        podpy("network", "rm", "-f", net, check=False)


def test_ip6_of_connect_and_pod_create(podpy, busybox):
    one, two, ctr, pod = _name("v6one"), _name("v6two"), _name("v6ctr"), _name("v6pod")
    podpy("network", "create", "--ipv6", "--subnet", "fd43:1::/64", one)
    podpy("network", "create", "--ipv6", "--subnet", "fd43:2::/64", two)
    try:
        podpy("run", "-d", "--name", ctr, "--network", one, busybox, "sleep", "60")
        podpy("network", "connect", "--ip6", "fd43:2::42", two, ctr)
        assert "inet6 fd43:2::42/64" in podpy("exec", ctr, "ip", "-6", "addr").stdout
        podpy("pod", "create", "--name", pod, "--network", two, "--ip6", "fd43:2::43")
        podpy("run", "--rm", "--pod", pod, busybox, "true")
        infra = podpy("pod", "inspect", "--format", "{{.InfraContainerID}}", pod).stdout.strip()
        got = podpy("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}",
                    infra).stdout.strip()
        assert got == "fd43:2::43"
    finally:
        podpy("pod", "rm", "-f", pod, check=False)
        podpy("rm", "-f", "-t", "0", ctr, check=False)
        podpy("network", "rm", "-f", one, two, check=False)


def test_ipv6_errors(podpy, busybox):
    plain = _name("v4only")
    podpy("network", "create", plain)
    try:
        res = podpy("run", "--rm", "--network", plain, "--ip6", "fd00::5", busybox, "true", check=False)
        assert res.returncode == 125
        assert res.stderr.strip() == f"Error: network {plain} has no IPv6 subnet for fd00::5: create it with --ipv6"
        res = podpy("run", "--rm", "--ip6", "fd00::5", busybox, "true", check=False)
        assert res.returncode == 125 and "--ip6" in res.stderr
        res = podpy("network", "create", "--subnet", "fd00:9::/64", _name("v6only"), check=False)
        assert res.returncode == 125 and "IPv6-only network is not available" in res.stderr
    finally:
        podpy("network", "rm", plain, check=False)


# -- --namespace and --volumepath --------------------------------------------------------------

def test_namespace_sets_containers_apart_as_podman(podpy, busybox, podman):
    """podman 4.3.1's libpod namespaces: a container made with --namespace NS is listed and
    found only with that namespace (or with none), and looking it up from another one fails."""
    for tool in (podpy, podman):
        mine, plain = _name("ns-mine"), _name("ns-plain")
        tool("--namespace", "t410", "create", "--name", mine, "localhost/busybox", "true")
        tool("create", "--name", plain, "localhost/busybox", "true")
        try:
            listed = tool("ps", "-a", "--format", "{{.Names}}").stdout.split()
            assert mine in listed and plain in listed
            assert tool("--namespace", "t410", "ps", "-a", "--format", "{{.Names}}").stdout.split() == [mine]
            assert tool("--namespace", "other", "ps", "-a", "-q").stdout == ""
            assert tool("inspect", "--format", "{{.Namespace}}", mine).stdout.strip() == "t410"
            cid = tool("inspect", "--format", "{{.Id}}", mine).stdout.strip()
            res = tool("--namespace", "other", "start", mine, check=False)
            assert res.returncode == 125
            assert res.stderr.strip() == (f'Error: cannot retrieve container {cid} as it is part of namespace '
                                          '"t410" and we are in namespace "other": target is in a different namespace')
        finally:
            tool("rm", "-f", mine, plain, check=False)


def test_namespace_sets_pods_apart(podpy, busybox):
    pod = _name("ns-pod")
    podpy("--namespace", "t410", "pod", "create", "--name", pod)
    try:
        assert pod in podpy("pod", "ps", "--format", "{{.Name}}").stdout.split()
        assert podpy("--namespace", "t410", "pod", "ps", "--format", "{{.Name}}").stdout.split() == [pod]
        assert podpy("--namespace", "other", "pod", "ps", "-q").stdout == ""
        res = podpy("--namespace", "other", "pod", "inspect", pod, check=False)
        assert res.returncode == 125 and "target is in a different namespace" in res.stderr
    finally:
        podpy("pod", "rm", "-f", pod, check=False)


def test_volumepath_of_a_new_store(new_podpy, image_tar, tmp_path):
    """--volumepath: a new store's volumes live there (their data; their descriptions stay in
    the store), as `info` says; the path is the store's from then on, as podman's database
    keeps it."""
    p = new_podpy()
    vols, other = tmp_path / "vols", tmp_path / "other"
    p("--volumepath", vols, "volume", "create", "v1")
    assert p("volume", "inspect", "--format", "{{.Mountpoint}}", "v1").stdout.strip() == f"{vols}/v1/_data"
    assert p("info", "--format", "{{.Store.VolumePath}}").stdout.strip() == str(vols)
    p("import", image_tar, "busybox", timeout=300)
    p("run", "--rm", "-v", "v1:/data", "busybox", "sh", "-c", "echo kept > /data/f")
    assert (vols / "v1" / "_data" / "f").read_text() == "kept\n"
    p("--volumepath", other, "volume", "create", "v2")
    assert p("volume", "inspect", "--format", "{{.Mountpoint}}", "v2").stdout.strip() == f"{vols}/v2/_data"
    p("volume", "rm", "v1", "v2")
    assert os.listdir(vols) == [] and not other.exists()
