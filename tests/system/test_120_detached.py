"""Detached containers and their monitor: run -d, start, stop, kill, wait, restart, logs,
restart policies, --rm, rm -f, and a monitor killed with SIGKILL."""

import json
import os
import select
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pexpect
import pytest

TRAP = "trap 'echo got-term; exit 0' TERM; trap 'echo got-usr1' USR1; echo ready; while :; do sleep 0.05; done"


def _status(p, name):
    return p("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name).stdout.split()


def _until(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def _processes_of(uid):
    out = subprocess.run(["ps", "-ww", "-o", "pid=,args=", "-u", str(uid)], capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines()]


@pytest.fixture
def store(new_podpy, image_tar, tmp_path):
    """A fresh store with its own runtime directory, so it gets a monitor of its own."""
    run = tmp_path / "xdg-run"
    run.mkdir(mode=0o700)
    p = new_podpy()
    p.base_env = {**p.base_env, "XDG_RUNTIME_DIR": str(run)}
    p("import", image_tar, "busybox")
    p.runroot = run / "podpy"
    yield p
    p("rm", "-fa", check=False)


def test_run_detached_prints_the_id_and_logs_keep_the_streams_apart(store):
    p = store
    cid = p("run", "-d", "--name", "d", "--network", "none", "busybox", "sh", "-c",
            "echo out1; echo err1 >&2; echo out2; printf tail; exit 3").stdout.strip()
    assert len(cid) == 64
    assert p("wait", "d").stdout == "3\n"
    assert _status(p, "d") == ["exited", "3"]
    logs = p("logs", "d")
    assert logs.stdout == "out1\nout2\ntail" and logs.stderr == "err1\n"
    stamped = p("logs", "-t", "--tail", "1", "d").stdout
    assert stamped.endswith(" tail") and stamped[:4].isdigit() and "T" in stamped.split()[0]
    assert "Exited (3)" in p("ps", "-a", "--format", "{{.Status}}").stdout
    # the log file is in podman's k8s-file format
    path = json.loads(p("inspect", "d").stdout)[0]["LogPath"]
    lines = [line.split(" ", 1)[1] for line in Path(path).read_text().splitlines()]
    # (the two streams are two pipes: their relative order is not kept)
    assert [x for x in lines if x.startswith("stdout")] == ["stdout F out1", "stdout F out2", "stdout P tail"]
    assert [x for x in lines if x.startswith("stderr")] == ["stderr F err1"]


def test_ps_and_inspect_of_a_running_container(store):
    p = store
    p("run", "-d", "--name", "up", "--network", "none", "busybox", "sleep", "60")
    state = json.loads(p("inspect", "up").stdout)[0]["State"]
    assert state["Running"] and state["Status"] == "running" and state["Pid"] > 0
    assert os.path.exists(f"/proc/{state['Pid']}")
    assert state["StartedAt"] != "0001-01-01T00:00:00Z"
    time.sleep(1.1)
    status = p("ps", "--format", "{{.Names}} {{.Status}}").stdout
    assert status.startswith("up Up ") and "second" in status
    p("rm", "-f", "up")
    assert not os.path.exists(f"/proc/{state['Pid']}") or _until(lambda: not os.path.exists(f"/proc/{state['Pid']}"))
    assert p("ps", "-aq").stdout == ""


def test_stop_uses_the_stop_signal_then_sigkill(store):
    p = store
    p("run", "-d", "--name", "polite", "--network", "none", "busybox", "sh", "-c", TRAP)
    assert _until(lambda: "ready" in p("logs", "polite").stdout)
    start = time.monotonic()
    assert p("stop", "polite").stdout == "polite\n"
    assert time.monotonic() - start < 5
    assert _status(p, "polite") == ["exited", "0"] and "got-term" in p("logs", "polite").stdout
    # PID 1 ignores a signal it has no handler for: stop falls back to SIGKILL after -t
    p("run", "-d", "--name", "stubborn", "--network", "none", "busybox", "sleep", "60")
    res = p("stop", "-t", "1", "stubborn")
    assert "resorting to SIGKILL" in res.stderr
    assert _status(p, "stubborn") == ["exited", "137"]
    # --stop-signal is kept with the container
    p("run", "-d", "--name", "usr", "--stop-signal", "USR1", "--stop-timeout", "1", "--network", "none",
      "busybox", "sh", "-c", TRAP)
    assert _until(lambda: "ready" in p("logs", "usr").stdout)
    assert json.loads(p("inspect", "usr").stdout)[0]["Config"]["StopSignal"] == 10   # its number, as podman 4.3.1 shows it
    p("stop", "usr")
    assert "got-usr1" in p("logs", "usr").stdout and _status(p, "usr") == ["exited", "137"]
    # stopping what is not running is not an error
    assert p("stop", "usr").returncode == 0


def test_kill_sends_the_signal(store):
    p = store
    p("run", "-d", "--name", "k", "--network", "none", "busybox", "sh", "-c", TRAP)
    assert _until(lambda: "ready" in p("logs", "k").stdout)
    p("kill", "-s", "USR1", "k")
    assert _until(lambda: "got-usr1" in p("logs", "k").stdout)
    assert _status(p, "k")[0] == "running"
    p("kill", "k")   # SIGKILL by default
    assert p("wait", "k").stdout == "137\n"
    res = p("kill", "k", check=False)
    assert res.returncode == 125 and "state improper" in res.stderr
    res = p("kill", "-s", "NOSUCH", "k", check=False)
    assert res.returncode == 125 and "invalid signal" in res.stderr


def test_start_restart_and_wait_several(store):
    p = store
    p("create", "--name", "c1", "--network", "none", "busybox", "sh", "-c", "echo run; exit 4")
    p("create", "--name", "c2", "--network", "none", "busybox", "sh", "-c", "exit 5")
    # a container never started is not running: a wait answers at once, 0, as podman's
    for args in ([], ["--condition", "stopped"], ["--condition", "exited"]):
        assert p("wait", *args, "c1", timeout=10).stdout == "0\n"
    assert p("start", "c1", "c2").stdout == "c1\nc2\n"
    assert p("wait", "c1", "c2").stdout == "4\n5\n"
    p("start", "c1")
    assert p("wait", "c1").stdout == "4\n"
    assert p("logs", "c1").stdout == "run\nrun\n"   # one log across starts
    p("run", "-d", "--name", "r", "--network", "none", "busybox", "sh", "-c", TRAP)
    pid1 = json.loads(p("inspect", "r").stdout)[0]["State"]["Pid"]
    assert p("restart", "r").stdout == "r\n"
    pid2 = json.loads(p("inspect", "r").stdout)[0]["State"]["Pid"]
    assert pid2 != pid1 and _status(p, "r")[0] == "running"
    res = p("wait", "nosuch", check=False)
    assert res.returncode == 125 and "no such container" in res.stderr


def test_restart_policies(store):
    p = store
    p("run", "-d", "--name", "fail", "--restart", "on-failure:2", "--network", "none", "busybox",
      "sh", "-c", "echo try; exit 1")
    assert _until(lambda: p("logs", "fail").stdout.count("try") == 3 and _status(p, "fail")[0] == "exited")
    time.sleep(0.5)
    assert p("logs", "fail").stdout.count("try") == 3
    info = json.loads(p("inspect", "fail").stdout)[0]
    assert info["RestartCount"] == 2 and info["HostConfig"]["RestartPolicy"] == {
        "Name": "on-failure", "MaximumRetryCount": 2}
    p("run", "-d", "--name", "ok", "--restart", "on-failure", "--network", "none", "busybox", "true")
    assert p("wait", "ok").stdout == "0\n"
    time.sleep(0.5)
    assert _status(p, "ok")[0] == "exited"
    # always: brought back after it exits; `stop` wins
    p("run", "-d", "--name", "always", "--restart", "always", "--network", "none", "busybox",
      "sh", "-c", "echo up; sleep 0.2")
    assert _until(lambda: p("logs", "always").stdout.count("up") >= 3)
    p("stop", "-t", "0", "always")
    count = p("logs", "always").stdout.count("up")
    time.sleep(1.0)
    assert p("logs", "always").stdout.count("up") == count and _status(p, "always")[0] == "exited"
    res = p("run", "-d", "--rm", "--restart", "always", "busybox", "true", check=False)
    assert res.returncode == 125 and "--rm" in res.stderr
    res = p("run", "-d", "--restart", "sometimes", "busybox", "true", check=False)
    assert res.returncode == 125 and "invalid restart policy" in res.stderr


def test_detached_rm_removes_everything_after_exit(store):
    p = store
    p("run", "-d", "--rm", "--name", "gone", "--network", "none", "busybox", "sh", "-c", "sleep 0.2")
    assert _until(lambda: p("ps", "-aq").stdout == "")
    assert list((p.data_home / "podpy" / "containers").iterdir()) == []


def test_a_foreground_container_is_logged_as_podman_logs_every_container(store):
    p = store
    res = p("run", "--name", "fg", "--network", "none", "busybox", "sh", "-c",
            "echo out1; echo err1 >&2; echo out2; printf partial")
    assert res.stdout == "out1\nout2\npartial" and res.stderr == "err1\n"
    logged = p("logs", "fg")
    assert logged.stdout == "out1\nout2\npartial" and logged.stderr == "err1\n"
    assert p("logs", "--tail", "1", "fg").stdout == "partial"
    # with a terminal, what the terminal showed
    cmd = p.command("run", "-t", "--name", "fgt", "--network", "none", "busybox", "echo", "on-a-tty")
    child = pexpect.spawn(cmd[0], cmd[1:], env=p.environ(), encoding="utf-8", timeout=30)
    child.expect("on-a-tty")
    child.expect(pexpect.EOF)
    child.close()
    assert "on-a-tty" in p("logs", "fgt").stdout
    # --log-driver none: nothing kept; the output still reaches the caller
    res = p("run", "--name", "fgn", "--log-driver", "none", "--network", "none", "busybox", "echo", "unlogged")
    assert res.stdout == "unlogged\n"
    assert p("logs", "fgn", check=False).returncode == 125
    # a reader that goes away ends the container's writes, as it would without the relay
    cmd = p.command("run", "--name", "fgy", "--network", "none", "busybox", "yes")
    out = subprocess.run(["sh", "-c", shlex.join(cmd) + " | head -2"],
                         env=p.environ(), capture_output=True, text=True, timeout=60).stdout
    assert out == "y\ny\n"
    p("rm", "fg", "fgt", "fgn", "fgy")


def test_logs_follow_since_and_drivers(store):
    p = store
    p("run", "-d", "--name", "f", "--network", "none", "busybox", "sh", "-c",
      "for i in 1 2 3 4; do echo line$i; sleep 0.3; done")
    start = time.monotonic()
    followed = p("logs", "-f", "f", timeout=30).stdout
    assert followed == "line1\nline2\nline3\nline4\n" and time.monotonic() - start > 0.5
    assert p("logs", "--since", "1h", "f").stdout == followed
    # --until with a duration is that long from now, as podman reads it (a negative one: ago)
    assert p("logs", "--until", "1h", "f").stdout == followed
    assert p("logs", "--until", "-1h", "f").stdout == ""
    assert p("logs", "--tail", "0", "f").stdout == ""
    res = p("logs", "--since", "yesterday-ish", "f", check=False)
    assert res.returncode == 125 and "invalid --since" in res.stderr
    p("run", "-d", "--name", "quiet", "--log-driver", "none", "--network", "none", "busybox", "echo", "x")
    p("wait", "quiet")
    res = p("logs", "quiet", check=False)
    assert res.returncode == 125 and "none" in res.stderr
    # max-size rotates the file: the newest lines are kept
    p("run", "-d", "--name", "big", "--log-opt", "max-size=4k", "--network", "none", "busybox", "sh", "-c",
      "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done")
    p("wait", "big")
    path = json.loads(p("inspect", "big").stdout)[0]["LogPath"]
    assert os.path.getsize(path) <= 4096 and os.path.exists(path + ".1")
    assert p("logs", "--tail", "1", "big").stdout == "line-299\n"
    res = p("run", "-d", "--log-opt", "max-size=huge", "busybox", "true", check=False)
    assert res.returncode == 125 and "max-size" in res.stderr


def test_logs_of_several_containers_prefix_each_line_and_follow_them_all(store):
    p = store
    a = p("run", "-d", "--name", "la", "--network", "none", "busybox", "sh", "-c",
          "echo a1; echo a2 >&2").stdout.strip()
    p("wait", "la")
    b = p("run", "-d", "--name", "lb", "--network", "none", "busybox", "sh", "-c",
          "sleep 0.5; echo b1; sleep 0.5; echo b2").stdout.strip()
    # podman: each line after the container's short id, or its name with --names
    both = p("logs", "la", "lb", timeout=30)
    assert both.stdout.startswith(f"{a[:12]} a1\n") and both.stderr == f"{a[:12]} a2\n"
    named = p("logs", "--names", "-f", "la", "lb", timeout=30)
    assert named.stdout == "la a1\nlb b1\nlb b2\n" and named.stderr == "la a2\n"
    # following several: the lines of a running container come as it writes them
    p("run", "-d", "--name", "lc", "--network", "none", "busybox", "sh", "-c",
      "for i in 1 2 3; do echo c$i; sleep 0.3; done")
    start = time.monotonic()
    followed = p("logs", "-f", "la", "lc", timeout=30).stdout.splitlines()
    assert time.monotonic() - start > 0.4
    assert [line.split(" ", 1)[1] for line in followed] == ["a1", "c1", "c2", "c3"]
    res = p("logs", "la", "nosuch", check=False)
    assert res.returncode == 125 and res.stdout == ""


def test_default_network_helper_ends_with_the_container(store):
    p = store
    p("run", "-d", "--name", "net", "busybox", "sh", "-c", "ip -o -4 addr show tap0; sleep 60")
    assert _until(lambda: "10.0.2.100" in p("logs", "net").stdout)
    pid = json.loads(p("inspect", "net").stdout)[0]["State"]["Pid"]
    helpers = _processes_of(os.getuid())
    assert any(f"/proc/{pid}/ns/net" in line for line in helpers), helpers
    p("rm", "-f", "net")
    assert _until(lambda: not any(f"/proc/{pid}/ns/net" in line for line in _processes_of(os.getuid())))


def test_a_monitor_killed_with_sigkill(store):
    p = store
    p("run", "-d", "--name", "orphan", "--network", "none", "busybox", "sleep", "60")
    pid = json.loads(p("inspect", "orphan").stdout)[0]["State"]["Pid"]
    monitor = int((p.runroot / "monitor.lock").read_text())
    os.kill(monitor, signal.SIGKILL)
    assert _until(lambda: not os.path.exists(f"/proc/{monitor}/cmdline")
                  or Path(f"/proc/{monitor}/cmdline").read_text() == "")
    # the next command finds the container unsupervised: it is ended and reported exited
    assert _status(p, "orphan") == ["exited", "-1"]
    assert _until(lambda: not os.path.exists(f"/proc/{pid}") or Path(f"/proc/{pid}/cmdline").read_text() == "")
    assert p("rm", "orphan").stdout == "orphan\n"
    # and a new monitor serves the next container
    p("run", "-d", "--name", "after", "--network", "none", "busybox", "true")
    assert p("wait", "after").stdout == "0\n"


def test_bad_input_for_the_new_verbs(store):
    p = store
    for args, msg in [
        (("stop", "nosuch"), "no such container"),
        (("logs", "nosuch"), "no such container"),
        (("stop", "-t", "-3", "x"), "invalid timeout"),
        (("run", "-d", "--stop-signal", "BOGUS", "busybox", "true"), "invalid signal"),
        (("run", "-d", "--log-driver", "syslog", "busybox", "true"), "unsupported log driver"),
    ]:
        res = p(*args, check=False)
        assert res.returncode == 125, args
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and msg in lines[0], (args, res.stderr)
    assert p("ps", "-aq").stdout == ""


def test_exec_runs_in_every_namespace_of_the_container(store):
    p = store
    p("run", "-d", "--name", "ex", "--hostname", "exbox", "--network", "none", "busybox", "sleep", "60")
    init = json.loads(p("inspect", "ex").stdout)[0]["State"]["Pid"]
    out = p("exec", "ex", "sh", "-c", "hostname; echo $$; readlink /proc/1/exe; cat /proc/self/uid_map | head -1;"
            " pwd; id -u").stdout.split("\n")
    assert out[0] == "exbox" and out[1] != "1" and int(out[1]) < 100 and out[2] == "/bin/busybox"
    assert out[3].split()[:2] == ["0", str(os.getuid())] and out[4] == "/" and out[5] == "0"
    for ns in ("mnt", "pid", "uts", "ipc", "net", "user"):
        inside = p("exec", "ex", "readlink", f"/proc/self/ns/{ns}").stdout.strip()
        assert inside == os.readlink(f"/proc/{init}/ns/{ns}"), ns
    # user, directory and environment; the image's names resolve
    out = p("exec", "-u", "tester", "-w", "/tmp", "-e", "X=1", "ex", "sh", "-c", "id -u; id -g; pwd; echo $X $HOME")
    assert out.stdout == "1000\n1000\n/tmp\n1 /home/tester\n"
    # exit codes as run's
    assert p("exec", "ex", "sh", "-c", "exit 7", check=False).returncode == 7
    res = p("exec", "ex", "no-such-command", check=False)
    assert res.returncode == 127 and res.stderr.count("\n") == 1
    assert p("exec", "ex", "/etc/passwd", check=False).returncode == 126
    # stdin with -i; -d returns at once and the command runs on
    assert p("exec", "-i", "ex", "cat", input="piped\n").stdout == "piped\n"
    assert p("exec", "ex", "cat", input="ignored\n").stdout == ""
    p("exec", "-d", "ex", "sh", "-c", "sleep 0.3; echo later > /tmp/bg")
    assert p("exec", "-d", "ex", "no-such-command", check=False).returncode == 125   # podman's -d: 125
    assert _until(lambda: p("exec", "ex", "cat", "/tmp/bg", check=False).stdout == "later\n")
    # --privileged gets every capability; the default set does not have CAP_SYS_ADMIN
    caps = p("exec", "ex", "grep", "CapEff", "/proc/self/status").stdout.split()[1]
    priv = p("exec", "--privileged", "ex", "grep", "CapEff", "/proc/self/status").stdout.split()[1]
    assert not int(caps, 16) & (1 << 21) and int(priv, 16) & (1 << 21)
    # refused before anything ran: podman's 255; a directory that is not there is "not found"
    res = p("exec", "-u", "no-such-user", "ex", "true", check=False)
    assert res.returncode == 255 and "unable to find user no-such-user" in res.stderr
    assert p("exec", "-w", "/no/such/dir", "ex", "true", check=False).returncode == 127
    p("stop", "-t", "0", "ex")
    res = p("exec", "ex", "true", check=False)
    assert res.returncode == 255
    assert res.stderr == "Error: can only create exec sessions on running containers: container state improper\n"


def test_exec_with_a_terminal(store):
    pexpect = pytest.importorskip("pexpect")
    p = store
    p("run", "-d", "--name", "tt", "--network", "none", "busybox", "sleep", "60")
    argv = p.command("exec", "-it", "tt", "sh")
    child = pexpect.spawn(argv[0], argv[1:], env=p.environ(), encoding="utf-8", timeout=20,
                          dimensions=(33, 101))
    try:
        child.sendline("stty size; tty; echo marker-$((6*7))")
        child.expect("33 101")
        child.expect("/dev/pts/")
        child.expect("marker-42")
        child.sendline("exit 5")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 5


def test_rename_and_container_prune(store):
    p = store
    p("run", "-d", "--name", "old", "--network", "none", "busybox", "sleep", "60")
    p("rename", "old", "new")
    assert p("ps", "--format", "{{.Names}}").stdout == "new\n"
    assert p("exec", "new", "true").returncode == 0
    p("create", "--name", "taken", "busybox", "true")
    res = p("rename", "new", "taken", check=False)
    assert res.returncode == 125 and "already in use" in res.stderr
    res = p("rename", "new", "bad name!", check=False)
    assert res.returncode == 125
    p("run", "--name", "done", "--network", "none", "busybox", "true")
    pruned = p("container", "prune", "-f").stdout.split()
    assert len(pruned) == 2   # the created and the exited one; the running one stays
    assert p("ps", "-a", "--format", "{{.Names}}").stdout == "new\n"
    res = p("container", "prune", check=False, input="")   # stdin at its end answers nothing: podman's error
    assert res.returncode == 125 and res.stderr.strip() == "Error: EOF"


def test_init_reaps_and_forwards_signals(store):
    p = store
    out = p("run", "--rm", "--init", "--network", "none", "busybox", "sh", "-c",
            "tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$").stdout.splitlines()
    assert out[0].startswith("/run/podman-init -- sh -c") and out[1] != "1"
    # a zombie left by an orphaned child is reaped by the init, not kept
    p("run", "-d", "--name", "reaper", "--init", "--network", "none", "busybox", "sh", "-c",
      "sh -c 'sleep 0.1 & exec true'; sleep 60")
    time.sleep(0.6)
    states = p("exec", "reaper", "sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null | cut -d' ' -f3").stdout.split()
    assert "Z" not in states
    p("stop", "-t", "5", "reaper")   # the init passes SIGTERM on: no SIGKILL needed
    assert _status(p, "reaper") == ["exited", "143"]
    res = p("run", "--rm", "--init-path", "/no/such/init", "busybox", "true", check=False)
    assert res.returncode == 125 and "--init-path" in res.stderr


def test_read_only_with_tmpfs(store):
    p = store
    out = p("run", "--rm", "--read-only", "--network", "none", "busybox", "sh", "-c",
            "touch /tmp/a /run/b /var/tmp/c && echo writable; touch /etc/x 2>&1; true").stdout
    assert out.startswith("writable\n") and "Read-only file system" in out
    # each a tmpfs of mode 1777, /run too, as podman mounts them
    out = p("run", "--rm", "--read-only", "--user", "1000", "--network", "none", "busybox", "sh", "-c",
            "stat -c '%a %n' /run /tmp /var/tmp && touch /run/by-a-user && echo ok").stdout
    assert out == "1777 /run\n1777 /tmp\n1777 /var/tmp\nok\n"
    out = p("run", "--rm", "--read-only", "--read-only-tmpfs=false", "--network", "none", "busybox", "sh", "-c",
            "touch /tmp/a 2>&1; true").stdout
    assert "Read-only file system" in out


def test_healthchecks(store):
    p = store
    p("run", "-d", "--name", "h", "--health-cmd", "test -e /tmp/ok", "--health-interval", "1s",
      "--health-retries", "2", "--network", "none", "busybox", "sleep", "60")
    assert p("ps", "--format", "{{.Status}}").stdout.endswith("(starting)\n")
    res = p("healthcheck", "run", "h", check=False)
    assert res.returncode == 1 and res.stdout == "unhealthy\n"
    # the monitor runs the check at each interval: two failures make it unhealthy
    assert _until(lambda: p("inspect", "--format", "{{.State.Health.Status}}", "h").stdout == "unhealthy\n")
    assert "(unhealthy)" in p("ps", "--format", "{{.Status}}").stdout
    p("exec", "h", "touch", "/tmp/ok")
    assert _until(lambda: p("inspect", "--format", "{{.State.Health.Status}}", "h").stdout == "healthy\n")
    assert p("healthcheck", "run", "h").returncode == 0
    health = json.loads(p("inspect", "h").stdout)[0]["State"]["Health"]
    assert health["FailingStreak"] == 0 and 1 <= len(health["Log"]) <= 5 and health["Log"][-1]["ExitCode"] == 0
    # --health-on-failure kill
    p("run", "-d", "--name", "k", "--health-cmd", "exit 1", "--health-interval", "1s", "--health-retries", "1",
      "--health-on-failure", "kill", "--network", "none", "busybox", "sleep", "60")
    assert _until(lambda: _status(p, "k") == ["exited", "137"])
    # the timeout counts as a failure
    p("run", "-d", "--name", "slow", "--health-cmd", "sleep 5", "--health-timeout", "0.5s",
      "--health-interval", "1h", "--network", "none", "busybox", "sleep", "60")
    start = time.monotonic()
    assert p("healthcheck", "run", "slow", check=False).returncode == 1
    assert time.monotonic() - start < 4
    log = json.loads(p("inspect", "slow").stdout)[0]["State"]["Health"]["Log"][-1]
    assert "timed out" in log["Output"]
    res = p("healthcheck", "run", "k", check=False)
    assert res.returncode == 125 and "not running" in res.stderr
    for bad in (["--health-interval", "soon"], ["--health-retries", "0"], ["--health-on-failure", "panic"]):
        res = p("run", "-d", "--health-cmd", "true", *bad, "busybox", "true", check=False)
        assert res.returncode == 125, bad


def test_healthchecks_of_a_foreground_container(store):
    p = store
    # `podpy run` in the foreground runs the checks itself: the container's own check sees the
    # file appear, and --health-on-failure=kill ends it once it is gone again
    res = p("run", "--name", "fg", "--health-cmd", "test -e /tmp/ok", "--health-interval", "1s",
            "--health-retries", "1", "--health-on-failure", "kill", "--network", "none", "busybox", "sh", "-c",
            "touch /tmp/ok; sleep 3.5; rm /tmp/ok; sleep 20; echo survived", check=False, timeout=40)
    assert res.returncode == 137 and "survived" not in res.stdout
    health = json.loads(p("inspect", "fg").stdout)[0]["State"]["Health"]
    assert health["Status"] == "unhealthy"
    assert [entry["ExitCode"] for entry in health["Log"]][:1] == [0] and health["Log"][-1]["ExitCode"] == 1
    p("rm", "fg")


def test_system_df_prune_and_reset(store, tmp_path):
    p = store
    p("run", "-d", "--name", "keep", "--network", "none", "busybox", "sleep", "60")
    p("run", "--name", "done", "--network", "none", "busybox", "sh", "-c", "head -c 100000 /dev/zero > /big")
    rows = {line.split()[0]: line for line in p("system", "df").stdout.splitlines()[1:]}
    assert rows["Images"].split()[1:3] == ["1", "1"] and rows["Containers"].split()[1:3] == ["2", "1"]
    data = json.loads(p("system", "df", "--format", "json").stdout)
    assert [r["Type"] for r in data] == ["Images", "Containers", "Local Volumes"]
    assert data[1]["RawReclaimable"] >= 100000   # the stopped container's writable layer
    assert "Containers space usage" in p("system", "df", "-v").stdout
    # an image made from the stopped container shares busybox's layer: counted once, and not
    # reclaimable while a container (keep) uses busybox
    base = data[0]["RawSize"]
    p("commit", "done", "shares-busybox")
    data = json.loads(p("system", "df", "--format", "json").stdout)
    assert base + 100000 <= data[0]["RawSize"] < 2 * base
    assert data[0]["RawReclaimable"] == data[0]["RawSize"] - base
    p("rmi", "shares-busybox")
    out = p("system", "prune", "-f").stdout.split()
    assert out[0] == "Deleted" and len([x for x in out if len(x) == 64]) == 1
    assert p("ps", "-a", "--format", "{{.Names}}").stdout == "keep\n"
    res = p("system", "reset", check=False, input="")   # no answer: podman's error, nothing removed
    assert res.returncode == 125 and res.stderr.strip() == "Error: EOF"
    # reset: the running container is killed, and everything goes, subordinate-owned files too
    p("exec", "keep", "sh", "-c", "mkdir -p /owned && chown 1000:1000 /owned")
    p("system", "reset", "-f")
    assert p("ps", "-aq").stdout == "" and p("images", "-q").stdout == ""
    assert not (p.data_home / "podpy" / "containers").exists()
    assert p("run", "--rm", "--network", "none", "busybox", "true", check=False).returncode == 125  # no image


def test_attach_with_a_terminal_and_the_detach_keys(store):
    pexpect = pytest.importorskip("pexpect")
    p = store
    p("run", "-d", "-it", "--name", "at", "--network", "none", "busybox", "sh")
    argv = p.command("attach", "at")

    def attach():
        return pexpect.spawn(argv[0], argv[1:], env=p.environ(), encoding="utf-8", timeout=20,
                             dimensions=(30, 90))

    child = attach()
    try:
        child.sendline("echo attached-$((40+2)); stty size")
        child.expect("attached-42")
        child.expect("30 90")
        child.send("\x10\x11")   # ctrl-p ctrl-q: detach, the container runs on
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0 and _status(p, "at")[0] == "running"
    child = attach()
    try:
        child.sendline("exit 6")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 6 and _status(p, "at") == ["exited", "6"]


def test_attach_passes_stdin_and_ends_with_the_container(store):
    p = store
    p("run", "-d", "-i", "--name", "cat", "--network", "none", "busybox", "sh", "-c", "cat; echo done >&2")
    res = p("attach", "cat", input="through the monitor\n")
    assert res.stdout == "through the monitor\n" and res.stderr == "done\n" and res.returncode == 0
    res = p("attach", "cat", check=False)
    assert res.returncode == 125 and "running" in res.stderr


def test_events(store):
    p = store
    p("run", "--rm", "--name", "ev1", "--network", "none", "busybox", "true")
    p("run", "-d", "--name", "ev2", "--network", "none", "busybox", "sleep", "60")
    p("stop", "-t", "0", "ev2")
    p("rm", "ev2")
    p("volume", "create", "evv")
    lines = p("events", "--stream=false", "--filter", "container=ev2", "--format", "{{.Status}}").stdout.split()
    assert lines == ["create", "start", "stop", "died", "remove"]
    assert p("events", "--stream=false", "--filter", "container=ev1", "--format", "{{.Status}}").stdout.split() == [
        "create", "start", "died", "remove"]
    died = [json.loads(x) for x in p("events", "--stream=false", "--filter", "event=died", "--format", "json")
            .stdout.splitlines()]
    assert [d["Name"] for d in died] == ["ev1", "ev2"] and died[1]["ContainerExitCode"] == 137
    assert p("events", "--stream=false", "--filter", "type=volume", "--format", "{{.Name}}").stdout == "evv\n"
    assert p("events", "--stream=false", "--until", "-1h").stdout == ""   # nothing as old as that
    plain = p("events", "--stream=false", "--filter", "type=volume").stdout
    assert plain.endswith(" volume create evv\n")   # podman's plain line of a volume's event
    res = p("events", "--stream=false", "--filter", "colour=red", check=False)
    assert res.returncode == 125


def test_events_stream_starts_with_new_events(store):
    """`events` without --since, as podman's: what happens from now on, not the history."""
    p = store
    p("volume", "create", "evold")
    proc = subprocess.Popen(p.command("events", "--filter", "type=volume", "--format", "{{.Status}} {{.Name}}"),
                            env=p.environ(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        time.sleep(1.0)   # the stream has begun by then
        p("volume", "create", "evnew")
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        first = proc.stdout.readline().strip() if ready else "(nothing within 15 s)"
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert first == "create evnew"


def test_an_attach_that_reads_nothing_holds_up_no_other_container(store):
    """A `podpy attach` whose output nobody reads (its pipe full, its socket to the monitor
    full): the monitor goes on serving everyone else. Another container starts, the busy one
    is still logged, and the stuck client still gets the exit in the end."""
    p = store
    p("run", "-d", "--name", "noisy", "busybox", "sh", "-c",
      "i=0; while [ $i -lt 400000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done; "
      "echo finished; sleep 300")
    attach = subprocess.Popen(p.command("attach", "--no-stdin", "noisy"), env=p.environ(),
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)   # its pipe and the monitor's socket to it are full by now
        started = time.monotonic()
        p("run", "-d", "--name", "other", "busybox", "sleep", "300", timeout=20)
        assert time.monotonic() - started < 10
        assert _status(p, "other") == ["running", "0"]
        assert _until(lambda: "finished" in p("logs", "--tail", "2", "noisy").stdout, timeout=60)
        p("stop", "-t", "0", "noisy")
        os.set_blocking(attach.stdout.fileno(), False)
        for _ in range(600):   # the client, read at last, ends (let go if it fell too far behind)
            try:
                attach.stdout.read()
            except BlockingIOError:
                pass
            if attach.poll() is not None:
                break
            time.sleep(0.05)
        assert attach.poll() is not None
    finally:
        attach.kill()
        attach.wait()
        attach.stdout.close()
        p("rm", "-f", "-t", "0", "noisy", "other")
