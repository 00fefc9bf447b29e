"""`podpy system doctor` against real broken set-ups, made as root and undone afterwards: for each,
the doctor's verdict and fix, and the first and last lines of the error `podpy run` gives.

podpy runs as an ordinary user (`runuser`), from a world-readable copy of this source tree.
Device modes changed here are restored in a `finally`, even when a test fails. /etc/subuid is
never written: an overlapping or unreadable one is a copy bound over it in a mount namespace
that only the test's commands run in. Unprivileged
user namespaces are switched off by `user.max_user_namespaces=0` inside a user namespace that
this test owns (with all host ids mapped, so runuser works in it): the limit holds for every
namespace below it, which is what the user sees, while the host's own value, which other
people on the machine depend on, is never changed.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (run by packaging/setup.sh test)")

USER = "podpy-test"          # has subordinate ids (packaging/setup.sh test)
NOSUB_USER = "podpy-nosub"   # has none
SRC = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def _user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pytest.skip(f"user {name} does not exist (made by packaging/setup.sh test)")


@pytest.fixture(scope="module")
def tree():
    """A world-readable copy of podpy's packages, for PYTHONPATH of another user."""
    top = Path(tempfile.mkdtemp(prefix="podpy-doctor-src-"))
    os.chmod(top, 0o755)
    for pkg in ("podpy", "rootless", "storage"):
        shutil.copytree(SRC / pkg, top / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["chmod", "-R", "a+rX", str(top)], check=True)
    yield top
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def image_tar() -> str:
    tar = os.environ.get("PODPY_TEST_IMAGE_TAR", "")
    if not os.path.isfile(tar):
        pytest.skip("PODPY_TEST_IMAGE_TAR is not set to the busybox image")
    os.chmod(tar, os.stat(tar).st_mode | 0o004)
    return tar


class As:
    """podpy run as `user` from the copied tree, with a home (and store) of its own."""

    def __init__(self, user: str, tree: Path) -> None:
        self.pw = _user(user)
        self.tree = tree
        self.home = Path(tempfile.mkdtemp(prefix="podpy-doctor-"))
        os.chown(self.home, self.pw.pw_uid, self.pw.pw_gid)
        self.store = self.home / "store"
        self.path = f"{os.path.dirname(PYTHON)}:/usr/bin:/bin"
        self.xdg: str | None = f"/run/user/{self.pw.pw_uid}"
        self.wrap: list[str] = []

    def __call__(self, *args: str, root: Path | None = None, driver: str | None = None,
                 timeout: int = 120) -> subprocess.CompletedProcess:
        env = {"HOME": str(self.home), "USER": self.pw.pw_name, "PATH": self.path, "PYTHONPATH": str(self.tree),
               "LANG": "C.UTF-8"}
        if self.xdg is not None:
            env["XDG_RUNTIME_DIR"] = self.xdg
        glob = ["--root", str(root or self.store)] + (["--storage-driver", driver] if driver else [])
        argv = [*self.wrap, "runuser", "-u", self.pw.pw_name, "--", "env", "-i",
                *(f"{k}={v}" for k, v in env.items()), PYTHON, "-m", "podpy", *glob, *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=str(self.home))

    def doctor(self, **kw) -> tuple[int, dict[str, tuple[str, str]]]:
        """(exit code, check -> (status, the rest of its line))."""
        res = self("system", "doctor", **kw)
        assert res.returncode in (0, 1) and res.stderr == "", res.stderr
        lines = {}
        for line in res.stdout.splitlines():
            status, check, rest = line[:4].strip(), line[6:17].strip(), line[19:]
            lines[check] = (status, rest)
        return res.returncode, lines

    def close(self) -> None:
        subprocess.run(["rm", "-rf", str(self.home)], check=False)


@pytest.fixture
def as_user(tree):
    made = []

    def make(user: str = USER) -> As:
        made.append(As(user, tree))
        return made[-1]

    yield make
    for a in made:
        a.close()


def _has_subids(pw: pwd.struct_passwd) -> bool:
    for path in ("/etc/subuid", "/etc/subgid"):
        with open(path) as f:
            if not any(line.split(":")[0] in (pw.pw_name, str(pw.pw_uid)) for line in f):
                return False
    return True


