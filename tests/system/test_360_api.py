"""`podpy system service`: the Docker-compatible API driven by the real docker CLI (Debian's
docker.io 20.10, API 1.41, and the newer CLI in /usr/local/bin, which negotiates down), and by
raw HTTP over the unix socket for errors, disconnects, concurrency and socket activation."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from apiservice import Service, docker_cli
from registry import LocalRegistry, free_port

CLIS = ["docker20", "docker28"]


@pytest.fixture(scope="module")
def service(podpy, busybox):
    svc = Service(podpy)
    yield svc
    svc.docker("/usr/bin/docker", "rm", "-f", *_all_ids(svc), check=False)
    assert svc.stop() == 0, svc.log.read_text()


def _all_ids(svc: Service) -> list[str]:
    return [c["Id"] for c in svc.json("GET", "/containers/json?all=1")]


@pytest.fixture(params=CLIS)
def cli(request) -> str:
    path = docker_cli(request.param)
    if path is None:
        pytest.skip(f"{request.param}'s docker CLI is not installed")
    return path


# -- the basics -------------------------------------------------------------------------------

def test_ping_headers_and_version_negotiation(service):
    for path in ("/_ping", "/v1.41/_ping", "/v1.24/_ping"):
        status, body, resp = service.request("GET", path)
        assert (status, body) == (200, b"OK")
        assert resp.getheader("API-Version") == "1.41"
        assert resp.getheader("OSType") == "linux"
        assert resp.getheader("Builder-Version") == "1"   # 2 would start BuildKit sessions
    status, _, resp = service.request("HEAD", "/_ping")
    assert status == 200 and resp.getheader("API-Version") == "1.41"
    status, body, _ = service.request("GET", "/v1.12/version")
    assert status == 400 and b"too old" in body and b"1.24" in body
    status, body, _ = service.request("GET", "/v1.99/version")
    assert status == 400 and b"too new" in body


def test_docker_version_and_info(service, cli):
    out = service.docker(cli, "version", "--format", "{{.Server.APIVersion}} {{.Client.APIVersion}}").stdout
    assert out.split() == ["1.41", "1.41"]
    info = json.loads(service.docker(cli, "info", "--format", "{{json .}}").stdout)
    assert info["OSType"] == "linux" and info["Images"] >= 1


def test_run_rm_exit_code_and_output(service, cli):
    before = len(_all_ids(service))
    res = service.docker(cli, "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert res.returncode == 3
    assert res.stdout == "out\n" and res.stderr == "err\n"
    assert service.docker(cli, "run", "--rm", "busybox", "true").returncode == 0
    assert len(_all_ids(service)) == before   # --rm: nothing left
    # a command that cannot run: Docker's words, which the CLI turns into 127 and 126
    for command, code, words in (("nosuchcmd", 127, "executable file not found in $PATH"),
                                 ("/nosuch", 127, "stat /nosuch: no such file or directory"),
                                 ("/etc", 126, "permission denied")):
        res = service.docker(cli, "run", "--rm", "busybox", command, check=False)
        assert res.returncode == code, res.stderr
        assert f'exec: "{command}": {words}' in res.stderr
    cid = service.docker(cli, "create", "busybox", "sh", "-c", "echo started; exit 4").stdout.strip()
    for _ in range(2):   # created, then exited: start -a attaches first, then starts
        res = service.docker(cli, "start", "-a", cid, check=False)
        assert (res.returncode, res.stdout) == (4, "started\n")
    service.docker(cli, "rm", cid)


def test_run_interactive_tty(service, cli):
    """Through a real terminal: the window's size and its changes, ^C to the container, the
    exit code. (A script rather than busybox's line editor, whose cursor queries race with
    what is typed.)"""
    pexpect = pytest.importorskip("pexpect")
    # docker 20.10 sizes the terminal just after the start: the first size is read after a line
    script = "read a; stty size; echo typed:$a; read b; stty size; sleep 60; echo not-interrupted"
    child = pexpect.spawn(cli, ["run", "--rm", "-it", "busybox", "sh", "-c", script], env=service.env,
                          timeout=30, dimensions=(33, 101), encoding="utf-8")
    try:
        time.sleep(1)
        child.sendline("hello")
        child.expect("33 101")
        child.expect("typed:hello")
        child.setwinsize(40, 120)
        time.sleep(0.5)
        child.sendline("again")
        child.expect("40 120")
        time.sleep(0.5)
        child.sendcontrol("c")   # the terminal's ^C: SIGINT for the container's foreground processes
        child.expect(pexpect.EOF)
        assert "not-interrupted" not in child.before
    finally:
        child.close()
    assert child.exitstatus == 130
    child = pexpect.spawn(cli, ["run", "--rm", "-it", "busybox", "sh", "-c", "exit 7"], env=service.env,
                          timeout=30, encoding="utf-8")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 7


# -- a detached container through its life ----------------------------------------------------

def test_detached_container_lifecycle(service, cli, tmp_path):
    port = free_port()
    cid = service.docker(cli, "run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80", "-l", "k=v",
                         "busybox", "httpd", "-f", "-p", "80", "-h", "/etc").stdout.strip()
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/hostname", timeout=2) as resp:
                    assert resp.read().decode().strip() == cid[:12]
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        ps = service.docker(cli, "ps", "--format", "{{.ID}} {{.Names}} {{.Ports}}").stdout
        assert f"{cid[:12]} web 127.0.0.1:{port}->80/tcp" in ps
        doc = json.loads(service.docker(cli, "inspect", "web").stdout)[0]
        assert doc["Name"] == "/web" and doc["State"]["Running"] is True
        assert doc["Config"]["Labels"] == {"k": "v"}
        assert doc["NetworkSettings"]["Ports"]["80/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
        assert "bridge" in doc["NetworkSettings"]["Networks"] or doc["NetworkSettings"]["Networks"]

        assert service.docker(cli, "exec", "web", "cat", "/etc/hostname").stdout.strip() == cid[:12]
        res = service.docker(cli, "exec", "web", "sh", "-c", "echo e >&2; exit 5", check=False)
        assert res.returncode == 5 and res.stderr == "e\n"
        top = service.docker(cli, "top", "web").stdout
        assert "httpd" in top
        stats = service.docker(cli, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "web").stdout
        assert stats.split() == ["web", "1"]

        # cp both ways, and diff
        src = tmp_path / "src"
        (src / "sub").mkdir(parents=True)
        (src / "sub" / "f").write_text("hello\n")
        service.docker(cli, "cp", str(src), "web:/tmp/")
        assert service.docker(cli, "exec", "web", "cat", "/tmp/src/sub/f").stdout == "hello\n"
        out = tmp_path / "out"
        out.mkdir()
        service.docker(cli, "cp", "web:/tmp/src", str(out))
        service.docker(cli, "cp", "web:/etc/hostname", str(out / "hn"))
        assert (out / "src" / "sub" / "f").read_text() == "hello\n"
        assert (out / "hn").read_text().strip() == cid[:12]
        res = service.docker(cli, "cp", "web:/no/such", str(out), check=False)
        # docker 20.10 asks HEAD first and words the 404 itself; newer CLIs show the service's message
        assert res.returncode != 0 and ("Could not find the file /no/such" in res.stderr
                                        or "No such container:path: web:/no/such" in res.stderr)
        diff = service.docker(cli, "diff", "web").stdout.splitlines()
        assert "A /tmp/src/sub/f" in diff

        service.docker(cli, "pause", "web")
        assert "(Paused)" in service.docker(cli, "ps", "--format", "{{.Status}}", "-f", "name=web").stdout
        res = service.docker(cli, "exec", "web", "true", check=False)
        assert res.returncode != 0 and "is paused, unpause the container before exec" in res.stderr
        service.docker(cli, "unpause", "web")
        service.docker(cli, "rename", "web", "web2")
        service.docker(cli, "restart", "-t", "1", "web2")
        assert json.loads(service.docker(cli, "inspect", "web2").stdout)[0]["State"]["Running"] is True
        service.docker(cli, "kill", "web2")
        assert service.docker(cli, "wait", "web2").stdout.strip() == "137"
    finally:
        service.docker(cli, "rm", "-f", cid, check=False)
    assert service.request("GET", f"/containers/{cid}/json")[0] == 404


def test_logs_follow_and_events(service, cli):
    since = str(int(time.time()) - 1)
    cid = service.docker(cli, "run", "-d", "busybox", "sh", "-c",
                         "for i in 1 2 3; do echo line$i; sleep 0.3; done").stdout.strip()
    try:
        res = service.docker(cli, "logs", "-f", cid, timeout=30)
        assert res.stdout == "line1\nline2\nline3\n"
        assert service.docker(cli, "logs", "--tail", "1", cid).stdout == "line3\n"
        stamped = service.docker(cli, "logs", "-t", cid).stdout.splitlines()
        assert len(stamped) == 3 and stamped[0].endswith(" line1")
        events = service.docker(cli, "events", "--since", since, "--until", str(int(time.time()) + 1),
                                "--filter", f"container={cid}", "--format", "{{.Action}}").stdout.split()
        assert events[:3] == ["create", "start", "die"]
    finally:
        service.docker(cli, "rm", "-f", cid, check=False)


def test_attach_io_and_exec_interactive(service, cli):
    res = service.docker(cli, "run", "--rm", "-i", "busybox", "sh", "-c", "read x; echo got:$x",
                         input="hello\n")
    assert res.stdout == "got:hello\n"
    pexpect = pytest.importorskip("pexpect")
    cid = service.docker(cli, "run", "-d", "busybox", "sleep", "300").stdout.strip()
    try:
        child = pexpect.spawn(cli, ["exec", "-it", cid, "sh"], env=service.env, timeout=30, dimensions=(25, 90),
                              encoding="utf-8")
        child.expect("# ")
        child.sendline("stty size")
        child.expect("25 90")
        child.sendline("exit 4")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 4
        piped = service.docker(cli, "exec", "-i", cid, "cat", input="through stdin\n")
        assert piped.stdout == "through stdin\n"
        missing = service.docker(cli, "exec", cid, "nosuchcmd", check=False)
        assert missing.returncode == 127 and "not found" in missing.stderr
        assert service.docker(cli, "exec", "-d", cid, "sleep", "1").returncode == 0
    finally:
        service.docker(cli, "rm", "-f", cid, check=False)


def test_login_stores_in_podpys_auth_file(service, podpy, tmp_path):
    """`docker login` goes to /auth: podpy checks the credentials with the registry and keeps
    them where `podpy login` does; they never reach the service's log. (pull and push need the
    image endpoints, which are not there yet.)"""
    reg = LocalRegistry(tmp_path)   # plain HTTP on 127.0.0.1, which Docker counts as insecure
    try:
        res = service.docker("/usr/bin/docker", "login", reg.host, "-u", "alice", "--password-stdin",
                             input="s3cret-pw\n")
        assert "Login Succeeded" in res.stdout
        assert podpy("login", "--get-login", reg.host).stdout.strip() == "alice"
        assert "s3cret-pw" not in service.log.read_text()
        podpy("logout", reg.host)
    finally:
        reg.stop()


# -- Docker's errors on the raw socket --------------------------------------------------------

def test_error_statuses(service):
    status, body, _ = service.request("GET", "/v1.41/containers/nosuch/json")
    assert status == 404 and json.loads(body)["message"] == "No such container: nosuch"
    status, body, _ = service.request("POST", "/v1.41/containers/create", b"{not json")
    assert status == 400 and "malformed JSON" in json.loads(body)["message"]
    status, body, _ = service.request("POST", "/v1.41/containers/create", {"Image": "busybox", "Env": "A=1"})
    assert status == 400 and "Env" in json.loads(body)["message"]
    status, body, _ = service.request("POST", "/v1.41/containers/create", {"Image": "nosuchimage", "Cmd": ["x"]})
    assert status == 404 and "No such image" in json.loads(body)["message"]
    made = service.json("POST", "/v1.41/containers/create?name=dup", {"Image": "busybox", "Cmd": ["sleep", "60"]},
                        expect=201)
    try:
        status, body, _ = service.request("POST", "/v1.41/containers/create?name=dup",
                                          {"Image": "busybox", "Cmd": ["true"]})
        assert status == 409 and "already in use" in json.loads(body)["message"]
        assert service.request("POST", "/v1.41/containers/dup/stop")[0] == 304
        assert service.request("POST", "/v1.41/containers/dup/start")[0] == 204
        assert service.request("POST", "/v1.41/containers/dup/start")[0] == 304
        status, body, _ = service.request("DELETE", "/v1.41/containers/dup")
        assert status == 409 and "force" in json.loads(body)["message"]
        assert service.request("POST", "/v1.41/containers/dup/stop?t=1")[0] == 204
        assert service.request("POST", "/v1.41/containers/dup/stop")[0] == 304
        status, body, _ = service.request("POST", "/v1.41/containers/dup/wait?condition=bogus")
        assert status == 400
    finally:
        assert service.request("DELETE", f"/v1.41/containers/{made['Id']}?force=1")[0] == 204
    assert service.request("DELETE", "/v1.41/containers/dup")[0] == 404
    status, body, _ = service.request("PUT", "/_ping")
    assert status == 405
    status, body, _ = service.request("GET", "/v1.41/nothing/here")
    assert status == 404


def test_a_terminal_resize_is_done_when_it_answers(service, podpy):
    """Each resize is in the container's terminal by the time the request answers, also while
    the container prints (the output to the resizing connection must not drop its message);
    a size a terminal cannot have is a 400 naming it."""
    made = service.json("POST", "/v1.41/containers/create?name=resized",
                        {"Image": "busybox", "Tty": True,
                         "Cmd": ["sh", "-c", "while :; do echo tick; sleep 0.005; done"]}, expect=201)
    try:
        status, body, _ = service.request("POST", "/v1.41/containers/resized/start")
        assert status == 204, body
        for rows, cols in ((25, 91), (40, 120), (61, 203), (24, 80)):
            status, body, _ = service.request("POST", f"/v1.41/containers/resized/resize?h={rows}&w={cols}")
            assert status == 200, body
            assert podpy("exec", "resized", "stty", "-F", "/dev/console", "size").stdout.split() == \
                [str(rows), str(cols)]
        for query in ("h=0&w=80", "h=70000&w=80", "h=24"):
            status, body, _ = service.request("POST", f"/v1.41/containers/resized/resize?{query}")
            assert status == 400 and "invalid terminal size" in json.loads(body)["message"], (query, body)
    finally:
        assert service.request("DELETE", f"/v1.41/containers/{made['Id']}?force=1")[0] == 204


def test_huge_body_and_bad_http(service):
    with socket.socket(socket.AF_UNIX) as s:   # refused on its length, before it is read
        s.connect(service.sock)
        s.sendall(b"POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n{" % (9 << 20))
        assert s.recv(4096).startswith(b"HTTP/1.1 413")
    with socket.socket(socket.AF_UNIX) as s:   # chunked, so refused once 8 MB have come
        s.connect(service.sock)
        s.sendall(b"POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (1 << 20, b" " * (1 << 20))
        reply = b""
        try:
            for _ in range(12):
                s.sendall(chunk)
        except OSError:
            pass   # the service stopped reading: its answer is there
        reply = s.recv(4096)
        assert reply.startswith(b"HTTP/1.1 413")
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(service.sock)
        s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400")
    assert service.request("GET", "/_ping")[0] == 200


def test_client_disconnecting_mid_stream(service):
    cid = service.json("POST", "/containers/create", {"Image": "busybox", "Cmd": ["sh", "-c", "while :; do echo x; "
                                                                                         "sleep 0.1; done"]},
                       expect=201)["Id"]
    try:
        assert service.request("POST", f"/containers/{cid}/start")[0] == 204
        for path in (f"/containers/{cid}/logs?follow=1&stdout=1", "/events", f"/containers/{cid}/stats",
                     f"/containers/{cid}/attach?stream=1&stdout=1"):
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(service.sock)
                method = "POST" if "attach" in path else "GET"
                s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                assert s.recv(4096).startswith(b"HTTP/1.1 ")
            # the service lives on and serves others
            assert service.request("GET", "/_ping")[0] == 200
        assert service.json("GET", f"/containers/{cid}/json")["State"]["Running"] is True
    finally:
        service.request("DELETE", f"/containers/{cid}?force=1")
    time.sleep(1)
    assert service.proc.poll() is None


def test_fifty_concurrent_clients(service):
    """50 clients at once, each creating, starting, waiting for and removing a container."""
    errors: list[str] = []

    def client(i: int) -> None:
        try:
            st, body, _ = service.request("POST", f"/containers/create?name=conc{i}",
                                          {"Image": "busybox", "Cmd": ["sh", "-c", f"exit {i % 7}"]}, timeout=300)
            if st != 201:
                errors.append(f"create {i}: {st} {body!r}")
                return
            cid = json.loads(body)["Id"]
            st, body, _ = service.request("POST", f"/containers/{cid}/start", timeout=300)
            if st != 204:
                errors.append(f"start {i}: {st} {body!r}")
            st, body, _ = service.request("POST", f"/containers/{cid}/wait", timeout=300)
            if st != 200 or json.loads(body)["StatusCode"] != i % 7:
                errors.append(f"wait {i}: {st} {body!r}")
            st, body, _ = service.request("DELETE", f"/containers/{cid}?force=1", timeout=300)
            if st != 204:
                errors.append(f"rm {i}: {st} {body!r}")
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            errors.append(f"client {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, "\n".join(errors)
    assert "database is locked" not in service.log.read_text()
    left = [c for c in service.json("GET", "/containers/json?all=1") if c["Names"][0].startswith("/conc")]
    assert left == []


def test_cp_into_a_container_gives_the_files_to_its_root_or_with_a_to_its_user(service, cli, tmp_path):
    """As Docker's daemon: whatever ids the client's tar has (the caller's own), what `docker cp`
    puts in a container belongs to its root, and with -a to its user."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x\n")
    cid = service.docker(cli, "run", "-d", "-u", "1000:1001", "busybox", "sleep", "1000").stdout.strip()
    try:
        service.docker(cli, "cp", str(tmp_path / "d"), f"{cid}:/tmp/plain")
        service.docker(cli, "cp", "-a", str(tmp_path / "d"), f"{cid}:/tmp/archive")
        out = service.docker(cli, "exec", cid, "stat", "-c", "%n %u:%g", "/tmp/plain", "/tmp/plain/f",
                             "/tmp/archive", "/tmp/archive/f").stdout.split("\n")
        assert out[:4] == ["/tmp/plain 0:0", "/tmp/plain/f 0:0", "/tmp/archive 1000:1001", "/tmp/archive/f 1000:1001"]
    finally:
        service.docker(cli, "rm", "-f", cid)


