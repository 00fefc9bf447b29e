"""systemd units: `generate systemd`'s units as podman 4.3.1 writes them, accepted by
`systemd-analyze verify --user`, and run as systemd runs them (units.UnitRunner: the unit's
own cgroup, NOTIFY_SOCKET, READY=1, MAINPID, ExecStop/ExecStopPost, KillMode); --sdnotify's
modes (conmon, container, healthy, ignore) and --cgroups split under a notify socket."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import units
from helpers import run_command

HEX = re.compile(r"\b[0-9a-f]{64}\b|\b[0-9a-f]{12}(?=-infra\b)")

NOTIFY_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
/* notify TEXT: TEXT (newline-separated assignments) to $NOTIFY_SOCKET, as sd_notify sends it */
int main(int argc, char **argv) {
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd;
    if (!path || argc < 2) { fputs("usage: NOTIFY_SOCKET=PATH notify TEXT\n", stderr); return 2; }
    strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0 || sendto(fd, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        perror("notify");
        return 1;
    }
    return 0;
}
"""


@pytest.fixture
def p(podpy, busybox):
    yield podpy
    podpy("pod", "rm", "-a", "-f", "-t", "0", check=False)
    podpy("rm", "-a", "-f", "-t", "0", check=False)


@pytest.fixture
def workdir():
    # short: the runner's notify socket lives here, and a socket's path has at most 107 bytes
    path = tempfile.mkdtemp(prefix="u", dir="/tmp")
    os.chmod(path, 0o755)
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def cgroup_parent():
    parent = units.delegated_cgroup()
    if parent is None:
        pytest.skip("no delegated cgroup2 directory to run units in (the test set-up delegates one to the "
                    "test user: run these through the system-test runner)")
    return parent


def _exe(p) -> str:
    """The podpy a unit runs, as generate writes it."""
    return " ".join(p.argv) if len(p.argv) > 1 and not os.access(p.argv[-1], os.X_OK) else p.argv[-1]


def _generate(p, workdir: Path, *args: str) -> dict[str, Path]:
    """generate systemd --files, run in workdir: unit file name -> path (as it printed them)."""
    out = run_command(p.command("generate", "systemd", "--files", *args), env=p.environ(), cwd=workdir,
                      variant=p.variant)
    return {Path(line).name: Path(line) for line in out.stdout.split()}


def _runner(p, path: Path, workdir: Path, cgroup_parent: str) -> units.UnitRunner:
    return units.UnitRunner(units.load(path), p.environ(), workdir, cgroup_parent=cgroup_parent)


def _states(p) -> dict[str, str]:
    """Each container's name -> its state, as inspect says it."""
    names = p("ps", "-a", "--format", "{{.Names}}").stdout.split()
    if not names:
        return {}
    out = p("inspect", "--format", "{{.Name}} {{.State.Status}}", *names).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if line)


def _is_monitor(pid: int) -> bool:
    return b"podpy.monitor.service" in Path(f"/proc/{pid}/cmdline").read_bytes()


def _gone(runner: units.UnitRunner, timeout: float = 10) -> list[int]:
    """The unit's processes, once they have had time to leave."""
    deadline = time.monotonic() + timeout
    while runner.cgroup_pids() and time.monotonic() < deadline:
        time.sleep(0.1)
    return runner.cgroup_pids()


# -- the text, as podman's ---------------------------------------------------------------------

def _normalised(text: str, exe: str, runroot: str) -> str:
    text = text.replace(exe, "EXE")
    text = HEX.sub("ID", text)
    text = re.sub(r"^# (Mon|Tue|Wed|Thu|Fri|Sat|Sun) .*$", "# DATE", text, flags=re.M)
    text = re.sub(r"^RequiresMountsFor=/.*$", "RequiresMountsFor=RUNROOT", text, flags=re.M)
    text = re.sub(r"^PIDFile=/.*$", "PIDFile=PIDFILE", text, flags=re.M)
    return text.replace(runroot, "RUNROOT") if runroot else text


