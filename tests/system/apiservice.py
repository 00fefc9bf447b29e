"""`podpy system service` for the tests: started on a private socket, driven by the real docker
CLI and by raw HTTP over the unix socket."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DOCKER_CLIS = {"docker20": "/usr/bin/docker", "docker28": "/usr/local/bin/docker"}


def docker_cli(name: str) -> str | None:
    path = DOCKER_CLIS[name]
    return path if os.access(path, os.X_OK) else None


class UnixConnection(http.client.HTTPConnection):
    """http.client over a unix socket."""

    def __init__(self, path: str, timeout: float = 60) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Service:
    """A running `podpy system service --time 0 unix://SOCKET` of one podpy fixture's store."""

    def __init__(self, podpy, extra_args: tuple[str, ...] = ("--time", "0")) -> None:
        # a short directory: a unix socket's path must fit in 108 bytes
        self.dir = Path(tempfile.mkdtemp(prefix="podpy-api-", dir="/tmp"))
        self.sock = str(self.dir / "api.sock")
        self.config = self.dir / "docker-config"
        self.config.mkdir()
        self.log = self.dir / "service.log"
        self.podpy = podpy
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(podpy.command("system", "service", *extra_args, f"unix://{self.sock}"),
                                         env=podpy.environ(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited ({self.proc.returncode}): {self.log.read_text()}")
            try:
                if self.request("GET", "/_ping")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the service did not answer /_ping: " + self.log.read_text())

    @property
    def env(self) -> dict[str, str]:
        return dict(self.podpy.environ(), DOCKER_HOST=f"unix://{self.sock}", DOCKER_CONFIG=str(self.config))

    def request(self, method: str, path: str, body=None, timeout: float = 60,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, http.client.HTTPResponse]:
        conn = UnixConnection(self.sock, timeout)
        try:
            data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
            conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
            resp = conn.getresponse()
            return resp.status, resp.read(), resp
        finally:
            conn.close()

    def json(self, method: str, path: str, body=None, expect: int = 200):
        status, data, _ = self.request(method, path, body)
        assert status == expect, f"{method} {path}: {status} {data!r}"
        return json.loads(data) if data.strip() else None

    def docker(self, cli: str, *args: str, check: bool = True, timeout: float = 120,
               input: str | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([cli, *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                              input=input, stdin=None if input is not None else subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {proc.returncode}\nstdout: {proc.stdout}\n"
                                 f"stderr: {proc.stderr}\nservice log: {self.log.read_text()[-3000:]}")
        return proc

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode
