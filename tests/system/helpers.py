# Shared helpers for the system tests: running the podpy CLI against an isolated store, and environment probes.
"""Helpers for the system-test harness (see conftest.py for the fixtures).

Nothing here is a fixture; conftest.py builds the fixtures from these pieces,
and tests may import them directly (``from helpers import Podpy``).
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE_SCRIPT = REPO_ROOT / "packaging" / "make-busybox-image.sh"

VARIANTS = ("installed", "zipapp")
DRIVERS = ("overlay", "fuse-overlayfs", "vfs")
SUBID_FILES = ("/etc/subuid", "/etc/subgid")

# Interpreter the zipapp variant runs under: the distribution's, with nothing installed.
DEFAULT_ZIPAPP_PYTHON = "/usr/bin/python3"


# ------------------------------------------------------------------ running --


def _decode(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return data


def describe_run(argv: Sequence[str], returncode: int | None, stdout: str, stderr: str,
                 headline: str, variant: str | None = None) -> str:
    """A readable failure message: command, exit code, stdout and stderr."""
    lines = [headline, f"command: {shlex.join(argv)}"]
    if variant:
        lines.append(f"variant: {variant}")
    if returncode is not None:
        lines.append(f"exit code: {returncode}")
    lines += ["--- stdout ---", stdout.rstrip("\n") or "(empty)",
              "--- stderr ---", stderr.rstrip("\n") or "(empty)"]
    return "\n".join(lines)


def run_command(argv: Sequence[str], *, env: Mapping[str, str], input: str | None = None,
                timeout: float = 60, check: bool = True, cwd: str | os.PathLike | None = None,
                variant: str | None = None) -> subprocess.CompletedProcess:
    """Run argv and capture its output as text.

    Output goes through temporary files rather than pipes, so a background
    process that inherits them (a container left running, say) cannot make
    the call hang after the command itself has finished.  On timeout the
    command's whole process group is killed and the test fails.
    """
    argv = [os.fspath(a) for a in argv]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=out, stderr=err, env=dict(env), cwd=cwd,
            start_new_session=True,
        )
        timed_out = False
        try:
            proc.communicate(input.encode() if input is not None else None, timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        out.seek(0)
        err.seek(0)
        stdout = _decode(out.read())
        stderr = _decode(err.read())

    if timed_out:
        pytest.fail(describe_run(argv, None, stdout, stderr,
                                 f"timed out after {timeout} s", variant))
    result = subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)
    if check and result.returncode != 0:
        pytest.fail(describe_run(argv, result.returncode, stdout, stderr,
                                 f"command failed with exit code {result.returncode}", variant))
    return result


@dataclass
class Podpy:
    """The podpy CLI bound to one store.

    Calling it runs ``podpy ARGS...`` with XDG_DATA_HOME and XDG_CONFIG_HOME
    pointing into ``home`` (XDG_RUNTIME_DIR comes from the environment) and
    returns a text-mode CompletedProcess.
    """

    variant: str
    argv: list[str]
    home: Path
    base_env: dict[str, str] = field(default_factory=dict)
    driver: str | None = None

    @property
    def data_home(self) -> Path:
        return self.home / "data"

    @property
    def config_home(self) -> Path:
        return self.home / "config"

    def __post_init__(self) -> None:
        for sub in ("data", "config", "cache", "state"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        if self.driver is not None:
            write_storage_conf(self.config_home, self.driver)

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(self.base_env)
        env.update({
            "XDG_DATA_HOME": str(self.data_home),
            "XDG_CONFIG_HOME": str(self.config_home),
            "XDG_CACHE_HOME": str(self.home / "cache"),
            "XDG_STATE_HOME": str(self.home / "state"),
        })
        if extra:
            env.update(extra)
        return env

    def command(self, *args: object) -> list[str]:
        """The full argv for ``podpy ARGS...`` (for pexpect or Popen)."""
        return [*self.argv, *(os.fspath(a) if isinstance(a, os.PathLike) else str(a) for a in args)]

    def __call__(self, *args: object, input: str | None = None, timeout: float = 60,
                 check: bool = True, env: Mapping[str, str] | None = None,
                 cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
        return run_command(self.command(*args), env=self.environ(env), input=input,
                           timeout=timeout, check=check, variant=self.variant, cwd=cwd)

    def __repr__(self) -> str:
        driver = f", driver={self.driver}" if self.driver else ""
        return f"<Podpy {self.variant}{driver} at {self.home}>"


def write_storage_conf(config_home: Path, driver: str) -> Path:
    """Force a storage driver for the store that uses config_home."""
    if driver not in DRIVERS:
        raise ValueError(f"unknown storage driver {driver!r} (known: {', '.join(DRIVERS)})")
    path = Path(config_home) / "podpy" / "storage.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[storage]\ndriver = "{driver}"\n')
    return path


# --------------------------------------------------------------- variants --


def command_for_variant(variant: str) -> tuple[list[str] | None, str]:
    """Return (argv prefix, "") for a usable variant, or (None, reason)."""
    if variant == "installed":
        exe = shutil.which("podpy")
        if exe is None:
            return None, ("the podpy command is not on PATH "
                          "(install the project, e.g. with packaging/setup.sh)")
        return [exe], ""
    if variant == "zipapp":
        pyz = os.environ.get("PODPY_ZIPAPP", "")
        if not pyz:
            return None, ("PODPY_ZIPAPP is not set "
                          "(build one with packaging/build_zipapp.py and point it there)")
        if not os.path.isfile(pyz):
            return None, f"PODPY_ZIPAPP={pyz} does not exist"
        python = os.environ.get("PODPY_ZIPAPP_PYTHON", DEFAULT_ZIPAPP_PYTHON)
        if not os.access(python, os.X_OK):
            return None, f"{python} (interpreter for the zipapp) is missing"
        return [python, os.path.abspath(pyz)], ""
    raise ValueError(f"unknown variant {variant!r}")


# ------------------------------------------------------------ environment --


def current_user() -> tuple[str, int]:
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name, uid
    except KeyError:
        return str(uid), uid


def subid_count(path: str, name: str, uid: int) -> int:
    """How many subordinate ids the user owns in path (by name or by number)."""
    total = 0
    try:
        with open(path) as fh:
            for line in fh:
                parts = line.strip().split(":")
                if len(parts) != 3 or parts[0] not in (name, str(uid)):
                    continue
                if parts[2].isdigit():
                    total += int(parts[2])
    except FileNotFoundError:
        return 0
    return total


def rootless_skip_reason() -> str | None:
    """Why rootless system tests cannot run here, or None when they can."""
    name, uid = current_user()
    if os.geteuid() == 0:
        return ("system tests must run as an unprivileged user, not root "
                "(sudo bash packaging/setup.sh test runs them as podpy-test)")
    missing = [tool for tool in ("newuidmap", "newgidmap") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not found on PATH (Debian package uidmap)"
    for path in SUBID_FILES:
        if subid_count(path, name, uid) == 0:
            return f"user {name} (uid {uid}) has no subordinate id range in {path}"
    return None


def runtime_dir_problem(path: str | None) -> str | None:
    if not path:
        return "XDG_RUNTIME_DIR is not set"
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"XDG_RUNTIME_DIR={path}: {exc.strerror}"
    if st.st_uid != os.getuid():
        return f"XDG_RUNTIME_DIR={path} is not owned by uid {os.getuid()}"
    return None


_overlay_probe: dict[str, str | None] = {}


def driver_skip_reason(driver: str, scratch: Path) -> str | None:
    """Why a storage driver cannot work on this machine, or None."""
    if driver == "vfs":
        return None
    if driver == "fuse-overlayfs":
        if shutil.which("fuse-overlayfs") is None:
            return "fuse-overlayfs is not installed"
        if not os.access("/dev/fuse", os.R_OK | os.W_OK):
            return "/dev/fuse is not readable and writable by this user (mode 0666 is needed)"
        return None
    if driver == "overlay":
        if "overlay" not in _overlay_probe:
            _overlay_probe["overlay"] = probe_rootless_overlay(scratch)
        return _overlay_probe["overlay"]
    raise ValueError(f"unknown storage driver {driver!r}")


def probe_rootless_overlay(scratch: Path) -> str | None:
    """Try a kernel overlay mount in a user namespace below scratch."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return "unshare (util-linux) is not installed; cannot probe rootless overlay"
    base = Path(tempfile.mkdtemp(prefix="overlay-probe.", dir=scratch))
    try:
        for sub in ("lower", "upper", "work", "merged"):
            (base / sub).mkdir()
        opts = f"lowerdir={base}/lower,upperdir={base}/upper,workdir={base}/work,userxattr"
        proc = subprocess.run(
            [unshare, "--user", "--map-root-user", "--mount",
             "mount", "-t", "overlay", "overlay", "-o", opts, str(base / "merged")],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
        )
        if proc.returncode != 0:
            return ("the kernel refuses overlay mounts in a user namespace here: "
                    + (proc.stderr.strip() or f"exit {proc.returncode}"))
        return None
    finally:
        remove_tree(base)