@pytest.fixture
def healthy(as_user, image_tar) -> As:
    """podpy-test with its subordinate ids and the busybox image in a fresh store."""
    pp = as_user(USER)
    if not _has_subids(pp.pw):
        pytest.skip(f"{USER} has no subordinate ids (packaging/setup.sh test gives it some)")
    res = pp("import", image_tar, "busybox")
    assert res.returncode == 0, res.stderr
    return pp


def _run(pp: As, *extra: str, **kw) -> subprocess.CompletedProcess:
    return pp("run", "--rm", *extra, "busybox", "true", **kw)


def test_healthy_user_gets_ok_for_the_user_namespace_checks(healthy):
    code, found = healthy.doctor()
    for check in ("subuid", "subgid", "newuidmap", "newgidmap", "userns", "idmap", "fuse", "tun", "network"):
        assert found[check][0] == "ok", (check, found[check])
    assert found["subuid"][1].startswith("65536 subordinate user ids (")
    assert found["newuidmap"][1] == f"{shutil.which('newuidmap')} (setuid root)"
    assert found["idmap"][1] == "newuidmap and newgidmap map 65537 ids into a user namespace"
    assert code == (1 if any(s == "fail" for s, _ in found.values()) else 0)
    assert all(status in ("ok", "warn", "fail") for status, _ in found.values())


def test_user_without_subordinate_ids(as_user, image_tar):
    pp = as_user(NOSUB_USER)
    assert not _has_subids(pp.pw)
    code, found = pp.doctor()
    assert code == 1
    status, rest = found["subuid"]
    assert status == "fail"
    assert rest.startswith(f"no subordinate user ids for {NOSUB_USER} in /etc/subuid: containers run with one user "
                           "id only: images that chown files will fail; fix (administrator): sudo usermod "
                           "--add-subuids ")
    assert re.search(rf"--add-subuids (\d+)-(\d+) {NOSUB_USER}$", rest)
    lo, hi = map(int, re.search(r"(\d+)-(\d+) \S+$", rest).groups())
    assert hi - lo + 1 == 65536
    assert found["subgid"][0] == "fail" and f"--add-subgids {lo}-{hi} {NOSUB_USER}" in found["subgid"][1]
    assert "idmap" not in found   # nothing to map with
    assert pp("import", image_tar, "busybox").returncode == 0
    bad = _run(pp, "--network", "none", "-u", "1000")
    lines = bad.stderr.splitlines()
    assert bad.returncode == 125
    assert lines[0].startswith("Error: user 1000:1000 is not mapped in the user namespace")
    assert lines[-1] == (f"Cause: no subordinate user ids for {NOSUB_USER} in /etc/subuid: containers run with one "
                         "user id only: images that chown files will fail; `podpy system doctor` shows the fix")


def _over(pp: As, target: str, text: str, mode: int = 0o644) -> None:
    """Run pp's commands in a mount namespace of their own where `target` reads `text` (a file
    of that mode, owned by root, bound over it): the host's file never changes."""
    copy = pp.home / os.path.basename(target)
    copy.write_text(text)
    os.chmod(copy, mode)
    pp.wrap = ["unshare", "-m", "--propagation", "private", "sh", "-c", 'mount --bind "$0" "$1" && shift && '
               'exec "$@"', str(copy), target]


def test_range_overlapping_another_users(healthy):
    with open("/etc/subuid") as f:
        text = f.read()
    mine = [line.split(":") for line in text.splitlines() if line.split(":")[0] == USER][0]
    start, end = int(mine[1]), int(mine[1]) + int(mine[2]) - 1
    _over(healthy, "/etc/subuid", text + f"podpy-doctor-overlap:{start + 100}:1000\n")
    code, found = healthy.doctor()
    status, rest = found["subuid"]
    assert status == "warn"
    assert rest.startswith(f"/etc/subuid: your range {start}-{end} shares ids with podpy-doctor-overlap's "
                           f"{start + 100}-{start + 1099}: their containers' files and processes are yours too; "
                           f"fix (administrator): sudo usermod --del-subuids {start}-{end} --add-subuids ")
    assert found["subgid"][0] == "ok"
    # the overlap does not stop a container: it is a warning, not an error
    res = _run(healthy, "--network", "none")
    assert res.returncode == 0, res.stderr


