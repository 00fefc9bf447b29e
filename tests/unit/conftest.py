"""Shared fixtures of the unit tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REGISTRY_BINARY = "/usr/bin/docker-registry"


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[object]:
    """The engine's runtime over a new store in tmp_path: the vfs driver, as root (no user
    namespace, no kernel mounts). A test file that needs more in it overrides this fixture
    with one that takes it (`def rt(rt): ...`)."""
    from podpy.config import Config
    from podpy.engine.context import Runtime

    cfg = Config(rootless=False, root=str(tmp_path / "root"), runroot=str(tmp_path / "run"),
                 config_dir=str(tmp_path / "config"))
    cfg.driver, cfg.driver_source = "vfs", "the test"
    runtime = Runtime(cfg)
    yield runtime
    runtime.db.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def real_registry(tmp_path: Path) -> Iterator[str]:
    """A docker-registry on 127.0.0.1 storing under tmp_path; yields its host:port."""
    if not os.path.exists(REGISTRY_BINARY):
        print(f"skipping: {REGISTRY_BINARY} is not installed (Debian package docker-registry)")
        pytest.skip(f"{REGISTRY_BINARY} is not installed")
    port = _free_port()
    config = tmp_path / "config.yml"
    config.write_text(f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {tmp_path / 'data'}
http:
  addr: 127.0.0.1:{port}
""")
    with open(tmp_path / "registry.log", "wb") as log:
        proc = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)], stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("docker-registry did not start: " + (tmp_path / "registry.log").read_text())
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    shutil.rmtree(tmp_path / "data", ignore_errors=True)
