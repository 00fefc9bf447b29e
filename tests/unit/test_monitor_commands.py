"""The commands the monitor starts (a container's clean-up, its healthchecks) run with no
terminal to speak to: what they say on stderr goes to the monitor's log, their stdout (a
healthcheck's status line) nowhere."""

from __future__ import annotations

import os
import time

from podpy.monitor.container import LOG, spawn_command


def _wait(pid: int) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    raise AssertionError("the command did not end")


def test_stderr_goes_to_the_log_and_stdout_nowhere(tmp_path):
    (tmp_path / LOG).write_text("earlier line\n")
    command = {"argv": ["/bin/sh", "-c", "echo healthy; echo 'Error: restarting c1: no such file' >&2; exit 3"],
               "env": {"PATH": "/usr/bin:/bin"}}
    pid = spawn_command(command, str(tmp_path))
    assert pid > 0 and _wait(pid) == 3
    assert (tmp_path / LOG).read_text() == "earlier line\nError: restarting c1: no such file\n"


def test_the_log_is_made_private_and_a_missing_runroot_still_runs_the_command(tmp_path):
    pid = spawn_command({"argv": ["/bin/sh", "-c", "echo x >&2"], "env": {}}, str(tmp_path))
    assert _wait(pid) == 0
    assert (tmp_path / LOG).stat().st_mode & 0o777 == 0o600
    pid = spawn_command({"argv": ["/bin/sh", "-c", "echo y >&2; exit 4"], "env": {}}, str(tmp_path / "gone"))
    assert _wait(pid) == 4


def test_the_log_is_open_only_as_the_commands_stderr(tmp_path):
    before = set(os.listdir("/proc/self/fd"))
    script = 'l=$(cd /proc/$$/fd && for f in *; do echo "$f $(readlink "$f")"; done); echo "$l" >&2'
    pid = spawn_command({"argv": ["/bin/sh", "-c", script], "env": {}}, str(tmp_path))
    assert _wait(pid) == 0
    assert set(os.listdir("/proc/self/fd")) == before   # the monitor keeps no copy
    lines = (tmp_path / LOG).read_text().splitlines()
    assert [line.split()[0] for line in lines if line.endswith("/" + LOG)] == ["2"]
    assert "0 /dev/null" in lines and "1 /dev/null" in lines
