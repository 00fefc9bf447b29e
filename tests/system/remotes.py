"""What the remote tests share: podpy's API service and podman 4.3.1's on private sockets, a
local registry holding busybox, and podman's remote client bound to a socket. The fixtures of
each test file import `service` and `podman_service` from here (module-scoped: one of each
per test file)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from apiservice import Service
from helpers import private_podman_env, run_command
from registry import LocalRegistry

PODMAN = shutil.which("podman")


def eventually(check, timeout=30, what="the condition"):
    """Wait for check() to hold (an AssertionError it raises counts as not yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except AssertionError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} did not hold within {timeout}s")


@pytest.fixture(scope="module")
def service(podpy, busybox):
    """podpy's `system service` on a private socket, busybox in its store; its containers
    removed at the end."""
    svc = Service(podpy)
    yield svc
    podpy("rm", "-af", check=False)
    assert svc.stop() == 0, svc.log.read_text()


def busybox_registry(tmp_path_factory, podpy, repo: str, tags=("1",)):
    """A plain-HTTP registry on 127.0.0.1 holding busybox as REPO:TAG for each tag."""
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is needed (installed by packaging/setup.sh test)")
    reg = LocalRegistry(tmp_path_factory.mktemp(f"{repo.replace('/', '-')}-registry"))
    for tag in tags:
        podpy("push", "--tls-verify=false", "busybox", f"{reg.host}/{repo}:{tag}", timeout=120)
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def podman_service(tmp_path_factory, image_tar):
    """podman 4.3.1's `system service` on a private store and socket, busybox imported:
    (the socket, podman's environment)."""
    if PODMAN is None:
        pytest.skip("podman is not installed: no podman service to talk to")
    home = tmp_path_factory.mktemp("podman-service")
    env = private_podman_env(home)
    imported = run_command([PODMAN, "import", image_tar, "localhost/busybox"], env=env, check=False, timeout=120)
    if imported.returncode != 0:
        pytest.skip(f"podman cannot import the test image here: {imported.stderr.strip()}")
    sock_dir = Path(tempfile.mkdtemp(prefix="podman-svc-", dir="/tmp"))
    sock = sock_dir / "podman.sock"
    log = open(home / "service.log", "wb")
    proc = subprocess.Popen([PODMAN, "system", "service", "--time", "0", f"unix://{sock}"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    eventually(lambda: sock.exists(), what="podman's service socket")
    yield sock, env
    proc.terminate()
    proc.wait(30)
    log.close()
    run_command([PODMAN, "rm", "-af"], env=env, check=False, timeout=120)
    run_command([PODMAN, "unshare", "rm", "-rf", str(home / "storage")], env=env, check=False)
    shutil.rmtree(sock_dir, ignore_errors=True)


def podman_client(service_sock, env: dict[str, str], timeout: int = 120):
    """podman's remote client against the service at service_sock."""
    if PODMAN is None:
        pytest.skip("podman is not installed: its remote client cannot be tried")

    def run(*args, check=True, timeout=timeout, input=None):
        return run_command([PODMAN, "--remote", "--url", f"unix://{service_sock}", *map(str, args)], env=env,
                           check=check, timeout=timeout, variant="podman", input=input)
    return run
