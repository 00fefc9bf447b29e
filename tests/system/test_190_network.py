"""Networking: published ports (-p, -P, port, ps, inspect), the network modes (slirp4netns,
pasta, none, host, container:, ns:), /etc/hosts and resolv.conf options, user networks
(names and aliases by DNS, internal networks, connect and disconnect), bad input, and
that nothing outlives the containers that need it."""

import http.server
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from helpers import VARIANTS, Podpy, command_for_variant, remove_tree
from rootless.network.bindnotify import guard_works

PYTHON_IN_CONTAINER = ("-v", "/usr:/usr:ro", "-v", "/usr/lib:/lib:ro", "-v", "/usr/lib64:/lib64:ro")
HTTPD = "mkdir -p /www && echo hello-from-the-container > /www/index.html && exec httpd -f -p 80 -h /www"


@pytest.fixture(scope="module", params=VARIANTS, ids=VARIANTS)
def p(request, tmp_path_factory, base_env, image_tar):
    """A store of its own with a runtime directory of its own: its monitor, its rootless
    network namespace and their processes are this module's alone."""
    argv, reason = command_for_variant(request.param)
    if argv is None:
        if request.param == "installed":
            pytest.fail(f"cannot run the installed podpy: {reason}", pytrace=False)
        pytest.skip(f"{request.param} variant skipped: {reason}")
    home = tmp_path_factory.mktemp(f"net-{request.param}")
    run = home / "run"
    run.mkdir(mode=0o700)
    runner = Podpy(variant=request.param, argv=argv, home=home, base_env={**base_env, "XDG_RUNTIME_DIR": str(run)})
    runner.runroot = run / "podpy"
    runner("import", image_tar, "busybox", timeout=300)
    yield runner
    runner("rm", "-fa", check=False)
    runner("network", "prune", "-f", check=False)
    remove_tree(home)


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def host_ip():
    """The host's address on its default route (reachable from containers through the uplink)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("203.0.113.1", 9))
        except OSError:
            return None
        ip = s.getsockname()[0]
    return None if ip.startswith("127.") else ip


def fetch(port, path="/index.html", host="127.0.0.1", timeout=10.0):
    """GET over a published port, retried while the container's server starts."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=3) as s:
                s.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
            if data:
                return data.decode(errors="replace")
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing served on {host}:{port}")
        time.sleep(0.1)


