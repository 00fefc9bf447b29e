"""The last parts of podman's command line: `init`, IPv6 on user networks, --volumepath and
--namespace; compared with rootless podman where it runs here."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest


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
    assert res.returncode == 127 and "no-such-command" in res.stderr
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