def test_unreadable_subuid_is_one_line_and_the_doctor_goes_on(healthy):
    with open("/etc/subuid") as f:
        _over(healthy, "/etc/subuid", f.read(), 0o600)
    code, found = healthy.doctor()
    assert code == 1
    assert found["subuid"] == ("fail", "/etc/subuid cannot be read (Permission denied): containers cannot start; "
                                       "fix (administrator): sudo chmod 0644 /etc/subuid")
    assert found["subgid"][0] == "ok"
    for check in ("newuidmap", "newgidmap", "userns", "storage", "cgroups", "tun", "disk", "security"):
        assert check in found, check
    res = _run(healthy, "--network", "none")
    lines = res.stderr.splitlines()
    assert res.returncode == 125
    assert lines[0] == "Error: Permission denied `/etc/subuid`"
    assert lines[-1] == ("Cause: /etc/subuid cannot be read (Permission denied): containers cannot start; "
                         "`podpy system doctor` shows the fix")


def test_newuidmap_without_setuid_first_on_path(healthy):
    bindir = healthy.home / "bin"
    bindir.mkdir()
    for helper in ("newuidmap", "newgidmap"):
        real = shutil.which(helper)
        assert real and os.stat(real).st_mode & 0o4000, f"{helper} is not setuid here"
        shutil.copy(real, bindir / helper)   # copy() keeps no setuid bit
        os.chmod(bindir / helper, 0o755)
    os.chmod(bindir, 0o755)
    healthy.path = f"{bindir}:{healthy.path}"
    code, found = healthy.doctor()
    assert code == 1
    assert found["newuidmap"] == ("fail", f"{bindir}/newuidmap is neither setuid root nor has file capabilities: it "
                                          "cannot write a container's id maps, so containers cannot start; fix "
                                          f"(administrator): sudo chmod u+s {bindir}/newuidmap")
    assert found["newgidmap"][0] == "fail"
    res = _run(healthy, "--network", "none")
    lines = res.stderr.splitlines()
    assert res.returncode == 125
    assert lines[0].startswith("Error: newuidmap: write to uid_map failed: Operation not permitted")
    assert lines[-1] == (f"Cause: {bindir}/newuidmap is neither setuid root nor has file capabilities: it cannot "
                         "write a container's id maps, so containers cannot start; `podpy system doctor` shows the fix")


def _with_mode(path: str, mode: int):
    """Context: the device at mode, restored to what it was."""
    class Mode:
        def __enter__(self):
            self.old = os.stat(path).st_mode & 0o7777
            os.chmod(path, mode)

        def __exit__(self, *exc):
            os.chmod(path, self.old)
    return Mode()


def test_dev_fuse_mode_0600(healthy, image_tar):
    if not os.path.exists("/dev/fuse") or shutil.which("fuse-overlayfs") is None:
        pytest.skip("needs /dev/fuse and fuse-overlayfs")
    store = healthy.home / "fuse-store"
    assert healthy("import", image_tar, "busybox", root=store, driver="fuse-overlayfs").returncode == 0
    try:
        with _with_mode("/dev/fuse", 0o600):
            code, found = healthy.doctor(root=store, driver="fuse-overlayfs")
            res = _run(healthy, "--network", "none", root=store, driver="fuse-overlayfs")
    finally:
        assert os.stat("/dev/fuse").st_mode & 0o777 == 0o666
    assert code == 1
    assert found["fuse"] == ("fail", "/dev/fuse cannot be opened: Permission denied: fuse-overlayfs and `podpy mount` "
                                     "cannot work; fix (administrator): sudo chmod 0666 /dev/fuse")
    assert found["storage"][0] == "fail" and found["storage"][1].startswith(
        f"fuse-overlayfs is used for {store} but /dev/fuse cannot be opened: Permission denied")
    lines = res.stderr.splitlines()
    assert res.returncode == 125
    assert lines[0].startswith("Error: fuse-overlayfs exited (1) before mounting")
    assert lines[-1] == ("Cause: /dev/fuse cannot be opened: Permission denied: fuse-overlayfs and `podpy mount` "
                         "cannot work; `podpy system doctor` shows the fix")


