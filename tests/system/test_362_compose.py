"""docker-compose 1.29 (Debian's) against the API service, and `podpy compose`: an application
of three services (one built from a Containerfile, one with a healthcheck that another waits
for, a named volume, a published port), which reach each other by name on the project's
network; up -d, ps, logs, exec, down -v."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from helpers import own_store_fixtures

from apiservice import Service
from registry import free_port

COMPOSE = shutil.which("docker-compose") or "/usr/bin/docker-compose"

APP = """\
version: "2.4"
services:
  db:
    image: localhost/busybox
    command: ["sh", "-c", "echo db starting; echo ready > /data/state; exec httpd -f -p 9000 -h /data"]
    volumes:
      - data:/data
    healthcheck:
      test: ["CMD", "test", "-f", "/data/state"]
      interval: 1s
      timeout: 5s
      retries: 30
  web:
    build:
      context: ./web
      dockerfile: Containerfile
      args:
        MSG: composed
    ports:
      - "{port}:8080"
    depends_on:
      db:
        condition: service_healthy
  client:
    image: localhost/busybox
    command: ["sleep", "3600"]
    depends_on:
      - web
volumes:
  data:
"""
CONTAINERFILE = """\
FROM localhost/busybox
ARG MSG=default
RUN mkdir /www && echo "hello from web $MSG" > /www/index.html
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
"""



# clients that tag, remove and prune images: a store of the module's own
podpy, busybox = own_store_fixtures("compose")

@pytest.fixture(scope="module")
def service(podpy, busybox):
    if not os.access(COMPOSE, os.X_OK):
        pytest.skip("docker-compose is needed (installed by packaging/setup.sh test)")
    svc = Service(podpy)
    yield svc
    assert svc.stop() == 0, svc.log.read_text()


def _app(tmp_path: Path) -> tuple[Path, int]:
    port = free_port()
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Containerfile").write_text(CONTAINERFILE)
    (tmp_path / "docker-compose.yml").write_text(APP.replace("{port}", str(port)))
    return tmp_path, port


def _run(argv: list[str], env: dict[str, str], cwd: Path, check: bool = True,
         timeout: float = 240) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}\nstdout: {proc.stdout}\n"
                             f"stderr: {proc.stderr}")
    return proc


def _get(port: int) -> str:
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                return resp.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _exercise(compose, project: str, port: int, service, waits_for_health: bool = True) -> None:
    """up -d, ps, exec (names resolved on the project network), the published port, logs, down -v."""
    compose("up", "-d")
    ps = compose("ps").stdout
    for name in ("client", "db", "web"):
        line = next(l for l in ps.splitlines() if f"{project}_{name}_1" in l)
        assert " Up" in line, ps
    assert f"0.0.0.0:{port}->8080/tcp" in ps
    if waits_for_health:
        assert "(healthy)" in ps
    assert compose("exec", "-T", "client", "wget", "-qO-", "http://db:9000/state").stdout == "ready\n"
    assert compose("exec", "-T", "client", "wget", "-qO-", "http://web:8080/").stdout == "hello from web composed\n"
    assert _get(port) == "hello from web composed\n"
    assert compose("exec", "-T", "client", "sh", "-c", "exit 7", check=False).returncode == 7
    assert "db starting" in compose("logs", "--no-color", "db").stdout
    vols = [v["Name"] for v in service.json("GET", "/volumes")["Volumes"]]
    assert f"{project}_data" in vols
    compose("down", "-v")
    left = [c["Names"] for c in service.json("GET", "/containers/json?all=1")
            if any(n.startswith(f"/{project}_") for n in c["Names"])]
    assert left == []
    assert f"{project}_data" not in [v["Name"] for v in service.json("GET", "/volumes")["Volumes"]]
    assert f"{project}_default" not in [n["Name"] for n in service.json("GET", "/networks")]


def test_docker_compose_up_ps_exec_logs_down(service, tmp_path):
    app, port = _app(tmp_path)
    project = "apptest"

    def compose(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run([COMPOSE, "-p", project, *args], service.env, app, check)

    try:
        _exercise(compose, project, port, service)
    finally:
        compose("down", "-v", check=False)


LINKED = """\
version: "3"
services:
  db:
    image: localhost/busybox
    command: ["sleep", "3600"]
  web:
    image: localhost/busybox
    command: ["sleep", "3600"]
    links:
      - db
      - db:database
