#!/usr/bin/env python3
"""Network throughput and connection rate, podpy beside podman, measured in the same run.

Run it as an unprivileged user with subordinate ids (the test user works):

    python3 bench/network.py --image-tar /opt/podpy/images/busybox.tar

1. Published port: a busybox httpd in a detached container on the default network
   (slirp4netns) serves a file of --size MB through `-p 127.0.0.1:PORT:80`; a client on
   the host (curl when installed, else Python) downloads it. Beside it, the same download
   from a busybox httpd on the host over loopback, with no container. Target: podpy at
   least 1.5 x podman's throughput. Also the CPU time the port forwarder itself spends
   per GB (podpy: its monitor, which holds the forwarder; podman: rootlessport), which
   the machine's other load does not move. podpy hands the host's port to the server
   itself when the kernel lets it guard the socket; with --host-loopback, also a server
   with allow_host_loopback=true, whose port is handed over in any case ("podpy-hl").
2. Connection rate through the published port: short HTTP requests (connect, GET a small
   file, read to the end, close) from --clients client threads for --seconds.
3. Container to container on a user network: the client runs in a second container on the
   same network (the host's python3, bind-mounted read-only), downloading the file by the
   server's name, and making short requests.

The rounds alternate between the tools, and the medians are printed, since the machine's
other load moves every figure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_latency import podman_env  # noqa: E402

SERVER = ("mkdir -p /w && dd if=/dev/zero of=/w/big bs=1M count={size} 2>/dev/null && echo small > /w/small "
          "&& exec httpd -f -p 80 -h /w")
PYTHON_MOUNTS = ["-v", "/usr:/usr:ro", "-v", "/usr/lib:/lib:ro", "-v", "/usr/lib64:/lib64:ro"]
CLIENT = r'''
import socket, sys, time
host, mode, arg = sys.argv[1], sys.argv[2], float(sys.argv[3])
def get(path, sink):
    s = socket.create_connection((host, 80))
    s.sendall(b"GET " + path + b" HTTP/1.0\r\n\r\n")
    n = 0
    while True:
        k = s.recv_into(sink)
        if not k:
            break
        n += k
    s.close()
    return n
buf = bytearray(1 << 20)
if mode == "bytes":
    t = time.perf_counter(); n = get(b"/big", buf); print(n / (time.perf_counter() - t))
else:
    t = time.perf_counter(); count = 0
    while time.perf_counter() - t < arg:
        get(b"/small", buf); count += 1
    print(count / (time.perf_counter() - t))
'''


def run(argv: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run(argv, env=env, capture_output=True, text=True)
    if check and res.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({res.returncode}): {res.stderr.strip()[-400:]}")
    return res


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_served(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if get(port, b"/small", bytearray(4096)) > 0:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"nothing served on port {port}")


def get(port: int, path: bytes, sink: bytearray) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"GET " + path + b" HTTP/1.0\r\n\r\n")
        n = 0
        while k := s.recv_into(sink):
            n += k
    return n


def download(port: int) -> float:
    """Bytes per second of one download of /big."""
    if shutil.which("curl"):
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{speed_download}",
                              f"http://127.0.0.1:{port}/big"], capture_output=True, text=True).stdout
        return float(out or 0)
    start = time.perf_counter()
    n = get(port, b"/big", bytearray(1 << 20))
    return n / (time.perf_counter() - start)


def connection_rate(port: int, seconds: float, clients: int) -> float:
    counts = [0] * clients
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        buf = bytearray(65536)
        while time.monotonic() < stop:
            get(port, b"/small", buf)
            counts[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def pids_named(name: str) -> set[int]:
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == name:
                        out.add(int(entry))
            except OSError:
                pass
    return out


def host_httpd(size: int, tmp: Path) -> tuple[subprocess.Popen, int]:
    """busybox httpd on the host serving the same files: the no-container baseline."""
    busybox = shutil.which("busybox")
    if busybox is None:
        return None, 0  # type: ignore[return-value]
    www = tmp / "www"
    www.mkdir()
    with open(www / "big", "wb") as f:
        f.truncate(size << 20)
    (www / "small").write_text("small\n")
    port = free_port()
    proc = subprocess.Popen([busybox, "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", str(www)])
    wait_served(port)
    return proc, port


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-tar", required=True, help="a rootfs tarball (busybox)")
    ap.add_argument("--podpy", default=shutil.which("podpy") or "podpy", help="podpy command")
    ap.add_argument("--size", type=int, default=1024, help="MB downloaded per round")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=3.0, help="length of a connection-rate round")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--skip-c2c", action="store_true", help="only the published port")
    ap.add_argument("--host-loopback", action="store_true",
                    help="also a podpy server with slirp4netns allow_host_loopback=true (its host port is "
                         "handed to the server on kernels that refuse to guard it)")
    args = ap.parse_args()
    podpy = args.podpy.split()
    podman = shutil.which("podman")
    with tempfile.TemporaryDirectory(prefix="podpy-netbench-") as tmp:
        home = Path(tmp)
        run_dir = home / "xdg-run"
        run_dir.mkdir(mode=0o700)
        client_py = home / "client.py"
        client_py.write_text(CLIENT)
        os.chmod(home, 0o755)
        env = dict(os.environ, XDG_DATA_HOME=str(home / "podpy-data"), XDG_CONFIG_HOME=str(home / "podpy-cfg"),
                   XDG_RUNTIME_DIR=str(run_dir))
        tools = [("podpy", podpy, env)]
        if podman:
            tools.append(("podman", [podman], podman_env(home / "podman")))
        ports: dict[str, int] = {}
        forwarders: dict[str, list[int]] = {}
        results: dict[str, dict[str, list[float]]] = {}
        baseline, base_port = host_httpd(args.size, home)
        try:
            for label, cmd, e in tools:
                run(cmd + ["import", args.image_tar, "localhost/bench"], e)
                ports[label] = free_port()
                before = pids_named("rootlessport")
                run(cmd + ["run", "-d", "--name", "netbench-srv", "-p", f"127.0.0.1:{ports[label]}:80",
                           "localhost/bench", "sh", "-c", SERVER.format(size=args.size)], e)
                wait_served(ports[label])
                if label == "podpy":
                    lock = run_dir / "podpy" / "monitor.lock"
                    forwarders[label] = [int(lock.read_text().split()[0])]
                else:
                    forwarders[label] = sorted(pids_named("rootlessport") - before)
                if not args.skip_c2c:
                    run(cmd + ["network", "create", "netbench"], e)
                    run(cmd + ["run", "-d", "--name", "netbench-peer", "--network", "netbench", "localhost/bench",
                               "sh", "-c", SERVER.format(size=args.size)], e)
                results[label] = {"port_bytes": [], "port_conns": [], "c2c_bytes": [], "c2c_conns": [],
                                  "port_cpu": []}
            if args.host_loopback:
                ports["podpy-hl"] = free_port()
                run(podpy + ["run", "-d", "--name", "netbench-hl", "--network", "slirp4netns:allow_host_loopback=true",
                             "-p", f"127.0.0.1:{ports['podpy-hl']}:80", "localhost/bench", "sh", "-c",
                             SERVER.format(size=args.size)], env)
                wait_served(ports["podpy-hl"])
                forwarders["podpy-hl"] = forwarders["podpy"]
                results["podpy-hl"] = {"port_bytes": [], "port_conns": [], "port_cpu": []}
            if baseline is not None:
                results["loopback"] = {"port_bytes": [], "port_conns": []}
                ports["loopback"] = base_port
            for _ in range(args.rounds):
                for label in results:
                    cpu = cpu_seconds(forwarders.get(label, []))
                    results[label]["port_bytes"].append(download(ports[label]))
                    if label in forwarders:
                        spent = cpu_seconds(forwarders[label]) - cpu
                        results[label]["port_cpu"].append(spent / (args.size / 1024))
                    results[label]["port_conns"].append(connection_rate(ports[label], args.seconds, args.clients))
            if not args.skip_c2c:
                for _ in range(max(3, args.rounds // 2)):
                    for label, cmd, e in tools:
                        client = cmd + ["run", "--rm", "--network", "netbench", *PYTHON_MOUNTS, "-v",
                                        f"{client_py}:/client.py:ro", "localhost/bench", "/usr/bin/python3", "-S",
                                        "/client.py", "netbench-peer"]
                        results[label]["c2c_bytes"].append(float(run(client + ["bytes", "0"], e).stdout))
                        results[label]["c2c_conns"].append(float(run(client + ["conns", str(args.seconds)],
                                                                     e).stdout))
        finally:
            if baseline is not None:
                baseline.kill()
                baseline.wait()
            for label, cmd, e in tools:
                run(cmd + ["rm", "-f", "netbench-srv", "netbench-peer"]
                    + (["-t", "0"] if label == "podman" else ["netbench-hl"]), e, check=False)
                run(cmd + ["network", "rm", "-f", "netbench"], e, check=False)
            if podman:
                run([podman, "system", "reset", "--force"], tools[-1][2], check=False)
            run(podpy + ["unshare", "rm", "-rf", str(home / "podpy-data")], env, check=False)

    def line(label: str, values: list[float], unit: str, scale: float) -> None:
        med = statistics.median(values) / scale
        spread = f"{min(values) / scale:.2f}-{max(values) / scale:.2f}"
        print(f"  {label:9} {med:8.2f} {unit}  (range {spread})")

    def ratio(key: str, target: str = "") -> None:
        if "podman" in results and results["podman"].get(key):
            for label in ("podpy", "podpy-hl"):
                if results.get(label, {}).get(key):
                    r = statistics.median(results[label][key]) / statistics.median(results["podman"][key])
                    print(f"  ratio     {r:8.2f} x podman" + (f" ({label})" if label != "podpy" else "")
                          + (f" (target {target})" if target else ""))

    print(f"published port, one download of {args.size} MB (median of {args.rounds})")
    for label, r in results.items():
        line(label, r["port_bytes"], "GB/s", 1e9)
    ratio("port_bytes", ">= 1.5")
    print("published port: CPU seconds of the port forwarder per GB moved (median)")
    for label, r in results.items():
        if r.get("port_cpu"):
            line(label, r["port_cpu"], "s/GB", 1)
    print(f"published port, short requests from {args.clients} clients (connections/s)")
    for label, r in results.items():
        line(label, r["port_conns"], "conn/s", 1)
    ratio("port_conns")
    if not args.skip_c2c:
        print("container to container on a user network, one download (GB/s)")
        for label, r in results.items():
            if r.get("c2c_bytes"):
                line(label, r["c2c_bytes"], "GB/s", 1e9)
        ratio("c2c_bytes")
        print("container to container, short requests from one client (connections/s)")
        for label, r in results.items():
            if r.get("c2c_conns"):
                line(label, r["c2c_conns"], "conn/s", 1)
        ratio("c2c_conns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