def test_create_warns_of_the_limits_the_cli_warns_of(service, podpy):
    """The limits this host's cgroups cannot apply: the create's Warnings (the docker CLI
    prints them) say what podpy's own run says (nothing where they are applied)."""
    res = podpy("run", "--rm", "-m", "64m", "--pids-limit", "50", "busybox", "true")
    # without a terminal, as podman's: time="..." level=warning msg="..."
    cli_warnings = sorted(m.replace('\\"', '"') for m in re.findall(r'level=warning msg="((?:[^"\\]|\\.)*)"', res.stderr)
                          if "ignored" in m)
    doc = service.json("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"],
                                                      "HostConfig": {"Memory": 64 << 20, "PidsLimit": 50}},
                       expect=201)
    service.request("DELETE", f"/containers/{doc['Id']}")
    assert sorted(doc["Warnings"]) == cli_warnings


def test_logs_timestamps_are_rfc3339_nano_in_utc(service, cli):
    import re

    cid = service.docker(cli, "run", "-d", "busybox", "echo", "stamped").stdout.strip()
    try:
        service.docker(cli, "wait", cid)
        out = service.docker(cli, "logs", "-t", cid).stdout
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stamped\n", out), out
    finally:
        service.docker(cli, "rm", "-f", cid)


def test_a_restart_pending_is_restarting_and_stop_calls_it_off(service):
    """--restart always between an exit and its restart: Docker's `restarting` (Running and
    Restarting true, ps's Restarting (CODE)); a stop then leaves it exited."""
    cli = "/usr/bin/docker"
    cid = service.docker(cli, "run", "-d", "--restart", "always", "busybox", "sh", "-c", "sleep 0.3; exit 3"
                         ).stdout.strip()
    try:
        deadline = time.monotonic() + 30
        while True:
            state = service.json("GET", f"/containers/{cid}/json")["State"]
            if state["Status"] == "restarting" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert (state["Status"], state["Running"], state["Restarting"], state["ExitCode"]) == \
            ("restarting", True, True, 3)
        service.docker(cli, "stop", cid)
        time.sleep(1)
        state = service.json("GET", f"/containers/{cid}/json")["State"]
        assert (state["Status"], state["Restarting"]) == ("exited", False)
    finally:
        service.docker(cli, "rm", "-f", cid)