@pytest.mark.parametrize("flags", [
    [], ["--new"], ["--name", "--no-header"], ["--new", "--name", "--restart-policy=always", "--restart-sec=5",
                                              "--start-timeout=20", "--stop-timeout=7"],
    ["--new", "--name", "--template", "--container-prefix=cp", "--separator=_", "--env=FOO=bar",
     "--after=a.service", "--wants=b.service", "--requires=c.service"],
    ["--time=3", "--name"], ["--template", "--name", "--restart-policy=on-abort"],
], ids=["plain", "new", "name", "new-timeouts", "new-template-deps", "time", "template"])
def test_container_units_as_podmans(p, podman, flags):
    create = ["create", "--name", "web", "-e", "X=a b", "--stop-timeout", "12", "localhost/busybox", "sh", "-c",
              'echo "$X" 100%; sleep 1000']
    p(*create)
    podman(*create)
    try:
        mine = p("generate", "systemd", *flags, "web").stdout
        theirs = podman("generate", "systemd", *flags, "web").stdout
    finally:
        podman("rm", "-f", "web", check=False)
    # podman 4.3.1 drops --restart-sec from containers' units (its pods' have it; later podmans
    # write it for both): podpy writes it
    mine = mine.replace("RestartSec=5\n", "") if "--restart-sec=5" in flags else mine
    assert _normalised(mine, _exe(p), "") == _normalised(theirs, shutil.which("podman") or "podman", "")


def test_pod_units_as_podmans(p, podman):
    for tool in (p, podman):
        tool("pod", "create", "--name", "pw", "--label", "tier=web")
        tool("create", "--pod", "pw", "--name", "pw-a", "localhost/busybox", "sleep", "1000")
        tool("create", "--pod", "pw", "--name", "pw-b", "-e", "HOME", "localhost/busybox", "sleep", "1000")
    try:
        for flags in ([], ["--new", "--name"], ["--new", "--name", "--pod-prefix=pp", "--time=4"]):
            mine = json.loads(p("generate", "systemd", "--format", "json", *flags, "pw").stdout)
            theirs = json.loads(podman("generate", "systemd", "--format", "json", *flags, "pw").stdout)
            norm = {HEX.sub("ID", k): _normalised(v, _exe(p), "") for k, v in mine.items()}
            want = {HEX.sub("ID", k): _normalised(v, shutil.which("podman") or "podman", "") for k, v in theirs.items()}
            # the members' HOME comes from each tool's own environment
            norm = {k: re.sub(r"Environment=HOME=\S+", "Environment=HOME=H", v) for k, v in norm.items()}
            want = {k: re.sub(r"Environment=HOME=\S+", "Environment=HOME=H", v) for k, v in want.items()}
            assert norm == want, flags
    finally:
        podman("pod", "rm", "-f", "pw", check=False)


def test_generate_bad_input(p):
    p("create", "--name", "solo", "busybox", "true")
    p("pod", "create", "--name", "lone")
    for args, message in ((["nosuch"], "nosuch does not refer to a container or pod"),
                          (["--restart-policy=sometimes", "solo"], "sometimes is not a valid restart policy"),
                          (["--format=yaml", "solo"], "unknown --format argument: yaml"),
                          (["--template", "lone"], "--template is not supported for pods"),
                          ([], "accepts 1 arg(s), received 0")):
        out = p("generate", "systemd", *args, check=False)
        assert out.returncode == 125 and message in out.stderr, (args, out.stderr)


def test_files_are_written_in_the_working_directory(p, workdir):
    p("create", "--name", "filed", "busybox", "sleep", "1")
    paths = _generate(p, workdir, "--name", "--no-header", "filed")
    assert list(paths) == ["container-filed.service"]
    path = paths["container-filed.service"]
    assert path.parent == workdir
    assert path.read_text() == p("generate", "systemd", "--name", "--no-header", "filed").stdout


# -- run as systemd runs them -------------------------------------------------------------------

