"""A full disk under a rootless user's store: each command that runs out of space says so in
one line, naming what it was writing (exit 125), leaves the store consistent (`system check`
finds nothing) and gives back the space its partial files took; once space is back, the same
command works. A container whose log fills the disk keeps running, and `logs` still works.

Root makes the small file system (a tmpfs) and hands it to the test user, who runs podpy
rootless on it, as the system tests do.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (run by packaging/setup.sh test)")

USER = "podpy-test"
SIZE_MB = 40


def podpy_bin() -> str:
    found = shutil.which("podpy")
    if not found:
        pytest.skip("the podpy command is not on PATH")
    return found


class Small:
    """A tmpfs of SIZE_MB owned by the test user, holding its store, and a podpy to run on it."""

    def __init__(self, base: Path, image_tar: str) -> None:
        try:
            self.user = pwd.getpwnam(USER)
        except KeyError:
            pytest.skip(f"user {USER} does not exist (made by packaging/setup.sh test)")
        self.base = base
        self.mnt = base / "small"
        self.home = base / "home"
        for d in (self.mnt, self.home, base / "run"):
            d.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m,mode=0700", "tmpfs", str(self.mnt)], check=True)
        for d in (self.mnt, self.home, base / "run", base):
            os.chown(d, self.user.pw_uid, self.user.pw_gid)
        os.chmod(base, 0o755)
        self.store = self.mnt / "store"
        self.filler = self.mnt / "filler"
        self.image_tar = self.home / "busybox.tar"
        shutil.copy(image_tar, self.image_tar)
        os.chown(self.image_tar, self.user.pw_uid, self.user.pw_gid)

    def env(self) -> list[str]:
        uid = self.user.pw_uid
        return [f"HOME={self.home}", f"USER={USER}", f"XDG_RUNTIME_DIR=/run/user/{uid}",
                "PATH=" + os.path.dirname(podpy_bin()) + ":/usr/bin:/bin", f"XDG_CONFIG_HOME={self.home}/config",
                "LANG=C.UTF-8", *(f"{k}={os.environ[k]}" for k in ("PYTHONPATH",) if k in os.environ)]

    def __call__(self, *args: object, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        argv = ["runuser", "-u", USER, "--", "env", "-i", *self.env(), podpy_bin(), "--root", str(self.store),
                "--runroot", str(self.base / "run"), *map(str, args)]
        res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=str(self.home))
        if check and res.returncode != 0:
            raise AssertionError(f"podpy {' '.join(map(str, args))}: exit {res.returncode}\n{res.stderr}")
        return res

    def as_user(self, *argv: str) -> None:
        subprocess.run(["runuser", "-u", USER, "--", *argv], check=True, capture_output=True, cwd=str(self.home))

    def free(self) -> int:
        st = os.statvfs(self.mnt)
        return st.f_bavail * st.f_frsize

    def fill(self, leave: int) -> None:
        """Take all the space but `leave` bytes (the file is the user's, as any of its files)."""
        self.unfill()
        with open(self.filler, "wb") as f:
            f.truncate(0)
            want = self.free() - leave
            chunk = b"\0" * (1 << 20)
            while want > 0:
                n = f.write(chunk[:min(len(chunk), want)])
                want -= n
            f.flush()
            os.fsync(f.fileno())

    def unfill(self) -> None:
        self.filler.unlink(missing_ok=True)

    def close(self) -> None:
        self("rm", "-af", check=False)
        subprocess.run(["umount", "-l", str(self.mnt)], check=False)
        subprocess.run(["rm", "-rf", str(self.base)], check=False)


@pytest.fixture(scope="module")
def small(image_tar_path):
    base = Path(tempfile.mkdtemp(prefix="podpy-disk-"))
    s = Small(base, image_tar_path)
    try:
        s("import", s.image_tar, "busybox")
        s("volume", "create", "first")   # the store's directories, made while there is room
        s("volume", "rm", "first")
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def image_tar_path() -> str:
    tar = os.environ.get("PODPY_TEST_IMAGE_TAR", "")
    if not os.path.isfile(tar):
        pytest.skip("PODPY_TEST_IMAGE_TAR is not set to the busybox image")
    return tar


def full(s: Small, args: list, what: str) -> None:
    """args run out of space: one line naming `what`, exit 125, the store as before, and its
    space given back; then with room again it works."""
    s("ps", "-a")   # anything a former command left is cleared first
    s.fill(leave=1 << 20)
    before = s.free()
    res = s(*args, check=False)
    assert res.returncode == 125, (args, res.returncode, res.stderr)
    # progress lines may come first (as podman's); the error is the one last line
    errors = [line for line in res.stderr.splitlines() if line.startswith("Error")]
    assert "Traceback" not in res.stderr and len(errors) == 1 and res.stderr.endswith(errors[0] + "\n"), res.stderr
    assert errors[0].lower().startswith("error: ") and "no space left on device" in errors[0].lower(), res.stderr
    assert what in errors[0], (what, res.stderr)
    print(errors[0])
    check = s("system", "check", check=False)
    assert (check.returncode, check.stdout) == (0, ""), check
    tmp = s.store / "tmp"
    assert not tmp.exists() or os.listdir(tmp) == [], os.listdir(tmp)
    # the space its partial files took is free again (what the database keeps aside)
    assert s.free() >= before - (256 << 10), (before, s.free())
    s.unfill()
    s(*args)


def test_load_build_commit_out_of_space(small):
    s = small
    s("run", "--name", "filler", "--network", "none", "busybox", "sh", "-c", "head -c 4194304 /dev/urandom > /big")
    s("commit", "filler", "big")
    tar = s.home / "big.tar"
    s("save", "-o", tar, "big")
    s("rmi", "big")
    full(s, ["load", "-i", tar], "writing layer ")
    assert s("run", "--rm", "--network", "none", "big", "wc", "-c", "/big").stdout.split()[0] == "4194304"
    s("rmi", "big")

    full(s, ["commit", "filler", "big2"], "writing the changes of container filler")
    s("rmi", "big2")
    s("rm", "filler")

    ctx = s.home / "ctx"
    ctx.mkdir()
    (ctx / "Containerfile").write_text("FROM busybox\nCOPY big /big\n")
    (ctx / "big").write_bytes(os.urandom(4 << 20))
    subprocess.run(["chown", "-R", f"{USER}:{USER}", str(ctx)], check=True)
    full(s, ["build", "--network", "none", "-t", "built", ctx], 'building at STEP "COPY big /big": writing the step\'s files')
    s("rmi", "built")
    s("image", "prune", "-f")


def _local_registry():
    """tests/system/registry.py's LocalRegistry (docker-registry on 127.0.0.1)."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "system" / "registry.py"
    spec = importlib.util.spec_from_file_location("podpy_test_registry", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LocalRegistry


def test_pull_out_of_space(small):
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is needed (installed by packaging/setup.sh test)")
    s = small
    work = Path(tempfile.mkdtemp(prefix="podpy-disk-registry-"))
    reg = _local_registry()(work)
    try:
        s("run", "--name", "filler", "--network", "none", "busybox", "sh", "-c", "head -c 4194304 /dev/urandom > /big")
        s("commit", "filler", "big")
        s("rm", "filler")
        dest = f"{reg.host}/disk/big:1"
        s("push", "-q", "--tls-verify=false", "big", dest)
        s("rmi", "big")
        full(s, ["pull", "-q", "--tls-verify=false", dest], "writing layer ")
        assert s("run", "--rm", "--network", "none", dest, "wc", "-c", "/big").stdout.split()[0] == "4194304"
        s("rmi", dest)
    finally:
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)


def test_cp_and_volume_import_out_of_space(small):
    s = small
    payload = s.home / "payload"
    payload.mkdir()
    (payload / "big").write_bytes(os.urandom(4 << 20))
    tar = s.home / "payload.tar"
    subprocess.run(["tar", "-C", payload, "-cf", tar, "."], check=True)
    subprocess.run(["chown", "-R", f"{USER}:{USER}", str(payload), str(tar)], check=True)

    s("create", "--name", "target", "--network", "none", "busybox", "true")
    full(s, ["cp", payload, "target:/dst"], f"copying {payload} to container target:/dst")
    s("rm", "target")

    s("volume", "create", "vol")
    full(s, ["volume", "import", "vol", tar], "importing into volume vol")
    s("volume", "rm", "vol")


def test_a_log_that_fills_the_disk(small):
    """The log stops where the disk is full (as podman's conmon drops what it cannot write); the
    container runs on to its end, `logs` shows what was kept, and its exit is recorded once
    there is room for the database again."""
    s = small
    s.fill(leave=256 << 10)
    try:
        s("run", "-d", "--name", "chatty", "--network", "none", "busybox", "sh", "-c",
          "i=0; while [ $i -lt 20000 ]; do echo line $i of a log that will not fit; i=$((i+1)); done; "
          "sleep 2; exit 3")
        time.sleep(1.5)   # the lines are written by now, and the disk is full
        assert s.free() < (64 << 10)
        assert s("ps", "--format", "{{.Names}} {{.Status}}").stdout.startswith("chatty Up")
        res = s("logs", "chatty", check=False)
        assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
        assert res.stdout.startswith("line 0 of a log\n".replace("\n", " ")) and "line 19999" not in res.stdout
        time.sleep(2)
    finally:
        s.unfill()
    assert s("wait", "chatty").stdout == "3\n"
    assert s("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "chatty").stdout == "exited 3\n"
    assert s("system", "check").stdout == ""
    s("rm", "chatty")