def _open_fds(pid: int) -> list[str]:
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


def test_requests_leave_no_file_descriptor_open(service, tmp_path):
    """Hundreds of requests, kept alive and on connections of their own, and copies in and out
    of a running container: the service holds no more files after them than before (each
    request once kept its database connection, and a copy the container's namespaces, until
    the service ran out of files)."""
    import http.client
    from collections import Counter

    from apiservice import UnixConnection

    cid = service.docker("/usr/bin/docker", "run", "-d", "busybox", "sleep", "1000").stdout.strip()
    src = tmp_path / "f1"
    src.write_text("data\n")
    try:
        service.request("GET", "/containers/json")   # what the first requests load, loaded
        before = _open_fds(service.proc.pid)
        conn = UnixConnection(service.sock)
        try:
            for i in range(200):   # one connection kept alive
                conn.request("GET", ("/containers/json?all=1", "/images/json", "/info", "/nope")[i % 4])
                resp: http.client.HTTPResponse = conn.getresponse()
                resp.read()
        finally:
            conn.close()
        for _ in range(50):
            assert service.request("GET", f"/containers/{cid}/json")[0] == 200
        for _ in range(5):
            service.docker("/usr/bin/docker", "cp", str(src), f"{cid}:/tmp/")
            service.docker("/usr/bin/docker", "cp", f"{cid}:/tmp/f1", str(tmp_path / "back"))
        more = Counter(_open_fds(service.proc.pid)) - Counter(before)
        assert sum(more.values()) <= 2, more   # (a thread of another test's may just be ending)
    finally:
        service.docker("/usr/bin/docker", "rm", "-f", cid, check=False)