"""


def test_docker_compose_links_and_run_while_up(service, tmp_path):
    """links: (and `run`, which links the service's dependencies) are accepted: an alias the
    network's DNS does not answer is a line of /etc/hosts with the target's address."""
    (tmp_path / "docker-compose.yml").write_text(LINKED)

    def compose(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run([COMPOSE, "-p", "linktest", *args], service.env, tmp_path, check)

    try:
        compose("up", "-d")
        db = service.json("GET", "/containers/linktest_db_1/json")
        address = db["NetworkSettings"]["Networks"]["linktest_default"]["IPAddress"]
        hosts = compose("exec", "-T", "web", "cat", "/etc/hosts").stdout
        assert f"{address}\tdatabase" in hosts.splitlines(), hosts
        out = compose("run", "--rm", "web", "sh", "-c", "grep -w database /etc/hosts; echo ran").stdout
        assert out.split() == [address, "database", "ran"]
    finally:
        compose("down", check=False)


def test_podpy_compose_runs_the_provider_against_a_service_of_its_own(podpy, service, tmp_path):
    app, port = _app(tmp_path)
    project = "viapodpy"
    # docker-compose's own builder this time (docker-py's POST /build), not the docker CLI's
    env = dict(podpy.environ(), COMPOSE_DOCKER_CLI_BUILD="0")
    env.pop("DOCKER_HOST", None)

    def compose(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run(podpy.command("compose", "-p", project, *args), env, app, check)

    try:
        _exercise(compose, project, port, service)
    finally:
        compose("down", "-v", check=False)
    # the service's socket is gone with the command
    run_dir = Path(env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}") / "podpy"
    assert not list(run_dir.glob("compose-*.sock"))


def test_podman_compose_through_podpy_compose(podpy, service, tmp_path):
    """podman-compose runs podpy's CLI (pods, networks with aliases, `wait --condition=running`)
    as its podman: `podpy compose` gives it podpy as --podman-path."""
    provider = Path(sys.executable).parent / "podman-compose"
    if not os.access(provider, os.X_OK):
        pytest.skip("podman-compose is not installed in the tests' environment (pip install podman-compose)")
    app, port = _app(tmp_path)
    project = "viapodmancompose"
    env = dict(podpy.environ(), PODPY_COMPOSE_PROVIDER=str(provider))

    def compose(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run(podpy.command("compose", "-p", project, *args), env, app, check)

    try:
        # podman-compose does not wait for a healthcheck of podpy's (it checks podman's version)
        _exercise(compose, project, port, service, waits_for_health=False)
    finally:
        compose("down", "-v", check=False)
    pods = service.podpy("pod", "ps", "--format", "{{.Name}}").stdout.split()
    assert f"pod_{project}" not in pods


def test_podpy_compose_without_a_provider(podpy, tmp_path):
    env = dict(podpy.environ(), PATH=str(tmp_path))
    res = subprocess.run(podpy.command("compose", "up"), env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 125
    assert res.stderr.strip().startswith("Error: no compose provider found: install docker-compose")
    assert len(res.stderr.strip().splitlines()) == 1
    env = dict(podpy.environ(), PODPY_COMPOSE_PROVIDER="no-such-compose")
    res = subprocess.run(podpy.command("compose", "up"), env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 125 and "PODPY_COMPOSE_PROVIDER=no-such-compose" in res.stderr


def test_compose_version_passes_through(podpy, service):
    res = subprocess.run(podpy.command("compose", "version", "--short"), env=podpy.environ(),
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == "1.29.2", res.stderr


def test_wait_for_the_running_condition_returns_at_once(podpy, busybox):
    """What podman-compose asks before it starts a service that depends on another: podman
    prints -1 for a container that runs (no exit code yet)."""
    cid = podpy("run", "-d", "--network", "none", busybox, "sleep", "60").stdout.strip()
    try:
        res = podpy("wait", "--condition=running", cid, timeout=20)
        assert res.stdout.strip() == "-1"
    finally:
        podpy("rm", "-f", "-t", "0", cid)
