#!/usr/bin/env python3
"""The Docker-compatible API service: podpy's beside `podman system service`, driven alike.

Run it as an unprivileged user with subordinate ids (the test user works), with the docker
CLI installed (Debian's docker.io):

    python3 bench/api.py --image-tar /opt/podpy/images/busybox.tar

1. `docker run --rm busybox true` through each service's socket: median wall time.
   Target: podpy at most 0.5 x podman.
2. `GET /_ping` on a kept-alive connection: median round trip. Target: under 1 ms.
3. Socket activation: a connection to a listening socket nobody serves yet; the socket is
   handed to a new service as fd 3 (LISTEN_FDS=1, as systemd does) when the connection
   arrives; the time from the connection to the answer of its `GET /_ping` (median of 5).
   Target: at most 150 ms.
4. Memory (PSS) of the service process with 10 clients attached to a running container
   and idle. Target: no more than podman's.

Both tools get a fresh store in a temporary directory and the same image.
"""

from __future__ import annotations

import argparse
import http.client
import os
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _podman import podman_env  # noqa: E402

DOCKER = shutil.which("docker") or "/usr/bin/docker"


class Unix(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def wait_for(path: str, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited ({proc.returncode})")
        try:
            conn = Unix(path)
            conn.request("GET", "/_ping")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not answer")


def docker_runs(sock: str, runs: int) -> float:
    env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        res = subprocess.run([DOCKER, "run", "--rm", "busybox", "true"], env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if res.returncode != 0:
            sys.exit(f"docker run through {sock} failed: {res.stderr.strip()}")
    return statistics.median(times[1:])   # the first warms caches


def ping_median(sock: str, count: int = 500) -> float:
    conn = Unix(sock)
    times = []
    for _ in range(count):
        start = time.perf_counter()
        conn.request("GET", "/_ping")
        conn.getresponse().read()
        times.append(time.perf_counter() - start)
    conn.close()
    return statistics.median(times)


def activation(argv: list[str], env: dict[str, str], folder: Path) -> float:
    """Time from a client's connection on an unserved socket to its /_ping answer, the
    service being started (with the socket as fd 3) when the connection arrives."""
    path = str(folder / "act.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(8)
    launcher = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.environ['LISTEN_PID'] = str(os.getpid()); "
                "os.execvpe(sys.argv[2], sys.argv[2:], os.environ)")
    client = socket.socket(socket.AF_UNIX)
    start = time.perf_counter()
    client.connect(path)
    client.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
    select.select([listener], [], [], 10)   # what systemd waits for
    proc = subprocess.Popen([sys.executable, "-c", launcher, str(listener.fileno()), *argv],
                            env=dict(env, LISTEN_FDS="1"), pass_fds=(listener.fileno(),),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reply = client.recv(4096)
    took = time.perf_counter() - start
    client.close()
    listener.close()
    proc.terminate()
    proc.wait(timeout=30)
    os.unlink(path)
    if b" 200 " not in reply.split(b"\r\n")[0]:
        sys.exit(f"activation: unexpected answer {reply[:80]!r}")
    return took


def pss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def attached_memory(sock: str, pid: int, clients: int = 10) -> int:
    """The service's PSS with `clients` attach streams open on one running container."""
    import json

    conn = Unix(sock)
    conn.request("POST", "/containers/create", body=json.dumps({"Image": "busybox", "Cmd": ["sleep", "300"]}),
                 headers={"Content-Type": "application/json"})
    cid = json.loads(conn.getresponse().read())["Id"]
    conn.request("POST", f"/containers/{cid}/start")
    conn.getresponse().read()
    held = []
    for _ in range(clients):
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.sendall(f"POST /containers/{cid}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\n"
                  "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode())
        s.recv(4096)
        held.append(s)
    time.sleep(2)
    kb = pss_kb(pid)
    for s in held:
        s.close()
    conn.request("DELETE", f"/containers/{cid}?force=1")
    conn.getresponse().read()
    conn.close()
    return kb


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--image-tar", default="/opt/podpy/images/busybox.tar")
    ap.add_argument("--podpy", default="podpy", help="the podpy command (default: podpy on PATH)")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    podpy = args.podpy.split()
    work = Path(tempfile.mkdtemp(prefix="podpy-bench-api-", dir="/tmp"))
    procs: list[subprocess.Popen] = []
    try:
        penv = dict(os.environ, XDG_DATA_HOME=str(work / "pd-data"), XDG_CONFIG_HOME=str(work / "pd-config"))
        subprocess.run(podpy + ["import", args.image_tar, "busybox"], env=penv, check=True, capture_output=True)
        menv = podman_env(work / "podman")
        have_podman = shutil.which("podman") is not None
        if have_podman:
            subprocess.run(["podman", "import", args.image_tar, "docker.io/library/busybox:latest"], env=menv,
                           check=True, capture_output=True)
        pd_sock, pm_sock = str(work / "podpy.sock"), str(work / "podman.sock")
        pd = subprocess.Popen(podpy + ["system", "service", "--time", "0", f"unix://{pd_sock}"], env=penv,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(pd)
        wait_for(pd_sock, pd, "podpy system service")
        pm = None
        if have_podman:
            pm = subprocess.Popen(["podman", "system", "service", "--time", "0", f"unix://{pm_sock}"], env=menv,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(pm)
            wait_for(pm_sock, pm, "podman system service")

        def line(what: str, mine: float, theirs: float | None, unit: str, scale: float = 1.0) -> None:
            if theirs:
                print(f"{what:<50} podpy {mine * scale:8.2f} {unit}   podman {theirs * scale:8.2f} {unit}"
                      f"   ratio {mine / theirs:.2f}")
            else:
                print(f"{what:<50} podpy {mine * scale:8.2f} {unit}")

        line("docker run --rm busybox true (median)", docker_runs(pd_sock, args.runs),
             docker_runs(pm_sock, args.runs) if pm else None, "ms", 1000)
        line("GET /_ping kept alive (median)", ping_median(pd_sock), ping_median(pm_sock) if pm else None, "ms",
             1000)
        def activations(argv: list[str], env: dict[str, str]) -> float:
            return statistics.median(activation(argv, env, work) for _ in range(5))

        line("socket activation: connection -> answer (median)",
             activations(podpy + ["system", "service", "--time", "2"], penv),
             activations(["podman", "system", "service", "--time", "2"], menv) if pm else None, "ms", 1000)
        line("service PSS, 10 idle attached clients", attached_memory(pd_sock, pd.pid),
             attached_memory(pm_sock, pm.pid) if pm else None, "MB", 1 / 1024)
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(podpy + ["rm", "-a", "-f"], env=penv, capture_output=True)
        if shutil.which("podman"):
            subprocess.run(["podman", "rm", "-a", "-f"], env=menv, capture_output=True)
            subprocess.run(["podman", "unshare", "rm", "-rf", str(work / "podman")], env=menv, capture_output=True)
        subprocess.run(podpy + ["unshare", "rm", "-rf", str(work / "pd-data")], env=penv, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