class HostServer:
    """An HTTP server on the host (all addresses), for containers to reach."""

    def __init__(self):
        handler = type("H", (http.server.BaseHTTPRequestHandler,), {
            "do_GET": lambda self: (self.send_response(200), self.end_headers(), self.wfile.write(b"from-the-host")),
            "log_message": lambda self, *a: None})
        self.httpd = http.server.ThreadingHTTPServer(("0.0.0.0", 0), handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def host_server():
    srv = HostServer()
    yield srv
    srv.close()


def helpers_of(p):
    """This store's helper processes still running: the monitor, the rootless network
    namespace's holder, pasta and the socket helpers (all have the runtime directory in
    their arguments), and any slirp4netns whose namespace's process is gone or is that holder."""
    out = subprocess.run(["ps", "-ww", "-o", "pid=,args=", "-u", str(os.getuid())], capture_output=True,
                         text=True).stdout
    runroot = str(p.runroot)
    mine = [line.strip() for line in out.splitlines() if runroot in line]
    holders = {line.split()[0] for line in mine if "rootless.network.holder" in line}
    for line in out.splitlines():
        if "slirp4netns" in line and "--netns-type=path /proc/" in line:
            target = line.split("--netns-type=path /proc/")[1].split("/")[0]
            if target in holders or not os.path.exists(f"/proc/{target}"):
                mine.append(line.strip())
    return mine


def until(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def one_error_line(res):
    assert res.returncode == 125, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    assert "Traceback" not in res.stderr
    return lines[0]


# ------------------------------------------------------------------ published ports --


def test_httpd_on_a_published_port(p):
    port = free_port()
    p("run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c", HTTPD)
    try:
        assert "hello-from-the-container" in fetch(port)
        assert p("port", "web").stdout == f"80/tcp -> 127.0.0.1:{port}\n"
        assert p("port", "web", "80").stdout == f"127.0.0.1:{port}\n"
        assert p("ps", "--format", "{{.Names}} {{.Ports}}").stdout == f"web 127.0.0.1:{port}->80/tcp\n"
        data = json.loads(p("inspect", "web").stdout)[0]
        assert data["NetworkSettings"]["Ports"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
        assert data["HostConfig"]["PortBindings"] == data["NetworkSettings"]["Ports"]
        # a connection open when the container ends is closed with it
        held = socket.create_connection(("127.0.0.1", port), timeout=10)
        p("rm", "-f", "web")
        assert held.recv(1) == b""
        held.close()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        p("rm", "-f", "web", check=False)


def test_foreground_run_forwards_until_the_container_exits(p):
    port = free_port()
    proc = subprocess.Popen(p.command("run", "--rm", "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c",
                                      "mkdir /www; echo fg > /www/f; httpd -p 80 -h /www; sleep 3"),
                            env=p.environ(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert fetch(port, "/f").endswith("fg\n")
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        proc.kill()
        proc.communicate()


def listener_owners(port):
    """The names of the processes that hold the host's listening TCP socket(s) on port."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    owners = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in os.listdir(f"/proc/{pid}/fd")):
                with open(f"/proc/{pid}/comm") as f:
                    owners.add(f.read().strip())
        except OSError:
            pass
    return owners


# Where the kernel lets an unprivileged process lock a filter on a TCP socket, the host's socket
# is handed over to any container; elsewhere only to one that reaches the host's loopback anyway.
TAKEOVER = [] if guard_works() else ["--network", "slirp4netns:allow_host_loopback=true"]


def test_the_default_takes_over_only_with_a_guard(p):
    port = free_port()
    p("run", "-d", "--name", "dflt", "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c", HTTPD)
    try:
        assert "hello-from-the-container" in fetch(port)
        owners = listener_owners(port)
        if guard_works():
            assert owners == {"httpd"}
        else:
            print("this kernel refuses a socket filter on a TCP socket without CAP_NET_ADMIN: "
                  "the forwarder keeps the port")
            assert owners and "httpd" not in owners
    finally:
        p("rm", "-f", "dflt", check=False)


def test_a_published_server_takes_its_host_port_over(p):
    """The server's bind of its published port is answered with the host's port itself: the
    host's socket is the server's, which sees its clients' own addresses; inside, the port
    still answers; a server restarted inside takes the port again; once it has ended, the
    forwarder has the port back and the port inside is free for a server started by exec."""
    port = free_port()
    script = ("mkdir -p /www && echo direct > /www/index.html && "
              "while [ ! -e /stop ]; do httpd -f -vv -p 80 -h /www; done; exec sleep 1000")
    p("run", "-d", "--name", "direct", *TAKEOVER, "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c", script)
    try:
        assert "direct" in fetch(port)
        assert listener_owners(port) == {"httpd"}
        # busybox httpd -vv logs each client: the host's loopback, not the container's address
        assert until(lambda: "127.0.0.1" in p("logs", "direct").stderr)
        assert "10.0.2." not in p("logs", "direct").stderr
        assert p("exec", "direct", "wget", "-qO-", "http://127.0.0.1/index.html").stdout == "direct\n"
        assert p("exec", "direct", "wget", "-qO-", "http://10.0.2.100/index.html").stdout == "direct\n"
        first = p("exec", "direct", "pidof", "httpd").stdout.split()
        p("exec", "direct", "kill", *first)
        assert until(lambda: p("exec", "direct", "pidof", "httpd", check=False).stdout.split() not in ([], first))
        assert "direct" in fetch(port)
        assert listener_owners(port) == {"httpd"}
        # the server ends for good: the forwarder listens again, and the port inside is free
        p("exec", "direct", "touch", "/stop")
        p("exec", "direct", "killall", "httpd")
        assert until(lambda: p("exec", "direct", "httpd", "-p", "80", "-h", "/www", check=False).returncode == 0)
        assert "direct" in fetch(port)
        owners = listener_owners(port)
        assert owners and "httpd" not in owners
    finally:
        p("rm", "-f", "direct", check=False)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


ESCAPE = r"""
import ctypes, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80))
s.listen()
print("bound", s.getsockname()[1], flush=True)
unspec = (ctypes.c_char * 16)()
print("disconnect", ctypes.CDLL(None, use_errno=True).connect(s.fileno(), unspec, 16), flush=True)
s.settimeout(3)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"escaped")
    print("connected", flush=True)
except OSError as exc:
    print("refused", exc, flush=True)
"""


def test_a_server_given_the_host_port_cannot_connect_from_the_host(p):
    """A hostile server that takes its published port over, then disconnects the host's socket
    and connects from it to a service on the host's loopback (which the container may not
    reach) gets nowhere: the socket serves, never connects."""
    with socket.socket() as service:
        service.bind(("127.0.0.1", 0))
        service.listen()
        service.settimeout(0.5)
        port = free_port()
        out = p("run", "--rm", *PYTHON_IN_CONTAINER, "-p", f"127.0.0.1:{port}:80", "busybox",
                "/usr/bin/python3", "-c", ESCAPE, str(service.getsockname()[1])).stdout
        # the host's port where the bind is taken over (guarded); else the port inside
        assert f"bound {port if guard_works() else 80}" in out
        assert "disconnect 0" in out and "refused" in out and "connected" not in out, out
        with pytest.raises(OSError):
            service.accept()


HOSTILE_BINDS = r"""
import ctypes, os, socket, struct, time
libc = ctypes.CDLL(None, use_errno=True)
sa = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 80) + bytes(12)     # 0.0.0.0:80
while not os.path.exists("/tmp/go"):
    time.sleep(0.05)