def remove_tree(path: Path) -> bool:
    """Delete path, including files owned by subordinate ids. True when gone."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return True
    shutil.rmtree(path, ignore_errors=True)
    if not path.exists():
        return True
    # What is left belongs to subordinate ids: delete it as root of a user
    # namespace that maps them (like "podman unshare rm -rf").
    unshare = shutil.which("unshare")
    if unshare is not None and os.geteuid() != 0:
        subprocess.run(
            [unshare, "--user", "--map-root-user", "--map-auto",
             "rm", "-rf", "--one-file-system", str(path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, timeout=300, check=False,
        )
    return not path.exists()



def own_store_fixtures(label: str):
    """The `podpy` and `busybox` fixtures of a test module whose clients (docker, compose)
    add, rename and remove images freely: each build of podpy with a store and runtime
    directory of the module's own, busybox imported, so that what the module does cannot reach
    the session's store, nor the session's store's other names reach the module's tests.

        podpy, busybox = own_store_fixtures("api")
    """
    import pytest

    @pytest.fixture(scope="module", params=VARIANTS, ids=VARIANTS)
    def podpy(request, tmp_path_factory, base_env, image_tar):
        argv, reason = command_for_variant(request.param)
        if argv is None:
            pytest.skip(f"{request.param} variant skipped: {reason}")
        home = tmp_path_factory.mktemp(f"{label}-{request.param}")
        runtime = home / "run"
        runtime.mkdir(mode=0o700)
        runner = Podpy(variant=request.param, argv=argv, home=home,
                       base_env={**base_env, "XDG_RUNTIME_DIR": str(runtime)})
        runner("import", image_tar, "busybox", timeout=300)
        yield runner
        runner("rm", "-a", "-f", "-t", "0", check=False)
        runner("pod", "rm", "-a", "-f", check=False)
        remove_tree(home)

    @pytest.fixture(scope="module")
    def busybox(podpy):
        return "busybox"

    return podpy, busybox


def settled_state(tool, name: str, timeout: float = 10.0) -> str:
    """The state of an ended container once it is settled. podman shows "stopped" until the
    clean-up command that conmon runs at the container's exit (`podman container cleanup`) is
    done; on a busy machine that can take long, so after timeout this runs that command itself,
    as conmon would have."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        state = tool("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
        if state != "stopped":
            return state
        if time.monotonic() > deadline:
            done = tool("container", "cleanup", name, check=False)
            state = tool("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
            assert state != "stopped", f"{name} stays stopped after `container cleanup`: {done.stderr}"
            return state
        time.sleep(0.05)


def private_podman_env(home: Path) -> dict[str, str]:
    """The environment of a podman 4.3.1 on a private store under home (runc, cgroupfs, file
    events: what a hybrid-cgroup host needs)."""
    conf = home / "config" / "containers"
    conf.mkdir(parents=True)
    (conf / "containers.conf").write_text('[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n'
                                          'events_logger = "file"\n')
    (conf / "storage.conf").write_text(f'[storage]\ndriver = "overlay"\ngraphroot = "{home}/storage"\n'
                                       f'runroot = "{home}/run"\n')
    return dict(os.environ, XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"))
