"""packaging/systemd's podpy.socket and podpy.service: systemd takes them as user units, and
they say what socket activation needs (the socket podpy's default URI names, the service
started by it, only the service killed when it stops)."""

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "packaging" / "systemd"


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str   # keys are case-sensitive in unit files
    parser.read(UNITS / name)
    return parser


def test_socket_and_service_agree():
    sock, svc = _unit("podpy.socket"), _unit("podpy.service")
    assert sock["Socket"]["ListenStream"] == "%t/podpy/podpy.sock"   # default_socket_path()
    assert sock["Socket"]["SocketMode"] == "0600"
    assert svc["Unit"]["Requires"] == "podpy.socket"
    assert svc["Service"]["KillMode"] == "process"   # the monitor it started outlives it
    assert "system service" in svc["Service"]["ExecStart"]


def test_systemd_verifies_them(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed: the units are checked by the other test only")
    exec_start = _unit("podpy.service")["Service"]["ExecStart"].split()[0]
    if not os.access(exec_start, os.X_OK):
        pytest.skip(f"{exec_start} is not installed here: systemd would refuse the unit for that alone")
    user = tmp_path / "config" / "systemd" / "user"
    user.mkdir(parents=True)
    for name in ("podpy.socket", "podpy.service"):
        shutil.copy(UNITS / name, user / name)
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    res = subprocess.run([tool, "verify", "--user", str(user / "podpy.socket"), str(user / "podpy.service")],
                         env=dict(os.environ, XDG_RUNTIME_DIR=str(run), XDG_CONFIG_HOME=str(tmp_path / "config")),
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