errs = set()
f = os.open("/etc/hostname", os.O_RDONLY)
for _ in range(100):                                   # not a socket
    errs.add(ctypes.get_errno() if libc.bind(f, sa, 16) else 0)
s = socket.socket()
s.bind(("127.0.0.1", 0))
errs.add(ctypes.get_errno() if libc.bind(s.fileno(), sa, 16) else 0)      # bound already
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
errs.add(ctypes.get_errno() if libc.bind(u.fileno(), sa, 16) else 0)      # UDP: binds inside
print(sorted(errs), flush=True)
open("/tmp/done", "w").close()
time.sleep(1000)
"""


def _open_files(pid: int) -> dict[str, str]:
    """A process's descriptors and what each is open on."""
    files = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            files[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            pass   # closed meanwhile
    return files


def test_hostile_binds_get_the_kernels_answers_and_cost_the_monitor_nothing(p):
    """Binds of the published port on a file, on a socket bound already and on a UDP socket
    are not taken over: each gets what the kernel would say, and the monitor, which answers
    them, holds not one more fd afterwards."""
    port = free_port()
    p("run", "-d", "--name", "hostile", *TAKEOVER, *PYTHON_IN_CONTAINER, "-p", f"127.0.0.1:{port}:80",
      "busybox", "/usr/bin/python3", "-c", HOSTILE_BINDS)
    try:
        monitor = int((Path(p.runroot) / "monitor.lock").read_text().split()[0])
        before = _open_files(monitor)
        p("exec", "hostile", "touch", "/tmp/go")
        assert until(lambda: p("exec", "hostile", "test", "-e", "/tmp/done", check=False).returncode == 0)
        assert p("logs", "hostile").stdout == "[0, 22, 88]\n"   # UDP bound, EINVAL, ENOTSOCK
        # not one it did not have before (it may have fewer: its spare launcher, forked after
        # the start, ends when no launch comes). Its periodic look at the listening sockets
        # holds a netlink socket for a moment: a leak is one that stays.
        def extra():
            return {fd: what for fd, what in _open_files(monitor).items() if before.get(fd) != what}
        assert until(lambda: extra() == {}, timeout=5), extra()
    finally:
        p("rm", "-f", "hostile", check=False)


WORKERS = r"""
import os, socket, time
def worker(i):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("0.0.0.0", 80))
    time.sleep(LATE * (i == 0))
    s.listen()
    while True:
        c, _ = s.accept()
        c.recv(1024)
        c.sendall(b"HTTP/1.0 200 OK\r\n\r\nworker%d\n" % i)
        c.close()
for i in range(2):
    if os.fork() == 0:
        worker(i)
six = socket.socket(socket.AF_INET6)
six.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
six.bind(("::", 80))           # an IPv6-only socket beside them, as nginx's "listen [::]:80"
six.listen()
print("ready", flush=True)
time.sleep(1000)
"""


@pytest.mark.parametrize("late", [0, 0.5], ids=["at-once", "late-listen"])
def test_reuseport_workers_share_the_host_port(p, late):
    """Two workers binding the published port with SO_REUSEPORT both get the host's port (one
    group, the kernel spreads the connections), also when the second binds while the first
    is bound and not listening yet; an IPv6-only socket on the same port binds inside as
    asked."""
    port = free_port()
    p("run", "-d", "--name", "workers", *TAKEOVER, *PYTHON_IN_CONTAINER, "-p", f"127.0.0.1:{port}:80",
      "busybox", "/usr/bin/python3", "-c", f"LATE = {late}\n" + WORKERS)
    try:
        seen = set()
        deadline = time.monotonic() + 20
        while seen != {"worker0", "worker1"} and time.monotonic() < deadline:
            seen.add(fetch(port).split()[-1])
        assert seen == {"worker0", "worker1"}, p("logs", "workers").stdout + p("logs", "workers").stderr
        assert listener_owners(port) == {"python3"}
        assert until(lambda: "ready" in p("logs", "workers").stdout)
    finally:
        p("rm", "-f", "workers", check=False)


def test_a_port_published_twice_and_user_network_peers(p):
    """A container port published on two host ports stays with the forwarder (one socket
    cannot be both); so does a server on a user network (its peers would otherwise reach it
    from the host's loopback), which answers its peers by name and the host by its port."""
    a, b = free_port(), free_port()
    p("run", "-d", "--name", "twice", "-p", f"127.0.0.1:{a}:80", "-p", f"127.0.0.1:{b}:80", "busybox",
      "sh", "-c", HTTPD)
    p("network", "create", "peers")
    c = free_port()
    p("run", "-d", "--name", "pub", "--network", "peers", "-p", f"127.0.0.1:{c}:80", "busybox", "sh", "-c", HTTPD)
    try:
        for port in (a, b):
            assert "hello-from-the-container" in fetch(port)
            assert "httpd" not in listener_owners(port)
        assert "hello-from-the-container" in fetch(c)
        assert "httpd" not in listener_owners(c)   # forwarded: its peers must see their own addresses
        out = p("run", "--rm", "--network", "peers", "busybox", "wget", "-qO-", "http://pub/index.html").stdout
        assert "hello-from-the-container" in out
    finally:
        p("rm", "-f", "twice", "pub", check=False)
        p("network", "rm", "-f", "peers", check=False)


def test_slirp4netns_port_handler_and_restart(p):
    """port_handler=slirp4netns publishes through slirp4netns's API (its socket file goes once
    the ports are set up); a restarted container gets its host port back at once."""
    port = free_port()
    p("run", "-d", "--name", "slirpfwd", "--network", "slirp4netns:port_handler=slirp4netns",
      "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c", HTTPD)
    try:
        assert "hello-from-the-container" in fetch(port)
        assert not list(Path(p.runroot).glob("slirp4netns-*.sock"))
    finally:
        p("rm", "-f", "slirpfwd", check=False)
    port = free_port()
    p("run", "-d", "--name", "again", "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c", HTTPD)
    try:
        assert "hello-from-the-container" in fetch(port)
        p("restart", "-t", "0", "again")
        assert "hello-from-the-container" in fetch(port)
    finally:
        p("rm", "-f", "again", check=False)


def test_port_forms_ranges_udp_and_random_ports(p):
    a, b = free_port(), free_port()
    base = free_port()
    cid = p("create", "--name", "forms", "-p", f"{a}:80", "-p", "127.0.0.1::81", "-p", f"{b}:82/udp",
            "-p", f"127.0.0.1:{base}-{base + 1}:90-91", "busybox", "true").stdout.strip()
    bindings = json.loads(p("inspect", cid).stdout)[0]["HostConfig"]["PortBindings"]
    assert bindings["80/tcp"] == [{"HostIp": "", "HostPort": str(a)}]
    random_port = int(bindings["81/tcp"][0]["HostPort"])
    assert bindings["81/tcp"][0]["HostIp"] == "127.0.0.1" and 0 < random_port < 65536
    assert bindings["82/udp"] == [{"HostIp": "", "HostPort": str(b)}]
    assert bindings["91/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(base + 1)}]
    ports = p("ps", "-a", "--filter", "name=forms", "--format", "{{.Ports}}").stdout.strip()
    assert ports == (f"127.0.0.1:{random_port}->81/tcp, 127.0.0.1:{base}-{base + 1}->90-91/tcp, "
                     f"0.0.0.0:{a}->80/tcp, 0.0.0.0:{b}->82/udp")
    assert p("port", "forms").stdout == ""   # not running: nothing published
    p("rm", "forms")


def test_publish_all_and_udp_relay(p):
    port = free_port(socket.SOCK_DGRAM)
    echo = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('', 9000)); "
            "print('ready', flush=True)\nwhile True:\n    d, a = s.recvfrom(100); s.sendto(d.upper(), a)")
    p("run", "-d", "--name", "udp", "--expose", "7000", "-P", "-p", f"127.0.0.1:{port}:9000/udp",
      *PYTHON_IN_CONTAINER, "busybox", "/usr/bin/python3", "-S", "-c", echo)
    try:
        lines = p("port", "udp").stdout.splitlines()
        assert f"9000/udp -> 127.0.0.1:{port}" in lines
        assert any(line.startswith("7000/tcp -> 0.0.0.0:") for line in lines), lines
        assert until(lambda: "ready" in p("logs", "udp").stdout)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(1)
            for _ in range(10):
                s.sendto(b"ping", ("127.0.0.1", port))
                try:
                    assert s.recvfrom(100)[0] == b"PING"
                    break
                except socket.timeout:
                    continue
            else:
                raise AssertionError("no answer through the published UDP port")
    finally:
        p("rm", "-f", "udp", check=False)