# -- how the service is started and ends ------------------------------------------------------

def test_idle_time_ends_the_service(podpy, busybox, tmp_path):
    svc = Service(podpy, ("--time", "1"))
    try:
        with socket.socket(socket.AF_UNIX) as s:   # an open connection keeps it
            s.connect(svc.sock)
            time.sleep(2)
            assert svc.proc.poll() is None
        deadline = time.monotonic() + 10
        while svc.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert svc.proc.returncode == 0
        assert not os.path.exists(svc.sock)   # the socket file goes with it
    finally:
        svc.stop()


def test_socket_activation(podpy, busybox):
    """A listening socket passed as fd 3 with LISTEN_FDS=1 and LISTEN_PID, as systemd does."""
    import tempfile

    folder = tempfile.mkdtemp(prefix="podpy-act-", dir="/tmp")
    path = os.path.join(folder, "act.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(8)
    fd = listener.fileno()
    # what systemd does before it executes the service: the socket at fd 3, LISTEN_PID its pid
    launcher = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.environ['LISTEN_PID'] = str(os.getpid()); "
                "os.execvpe(sys.argv[2], sys.argv[2:], os.environ)")
    proc = subprocess.Popen([sys.executable, "-c", launcher, str(fd),
                             *podpy.command("system", "service", "--time", "1")],
                            env=dict(podpy.environ(), LISTEN_FDS="1"), pass_fds=(fd,), stderr=subprocess.DEVNULL)
    try:
        from apiservice import UnixConnection

        conn = UnixConnection(path, timeout=30)
        conn.request("GET", "/v1.41/version")
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["ApiVersion"] == "1.41"
        conn.close()
        assert proc.wait(timeout=20) == 0   # idle after its second: gone
        assert os.path.exists(path)          # systemd's socket file is left alone
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        listener.close()
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def test_tcp_warns_and_uri_errors(podpy, busybox):
    res = podpy("system", "service", "--time", "1", "ftp://x", check=False)
    assert res.returncode == 125 and "only unix:// and tcp://" in res.stderr
    port = free_port()
    proc = subprocess.Popen(podpy.command("system", "service", "--time", "1", f"tcp://127.0.0.1:{port}"),
                            env=podpy.environ(), stderr=subprocess.PIPE, text=True)
    try:
        err = proc.communicate(timeout=30)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "anyone who can connect" in err and proc.returncode == 0