@pytest.mark.parametrize("kill_mode", ["control-group", "mixed"])
def test_new_container_unit_runs_readies_and_leaves_nothing(p, workdir, cgroup_parent, kill_mode):
    p("create", "--name", "svc", "busybox", "sleep", "1000")
    paths = _generate(p, workdir, "--new", "--name", "svc")
    path = paths["container-svc.service"]
    if kill_mode == "mixed":   # as Quadlet's units have it
        path.write_text(path.read_text().replace("[Service]\n", "[Service]\nKillMode=mixed\n"))
    units.verify(list(paths.values()), p.environ())
    runner = _runner(p, path, workdir, cgroup_parent)
    try:
        runner.start(timeout=60)
        assert runner.notify is not None and runner.notify.value("READY") == "1"
        monitor = runner.main_pid
        assert monitor is not None and monitor != runner.main.pid and _is_monitor(monitor)
        assert monitor in runner.cgroup_pids(), "the unit's MAINPID is in the unit's cgroup"
        assert _states(p) == {"svc": "running"}, "--replace made the unit's container in place of the original"
        init = int(p("inspect", "--format", "{{.State.Pid}}", "svc").stdout)
        assert init in runner.cgroup_pids(), "the container's processes are in the unit's cgroup"
        killed = runner.stop(timeout=30)
        assert killed == [], "ExecStop ended the container, its monitor and its clean-up: nothing to kill"
        assert runner.cgroup_pids() == []
        assert _states(p) == {}, "the container is removed"
    finally:
        runner.close()


def test_existing_container_unit_forks_and_names_its_monitor(p, workdir, cgroup_parent):
    p("create", "--name", "old", "busybox", "sleep", "1000")
    paths = _generate(p, workdir, "--name", "old")
    units.verify(list(paths.values()), p.environ())
    runner = _runner(p, paths["container-old.service"], workdir, cgroup_parent)
    try:
        runner.start(timeout=60)
        assert runner.main_pid is not None and _is_monitor(runner.main_pid)
        assert runner.main_pid in runner.cgroup_pids()
        assert _states(p) == {"old": "running"}
        assert runner.stop(timeout=30) == [], "nothing left for systemd to kill"
        assert runner.cgroup_pids() == []
        assert _states(p) == {"old": "exited"}, "the unit stops its container and keeps it"
    finally:
        runner.close()


def test_new_pod_units_run_in_order_and_stop_clean(p, workdir, cgroup_parent):
    p("pod", "create", "--name", "pu")
    p("create", "--pod", "pu", "--name", "pu-web", "busybox", "sleep", "1000")
    paths = _generate(p, workdir, "--new", "--name", "pu")
    assert sorted(paths) == ["container-pu-web.service", "pod-pu.service"]
    units.verify(list(paths.values()), p.environ())
    pod = _runner(p, paths["pod-pu.service"], workdir, cgroup_parent)
    member = _runner(p, paths["container-pu-web.service"], workdir, cgroup_parent)
    try:
        pod.start(timeout=60)
        assert pod.main_pid is not None and _is_monitor(pod.main_pid) and pod.main_pid in pod.cgroup_pids()
        member.start(timeout=60)
        assert member.main_pid is not None and member.main_pid in member.cgroup_pids()
        states = _states(p)
        assert states.pop("pu-web") == "running" and list(states.values()) == ["running"]   # and the infra
        assert member.stop(timeout=30) == []
        assert pod.stop(timeout=30) == []
        assert member.cgroup_pids() == [] and pod.cgroup_pids() == []
        assert _states(p) == {}
        assert p("pod", "ps", "-q").stdout.strip() == ""
    finally:
        member.close()
        pod.close()


# -- --sdnotify modes, --cgroups split ----------------------------------------------------------

