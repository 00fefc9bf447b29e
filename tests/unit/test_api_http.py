"""The API's HTTP layer on a socketpair: routing and versions, Docker's error bodies, body
limits, keep-alive, streamed and hijacked responses, and clients that leave mid-stream."""

import json
import socket
import threading
import time

import pytest

from podpy import errors
from podpy.api import http
from podpy.api.routes import Router, RouteTable

table = RouteTable()
closed = threading.Event()


@table.get("/things/{id}/json")
def thing(req):
    if req.params["id"] == "missing":
        raise errors.NoSuchContainer("No such container: missing")
    if req.params["id"] == "busy":
        raise errors.InvalidState("it runs")
    if req.params["id"] == "boom":
        raise RuntimeError("unexpected")
    return {"id": req.params["id"], "version": req.version, "all": req.flag("all")}


@table.post("/things")
def make(req):
    return http.json_response({"got": req.json()}, 201)


@table.get("/stream")
def stream(req):
    def chunks():
        try:
            yield b""
            for i in range(1000):
                yield b"x" * 65536
                time.sleep(0.001)
        finally:
            closed.set()
    return http.Streamed(chunks())


@table.post("/hijack")
def hijack(req):
    def run(sock, already):
        data = already
        while not data.endswith(b"\n"):
            data += sock.recv(100)
        sock.sendall(b"echo:" + data)
    return http.Hijack(run)


class FakeRuntime:
    """What a request opens (the engine's Runtime), counting its closes."""

    made: list["FakeRuntime"] = []

    def __init__(self):
        self.closed = 0
        FakeRuntime.made.append(self)

    def close(self):
        self.closed += 1


@table.get("/rt/{how}")
def uses_runtime(req):
    req.runtime()
    req.runtime()   # one per request, however often asked
    if req.params["how"] == "fails":
        raise errors.NoSuchContainer("No such container: x")
    if req.params["how"] == "streams":
        def chunks():
            yield b"a"
            assert not FakeRuntime.made[-1].closed   # still open while the stream is sent
            yield b"b"
        return http.Streamed(chunks())
    return {"ok": True}


OPEN: list[socket.socket] = []


@pytest.fixture(autouse=True)
def _close_sockets():
    yield
    while OPEN:
        OPEN.pop().close()


def serve():
    ours, theirs = socket.socketpair()
    OPEN.append(theirs)
    logged = []
    app = http.App(Router([table]), FakeRuntime, logged.append)
    threading.Thread(target=http.Connection(ours, app).serve, daemon=True).start()
    return theirs, logged