def test_dev_net_tun_mode_0600(healthy):
    if not os.path.exists("/dev/net/tun") or shutil.which("slirp4netns") is None:
        pytest.skip("needs /dev/net/tun and slirp4netns")
    try:
        with _with_mode("/dev/net/tun", 0o600):
            code, found = healthy.doctor()
            res = _run(healthy, "--network", "slirp4netns")
    finally:
        assert os.stat("/dev/net/tun").st_mode & 0o777 == 0o666
    assert code == 1
    assert found["tun"] == ("fail", "/dev/net/tun cannot be opened: Permission denied: slirp4netns and pasta cannot "
                                    "give containers a network: only --network none works; fix (administrator): "
                                    "sudo chmod 0666 /dev/net/tun")
    lines = res.stderr.splitlines()
    assert res.returncode == 125
    assert lines[0].startswith("Error: slirp4netns failed")
    assert lines[-1] == ("Cause: /dev/net/tun cannot be opened: Permission denied: slirp4netns and pasta cannot give "
                         "containers a network: only --network none works; `podpy system doctor` shows the fix")


def test_no_xdg_runtime_dir(healthy):
    healthy.xdg = None
    uid = healthy.pw.pw_uid
    code, found = healthy.doctor()
    assert found["runtime-dir"] == (
        "warn", f"XDG_RUNTIME_DIR is not set: podpy keeps its runtime files in /tmp/podpy-run-{uid} instead, which "
                f"nothing cleans at logout or reboot; fix: export XDG_RUNTIME_DIR=/run/user/{uid} (made by a systemd "
                f"login, or: sudo install -d -m 0700 -o {USER} /run/user/{uid})")
    # the fallback works: containers run
    res = _run(healthy, "--network", "none")
    assert res.returncode == 0, res.stderr


@pytest.fixture
def fuse_store(healthy):
    """A directory on a FUSE file system (fuse-overlayfs mounted by root, open to others): the
    kernel refuses it overlay's whiteouts in a user namespace."""
    if shutil.which("fuse-overlayfs") is None or not os.path.exists("/dev/fuse"):
        pytest.skip("needs fuse-overlayfs and /dev/fuse")
    base = healthy.home / "fusefs"
    for d in ("lower", "upper", "work", "mnt"):
        (base / d).mkdir(parents=True)
    os.chown(base / "upper", healthy.pw.pw_uid, healthy.pw.pw_gid)
    subprocess.run(["fuse-overlayfs", "-o", f"lowerdir={base}/lower,upperdir={base}/upper,workdir={base}/work,"
                    "allow_other", str(base / "mnt")], check=True, capture_output=True)
    try:
        yield base / "mnt"
    finally:
        subprocess.run(["umount", "-l", str(base / "mnt")], check=False)


def test_store_on_a_file_system_that_refuses_overlay(healthy, fuse_store, image_tar):
    store = fuse_store / "store"
    # left to choose, podpy takes fuse-overlayfs there and says why
    code, found = healthy.doctor(root=store)
    status, rest = found["storage"]
    assert status == "warn"
    assert rest.startswith(f"fuse-overlayfs for {store}: kernel overlay refused (cannot create overlay whiteouts: ")
    assert rest.endswith("fix: put the store on a local file system (ext4, xfs, btrfs): podpy --root DIR, or "
                         "graphroot in storage.conf")
    # overlay forced: the doctor fails it, and a container cannot start
    forced = fuse_store / "forced"
    assert healthy("import", image_tar, "busybox", root=forced, driver="overlay").returncode == 0
    code, found = healthy.doctor(root=forced, driver="overlay")
    assert code == 1
    status, rest = found["storage"]
    assert status == "fail" and rest.startswith(f"overlay is used for {forced} but the kernel refuses it there now "
                                                "(cannot create overlay whiteouts: ")
    res = _run(healthy, "--network", "none", root=forced, driver="overlay")
    lines = res.stderr.splitlines()
    assert res.returncode == 125
    assert re.fullmatch(rf"Error: mount `{forced}/containers/[0-9a-f]{{64}}/merged`: .*", lines[0]), lines
    assert lines[-1].startswith(f"Cause: the kernel refuses overlay mounts on the file system of the store {forced} "
                                "(cannot create overlay whiteouts: ")
    assert lines[-1].endswith("; `podpy system doctor` shows the fix")