def test_port_in_use_fails_the_start_with_nothing_left(p):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        line = one_error_line(p("run", "--rm", "--name", "clash", "-p", f"127.0.0.1:{port}:80", "busybox", "true",
                                check=False))
        assert f"127.0.0.1:{port}/tcp" in line and "in use" in line
        assert p("ps", "-a", "--format", "{{.Names}}").stdout.split().count("clash") == 0
        line = one_error_line(p("run", "-d", "--name", "clash2", "-p", f"127.0.0.1:{port}:80", "busybox", "true",
                                check=False))
        assert "in use" in line
        assert p("inspect", "--format", "{{.State.Status}}", "clash2").stdout == "created\n"
        p("rm", "clash2")


@pytest.mark.parametrize("spec,words", [
    ("99999:80", "between 1 and 65535"),
    ("abc", "invalid container port"),
    ("1:2:3:4", "invalid port format"),
    ("8000-8002:80-81", "different lengths"),
    ("80/sctp", "protocol"),
    ("300.1.1.1:80:80", "not an IP address"),
])
def test_malformed_publish(p, spec, words):
    assert words in one_error_line(p("run", "--rm", "-p", spec, "busybox", "true", check=False))


# ----------------------------------------------------------------- network modes --


def test_none_cannot_reach_the_host(p, host_server):
    res = p("run", "--rm", "--network", "none", "busybox", "sh", "-c",
            f"ip -o link | wc -l; wget -q -O- http://127.0.0.1:{host_server.port}/ 2>&1; "
            f"wget -q -O- http://{host_ip() or '192.0.2.1'}:{host_server.port}/ 2>&1; true")
    assert res.stdout.splitlines()[0] == "1"
    assert "from-the-host" not in res.stdout
    assert "unreachable" in res.stdout or "refused" in res.stdout


