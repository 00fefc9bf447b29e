"""The libpod API's shapes: podman's SpecGenerator read into create's options (and podpy's
client writing it), list and inspect documents as podman's client decodes them, the
/v4.x.y/libpod prefix, the Libpod-Api-Version header and podman's error bodies; and the
remote client's ping against a service on a unix socket."""

import json
import os
import socket
import threading

import pytest

from podpy.api import AREAS, http
from podpy.api.errors import BadParameter
from podpy.api.libpod_containers import inspect_document, list_entry
from podpy.api.libpod_specgen import create_options
from podpy.api.routes import Router, split_version
from podpy.engine.runoptions import CreateOptions
from podpy.errors import InvalidArgument
from podpy.remote.client import Client, Unreachable, demux
from podpy.engine.podmanspec import spec_generator
from podpy.remote.url import Target

# what podman 4.3.1's client sends for `podman --remote run -d --name c1 localhost/busybox sh -c '...'`
PODMAN_RUN = {
    "name": "c1", "command": ["sh", "-c", "echo hi; sleep 100"], "httpproxy": True,
    "annotations": {"io.kubernetes.cri-o.TTY": "false"}, "stop_timeout": 10, "log_configuration": {},
    "raw_image_name": "localhost/busybox", "systemd": "true", "sdnotifyMode": "container", "pidns": {},
    "utsns": {}, "containerCreateCommand": ["podman", "--remote", "run", "-d", "--name", "c1", "localhost/busybox"],
    "init_container_type": "", "manage_password": True, "image": "localhost/busybox",
    "image_volume_mode": "anonymous", "ipcns": {}, "seccomp_policy": "default", "userns": {},
    "idmappings": {"HostUIDMapping": True, "HostGIDMapping": True, "UIDMap": None, "GIDMap": None,
                   "AutoUserNs": False},
    "umask": "0022", "cgroupns": {}, "cgroups_mode": "enabled", "netns": {}, "Networks": None,
    "use_image_hosts": False,
}


def test_podmans_run_body_becomes_creates_options():
    o = create_options(PODMAN_RUN)
    assert (o.image, o.name, o.command) == ("localhost/busybox", "c1", ["sh", "-c", "echo hi; sleep 100"])
    assert o.stop_timeout == "10" and o.pull == "never" and o.network == [] and o.annotations == []
    assert o.create_command[:2] == ["podman", "--remote"]


def test_specgen_fields_map_to_flags():
    o = create_options(dict(PODMAN_RUN, env={"A": "b"}, labels={"l": "v"}, remove=True, terminal=True, stdin=True,
                            work_dir="/w", user="1:2", portmappings=[{"container_port": 80, "host_port": 8080,
                                                                      "host_ip": "127.0.0.1", "protocol": "tcp"},
                                                                     {"container_port": 53, "range": 2,
                                                                      "protocol": "udp"}],
                            mounts=[{"destination": "/d", "type": "bind", "source": "/s", "options": ["ro"]}],
                            volumes=[{"Name": "vol", "Dest": "/v", "Options": []}],
                            netns={"nsmode": "bridge"}, Networks={"net1": {"aliases": ["a1"]}},
                            restart_policy="on-failure", restart_tries=3, stop_signal=9,
                            resource_limits={"memory": {"limit": 1048576, "swap": 2097152}, "pids": {"limit": 10},
                                             "cpu": {"quota": 50000, "period": 100000, "cpus": "0"}},
                            pidns={"nsmode": "host"}))
    assert o.env == ["A=b"] and o.labels == ["l=v"] and o.remove and o.tty and o.interactive
    assert (o.workdir, o.user) == ("/w", "1:2")
    assert o.publish == ["127.0.0.1:8080:80/tcp", "53-54/udp"]
    assert o.volumes == ["/s:/d:ro", "vol:/v"]
    assert o.network == ["net1"] and o.network_aliases == ["a1"]
    assert o.restart == "on-failure:3" and o.stop_signal == "9"
    assert (o.memory, o.memory_swap, o.pids_limit, o.pid) == ("1048576", "2097152", "10", "host")
    assert (o.cpu_quota, o.cpu_period, o.cpuset_cpus) == ("50000", "100000", "0")


@pytest.mark.parametrize("field, value, words", [
    ("oci_runtime_hooks", {"x": 1}, "'oci_runtime_hooks' is not available"),
    ("systemd", "always", 'systemd="always" is not available'),
    ("netns", {"nsmode": "ns-magic"}, "netns mode 'ns-magic'"),
    ("resource_limits", {"hugepageLimits": [{"pageSize": "2MB"}]}, "resource_limits.hugepageLimits"),
])
def test_what_podpy_cannot_do_is_refused_in_one_line(field, value, words):
    with pytest.raises(BadParameter) as exc:
        create_options(dict(PODMAN_RUN, **{field: value}))
    assert words in exc.value.message and "\n" not in exc.value.message


