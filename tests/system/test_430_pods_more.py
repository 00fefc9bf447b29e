"""More of pods, as podman 4.3.1 has them: init containers (`create --pod P --init-ctr
always|once`) and a pod's user namespace (`pod create --userns`, and its id maps)
(compared with podman run as the same user where it is installed)."""

from __future__ import annotations

import os
import re
import time

import pytest


@pytest.fixture
def p(podpy, busybox):
    yield podpy
    podpy("pod", "rm", "-a", "-f", "-t", "0", check=False)
    podpy("rm", "-a", "-f", check=False)


def _states(tool, pod: str) -> dict[str, str]:
    """name -> running, exited or created ({{.State}} is podman 4.3.1's status line: "Up 2 seconds ago")."""
    out = tool("ps", "-a", "--filter", f"pod={pod}", "--format", "{{.Names}} {{.State}}").stdout
    words = {"Up": "running", "Exited": "exited", "Created": "created"}
    return {re.sub(r"^[0-9a-f]{12}-infra$", "INFRA", name): words.get(state.split(" ")[0], state)
            for name, state in (line.split(" ", 1) for line in out.splitlines())}


def _log(p, name: str) -> str:
    return p("logs", name).stdout


# -- init containers -------------------------------------------------------------------------


def test_init_containers_run_in_order_before_the_others_and_once_ones_go(p, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)
    vol = f"{out}:/out"
    p("pod", "create", "--name", "ic")
    # made in this order: the second init container sleeps, so a start that ran them at once
    # (or the member before them) would write the lines out of order
    p("create", "--pod", "ic", "--name", "ic-member", "-v", vol, "busybox",
      "sh", "-c", "echo member >> /out/log; sleep 300")
    p("create", "--pod", "ic", "--init-ctr", "always", "--name", "ic-always", "-v", vol, "busybox",
      "sh", "-c", "sleep 1; echo always >> /out/log")
    p("create", "--pod", "ic", "--init-ctr", "once", "--name", "ic-once", "-v", vol, "busybox",
      "sh", "-c", "echo once >> /out/log")
    p("pod", "start", "ic")
    # the init containers are over when `pod start` returns; the member has started, and
    # writes its line a moment later
    assert _text_once(out / "log", "always\nonce\nmember\n") == "always\nonce\nmember\n"
    states = _states(p, "ic")
    assert states.pop("ic-always") == "exited" and states.pop("ic-member") == "running"
    assert "ic-once" not in states   # it ran once and is gone
    p("pod", "stop", "-t", "0", "ic")
    p("pod", "start", "ic")
    expected = "always\nonce\nmember\nalways\nmember\n"
    assert _text_once(out / "log", expected) == expected