def test_default_network_reaches_a_server_on_the_host(p, host_server):
    ip = host_ip()
    if ip is None:
        pytest.skip("the host has no address on a default route to reach")
    out = p("run", "--rm", "busybox", "wget", "-q", "-O-", f"http://{ip}:{host_server.port}/").stdout
    assert out == "from-the-host"


def test_the_network_is_up_when_the_command_starts(p):
    """The init mounts its file systems while slirp4netns or the user network is made, and
    execs only once it is: the command's very first look finds its address and its route,
    in the foreground and detached."""
    p("network", "create", "firstlook")
    try:
        for net in ("slirp4netns", "firstlook"):
            for _ in range(4):
                out = p("run", "--rm", "--network", net, "busybox", "sh", "-c", "ip -o -4 addr; ip route").stdout
                addrs = [line for line in out.splitlines() if " inet " in line and " lo " not in line]
                assert addrs and "default via" in out, out
                if net == "slirp4netns":
                    assert "10.0.2.100/24" in addrs[0]
            p("run", "-d", "--name", f"firstlook-{net}", "--network", net, "busybox", "sh", "-c",
              "ip route; sleep 60")
            assert until(lambda: "default via" in p("logs", f"firstlook-{net}").stdout)
            p("rm", "-f", "-t", "0", f"firstlook-{net}")
    finally:
        p("network", "rm", "-f", "firstlook", check=False)


def test_etc_files_take_the_options(p):
    out = p("run", "--rm", "--name", "etc", "--hostname", "box", "--add-host", "db:10.1.2.3",
            "--add-host", "v6:fd00::9", "--dns", "9.9.9.9", "--dns-search", "example.com",
            "--dns-option", "ndots:3", "busybox", "sh", "-c",
            "cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; hostname").stdout
    hosts, resolv, hostname = out.split("---\n")
    lines = hosts.splitlines()
    assert lines[:2] == ["10.1.2.3\tdb", "fd00::9\tv6"]
    assert "127.0.0.1\tlocalhost" in lines and lines[-1] == "10.0.2.100\tbox etc"
    assert resolv == "search example.com\nnameserver 9.9.9.9\noptions ndots:3\n"
    assert hostname == "box\n"
    assert "127.0.0.1\t" in p("run", "--rm", "--network", "none", "--name", "etcnone", "busybox",
                              "cat", "/etc/hosts").stdout.splitlines()[-1]


def test_container_and_ns_modes_share_a_network_namespace(p):
    p("run", "-d", "--name", "netowner", "busybox", "sleep", "60")
    try:
        out = p("run", "--rm", "--network", "container:netowner", "busybox", "ip", "-o", "addr").stdout
        assert "tap0" in out and "10.0.2.100/24" in out
        pid = json.loads(p("inspect", "netowner").stdout)[0]["State"]["Pid"]
        out = p("run", "--rm", "--network", f"ns:/proc/{pid}/ns/net", "busybox", "ip", "-o", "addr").stdout
        assert "10.0.2.100/24" in out
    finally:
        p("rm", "-f", "netowner", check=False)
    assert "no container" in one_error_line(p("run", "--rm", "--network", "container:nosuch", "busybox", "true",
                                               check=False))
    assert "host's user namespace" in one_error_line(
        p("run", "--rm", "--network", "ns:/proc/self/ns/net", "busybox", "true", check=False))


def test_pasta_publishes_and_configures(p):
    if not any(os.access(os.path.join(d, "pasta"), os.X_OK) for d in os.get_exec_path()):
        pytest.skip("pasta is not installed (Debian package passt)")
    port = free_port()
    p("run", "-d", "--name", "pasta", "--network", "pasta", "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c",
      HTTPD)
    try:
        assert "hello-from-the-container" in fetch(port)
        assert until(lambda: any("pasta" in h for h in helpers_of(p)))
        # in the foreground too; a port in use, or an option pasta refuses, fails the start
        out = p("run", "--rm", "--network", "pasta", "busybox", "sh", "-c", "ip -o -4 addr; ip route").stdout
        assert "eth0" in out and "default via" in out
        line = one_error_line(p("run", "--rm", "--network", "pasta", "-p", f"127.0.0.1:{port}:80", "busybox",
                                "true", check=False))
        assert f"127.0.0.1:{port}/tcp" in line and "in use" in line
        assert "bogus" in one_error_line(p("run", "--rm", "--network", "pasta:--bogus", "busybox", "true",
                                           check=False))
    finally:
        p("rm", "-f", "pasta", check=False)
    assert until(lambda: not any("pasta" in h for h in helpers_of(p)))


