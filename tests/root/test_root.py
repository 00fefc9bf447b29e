"""Tests run as root by the test command: rootful podpy, and a user with no subordinate ids."""

import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (run by packaging/setup.sh test)")

NOSUB_USER = "podpy-nosub"


def podpy_bin() -> str:
    found = shutil.which("podpy")
    if not found:
        pytest.skip("the podpy command is not on PATH")
    return found


@pytest.fixture
def image_tar() -> str:
    tar = os.environ.get("PODPY_TEST_IMAGE_TAR", "")
    if not os.path.isfile(tar):
        pytest.skip("PODPY_TEST_IMAGE_TAR is not set to the busybox image")
    return tar


def test_rootful_run(tmp_path, image_tar):
    base = [podpy_bin(), "--root", str(tmp_path / "store"), "--runroot", str(tmp_path / "run")]

    def pp(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(base + list(args), capture_output=True, text=True, timeout=120, check=True)

    pp("import", image_tar, "busybox")
    out = pp("run", "--rm", "--network", "none", "busybox", "sh", "-c",
             "cat /proc/self/uid_map; echo $$; ls -ln /bin/busybox; id -u").stdout.splitlines()
    assert out[0].split() == ["0", "0", "4294967295"]  # no user namespace: root is root
    assert out[1] == "1" and out[2].split()[2:4] == ["0", "0"] and out[3] == "0"
    assert pp("run", "--rm", "--network", "none", "-u", "1000", "busybox", "id", "-u").stdout == "1000\n"
    info = json.loads(pp("info", "--format", "json").stdout)
    assert info["host"]["security"]["rootless"] is False
    assert info["store"]["graphRoot"] == str(tmp_path / "store")


def test_user_without_subordinate_ids_gets_a_single_id_mapping(image_tar):
    try:
        user = pwd.getpwnam(NOSUB_USER)
    except KeyError:
        pytest.skip(f"user {NOSUB_USER} does not exist (made by packaging/setup.sh test)")
    for path in ("/etc/subuid", "/etc/subgid"):
        with open(path) as f:
            assert not any(line.split(":")[0] in (NOSUB_USER, str(user.pw_uid)) for line in f), path
    home = Path(tempfile.mkdtemp(prefix="podpy-nosub-"))
    os.chown(home, user.pw_uid, user.pw_gid)
    env = {"HOME": str(home), "USER": NOSUB_USER, "PATH": os.path.dirname(podpy_bin()) + ":/usr/bin:/bin",
           "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config")}

    def pp(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["runuser", "-u", NOSUB_USER, "--", "env", "-i",
                               *(f"{k}={v}" for k, v in env.items()), podpy_bin(), *args],
                              capture_output=True, text=True, timeout=120, check=check, cwd=str(home))

    try:
        imp = pp("import", image_tar, "busybox")
        assert "single-id mapping" in imp.stderr or imp.stderr == ""
        res = pp("run", "--rm", "--network", "none", "busybox", "sh", "-c", "cat /proc/self/uid_map; id -u")
        assert res.stdout.split() == ["0", str(user.pw_uid), "1", "0"]
        warnings = [line for line in res.stderr.splitlines() if line.strip()]
        assert len(warnings) == 1 and "single-id mapping" in warnings[0]
        bad = pp("run", "--rm", "--network", "none", "-u", "1000", "busybox", "true", check=False)
        assert bad.returncode == 125 and "not mapped" in bad.stderr.splitlines()[0]
        assert pp("ps", "-a", "-q").stdout == ""
    finally:
        subprocess.run(["rm", "-rf", str(home)], check=False)


def test_disk_full_is_one_line_and_keeps_nothing(tmp_path, image_tar):
    """A store on a file system too small for the layer: the error names the cause, no
    traceback, exit 125, and no half-applied layer or staging directory stays behind."""
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], check=True)
    try:
        base = [podpy_bin(), "--root", str(small / "store"), "--runroot", str(tmp_path / "run")]
        res = subprocess.run(base + ["import", image_tar, "busybox"], capture_output=True, text=True, timeout=120)
        assert res.returncode == 125, res.stderr
        assert res.stderr.count("\n") == 1 and "no space left on device" in res.stderr, res.stderr
        assert res.stderr.startswith("Error: writing a layer into "), res.stderr
        assert "Traceback" not in res.stderr
        listed = subprocess.run(base + ["images", "-q"], capture_output=True, text=True, timeout=60)
        assert listed.returncode == 0 and listed.stdout == ""
        layers = small / "store" / "layers"
        assert not layers.exists() or list(layers.iterdir()) == []
        # the next command that reconciles the store removes any staging leftovers
        subprocess.run(base + ["ps", "-a"], capture_output=True, text=True, timeout=60, check=True)
        tmp = small / "store" / "tmp"
        assert not tmp.exists() or list(tmp.iterdir()) == []
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_full_disk_while_writing_logs(tmp_path, image_tar):
    """A container whose log file's file system fills up keeps running and exits with its own
    code; `logs` shows what was kept, without a traceback."""
    small = tmp_path / "logs"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)], check=True)
    base = [podpy_bin(), "--root", str(tmp_path / "store"), "--runroot", str(tmp_path / "run")]

    def pp(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(base + list(args), capture_output=True, text=True, timeout=120, check=check)

    try:
        pp("import", image_tar, "busybox")
        log = small / "chatty.log"
        pp("run", "-d", "--name", "chatty", "--network", "none", "--log-opt", f"path={log}", "busybox", "sh", "-c",
           "i=0; while [ $i -lt 3000 ]; do echo line $i of a log that will not fit; i=$((i+1)); done; exit 3")
        assert pp("wait", "chatty").stdout == "3\n"
        assert log.stat().st_size <= 64 * 1024
        res = pp("logs", "chatty", check=False)
        assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
        assert res.stdout.startswith("line 0 of a log") and "line 2999" not in res.stdout
        state = json.loads(pp("inspect", "chatty").stdout)[0]["State"]
        assert state["Status"] == "exited" and state["ExitCode"] == 3
        pp("rm", "chatty")
    finally:
        pp("rm", "-af", check=False)
        subprocess.run(["umount", "-l", str(small)], check=False)