def _text_once(path, expected: str, timeout: float = 15) -> str:
    """The file's text once it is `expected`, or what it is after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text()
        if text == expected or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def test_a_failing_init_container_stops_the_start_of_the_pod(p):
    p("pod", "create", "--name", "icf")
    cid = p("create", "--pod", "icf", "--init-ctr", "once", "--name", "icf-init", "busybox",
            "sh", "-c", "echo setting up; exit 3").stdout.strip()
    p("create", "--pod", "icf", "--name", "icf-member", "busybox", "sleep", "300")
    r = p("pod", "start", "icf", check=False)
    assert r.returncode == 125
    # podman's words, last (after any warning this host's cgroups give)
    assert r.stderr.strip().splitlines()[-1] == f"Error: init container {cid} exited with code 3"
    states = _states(p, "icf")
    assert states["icf-init"] == "exited" and states["icf-member"] == "created"   # kept, to look at
    assert _log(p, "icf-init") == "setting up\n"


@pytest.mark.parametrize("args,message", [
    (["--init-ctr", "always"], "Error: must specify pod value with init-ctr"),
    (["--pod", "icm", "--init-ctr", "sometimes"], "Error: init-ctr value must be 'always' or 'once'"),
])
def test_init_ctr_misuse_is_refused_in_podmans_words(p, podman, args, message):
    p("pod", "create", "--name", "icm")
    podman("pod", "create", "--name", "icm")
    try:
        ours = p("create", *args, "busybox", "true", check=False)
        theirs = podman("create", *args, "localhost/busybox", "true", check=False)
        assert (ours.returncode, ours.stderr.strip()) == (125, message)
        assert (theirs.returncode, theirs.stderr.strip()) == (125, message)
    finally:
        podman("pod", "rm", "-f", "icm", check=False)
    assert p("ps", "-a", "--filter", "pod=icm", "--format", "{{.Names}}").stdout.count("\n") == 1   # the infra


def test_init_ctr_is_a_flag_of_create_not_run(p, podman):
    ours = p("run", "--init-ctr", "once", "busybox", "true", check=False)
    theirs = podman("run", "--init-ctr", "once", "localhost/busybox", "true", check=False)
    assert ours.returncode == theirs.returncode == 125
    assert "unknown flag: --init-ctr" in ours.stderr and "unknown flag: --init-ctr" in theirs.stderr


def test_init_containers_run_as_podmans_do(p, podman):
    """The same pod made by both: after its start the once init container is gone, the always
    one has exited, the member runs, and the pod is Running."""
    for tool, image in ((p, "busybox"), (podman, "localhost/busybox")):
        tool("pod", "rm", "-f", "icp", check=False)
        tool("pod", "create", "--name", "icp")
        tool("create", "--pod", "icp", "--init-ctr", "once", "--name", "icp-once", image, "true")
        tool("create", "--pod", "icp", "--init-ctr", "always", "--name", "icp-always", image, "true")
        tool("create", "--pod", "icp", "--name", "icp-member", image, "sleep", "300")
        tool("pod", "start", "icp")
    try:
        ours = _states(p, "icp")
        assert ours == _states(podman, "icp") == {"INFRA": "running", "icp-always": "exited",
                                                  "icp-member": "running"}
        # an init container that has done its work does not make the pod Degraded
        status = ("pod", "ps", "--filter", "name=icp", "--format", "{{.Status}}")
        assert p(*status).stdout == podman(*status).stdout == "Running\n"
    finally:
        podman("pod", "rm", "-f", "-t", "0", "icp", check=False)


# -- a pod's user namespace -------------------------------------------------------------------

MAPS = "cat /proc/self/uid_map /proc/self/gid_map"


def _maps(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


def test_a_pods_id_maps_are_its_containers_and_they_share_its_user_namespace(p, podman):
    p("pod", "create", "--name", "um", "--uidmap", "0:1:1000", "--gidmap", "0:1:2000")
    ours = p("run", "--rm", "--pod", "um", "busybox", "sh", "-c", MAPS).stdout
    assert _maps(ours) == [["0", "1", "1000"], ["0", "1", "2000"]]
    podman("pod", "create", "--name", "um", "--uidmap", "0:1:1000", "--gidmap", "0:1:2000")
    try:
        theirs = podman("run", "--rm", "--pod", "um", "localhost/busybox", "sh", "-c", MAPS).stdout
        assert _maps(ours) == _maps(theirs)
    finally:
        podman("pod", "rm", "-f", "-t", "0", "um", check=False)
    # two members (and the infra container) are in one user namespace: the pod's
    for name in ("um-a", "um-b"):
        p("run", "-d", "--pod", "um", "--name", name, "busybox", "sleep", "300")
    a, b = (p("exec", name, "sh", "-c", "readlink /proc/self/ns/user; readlink /proc/self/ns/net").stdout
            for name in ("um-a", "um-b"))
    assert a == b and a.startswith("user:[")


@pytest.mark.parametrize("args,message", [
    (["--uidmap", "0:1:500"], "Error: cannot specify a new uid/gid map when entering a pod with an infra container: "
                              "invalid argument"),
    (["--userns", "keep-id"], "Error: --userns and --pod cannot be set together"),
])
def test_a_member_of_its_own_id_maps_is_refused_in_podmans_words(p, podman, args, message):
    for tool, image in ((p, "busybox"), (podman, "localhost/busybox")):
        tool("pod", "create", "--name", "umr", "--uidmap", "0:1:1000", "--gidmap", "0:1:1000")
        try:
            r = tool("create", "--pod", "umr", *args, image, "true", check=False)
            assert (r.returncode, r.stderr.strip()) == (125, message)
        finally:
            tool("pod", "rm", "-f", "umr", check=False)


def test_userns_with_a_pod_is_refused_before_the_pod_is_looked_up(p, podman):
    for tool, image in ((p, "busybox"), (podman, "localhost/busybox")):
        for verb in ("create", "run"):
            r = tool(verb, "--userns=bar", "--pod=nosuchpod", image, "true", check=False)
            assert (r.returncode, r.stderr.strip()) == (125, "Error: --userns and --pod cannot be set together")


def test_pod_userns_keep_id_is_its_containers(p, podman):
    p("pod", "create", "--name", "uk", "--userns", "keep-id")
    podman("pod", "create", "--name", "uk", "--userns", "keep-id")
    try:
        ours = p("run", "--rm", "--pod", "uk", "busybox", "sh", "-c", "id -u; id -g; " + MAPS).stdout
        theirs = podman("run", "--rm", "--pod", "uk", "localhost/busybox", "sh", "-c", "id -u; id -g; " + MAPS).stdout
    finally:
        podman("pod", "rm", "-f", "-t", "0", "uk", check=False)
    assert ours.splitlines()[:2] == [str(os.getuid()), str(os.getgid())]
    assert _maps(ours) == _maps(theirs)


def test_pod_userns_auto_gives_every_container_the_pods_maps(p):
    p("pod", "create", "--name", "ua", "--userns", "auto:size=2048")
    for name in ("ua-a", "ua-b"):
        p("run", "-d", "--pod", "ua", "--name", name, "busybox", "sleep", "300")
    a, b = (p("exec", name, "sh", "-c", f"readlink /proc/self/ns/user; {MAPS}").stdout for name in ("ua-a", "ua-b"))
    assert a == b
    uids = _maps(a)[1]
    assert uids[0] == "0" and uids[2] == "2048"


def test_pod_clone_keeps_or_changes_the_id_maps(p):
    p("pod", "create", "--name", "uc", "--uidmap", "0:1:1000", "--gidmap", "0:1:1000")
    p("pod", "clone", "--name", "uc-same", "uc")
    p("pod", "clone", "--name", "uc-other", "--uidmap", "0:1:3000", "--gidmap", "0:1:3000", "uc")
    for pod, size in (("uc-same", "1000"), ("uc-other", "3000")):
        out = p("run", "--rm", "--pod", pod, "busybox", "sh", "-c", MAPS).stdout
        assert _maps(out) == [["0", "1", size], ["0", "1", size]]


def test_init_containers_run_in_the_pods_user_namespace(p):
    p("pod", "create", "--name", "ui", "--uidmap", "0:1:1000", "--gidmap", "0:1:1000")
    p("create", "--pod", "ui", "--init-ctr", "always", "--name", "ui-init", "busybox", "cat", "/proc/self/uid_map")
    p("create", "--pod", "ui", "--name", "ui-member", "busybox", "sleep", "300")
    p("pod", "start", "ui")
    assert _maps(_log(p, "ui-init")) == [["0", "1", "1000"]]
    assert _states(p, "ui") == {"INFRA": "running", "ui-init": "exited", "ui-member": "running"}


def test_pod_clone_infra_conmon_pidfile_names_the_clones_monitor(p, tmp_path):
    """As with podman: the clone's infra container writes the pid of what supervises it (podpy's
    monitor, podman's conmon) at each start; the original's file is not the clone's."""
    orig, given = tmp_path / "orig.pid", tmp_path / "clone.pid"
    p("pod", "create", "--name", "cp", "--infra-conmon-pidfile", orig)
    p("pod", "clone", "--name", "cp-given", "--infra-conmon-pidfile", given, "cp")
    p("pod", "clone", "--name", "cp-plain", "cp")

    def conmon_pidfile(pod: str) -> str:
        infra = p("pod", "inspect", "--format", "{{.InfraContainerID}}", pod).stdout.strip()
        return p("inspect", "--format", "{{.ConmonPidFile}}", infra).stdout.strip()

    assert conmon_pidfile("cp") == str(orig) and conmon_pidfile("cp-given") == str(given)
    assert conmon_pidfile("cp-plain") != str(orig)
    p("pod", "start", "cp-given")
    with open(f"/proc/{int(given.read_text())}/cmdline", "rb") as f:
        assert b"podpy.monitor" in f.read()
    assert not orig.exists()
    res = p("pod", "clone", "--name", "cp-bad", "--infra-conmon-pidfile", tmp_path / "no" / "such.pid", "cp",
            check=False)
    assert res.returncode == 125 and "--infra-conmon-pidfile" in res.stderr
    assert "cp-bad" not in p("pod", "ps", "--format", "{{.Name}}").stdout.split()