def test_info_names_the_default_network_and_containers_conf_changes_it(p):
    info = json.loads(p("info", "--format", "json").stdout)["host"]
    assert info["networkDefault"] == "slirp4netns" and info["networkDefaultSource"] == "default"
    if not any(os.access(os.path.join(d, "pasta"), os.X_OK) for d in os.get_exec_path()):
        pytest.skip("pasta is not installed (Debian package passt)")
    conf = p.config_home / "podpy" / "containers.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text('[network]\ndefault_rootless_network_cmd = "pasta"\n')
    try:
        assert json.loads(p("info", "--format", "json").stdout)["host"]["networkDefault"] == "pasta"
        out = p("run", "--rm", "busybox", "ip", "-o", "link").stdout
        assert "tap0" not in out and len(out.splitlines()) == 2
    finally:
        conf.unlink()


def test_missing_or_failing_network_helpers(p, tmp_path):
    line = one_error_line(p("run", "--rm", "--name", "noslirp", "busybox", "true", check=False,
                            env={"PATH": str(tmp_path)}))
    assert "slirp4netns is not installed" in line
    fake = tmp_path / "slirp4netns"
    fake.write_text("#!/bin/sh\necho 'slirp4netns: cannot open tap device: crashed' >&2\nexit 1\n")
    fake.chmod(0o755)
    line = one_error_line(p("run", "--rm", "--name", "badslirp", "busybox", "true", check=False,
                            env={"PATH": f"{tmp_path}:{os.environ['PATH']}"}))
    assert "slirp4netns failed" in line and "crashed" in line
    assert "noslirp" not in p("ps", "-a", "--format", "{{.Names}}").stdout
    assert "badslirp" not in p("ps", "-a", "--format", "{{.Names}}").stdout


# ------------------------------------------------------------------- user networks --


def test_user_network_names_aliases_and_the_way_out(p, host_server):
    assert p("network", "create", "--label", "team=a", "front").stdout == "front\n"
    try:
        p("run", "-d", "--name", "db", "--network", "front", "--network-alias", "database", "busybox", "sh", "-c",
          HTTPD)
        ip = host_ip()
        out = p("run", "--rm", "--name", "client", "--network", "front", "busybox", "sh", "-c",
                "wget -q -O- http://db/index.html; wget -q -O- http://database/index.html; "
                "wget -q -O- http://db.dns.podman/index.html; cat /etc/resolv.conf; "
                + (f"wget -q -O- http://{ip}:{host_server.port}/" if ip else "true")).stdout
        assert out.count("hello-from-the-container") == 3
        assert "search dns.podman" in out and "nameserver 10.89." in out
        if ip:
            assert out.endswith("from-the-host")
        nets = json.loads(p("inspect", "db").stdout)[0]["NetworkSettings"]["Networks"]
        assert nets["front"]["IPAddress"].startswith("10.89.") and "database" in nets["front"]["Aliases"]
        assert p("ps", "--format", "{{.Names}} {{.Networks}}").stdout == "db front\n"
        listed = json.loads(p("network", "ls", "--format", "json").stdout)
        assert {"front", "podman"} <= {n["name"] for n in listed}
        assert p("network", "ls", "--filter", "label=team=a", "-q").stdout == "front\n"
        # in use: refused without -f (nothing removed), removed with its containers with -f
        used = p("network", "rm", "front", check=False)
        assert used.returncode == 2
        assert used.stderr == ('Error: "front" has associated containers with it. Use -f to forcibly '
                               'delete containers and pods: network is being used\n')
        missing = p("network", "rm", "no-such-net", check=False)
        assert missing.returncode == 1 and "network not found" in missing.stderr
        quiet = p("network", "rm", "-f", "no-such-net", check=False)
        assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
        assert p("network", "exists", "front").returncode == 0
        assert p("network", "rm", "-f", "front").stdout == "front\n"
        assert p("container", "exists", "db", check=False).returncode == 1
    finally:
        p("rm", "-f", "db", check=False)
        p("network", "rm", "-f", "front", check=False)
    assert until(lambda: not helpers_of(p)), helpers_of(p)