NO_USERNS = textwrap.dedent("""\
    # Run argv in a new user namespace that maps every host id to itself and allows no user
    # namespace below it (user.max_user_namespaces=0 there).
    import ctypes, os, sys
    libc = ctypes.CDLL(None, use_errno=True)
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        if libc.unshare(0x10000000) != 0:
            os._exit(99)
        os.write(ready_w, b"1")
        os.read(go_r, 1)
        with open("/proc/sys/user/max_user_namespaces", "w") as f:
            f.write("0")
        os.execvp(sys.argv[1], sys.argv[1:])
    if os.read(ready_r, 1) != b"1":
        sys.exit(98)
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/{pid}/{name}", "w") as f:
            f.write("0 0 4294967295\\n")
    os.write(go_w, b"1")
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))
    """)


def test_user_namespaces_switched_off(healthy):
    wrapper = healthy.home / "no-userns.py"
    wrapper.write_text(NO_USERNS)
    healthy.wrap = [PYTHON, str(wrapper)]
    probe = subprocess.run([*healthy.wrap, "cat", "/proc/sys/user/max_user_namespaces"], capture_output=True,
                           text=True)
    if probe.returncode != 0 or probe.stdout.strip() != "0":
        pytest.skip(f"cannot make a user namespace with user.max_user_namespaces=0 here: {probe.stderr.strip()}")
    code, found = healthy.doctor()
    assert code == 1
    assert found["userns"] == ("fail", "the kernel refuses this user a user namespace because "
                                       "user.max_user_namespaces is 0 (unshare: No space left on device): no container "
                                       "can start; fix (administrator): sudo sysctl -w user.max_user_namespaces=15000")
    res = _run(healthy, "--network", "none")
    lines = res.stderr.splitlines()
    assert res.returncode == 125
    assert lines[0] == "Error: could not create a user namespace"
    assert lines[-1] == ("Cause: the kernel refuses this user a user namespace because user.max_user_namespaces is 0: "
                         "no container can start; `podpy system doctor` shows the fix")
    # nothing changed outside: the host's own limit is untouched
    with open("/proc/sys/user/max_user_namespaces") as f:
        assert f.read().strip() != "0"


def test_as_root_the_rootful_set_up_is_checked(tmp_path, tree):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(tree), "HOME": str(tmp_path)}
    res = subprocess.run([PYTHON, "-m", "podpy", "--root", str(tmp_path / "store"), "--runroot", str(tmp_path / "run"),
                          "system", "doctor"], capture_output=True, text=True, timeout=120, env=env)
    lines = res.stdout.splitlines()
    assert res.stderr == ""
    assert lines[0] == ("ok    mode         running as root: checking the rootful set-up (no user namespace, "
                        "subordinate ids or runtime directory of a user is involved)")
    checks = [line[6:17].strip() for line in lines]
    from rootless.cgroups import detect

    # with a cgroup to make containers' cgroups in, whether their first processes are born there
    fork_check = ["cgroup-fork"] if detect().writable else []
    assert checks == ["mode", "storage", "cgroups", *fork_check, "fuse", "limits", "disk", "security"]
    assert lines[1] == f"ok    storage      overlay for {tmp_path / 'store'}: kernel overlayfs works as root"
    assert res.returncode == (1 if any(line.startswith("fail") for line in lines) else 0)


def test_info_has_the_doctor_section(healthy):
    import json

    res = healthy("info", "--format", "json")
    assert res.returncode == 0, res.stderr
    section = json.loads(res.stdout)["doctor"]
    checks = [f["check"] for f in section]
    # info leaves out what needs a namespace of its own (idmap); the rest is the doctor's list
    assert checks == ["subuid", "subgid", "newuidmap", "newgidmap", "userns", "storage", "runtime-dir", "cgroups",
                      "fuse", "tun", "network", "linger", "limits", "disk", "security"]
    assert set(section[0]) == {"check", "status", "message", "fix", "admin"}
    assert section[4]["status"] == "ok" and section[4]["message"].startswith(
        "unprivileged user namespaces are allowed (user.max_user_namespaces=")
