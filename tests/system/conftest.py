# System-test harness: fixtures that run the real podpy CLI, rootless, against isolated stores.
"""Fixtures for the rootless system tests.

These tests run the real CLI as an unprivileged user (``sudo bash
packaging/setup.sh test`` runs them as podpy-test).  The whole directory is
skipped, with the reason shown, when run as root or without newuidmap or a
subordinate id range.

Fixtures:

``podpy``
    Session-scoped callable ``podpy(*args, input=None, timeout=60,
    check=True, env=None)`` returning a text-mode CompletedProcess.  It is
    parametrized over the two builds of the CLI, ``installed`` (the podpy
    command on PATH) and ``zipapp`` (``/usr/bin/python3 $PODPY_ZIPAPP``), each
    with its own store.  With check=True a non-zero exit fails the test and
    shows the command, exit code, stdout and stderr.  A test can pin one
    variant with ``@pytest.mark.parametrize("podpy", ["zipapp"], indirect=True)``.
``image_tar``
    The busybox root file system tarball ($PODPY_TEST_IMAGE_TAR, or built
    with packaging/make-busybox-image.sh when that is unset).
``busybox``
    The image name "busybox" (localhost/busybox:latest), imported once per
    ``podpy`` variant.
``podpy_driver``
    Parametrized over the storage drivers overlay, fuse-overlayfs and vfs: a
    ``podpy``-like callable (installed variant) with a fresh store that is
    forced to that driver, busybox already imported.  Skipped, with the
    reason, when the machine cannot support the driver.
``new_podpy``
    Factory for more fresh stores: ``new_podpy(driver=None, variant="installed")``.

Environment: PODPY_TEST_IMAGE_TAR, PODPY_ZIPAPP, PODPY_ZIPAPP_PYTHON (default
/usr/bin/python3), XDG_RUNTIME_DIR (kept; a private one is made when unset),
SHIV_ROOT (kept; otherwise the zipapp unpacks below the session's temporary
directory).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from helpers import (
    DRIVERS,
    IMAGE_SCRIPT,
    VARIANTS,
    Podpy,
    command_for_variant,
    driver_skip_reason,
    remove_tree,
    rootless_skip_reason,
    runtime_dir_problem,
)

HERE = Path(__file__).resolve().parent


def pytest_runtestloop(session):
    """With PODPY_TEST_QUEUE set, the run is shared with other pytest processes (workqueue)."""
    import workqueue

    return workqueue.runtestloop(session)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.system)


# ------------------------------------------------------------- environment --


@pytest.fixture(scope="session", autouse=True)
def rootless_environment():
    """Skip every system test, with the reason, where rootless cannot work."""
    reason = rootless_skip_reason()
    if reason:
        pytest.skip(f"rootless system tests skipped: {reason}")


@pytest.fixture(scope="session")
def harness_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("podpy-harness")


@pytest.fixture(scope="session")
def base_env(harness_tmp) -> dict[str, str]:
    """The environment every podpy call starts from."""
    env = dict(os.environ)
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime_dir_problem(runtime):
        # No usable login runtime directory: make a private one.
        runtime_dir = harness_tmp / "run"
        runtime_dir.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime_dir)
    if "SHIV_ROOT" not in env:
        env["SHIV_ROOT"] = str(harness_tmp / "shiv")
    return env


def _make_podpy(variant: str, home: Path, base_env: dict[str, str],
                driver: str | None = None) -> Podpy:
    argv, reason = command_for_variant(variant)
    if argv is None:
        if variant == "installed":
            pytest.fail(f"cannot run the installed podpy: {reason}", pytrace=False)
        pytest.skip(f"{variant} variant skipped: {reason}")
    return Podpy(variant=variant, argv=argv, home=home, base_env=base_env, driver=driver)


# ------------------------------------------------------------------- podpy --


@pytest.fixture(scope="session", params=VARIANTS, ids=VARIANTS)
def podpy(request, tmp_path_factory, base_env):
    """The CLI (one build per parameter) with a session-wide isolated store."""
    variant = request.param
    home = tmp_path_factory.mktemp(f"store-{variant}")
    runner = _make_podpy(variant, home, base_env)
    yield runner
    remove_tree(home)


@pytest.fixture(scope="session")
def image_tar(tmp_path_factory) -> Path:
    """The busybox image tarball."""
    configured = os.environ.get("PODPY_TEST_IMAGE_TAR")
    if configured:
        path = Path(configured)
        if not path.is_file():
            pytest.fail(f"PODPY_TEST_IMAGE_TAR={configured} does not exist", pytrace=False)
        return path
    if not IMAGE_SCRIPT.is_file():
        pytest.skip(f"PODPY_TEST_IMAGE_TAR is not set and {IMAGE_SCRIPT} is missing")
    out = tmp_path_factory.mktemp("image") / "busybox.tar"
    # The script needs root, or (as here) unshare --map-auto and a subuid range.
    proc = subprocess.run(["bash", str(IMAGE_SCRIPT), str(out)],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0 or not out.is_file():
        pytest.skip("PODPY_TEST_IMAGE_TAR is not set and building the image failed: "
                    + (proc.stderr.strip() or f"exit {proc.returncode}"))
    return out


@pytest.fixture(scope="session")
def busybox(podpy, image_tar) -> str:
    """Import the busybox image once per variant; its name is "busybox"."""
    podpy("import", image_tar, "busybox", timeout=300)
    return "busybox"


# ---------------------------------------------------------- fresh stores --


@pytest.fixture
def new_podpy(tmp_path, base_env):
    """Factory: new_podpy(driver=None, variant="installed") -> a fresh store."""
    made: list[Path] = []

    def make(driver: str | None = None, variant: str = "installed") -> Podpy:
        home = tmp_path / f"store-{len(made)}-{variant}-{driver or 'default'}"
        home.mkdir()
        made.append(home)
        return _make_podpy(variant, home, base_env, driver=driver)

    yield make
    for home in made:
        remove_tree(home)


@pytest.fixture(params=DRIVERS, ids=DRIVERS)
def podpy_driver(request, new_podpy, image_tar, harness_tmp) -> Podpy:
    """A fresh store forced to one storage driver, with busybox imported."""
    driver = request.param
    reason = driver_skip_reason(driver, harness_tmp)
    if reason:
        pytest.skip(f"storage driver {driver} unavailable: {reason}")
    runner = new_podpy(driver=driver)
    runner("import", image_tar, "busybox", timeout=300)
    return runner


# ------------------------------------------------------------------ podman --


@pytest.fixture(scope="module")
def podman(tmp_path_factory, image_tar):
    """podman 4.3.1 on a private store (runc, cgroupfs, file events: what a hybrid-cgroup host
    needs), with the busybox image as localhost/busybox; a callable like the podpy fixture's,
    for tests that compare podpy's output with podman's."""
    import shutil as _shutil

    from helpers import private_podman_env, run_command

    binary = _shutil.which("podman")
    if binary is None:
        pytest.skip("podman is not installed: nothing to compare with")
    home = tmp_path_factory.mktemp("podman")
    env = private_podman_env(home)

    def podman(*args, check=True, timeout=120, input=None):
        return run_command([binary, *map(str, args)], env=env, check=check, timeout=timeout, variant="podman",
                           input=input)

    imported = podman("import", image_tar, "localhost/busybox", check=False)
    if imported.returncode != 0:
        pytest.skip(f"podman cannot import the test image here: {imported.stderr.strip()}")
    yield podman
    podman("rm", "-a", "-f", check=False)
    podman("secret", "rm", "-a", check=False)
    run_command([binary, "unshare", "rm", "-rf", str(home / "storage")], env=env, check=False)