DNS_CLIENT = r"""
import socket, struct, sys
ns = [line.split()[1] for line in open("/etc/resolv.conf") if line.startswith("nameserver")][0]
def query(name, qtype):
    body = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", qtype, 1)
    return struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + body
tcp = socket.create_connection((ns, 53), timeout=5)
m = query(sys.argv[1], 1)
tcp.sendall(struct.pack("!H", len(m)) + m)
n = struct.unpack("!H", tcp.recv(2))[0]
r = b""
while len(r) < n:
    r += tcp.recv(n - len(r))
ip = ".".join(map(str, r[-4:]))
print("tcp", ip)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.settimeout(5)
udp.sendto(query(".".join(reversed(ip.split("."))) + ".in-addr.arpa", 12), (ns, 53))
print("ptr", udp.recv(512))
"""


def test_user_network_dns_over_tcp_and_reverse_lookups(p):
    p("network", "create", "tcpdns")
    try:
        p("run", "-d", "--name", "db", "--network", "tcpdns", "--network-alias", "database", "busybox",
          "sleep", "1000")
        ip = json.loads(p("inspect", "db").stdout)[0]["NetworkSettings"]["Networks"]["tcpdns"]["IPAddress"]
        out = p("run", "--rm", "--network", "tcpdns", *PYTHON_IN_CONTAINER, "busybox", "/usr/bin/python3", "-c",
                DNS_CLIENT, "database").stdout
        assert f"tcp {ip}\n" in out
        assert "\\x02db\\x03dns\\x06podman" in out and "\\x08database\\x03dns\\x06podman" in out
    finally:
        p("rm", "-f", "db", check=False)
        p("network", "rm", "-f", "tcpdns", check=False)


def test_internal_network_has_no_way_out(p, host_server):
    p("network", "create", "--internal", "--subnet", "10.97.0.0/24", "--gateway", "10.97.0.254",
      "--ip-range", "10.97.0.128/25", "sealed")
    try:
        net = json.loads(p("network", "inspect", "sealed").stdout)[0]
        assert net["internal"] is True and net["subnets"][0]["gateway"] == "10.97.0.254"
        assert net["subnets"][0]["lease_range"]["start_ip"] == "10.97.0.129"
        p("run", "-d", "--name", "inside", "--network", "sealed", "busybox", "sleep", "60")
        ip = host_ip() or "192.0.2.1"
        out = p("run", "--rm", "--network", "sealed", "--ip", "10.97.0.200", "--mac-address", "92:d0:c6:0a:29:33",
                "busybox", "sh", "-c",
                f"ip -o -4 addr show eth0; ip -o link show eth0; ip route; "
                f"nslookup inside 10.97.0.254 | grep Address: | tail -1; "
                f"wget -q -O- http://{ip}:{host_server.port}/ 2>&1; true").stdout
        assert "10.97.0.200/24" in out and "default" not in out and "92:d0:c6:0a:29:33" in out
        assert "10.97.0.129" in out   # the first address of the range, given to `inside`
        assert "from-the-host" not in out and "unreachable" in out
    finally:
        p("rm", "-f", "inside", check=False)
        p("network", "rm", "-f", "sealed", check=False)


def test_connect_and_disconnect(p):
    p("network", "create", "net-a")
    p("network", "create", "net-b")
    try:
        p("run", "-d", "--name", "multi", "--network", "net-a", "busybox", "sleep", "60")
        p("network", "connect", "--alias", "second", "net-b", "multi")
        out = p("exec", "multi", "ip", "-o", "-4", "addr").stdout
        assert "eth0" in out and "eth1" in out
        ips = [line.split()[3].split("/")[0] for line in out.splitlines() if "eth" in line]
        hosts = p("exec", "multi", "cat", "/etc/hosts").stdout   # updated, as podman does
        assert all(f"{ip}\t" in hosts for ip in ips) and len(ips) == 2
        out = p("run", "--rm", "--network", "net-b", "busybox", "nslookup", "second").stdout
        assert "Address: 10.89." in out.split("Name:")[1]
        p("network", "disconnect", "net-b", "multi")
        assert "eth1" not in p("exec", "multi", "ip", "-o", "-4", "addr").stdout
        hosts = p("exec", "multi", "cat", "/etc/hosts").stdout
        assert f"{ips[0]}\t" in hosts and f"{ips[1]}\t" not in hosts
        # its last network too, as podman: loopback only
        last = p("network", "disconnect", "net-a", "multi")
        assert (last.stdout, last.stderr) == ("", "")
        assert "eth" not in p("exec", "multi", "ip", "-o", "-4", "addr").stdout
        assert json.loads(p("inspect", "multi").stdout)[0]["NetworkSettings"]["Networks"] == {}
    finally:
        p("rm", "-f", "multi", check=False)
        p("network", "rm", "-f", "net-a", "net-b", check=False)
    assert p("network", "prune", "-f").returncode == 0


