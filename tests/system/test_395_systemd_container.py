"""run --systemd: what a container whose command is systemd gets (tmpfs on /run, /run/lock, /tmp
and /var/log/journal, $container, SIGRTMIN+3 to stop it, its cgroup file system), as podman 4.3.1
gives it; and systemd booting as PID 1 of a Debian image that has it (built once by
packaging/setup.sh: PODPY_TEST_SYSTEMD_TAR)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

SYSTEMD_TAR = os.environ.get("PODPY_TEST_SYSTEMD_TAR", "/opt/podpy/images/minbase-systemd.tar")
TMPFS = ("/run", "/run/lock", "/tmp", "/var/log/journal")


@pytest.fixture
def p(podpy, busybox):
    yield podpy
    podpy("rm", "-a", "-f", "-t", "0", check=False)


def _mounts(text: str) -> dict[str, str]:
    """mount point -> file system type, from /proc/self/mountinfo."""
    out = {}
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        out[left.split()[4]] = right.split()[0]
    return out


def test_systemd_mode_mounts_env_and_stop_signal_as_podman(p, podman):
    probe = ["sh", "-c", "cat /proc/self/mountinfo; echo ENV container=$container"]
    mine = p("run", "--rm", "--systemd=always", "busybox", *probe).stdout
    theirs = podman("run", "--rm", "--systemd=always", "localhost/busybox", *probe).stdout
    mounts = _mounts(mine.split("ENV ")[0])
    for dest in TMPFS:
        assert mounts.get(dest) == "tmpfs", (dest, mounts)
        assert _mounts(theirs.split("ENV ")[0]).get(dest) == "tmpfs"
    assert "/sys/fs/cgroup" in mounts
    assert mine.split("ENV ")[1] == theirs.split("ENV ")[1] == "container=podman\n"
    for tool, image in ((p, "busybox"), (podman, "localhost/busybox")):
        tool("create", "--name", "sd", "--systemd=always", image, "sleep", "1")
        assert tool("inspect", "--format", "{{.Config.StopSignal}} {{.Config.SystemdMode}}", "sd").stdout.split() \
            == ["37", "true"]
        tool("rm", "sd")


def _systemd_mode(p, name: str) -> bool:
    """inspect's Config.SystemdMode (podman leaves it out when false)."""
    return bool(json.loads(p("inspect", name).stdout)[0]["Config"].get("SystemdMode", False))


def test_systemd_mode_follows_the_command(p):
    for command, expected in ((["/sbin/init"], True), (["/usr/lib/systemd/systemd"], True),
                              (["sleep", "1"], False)):
        p("create", "--name", "m", "busybox", *command)
        assert _systemd_mode(p, "m") is expected, command
        p("rm", "m")
    p("create", "--name", "m", "--systemd=false", "busybox", "/sbin/init")
    assert _systemd_mode(p, "m") is False
    out = p("create", "--systemd=maybe", "busybox", "true", check=False)
    assert out.returncode == 125 and "systemd option requires 'true, false, always'" in out.stderr
    # the user's own mount wins over the systemd tmpfs
    out = p("run", "--rm", "--systemd=always", "-v", "/etc:/run:ro", "busybox", "cat", "/proc/self/mountinfo").stdout
    assert _mounts(out)["/run"] != "tmpfs"


@pytest.fixture
def debian(p):
    if not Path(SYSTEMD_TAR).is_file():
        pytest.skip(f"{SYSTEMD_TAR} does not exist: the Debian image with systemd is built by packaging/setup.sh "
                    "(INCLUDE=systemd packaging/make-minbase-image.sh OUT.tar)")
    if p("image", "exists", "debian-systemd", check=False).returncode != 0:
        p("import", SYSTEMD_TAR, "debian-systemd", timeout=600)
    return "debian-systemd"


def _wait_pid1(p, name: str, timeout: float = 30) -> str:
    """PID 1's command name, once it is systemd and has made the socket systemctl talks to."""
    deadline = time.monotonic() + timeout
    comm = ""
    while time.monotonic() < deadline:
        out = p("exec", name, "cat", "/proc/1/comm", check=False)
        comm = out.stdout.strip()
        if comm == "systemd":
            break
        time.sleep(0.5)
    else:
        return comm
    # systemd is PID 1 from its exec on; systemctl talks to it once it has made its private
    # socket, a moment into its start (longer on a busy machine)
    while time.monotonic() < deadline:
        if p("exec", name, "test", "-S", "/run/systemd/private", check=False).returncode == 0:
            break
        time.sleep(0.2)
    return comm


@pytest.mark.parametrize("cgroupns", ["default", "private"])
def test_systemd_boots_as_pid1_and_stops_on_its_signal(p, debian, cgroupns):
    if not os.access(_own_cgroup(), os.W_OK):
        pytest.skip("this process's cgroup is not delegated to the test user: systemd in a container needs "
                    "a cgroup of its own to write (run these through the system-test runner)")
    flags = [] if cgroupns == "default" else ["--cgroupns=private"]
    p("run", "-d", "--name", "booted", *flags, debian, "/lib/systemd/systemd", timeout=120)
    assert _wait_pid1(p, "booted") == "systemd", p("logs", "booted", check=False).stdout[-2000:]
    state = p("exec", "booted", "timeout", "90", "systemctl", "is-system-running", "--wait", check=False, timeout=120)
    assert state.stdout.strip() in ("running", "degraded"), (state.stdout, state.stderr,
                                                              p("exec", "booted", "systemctl", "--failed",
                                                                "--no-pager", check=False).stdout)
    env = p("exec", "booted", "cat", "/proc/1/environ").stdout.split("\0")
    assert "container=podman" in env
    mounts = _mounts(p("exec", "booted", "cat", "/proc/1/mountinfo").stdout)
    assert all(mounts.get(dest) == "tmpfs" for dest in TMPFS), mounts
    # SIGRTMIN+3: systemd shuts down in order and exits 0
    p("stop", "-t", "60", "booted", timeout=120)
    assert p("inspect", "--format", "{{.State.ExitCode}}", "booted").stdout.strip() == "0"


def _own_cgroup() -> str:
    mount = next((line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
                  if line.partition(" - ")[2].startswith("cgroup2 ")), "/sys/fs/cgroup")
    rel = next((line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines() if line.startswith("0::")), "/")
    return os.path.join(mount, rel.strip().lstrip("/"))