# podman 4.3.1's `system service --cors ORIGIN` sends these with the origin (seen with curl -v)
PODMAN_CORS = {"access-control-allow-headers": "Origin, X-Requested-With, Content-Type, Accept, X-Registry-Auth, "
                                               "Connection, Upgrade, X-Registry-Config",
               "access-control-allow-methods": "HEAD, GET, POST, DELETE, PUT, OPTIONS"}


def curl_headers(sock: str, *args: str) -> tuple[int, dict[str, str]]:
    """curl -i over the unix socket: the status and the response's headers (lower-case names)."""
    out = subprocess.run(["curl", "-s", "-i", "--unix-socket", sock, *args], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    head = out.replace("\r\n", "\n").split("\n\n", 1)[0].split("\n")   # (text mode made \r\n \n)
    return int(head[0].split()[1]), {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}


@pytest.mark.parametrize("flag", [("--cors", "http://example.org"), ("--cors=http://example.org",)])
def test_cors_headers_on_every_response_and_preflight(podpy, busybox, flag):
    svc = Service(podpy, ("--time", "0", *flag))
    try:
        for method, path, want in (("GET", "/_ping", 200), ("GET", "/v1.41/containers/json", 200),
                                   ("GET", "/v1.41/containers/nosuch/json", 404), ("HEAD", "/_ping", 200),
                                   ("POST", "/v1.41/containers/create", 400)):
            status, headers = curl_headers(svc.sock, "-X", method, *(["-I"] if method == "HEAD" else []),
                                           f"http://d{path}")
            assert status == want, (method, path)
            assert headers.get("access-control-allow-origin") == "http://example.org", (method, path)
            for k, v in PODMAN_CORS.items():
                assert headers.get(k) == v, (method, path, k)
        # a browser's preflight is answered for any path (podman 4.3.1 answers 405, as Docker's daemon
        # does not: a preflight that fails stops the browser's request)
        status, headers = curl_headers(svc.sock, "-X", "OPTIONS", "-H", "Origin: http://example.org",
                                       "-H", "Access-Control-Request-Method: POST", "http://d/v1.41/containers/create")
        assert status == 200 and headers["access-control-allow-origin"] == "http://example.org"
        assert "POST" in headers["access-control-allow-methods"]
    finally:
        svc.stop()
    # without --cors: no CORS headers, and OPTIONS is a method no route has
    svc = Service(podpy)
    try:
        status, headers = curl_headers(svc.sock, "http://d/_ping")
        assert status == 200 and not any(k.startswith("access-control") for k in headers)
        status, headers = curl_headers(svc.sock, "-X", "OPTIONS", "http://d/v1.41/containers/json")
        assert status in (404, 405) and "access-control-allow-origin" not in headers
    finally:
        svc.stop()