def exchange(sock, raw: bytes) -> bytes:
    sock.sendall(raw)
    sock.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")),
                  0)
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def status_and_body(reply: bytes):
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_routes_versions_and_keep_alive():
    sock, _ = serve()
    reply = exchange(sock, b"GET /v1.30/things/a/json?all=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    status, body = status_and_body(reply)
    assert status == 200 and json.loads(body) == {"id": "a", "version": "1.30", "all": True}
    assert b"Api-Version: 1.41" in reply
    status, body = status_and_body(exchange(sock, b"GET /things/b/json HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert status == 200 and json.loads(body)["version"] == "1.41"   # the same connection
    status, body = status_and_body(exchange(sock, b"GET /v1.10/things/b/json HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert status == 400 and b"too old" in body


def test_each_requests_runtime_is_closed_when_it_is_answered():
    """A Runtime holds a database connection (two files): one left open per request would,
    after some hundreds of requests on a long-lived service, leave it no file to open."""
    FakeRuntime.made.clear()
    sock, _ = serve()
    for how in ("plain", "fails", "plain"):   # kept alive: one connection, several requests
        status, _ = status_and_body(exchange(sock, f"GET /rt/{how} HTTP/1.1\r\nHost: x\r\n\r\n".encode()))
        assert status == (404 if how == "fails" else 200)
    sock.sendall(b"GET /rt/streams HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.settimeout(5)
    data = b""
    while not data.endswith(b"0\r\n\r\n"):
        data += sock.recv(4096)
    assert b"b\r\n" in data
    status_and_body(exchange(sock, b"GET /things/a/json HTTP/1.1\r\nHost: x\r\n\r\n"))  # no runtime
    assert len(FakeRuntime.made) == 4
    assert [rt.closed for rt in FakeRuntime.made] == [1, 1, 1, 1]


@pytest.mark.parametrize("ident, status", [("missing", 404), ("busy", 409), ("boom", 500)])
def test_engine_errors_become_dockers_statuses(ident, status):
    sock, logged = serve()
    got, body = status_and_body(exchange(sock, f"GET /things/{ident}/json HTTP/1.1\r\nHost: x\r\n\r\n".encode()))
    assert got == status
    message = json.loads(body)["message"]
    assert "Traceback" not in message and message
    if ident == "boom":
        assert logged and "unexpected" in logged[0]


def test_unknown_path_method_and_bad_query():
    sock, _ = serve()
    assert status_and_body(exchange(sock, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"))[0] == 404
    assert status_and_body(exchange(sock, b"DELETE /things HTTP/1.1\r\nHost: x\r\n\r\n"))[0] == 405
    status, body = status_and_body(exchange(sock, b"GET /things/a/json?all=maybe HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert status == 400 and b"all" in body


def test_json_bodies_malformed_and_too_large():
    sock, _ = serve()
    body = b'{"a": 1}'
    status, reply = status_and_body(exchange(sock, b"POST /things HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n"
                                             + body))
    assert status == 201 and json.loads(reply) == {"got": {"a": 1}}
    status, reply = status_and_body(exchange(sock, b"POST /things HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n"
                                             b"{bad"))
    assert status == 400 and b"malformed JSON" in reply
    sock, _ = serve()
    huge = http.MAX_BODY + 1
    status, reply = status_and_body(exchange(sock, f"POST /things HTTP/1.1\r\nHost: x\r\nContent-Length: {huge}"
                                                   "\r\n\r\n".encode()))
    assert status == 413


def test_garbage_is_a_400_and_a_close():
    sock, _ = serve()
    sock.sendall(b"\x00\x01 nonsense\r\n\r\n")
    sock.settimeout(5)
    reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400")
    while sock.recv(4096):
        pass   # then closed


def test_client_leaving_mid_stream_closes_the_generator():
    closed.clear()
    sock, _ = serve()
    sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.settimeout(5)
    assert sock.recv(100).startswith(b"HTTP/1.1 200")
    sock.close()
    assert closed.wait(10)


@pytest.mark.parametrize("upgrade", [True, False])
def test_hijack_answers_as_docker(upgrade):
    sock, _ = serve()
    extra = b"Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else b""
    sock.sendall(b"POST /hijack HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\nhello\n")
    sock.settimeout(5)
    data = b""
    while b"echo:hello\n" not in data:
        chunk = sock.recv(100)
        assert chunk
        data += chunk
    first = data.split(b"\r\n")[0]
    assert first == (b"HTTP/1.1 101 UPGRADED" if upgrade else b"HTTP/1.1 200 OK")
    assert b"Content-Type: application/vnd.docker.raw-stream" in data


def test_log_tail_from_the_end_partial_lines_rotation_and_removal(tmp_path):
    """An attach's output: the k8s-file log from where it ended, a partial line (a prompt) at
    once, the new file after a rotation, and what was written after the log's removal."""
    from podpy.api.streams import LogTail, frame

    log = tmp_path / "ctr.log"
    log.write_bytes(b"2026-01-01T00:00:00Z stdout F before the attach\n")
    tail = LogTail(str(log))
    assert tail.read() == []
    with open(log, "ab") as f:
        f.write(b"2026-01-01T00:00:01Z stdout P / # \n2026-01-01T00:00:02Z stderr F oops\n")
    assert tail.read() == [("stdout", b"/ # "), ("stderr", b"oops\n")]
    log.rename(tmp_path / "ctr.log.1")
    log.write_bytes(b"2026-01-01T00:00:03Z stdout F after rotation\n")
    assert tail.read() == [("stdout", b"after rotation\n")]
    with open(log, "ab") as f:
        f.write(b"2026-01-01T00:00:04Z stdout F last words\n")
    log.unlink()   # --rm: the container's directory goes
    assert tail.read() == [("stdout", b"last words\n")]
    tail.close()
    assert frame("stderr", b"ab") == b"\x02\x00\x00\x00\x00\x00\x00\x02ab"


def test_a_missing_log_is_made_so_the_first_start_is_read_whole(tmp_path):
    from podpy.api.streams import LogTail

    log = tmp_path / "ctr.log"
    tail = LogTail(str(log))   # before the container's first start
    with open(log, "ab") as f:
        f.write(b"2026-01-01T00:00:00Z stdout F hello\n")
    assert tail.read() == [("stdout", b"hello\n")]
    tail.close()


def test_log_stamps_are_dockers_rfc3339_nano_in_utc():
    from podpy.api.streams import docker_stamp

    assert docker_stamp(b"2024-05-01T10:00:00.123456789+00:00", 0) == b"2024-05-01T10:00:00.123456789Z"
    assert docker_stamp(b"2024-05-01T10:00:00.5Z", 0) == b"2024-05-01T10:00:00.500000000Z"
    # another zone: from the entry's time, in UTC
    assert docker_stamp(b"2024-05-01T12:00:00.250000000+02:00", 1714557600.25) == b"2024-05-01T10:00:00.250000000Z"
