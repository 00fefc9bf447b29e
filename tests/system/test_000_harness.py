# Checks the system-test harness itself: both builds of the CLI start, and failures are reported in full.
import pytest


def test_version(podpy):
    result = podpy("version")
    assert result.returncode == 0
    assert "0.1.0" in result.stdout


def test_help(podpy):
    result = podpy("--help")
    assert result.returncode == 0


def test_failed_command_is_reported(podpy):
    bogus = "no-such-subcommand-for-harness-test"
    result = podpy(bogus, check=False)
    assert result.returncode != 0
    with pytest.raises(pytest.fail.Exception) as failure:
        podpy(bogus)
    message = str(failure.value)
    assert bogus in message
    assert f"exit code: {result.returncode}" in message
    assert "--- stderr ---" in message


def test_units_run_as_systemd_would(tmp_path):
    """The stand-in for systemd that unit tests use: environment, specifiers, readiness with
    MAINPID, ExecStop with $MAINPID, and a cgroup that is empty after stop."""
    import os
    from units import UnitRunner, delegated_cgroup, parse, verify

    out = tmp_path / "trace"
    text = f"""[Unit]
Description=harness check

[Service]
Type=notify
NotifyAccess=all
Environment="GREETING=hello world" OUT={out}
ExecStartPre=/bin/sh -c 'echo pre %n %N "$GREETING" >> $OUT'
ExecStart=/bin/sh -c 'sleep 60 & echo "MAINPID=$!" | nc -uU -q0 "$NOTIFY_SOCKET" 2>/dev/null || \\
    systemd-notify --ready MAINPID=$! ; systemd-notify --ready; wait'
ExecStop=/bin/sh -c 'echo stop $MAINPID >> $OUT'
ExecStopPost=/bin/sh -c 'echo post $SERVICE_RESULT >> $OUT'
KillMode=mixed
"""
    path = tmp_path / "hello@one.service"
    path.write_text(text)
    env = {k: v for k, v in os.environ.items() if k in ("HOME", "PATH", "XDG_RUNTIME_DIR", "USER", "LANG")}
    verify([path], env)
    runner = UnitRunner(parse(text, path.name), env, tmp_path, cgroup_parent=delegated_cgroup())
    try:
        runner.start(timeout=20)
        assert runner.main_alive()
        assert runner.main_pid != runner.main.pid       # MAINPID= from the notification was taken
        runner.stop(timeout=10)
        assert not runner.main_alive()
        assert runner.cgroup_pids() == []
    finally:
        runner.close()
    lines = out.read_text().splitlines()
    assert lines[0] == "pre hello@one.service hello@one hello world"
    assert lines[1] == f"stop {runner.main_pid}"
    assert lines[2].startswith("post ")
