"""Remote connections: podman 4.3.1's own remote client against podpy's service (the libpod
API), `podpy --remote` against podpy's service and against podman 4.3.1's, `system
connection`, podman's variables, and ssh:// through a non-root sshd on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from helpers import run_command
from registry import free_port
from remotes import PODMAN, busybox_registry, eventually, podman_client
from remotes import service, podman_service  # noqa: F401 - fixtures


@pytest.fixture(scope="module")
def registry(tmp_path_factory, podpy, busybox):
    """A plain-HTTP registry on 127.0.0.1 holding busybox as remote/busybox:1."""
    yield from busybox_registry(tmp_path_factory, podpy, "remote/busybox")


# -- podman's own client, podpy's service --------------------------------------------------------

def test_podmans_client_drives_podpys_service(service, podpy, registry, tmp_path):
    pm = podman_client(service.sock, podpy.environ())
    version = pm("version", "--format", "{{.Server.APIVersion}} {{.Client.APIVersion}}").stdout.split()
    assert version == ["4.3.1", "4.3.1"]
    assert "localhost/busybox" in pm("images", "--format", "{{.Repository}}").stdout.split()
    cid = pm("run", "-d", "--name", "pm-c1", "-e", "A=b", "busybox", "sh", "-c",
             "echo out; echo err >&2; sleep 300").stdout.strip()
    assert len(cid) == 64
    assert "pm-c1" in pm("ps", "--format", "{{.Names}}").stdout.split()
    assert podpy("ps", "--format", "{{.Names}} {{.ID}}").stdout.count(f"pm-c1 {cid[:12]}") == 1   # the same store
    eventually(lambda: pm("logs", "pm-c1").stdout == "out\n")
    ex = pm("exec", "pm-c1", "sh", "-c", "echo $A; exit 3", check=False)
    assert (ex.returncode, ex.stdout) == (3, "b\n")
    assert pm("inspect", "pm-c1", "--format", "{{.State.Status}}").stdout.strip() == "running"
    pm("stop", "-t", "1", "pm-c1")
    assert pm("inspect", "pm-c1", "--format", "{{.State.Status}}").stdout.strip() == "exited"
    pm("rm", "-f", "pm-c1")
    assert "pm-c1" not in podpy("ps", "-a", "--format", "{{.Names}}").stdout.split()
    res = pm("run", "--rm", "busybox", "sh", "-c", "echo attached; exit 4", check=False)
    assert (res.returncode, res.stdout) == (4, "attached\n")
    pm("pull", f"{registry.host}/remote/busybox:1")
    assert f"{registry.host}/remote/busybox" in podpy("images", "--format", "{{.Repository}}").stdout.split()
    pm("tag", f"{registry.host}/remote/busybox:1", "localhost/pm-tagged:2")
    assert "localhost/pm-tagged:2" in podpy("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert "Untagged: localhost/pm-tagged:2" in pm("rmi", "localhost/pm-tagged:2").stdout
    pm("volume", "create", "pm-vol")
    assert "pm-vol" in pm("volume", "ls", "--format", "{{.Name}}").stdout.split()
    assert pm("volume", "inspect", "pm-vol", "--format", "{{.Driver}}").stdout.strip() == "local"
    pm("volume", "rm", "pm-vol")
    pm("network", "create", "pm-net")
    assert "pm-net" in pm("network", "ls", "--format", "{{.Name}}").stdout.split()
    pm("network", "rm", "pm-net")
    pm("save", "-o", tmp_path / "saved.tar", "busybox")
    assert "Loaded image: localhost/busybox:latest" in pm("load", "-i", tmp_path / "saved.tar").stdout
    assert pm("info", "--format", "{{.Host.RemoteSocket.Path}}").stdout.strip() == f"unix://{service.sock}"
    died = pm("events", "--stream=false", "--filter", "event=died", "--format", "{{.Name}} {{.ContainerExitCode}}")
    assert "pm-c1 137" in died.stdout.splitlines()
    missing = pm("rm", "no-such-ctr", check=False)
    assert missing.returncode == 1 and "no such container" in missing.stderr


# -- podpy's client, podpy's service -------------------------------------------------------------

def test_podpys_client_drives_podpys_service(service, podpy, registry):
    url = f"unix://{service.sock}"

    def remote(*args, check=True):
        return podpy("--url", url, *args, check=check, timeout=120)

    local_ids = podpy("images", "--format", "{{.ID}}").stdout.split()
    assert sorted(remote("images", "--format", "{{.ID}}").stdout.split()) == sorted(local_ids)
    assert remote("version", "--format", "{{.Server.APIVersion}}").stdout.strip() == "4.3.1"
    assert json.loads(remote("info", "--format", "json").stdout)["host"]["serviceIsRemote"] is True
    cid = remote("run", "-d", "--name", "pp-c1", "busybox", "sh", "-c", "echo out; sleep 300").stdout.strip()
    assert remote("ps", "--format", "{{.Names}} {{.ID}}").stdout.count(f"pp-c1 {cid[:12]}") == 1
    eventually(lambda: remote("logs", "pp-c1").stdout == "out\n")
    ex = remote("exec", "pp-c1", "sh", "-c", "echo ex; echo err >&2; exit 2", check=False)
    assert (ex.returncode, ex.stdout, ex.stderr) == (2, "ex\n", "err\n")
    assert remote("exec", "-i", "pp-c1", "cat", check=False).returncode == 0
    assert podpy("--url", url, "exec", "-i", "pp-c1", "cat", input="piped\n").stdout == "piped\n"
    assert remote("inspect", "--format", "{{.Name}} {{.State.Status}}", "pp-c1").stdout.strip() == "pp-c1 running"
    for kind, there in (("container", "pp-c1"), ("image", "busybox"), ("network", "podman")):
        assert remote(kind, "exists", there, check=False).returncode == 0, kind
        assert remote(kind, "exists", "pp-nothing", check=False).returncode == 1, kind
    assert remote("volume", "exists", "pp-nothing", check=False).returncode == 1
    remote("pause", "pp-c1")
    assert podpy("inspect", "--format", "{{.State.Status}}", "pp-c1").stdout.strip() == "paused"
    remote("unpause", "pp-c1")
    assert remote("stop", "-t", "1", "pp-c1").stdout.strip() == "pp-c1"
    assert remote("rm", "pp-c1").stdout.strip() == "pp-c1"
    res = remote("run", "--rm", "busybox", "sh", "-c", "echo attached; echo err >&2; exit 5", check=False)
    assert (res.returncode, res.stdout, res.stderr) == (5, "attached\n", "err\n")
    remote("run", "-d", "--name", "pp-c2", "busybox", "sleep", "300")
    remote("kill", "pp-c2")
    assert remote("wait", "pp-c2").stdout.strip() == "137"
    remote("create", "--name", "pp-c3", "busybox", "sh", "-c", "echo started; exit 8")
    res = remote("start", "-a", "pp-c3", check=False)
    assert (res.returncode, res.stdout) == (8, "started\n")
    remote("rm", "pp-c2", "pp-c3")
    seen = remote("events", "--no-stream", "--format", "json", "--filter", "container=pp-c2").stdout
    assert seen == podpy("events", "--no-stream", "--format", "json", "--filter", "container=pp-c2").stdout
    assert {"create", "start", "kill", "died", "remove"} <= {json.loads(line)["Status"] for line in seen.splitlines()}
    assert podpy("--url", url, "run", "-i", "--rm", "busybox", "cat", input="in\n").stdout == "in\n"
    pulled = remote("pull", f"{registry.host}/remote/busybox:1").stdout.strip()
    assert f"sha256:{pulled}" in podpy("images", "--no-trunc", "--format", "{{.ID}}").stdout.split()
    remote("tag", f"{registry.host}/remote/busybox:1", "localhost/pp-tagged:3")
    assert "Untagged: localhost/pp-tagged:3" in remote("rmi", "localhost/pp-tagged:3").stdout
    assert remote("volume", "create", "pp-vol").stdout.strip() == "pp-vol"
    assert "pp-vol" in podpy("volume", "ls", "--format", "{{.Name}}").stdout.split()
    assert remote("volume", "rm", "pp-vol").stdout.strip() == "pp-vol"
    assert remote("network", "create", "pp-net").stdout.strip() == "pp-net"
    assert "pp-net" in remote("network", "ls", "--format", "{{.Name}}").stdout.split()
    remote("network", "rm", "pp-net")


def test_what_the_remote_client_lacks_is_refused_in_one_line(service, podpy):
    url = f"unix://{service.sock}"
    for args, words in ((("pod", "clone", "x"),
                         "podpy pod clone: not available with --remote (podman 4.3.1's remote client fails on it too)"),
                        (("run", "--memory-swap", "1g", "busybox", "true"),
                         "podpy run --memory-swap: not available with --remote"),
                        (("volume", "export", "pp-nothing"),
                         "podpy volume export: not available with --remote (podman 4.3.1's remote client refuses it "
                         "too)")):
        res = podpy("--url", url, *args, check=False)
        assert res.returncode == 125 and res.stderr.strip().splitlines() == [f"Error: {words}"], res.stderr
    bad = podpy("--url", "tcp://localhost", "ps", check=False)
    assert bad.returncode == 125 and "expected tcp://HOST:PORT" in bad.stderr
    gone = podpy("--url", f"unix://{service.dir}/none.sock", "ps", check=False)
    assert gone.returncode == 125 and "unable to connect to the service" in gone.stderr


def test_connections_and_podmans_variables(service, podpy, tmp_path):
    url = f"unix://{service.sock}"
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    conn = lambda *args, **kw: podpy("system", "connection", *args, env=env, **kw)  # noqa: E731
    conn("add", "here", url)
    conn("add", "elsewhere", "tcp://127.0.0.1:1")
    conn("add", "--default", "other", "tcp://127.0.0.1:2")
    rows = json.loads(conn("ls", "--format", "json").stdout)
    assert [(r["Name"], r["URI"], r["Default"]) for r in rows] == [
        ("elsewhere", "tcp://127.0.0.1:1", False), ("here", url, False), ("other", "tcp://127.0.0.1:2", True)]
    assert conn("ls").stdout.splitlines()[0].split() == ["Name", "URI", "Identity", "Default"]
    conf = (tmp_path / "config" / "podpy" / "containers.conf").read_text()
    assert 'active_service = "other"' in conf and "[engine.service_destinations.here]" in conf
    conn("default", "here")
    conn("rename", "elsewhere", "away")
    conn("rm", "other")
    assert conn("ls", "-q").stdout.split() == ["away", "here"]
    names = podpy("--remote", "images", "--format", "{{.ID}}", env=env).stdout.split()   # the default: here
    assert sorted(names) == sorted(podpy("images", "--format", "{{.ID}}").stdout.split())
    assert podpy("-c", "away", "ps", env=env, check=False).returncode == 125   # nobody on port 1
    assert podpy("ps", env={**env, "CONTAINER_CONNECTION": "here"}).returncode == 0
    assert podpy("ps", env={**env, "CONTAINER_HOST": url}).returncode == 0
    unknown = podpy("-c", "nope", "ps", env=env, check=False)
    assert unknown.returncode == 125 and '"nope" destination is not defined' in unknown.stderr
    conn("rm", "--all")
    assert conn("ls", "-q").stdout == ""


# -- podpy's client, podman's service ------------------------------------------------------------

def test_podpys_client_drives_podmans_service(podman_service, service, podpy, registry, tmp_path):
    sock, pm_env = podman_service
    service_sock = service.sock
    url = f"unix://{sock}"

    def remote(*args, check=True, input=None):
        return podpy("--url", url, *args, check=check, timeout=120, input=input)

    def local_podman(*args):
        return run_command([PODMAN, *args], env=pm_env, timeout=120).stdout

    version = remote("version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}").stdout.split()
    assert version == ["4.3.1", "4.3.1"]
    assert sorted(remote("images", "--format", "{{.ID}}").stdout.split()) == \
        sorted(local_podman("images", "--format", "{{.ID}}").split())
    assert remote("info", "--format", "{{.Host.RemoteSocket.Path}}").stdout.strip() == url
    cid = remote("run", "-d", "--name", "pp-on-pm", "localhost/busybox", "sh", "-c", "echo out; sleep 300"
                 ).stdout.strip()
    assert cid in local_podman("ps", "--no-trunc", "--format", "{{.ID}}").split()
    assert remote("ps", "--format", "{{.Names}}").stdout.split() == ["pp-on-pm"]
    eventually(lambda: remote("logs", "pp-on-pm").stdout == "out\n")
    ex = remote("exec", "pp-on-pm", "sh", "-c", "echo ex; exit 3", check=False)
    assert (ex.returncode, ex.stdout) == (3, "ex\n")
    assert remote("inspect", "--format", "{{.State.Status}}", "pp-on-pm").stdout.strip() == "running"
    remote("stop", "-t", "1", "pp-on-pm")
    remote("rm", "pp-on-pm")
    res = remote("run", "--rm", "localhost/busybox", "sh", "-c", "echo attached; exit 6", check=False)
    assert (res.returncode, res.stdout) == (6, "attached\n")
    assert remote("run", "-i", "--rm", "localhost/busybox", "cat", input="in\n").stdout == "in\n"
    remote("pull", "--tls-verify=false", f"{registry.host}/remote/busybox:1")
    assert f"{registry.host}/remote/busybox" in local_podman("images", "--format", "{{.Repository}}").split()
    remote("tag", f"{registry.host}/remote/busybox:1", "localhost/pm-side:1")
    assert "Untagged: localhost/pm-side:1" in remote("rmi", "localhost/pm-side:1").stdout
    remote("volume", "create", "pp-vol-pm")
    assert "pp-vol-pm" in local_podman("volume", "ls", "--format", "{{.Name}}").split()
    remote("volume", "rm", "pp-vol-pm")
    remote("network", "create", "pp-net-pm")
    assert "pp-net-pm" in remote("network", "ls", "--format", "{{.Name}}").stdout.split()
    remote("network", "rm", "pp-net-pm")
    archive = tmp_path / "pm.tar"
    remote("save", "-o", archive, "localhost/busybox")
    assert podpy("--url", f"unix://{service_sock}", "load", "-i", archive).stdout == \
        "Loaded image: localhost/busybox:latest\n"   # podman's service -> podpy's, through this host


# -- ssh:// ---------------------------------------------------------------------------------------

SSHD = "/usr/sbin/sshd"


@pytest.fixture
def ssh_store(new_podpy, podpy, image_tar):
    """A fresh store of this variant with busybox (its service gets a runtime directory of its own)."""
    store = new_podpy(variant=podpy.variant)
    store("import", image_tar, "busybox", timeout=300)
    return store


@pytest.fixture
def sshd(ssh_store):
    """A non-root sshd on 127.0.0.1 (the test user's), a key pair, and an ssh that knows the
    host key (a wrapper on PATH with its own ssh_config: the user's ~/.ssh is left alone).
    Its sessions get the PATH of a `podpy` wrapper of this variant, the store's directories and
    a runtime directory of their own."""
    if not os.access(SSHD, os.X_OK):
        pytest.skip(f"{SSHD} is missing (openssh-server, installed by packaging/setup.sh test)")
    podpy = ssh_store
    work = Path(tempfile.mkdtemp(prefix="sshd-test-", dir="/tmp"))
    run = work / "run"
    run.mkdir(mode=0o700)
    bin_dir = work / "bin"
    bin_dir.mkdir()
    for name in ("hostkey", "userkey"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / name)], check=True)
    shutil.copy(work / "userkey.pub", work / "authorized_keys")
    port = free_port()
    store_env = podpy.environ()
    # what the podpy under test needs in an ssh session: its store, and where its code is
    passed = " ".join(f"{k}={store_env[k]}" for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "PYTHONPATH", "SHIV_ROOT")
                      if store_env.get(k))
    (work / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {work}/hostkey\nAuthorizedKeysFile {work}/authorized_keys\n"
        f"PidFile {work}/sshd.pid\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "StrictModes no\nAllowStreamLocalForwarding yes\n"
        f"SetEnv PATH={bin_dir}:/usr/bin:/bin XDG_RUNTIME_DIR={run} {passed}\n")
    (work / "known_hosts").write_text(f"[127.0.0.1]:{port} {(work / 'hostkey.pub').read_text()}")
    (work / "ssh_config").write_text(f"Host *\n  UserKnownHostsFile {work}/known_hosts\n  StrictHostKeyChecking yes\n"
                                     "  BatchMode yes\n")
    (bin_dir / "ssh").write_text(f"#!/bin/sh\nexec /usr/bin/ssh -F {work}/ssh_config \"$@\"\n")
    (bin_dir / "podpy").write_text("#!/bin/sh\nexec " + " ".join(podpy.command()) + " \"$@\"\n")
    for script in ("ssh", "podpy"):
        (bin_dir / script).chmod(0o755)
    log = open(work / "sshd.log", "wb")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(work / "sshd_config")], stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)

    def listening() -> bool:
        if proc.poll() is not None:
            raise RuntimeError("sshd exited: " + (work / "sshd.log").read_text())
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0
    eventually(listening, what="sshd")
    yield {"port": port, "key": str(work / "userkey"), "run": run, "bin": bin_dir,
           "user": subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()}
    proc.terminate()
    proc.wait(10)
    log.close()
    shutil.rmtree(work, ignore_errors=True)


def test_ssh_forwards_the_service_socket(sshd, ssh_store, tmp_path):
    """The service listens on its default socket in the session's runtime directory, which
    `system connection add` asks the host's podpy for over ssh (no path given)."""
    podpy = ssh_store
    env = {"PATH": f"{sshd['bin']}:{os.environ['PATH']}"}
    svc_env = podpy.environ({"XDG_RUNTIME_DIR": str(sshd["run"])})
    log = open(tmp_path / "service.log", "wb")
    svc = subprocess.Popen(podpy.command("system", "service", "--time", "0"), env=svc_env, stdout=log,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    sock = sshd["run"] / "podpy" / "podpy.sock"
    try:
        eventually(sock.exists, what="the service's default socket")
        url = f"ssh://{sshd['user']}@127.0.0.1:{sshd['port']}{sock}"
        ids = podpy("--url", url, "--identity", sshd["key"], "images", "--format", "{{.ID}}", env=env).stdout.split()
        local = podpy("images", "--format", "{{.ID}}", env={"XDG_RUNTIME_DIR": str(sshd["run"])})
        assert ids and sorted(ids) == sorted(local.stdout.split())
        res = podpy("--url", url, "--identity", sshd["key"], "run", "--rm", "busybox", "sh", "-c",
                    "echo over-ssh; exit 7", env=env, check=False)
        assert (res.returncode, res.stdout) == (7, "over-ssh\n")
        conf_env = {**env, "XDG_CONFIG_HOME": str(tmp_path / "conf")}
        podpy("system", "connection", "add", "--identity", sshd["key"], "--port", str(sshd["port"]), "viassh",
              f"{sshd['user']}@127.0.0.1", env=conf_env)
        row = json.loads(podpy("system", "connection", "ls", "--format", "json", env=conf_env).stdout)[0]
        assert row["URI"] == f"ssh://{sshd['user']}@127.0.0.1:{sshd['port']}{sock}"
        assert row["Identity"] == sshd["key"] and row["Default"] is True
        assert podpy("--remote", "ps", "-a", env=conf_env).returncode == 0
        bad = podpy("--url", f"ssh://{sshd['user']}@127.0.0.1:{sshd['port']}/nowhere.sock", "--identity",
                    sshd["key"], "ps", env=env, check=False)
        assert bad.returncode == 125 and bad.stderr.count("\n") == 1
        time.sleep(0.2)
        assert not [p for p in Path("/tmp").glob("podpy-ssh-*") if p.owner() == sshd["user"]
                    and (p / "service.sock").exists()]   # each forward ended with its command
    finally:
        svc.terminate()
        svc.wait(30)
        log.close()


# -- image scp ------------------------------------------------------------------------------------

def test_image_scp_through_connections(service, podman_service, podpy, tmp_path):
    """This store -> podman's service, back under a new name, and podpy's service -> podman's
    (any connection will do: these are unix sockets)."""
    sock, pm_env = podman_service
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    podpy("system", "connection", "add", "pm", f"unix://{sock}", env=env)
    podpy("system", "connection", "add", "pp", f"unix://{service.sock}", env=env)

    def podman_names() -> list[str]:
        return run_command([PODMAN, "images", "--format", "{{.Repository}}:{{.Tag}}"], env=pm_env).stdout.split()

    out = podpy("image", "scp", "busybox", "pm::localhost/scp-there:1", env=env, timeout=120).stdout
    assert out == "Loaded image: localhost/scp-there:1\n"
    assert "localhost/scp-there:1" in podman_names()
    podpy("image", "scp", "pm::localhost/scp-there:1", "localhost/scp-back:2", env=env, timeout=120)
    assert "localhost/scp-back:2" in podpy("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    podpy("image", "scp", "-q", "pp::localhost/scp-back:2", "pm::", env=env, timeout=120)
    assert "localhost/scp-back:2" in podman_names()
    for args, words in ((("busybox",), "must specify a destination"),
                        (("busybox", "me@localhost::"), "needs root"),
                        (("pm::no-such-image",), "no-such-image"),
                        (("busybox", "nope::"), '"nope" destination is not defined')):
        res = podpy("image", "scp", *args, env=env, check=False)
        assert res.returncode == 125 and words in res.stderr and res.stderr.count("\n") == 1, res.stderr
    podpy("rmi", "localhost/scp-back:2")


# -- terminals -------------------------------------------------------------------------------------

def _terminal_session(argv: list[str], env: dict[str, str]) -> int:
    """A shell through a real terminal: its size at the start and after a change, what is
    typed, the exit code."""
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(argv[0], argv[1:], env=env, timeout=30, dimensions=(33, 101), encoding="utf-8")
    child.expect(r"[$#] ")
    child.sendline("stty size; echo typed:$((6*7))")
    child.expect("33 101")
    child.expect("typed:42")
    child.setwinsize(40, 120)
    # The client tells the service of the change on its own (podman's client with a request of
    # its own, beside the attach stream): a command typed at once may run before it arrives.
    for _ in range(50):
        child.sendline("stty size")
        if child.expect(["40 120", r"\d+ \d+\r"]) == 0:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the terminal's new size never reached the container")
    child.sendline("exit 3")
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def test_terminals_through_the_services(service, podman_service, podpy):
    for sock in (service.sock, podman_service[0]):
        url = f"unix://{sock}"
        image = "busybox" if sock == service.sock else "localhost/busybox"
        assert _terminal_session(podpy.command("--url", url, "run", "-it", "--rm", image, "sh"), podpy.environ()) == 3
        podpy("--url", url, "run", "-d", "--name", "tty-c1", image, "sleep", "300")
        try:
            assert _terminal_session(podpy.command("--url", url, "exec", "-it", "tty-c1", "sh"), podpy.environ()) == 3
            assert podpy("--url", url, "exec", "-t", "tty-c1", "echo", "hi").stdout == "hi\r\n"
        finally:
            podpy("--url", url, "rm", "-f", "tty-c1")
    if PODMAN is not None:
        argv = [PODMAN, "--remote", "--url", f"unix://{service.sock}", "run", "-it", "--rm", "busybox", "sh"]
        assert _terminal_session(argv, podpy.environ()) == 3


def test_the_detach_keys_leave_a_remote_container_running(service, podpy):
    pexpect = pytest.importorskip("pexpect")
    url = f"unix://{service.sock}"
    child = pexpect.spawn(podpy.argv[0], [*podpy.command("--url", url, "run", "-it", "--name", "detached-c1",
                                                         "busybox", "sh")[1:]],
                          env=podpy.environ(), timeout=30, encoding="utf-8")
    try:
        child.expect(r"[$#] ")
        child.sendline("echo typed:$((6*7))")
        child.expect("typed:42")
        child.send("\x10\x11")   # ctrl-p, ctrl-q
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        assert podpy("inspect", "--format", "{{.State.Status}}", "detached-c1").stdout.strip() == "running"
    finally:
        podpy("rm", "-f", "detached-c1")