@pytest.fixture
def notifier(tmp_path):
    """A static program that sends its argument to $NOTIFY_SOCKET (busybox has nothing that
    writes to a datagram socket)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: no program to send a container's own READY=1")
    src = tmp_path / "notify.c"
    src.write_text(NOTIFY_C)
    out = tmp_path / "notify"
    built = subprocess.run([gcc, "-static", "-O2", "-o", out, src], capture_output=True, text=True)
    if built.returncode != 0:
        pytest.skip(f"cannot build a static program here: {built.stderr.strip()[-300:]}")
    os.chmod(tmp_path, 0o755)
    return out


def _unit(workdir: Path, name: str, exec_start: str) -> Path:
    path = workdir / name
    path.write_text(f"[Unit]\nDescription=test\n\n[Service]\nType=notify\nNotifyAccess=all\nExecStart={exec_start}\n"
                    "ExecStop=true\nKillMode=mixed\n")
    return path


def test_sdnotify_container_passes_the_containers_own_messages(p, workdir, cgroup_parent, notifier):
    (notifier.parent / "ready.sh").write_text(
        "sleep 1\n/t/notify 'STATUS=warming up'\nsleep 1\n"
        "/t/notify \"$(printf 'READY=1\\nSTATUS=serving\\nMAINPID=1')\"\nexec sleep 1000\n")
    path = _unit(workdir, "own.service", " ".join(p.command(
        "run", "-d", "--rm", "--name", "own", "--sdnotify=container", "-v", f"{notifier.parent}:/t:ro",
        "busybox", "sh", "/t/ready.sh")))
    runner = _runner(p, path, workdir, cgroup_parent)
    try:
        started = time.monotonic()
        runner.start(timeout=60)
        assert time.monotonic() - started >= 2, "ready only once the container said so"
        messages = [fields for _pid, fields in runner.notify.messages]
        assert messages[0].get("STATUS") == "warming up", messages
        ready = next(m for m in messages if m.get("READY") == "1")
        assert ready["STATUS"] == "serving"
        assert ready["MAINPID"] == str(runner.main_pid) and _is_monitor(runner.main_pid), "MAINPID: the monitor's"
        assert runner.main.wait(timeout=10) == 0, "run -d returns once ready"
        assert runner.main_pid in runner.cgroup_pids()
        p("stop", "-t", "0", "own")
        assert _gone(runner) == []
    finally:
        runner.close()


def test_sdnotify_healthy_is_ready_at_the_first_passing_check(p, workdir, cgroup_parent):
    path = _unit(workdir, "hc.service", " ".join(p.command(
        "run", "-d", "--rm", "--name", "hc", "--sdnotify=healthy", "--health-cmd", '"test -e /tmp/up"',
        "--health-interval", "1s", "busybox", "sh", "-c", '"sleep 3; touch /tmp/up; sleep 1000"')))
    runner = _runner(p, path, workdir, cgroup_parent)
    try:
        started = time.monotonic()
        runner.start(timeout=60)
        assert time.monotonic() - started >= 3, "ready only once the healthcheck passed"
        assert runner.notify.value("READY") == "1" and _is_monitor(runner.main_pid)
        assert p("inspect", "--format", "{{.State.Health.Status}}", "hc").stdout.strip() == "healthy"
        p("stop", "-t", "0", "hc")
        assert _gone(runner) == []
    finally:
        runner.close()
    out = p("run", "-d", "--sdnotify=healthy", "busybox", "true", check=False)
    assert out.returncode == 125 and 'sdnotify policy "healthy" requires a healthcheck' in out.stderr


def test_sdnotify_ignore_says_nothing(p, workdir):
    sock = units.NotifySocket(workdir / "n.sock")
    try:
        p("run", "-d", "--rm", "--name", "quiet", "--sdnotify=ignore", "busybox", "sleep", "1000",
          env={"NOTIFY_SOCKET": sock.path})
        assert sock.wait_for("READY", timeout=2) is None and sock.messages == []
    finally:
        sock.close()


def test_cgroups_split_puts_the_payload_below_the_monitor(p, workdir, cgroup_parent):
    path = _unit(workdir, "split.service", " ".join(p.command(
        "run", "-d", "--rm", "--name", "split", "--cgroups=split", "--sdnotify=conmon", "busybox", "sleep",
        "1000")))
    runner = _runner(p, path, workdir, cgroup_parent)
    try:
        runner.start(timeout=60)
        assert runner.cgroup is not None
        cid = p("inspect", "--format", "{{.Id}}", "split").stdout.strip()
        init = int(p("inspect", "--format", "{{.State.Pid}}", "split").stdout)
        payload = Path(runner.cgroup, f"podpy-payload-{cid}")
        assert init in [int(x) for x in (payload / "cgroup.procs").read_text().split()]
        assert runner.main_pid in [int(x) for x in Path(runner.cgroup, "cgroup.procs").read_text().split()]
        runner.stop(timeout=30)
        assert _gone(runner) == []
    finally:
        runner.close()
    out = p("create", "--cgroups=split", "--cgroup-parent=/x", "busybox", check=False)
    assert out.returncode == 125 and "cannot specify --cgroup-mode=split with a cgroup-parent" in out.stderr