def test_podpys_client_writes_what_the_service_reads_back():
    sent = CreateOptions(image="busybox", command=["echo", "x"], name="n", env=["A=1"], labels=["k=v"],
                         remove=True, publish=["127.0.0.1:8080:80", "9000:90/udp"], volumes=["/h:/c:ro", "vol:/v"],
                         tmpfs=["/t:size=1m"], network=["net1"], network_aliases=["al"], restart="always",
                         stop_signal="SIGINT", stop_timeout="3", workdir="/w", user="nobody", hostname="h",
                         entrypoint='["/bin/sh", "-c"]', cap_add=["NET_ADMIN"], dns=["1.1.1.1"], init=True,
                         read_only=True, memory="1m")
    got = create_options(json.loads(json.dumps(spec_generator(sent))))
    for field in ("image", "command", "name", "env", "labels", "remove", "restart", "stop_timeout", "workdir", "user",
                  "hostname", "cap_add", "dns", "init", "read_only", "network", "network_aliases", "tmpfs"):
        assert getattr(got, field) == getattr(sent, field), field
    assert got.publish == ["127.0.0.1:8080:80/tcp", "9000:90/udp"]
    assert got.volumes == ["/h:/c:ro", "vol:/v"]
    assert json.loads(got.entrypoint) == ["/bin/sh", "-c"]
    assert got.stop_signal == "2" and got.memory == str(1 << 20)


def test_the_client_refuses_a_flag_it_cannot_send():
    with pytest.raises(InvalidArgument, match=r"podpy run --memory-swap: not available with --remote"):
        spec_generator(CreateOptions(image="busybox", memory_swap="1g"))


def test_list_entries_and_inspect_documents_are_podmans_api_shapes():
    entry = list_entry({"Id": "abc", "Created": 1700000000, "CreatedAt": "3 minutes ago", "Status": "Up 3"},
                       "healthy")
    assert entry["Created"].startswith("2023-11-14T22:13:20") and entry["CreatedAt"] == ""
    assert entry["Status"] == "healthy"
    doc = inspect_document({"Id": "abc", "Config": {"StopSignal": "SIGTERM", "Tty": False}})
    assert doc["Config"] == {"StopSignal": 15, "Tty": False}


def test_libpods_version_prefix():
    assert split_version("/v4.3.1/libpod/containers/json") == ("4.3", "/libpod/containers/json")
    assert split_version("/v1.41/containers/json") == ("1.41", "/containers/json")


def _serve_app() -> socket.socket:
    ours, theirs = socket.socketpair()
    app = http.App(Router.build(AREAS), lambda: None, lambda _line: None)
    threading.Thread(target=http.Connection(ours, app).serve, daemon=True).start()
    return theirs


def _exchange(sock: socket.socket, raw: bytes) -> tuple[bytes, bytes]:
    sock.sendall(raw)
    sock.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


def test_ping_version_and_errors_speak_podmans_words():
    sock = _serve_app()
    try:
        head, body = _exchange(sock, b"GET /v4.3.1/libpod/_ping HTTP/1.1\r\nHost: d\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and body == b"OK"
        assert b"Libpod-Api-Version: 4.3.1" in head
        head, _ = _exchange(sock, b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
        assert b"Libpod-Api-Version: 4.3.1" in head
        head, body = _exchange(sock, b"GET /v4.3.1/libpod/version HTTP/1.1\r\nHost: d\r\n\r\n")
        engine = json.loads(body)["Components"][0]
        assert engine["Name"] == "Podman Engine" and engine["Details"]["APIVersion"] == "4.3.1"
        head, body = _exchange(sock, b"GET /v4.3.1/libpod/nothing/here HTTP/1.1\r\nHost: d\r\n\r\n")
        err = json.loads(body)
        assert head.startswith(b"HTTP/1.1 404") and err["response"] == 404 and "page not found" in err["message"]
    finally:
        sock.close()


class _Service:
    """An App on a unix socket in a thread (one connection at a time)."""

    def __init__(self, path: str, app: http.App) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(8)
        self.app = app
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            http.Connection(conn, self.app).serve()


def test_the_client_pings_a_service_and_checks_its_libpod_version(tmp_path):
    path = str(tmp_path / "s.sock")
    service = _Service(path, http.App(Router.build(AREAS), lambda: None, lambda _line: None))
    try:
        assert Client(Target("unix", path=path)).ping() == "4.3.1"
    finally:
        service.sock.close()


def test_a_service_without_libpods_api_is_refused(tmp_path):
    from podpy.api.routes import RouteTable

    table = RouteTable()
    table.get("/libpod/_ping")(lambda req: http.Response(200, b"OK", "text/plain"))
    path = str(tmp_path / "d.sock")
    app = http.App(Router([table]), lambda: None, lambda _line: None)
    service = _Service(path, app)
    # a Docker-only service sends no Libpod-Api-Version: the header is podpy's, so it is taken out here
    app_headers = http.Connection._headers

    def docker_headers(self, content_type, extra):
        return [h for h in app_headers(self, content_type, extra) if h[0] != "Libpod-Api-Version"]

    http.Connection._headers = docker_headers
    try:
        with pytest.raises(Unreachable, match="does not speak podman's API"):
            Client(Target("unix", path=path)).ping()
    finally:
        http.Connection._headers = app_headers
        service.sock.close()


def test_a_missing_socket_is_one_line(tmp_path):
    with pytest.raises(Unreachable, match="unable to connect to the service at unix://"):
        Client(Target("unix", path=str(tmp_path / "none.sock"))).ping()


def test_multiplexed_frames_are_split():
    import io

    raw = b"\x01\0\0\0\0\0\0\x03out" + b"\x02\0\0\0\0\0\0\x04err\n"
    assert list(demux(io.BytesIO(raw))) == [(1, b"out"), (2, b"err\n")]


def test_no_remote_module_is_imported_by_run():
    import subprocess
    import sys

    code = ("import sys; from podpy.cli import main, runargs; "
            "print(sorted(m for m in sys.modules if m.startswith('podpy.remote')))")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"