def test_published_port_survives_its_first_network_leaving(p):
    """-p keeps working when the network whose address the ports were published to is
    disconnected while another is connected."""
    p("network", "create", "pub-a")
    p("network", "create", "pub-b")
    port = free_port()
    try:
        p("run", "-d", "--name", "served", "--network", "pub-a", "-p", f"127.0.0.1:{port}:80",
          "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
        assert "localhost" in fetch(port, "/hosts")
        p("network", "connect", "pub-b", "served")
        p("network", "disconnect", "pub-a", "served")
        assert "localhost" in fetch(port, "/hosts")
    finally:
        p("rm", "-f", "served", check=False)
        p("network", "rm", "-f", "pub-a", "pub-b", check=False)


def test_a_removed_networks_subnet_and_bridge_serve_the_next_one(p):
    """While the rootless network namespace stays (a container elsewhere keeps it), a new
    network may get a removed one's subnet, gateway and bridge."""
    p("network", "create", "anchor")
    p("run", "-d", "--name", "anchored", "--network", "anchor", "busybox", "sleep", "60")
    try:
        p("network", "create", "first")
        p("run", "--rm", "--network", "first", "busybox", "true")
        subnet = json.loads(p("network", "inspect", "first").stdout)[0]["subnets"][0]["subnet"]
        p("network", "rm", "first")
        p("network", "create", "second")
        assert json.loads(p("network", "inspect", "second").stdout)[0]["subnets"][0]["subnet"] == subnet
        p("run", "-d", "--name", "named", "--network", "second", "busybox", "sleep", "60")
        assert "Address: 10.89." in p("run", "--rm", "--network", "second", "busybox", "nslookup",
                                      "named").stdout.split("Name:")[1]
    finally:
        p("rm", "-f", "anchored", "named", check=False)
        p("network", "rm", "-f", "anchor", "first", "second", check=False)


def test_keep_id_container_on_a_user_network_publishes(p):
    """--userns=keep-id nests the container's user namespace in the one that owns its network
    namespace: the port helper and the network's DNS work all the same."""
    if not any(os.access(os.path.join(d, "fuse-overlayfs"), os.X_OK) for d in os.get_exec_path()) \
            or not os.access("/dev/fuse", os.R_OK | os.W_OK):
        pytest.skip("--userns=keep-id needs fuse-overlayfs and /dev/fuse")
    p("network", "create", "kept")
    port = free_port()
    try:
        p("run", "-d", "--name", "keeper", "--userns", "keep-id", "-u", "0", "--network", "kept",
          "-p", f"127.0.0.1:{port}:8080", "busybox", "sh", "-c",
          "mkdir -p /tmp/w && echo kept > /tmp/w/i && exec httpd -f -p 8080 -h /tmp/w")
        assert fetch(port, "/i").endswith("kept\n")
        assert p("run", "--rm", "--network", "kept", "busybox", "wget", "-q", "-O-",
                 "http://keeper:8080/i").stdout == "kept\n"
    finally:
        p("rm", "-f", "keeper", check=False)
        p("network", "rm", "-f", "kept", check=False)


@pytest.mark.parametrize("args,words", [
    (["run", "--rm", "--network", "nosuchnet", "busybox", "true"], "network not found"),
    (["network", "create", "--subnet", "10.0.2.0/25", "clash"], "overlaps"),
    (["network", "create", "--subnet", "10.88.1.0/24", "clash"], "overlaps"),
    (["network", "create", "--subnet", "nonsense", "clash"], "invalid --subnet"),
    (["network", "create", "--gateway", "10.1.0.1", "clash"], "need --subnet"),
    (["network", "create", "host"], "network mode"),
    (["run", "--rm", "-p", "20000-20300:20000-20300", "busybox", "true"], "at most 240"),
    (["run", "--rm", "--network", "podman:interface_name=a/b", "busybox", "true"], "interface_name"),
    (["network", "rm", "podman"], "cannot be removed"),
    (["run", "--rm", "--ip", "10.1.1.1", "busybox", "true"], "user network"),
    (["run", "--rm", "--network", "podman", "--ip", "10.1.1.1", "busybox", "true"], "not a free host address"),
    (["run", "--rm", "--network", "slirp4netns:mtu=abc", "busybox", "true"], "mtu"),
])
def test_network_bad_input(p, args, words):
    assert words in one_error_line(p(*args, check=False))
    assert p("network", "exists", "clash", check=False).returncode == 1


def test_nothing_outlives_a_killed_podpy(p):
    p("network", "create", "solo")
    try:
        port = free_port()
        proc = subprocess.Popen(p.command("run", "--rm", "--name", "victim", "--network", "solo", "-p",
                                          f"127.0.0.1:{port}:80", "busybox", "sh", "-c", HTTPD),
                                env=p.environ(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert "hello-from-the-container" in fetch(port)
        assert helpers_of(p)
        proc.kill()
        proc.wait()
        with pytest.raises(OSError):
            for _ in range(50):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                time.sleep(0.05)
        assert until(lambda: not helpers_of(p)), helpers_of(p)
        p("ps", "-a")   # the next command cleans up: the --rm container is gone
        assert "victim" not in p("ps", "-a", "--format", "{{.Names}}").stdout
    finally:
        p("network", "rm", "-f", "solo", check=False)
