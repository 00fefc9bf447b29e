"""More of the fault matrix: the user's container monitor and the rootless network namespace's
holder killed under running containers, `volume rm` and `run --rm` killed at ten moments, a
registry that sends a blob whose bytes do not match its digest, and more commands at once
(twenty pulls of one image, a build while its base is removed, two `rm -f` of one container,
`system prune` during `run -d`s).

The store has a runtime directory of its own, so that the monitor and holder killed here are
this file's only.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from helpers import Podpy, command_for_variant, remove_tree
from test_370_faults_kill import FILL, after_kill, containers, matrix, runs
from test_373_faults_race import both, consistent, one_line


@pytest.fixture(scope="module")
def p(tmp_path_factory, base_env, image_tar):
    argv, reason = command_for_variant("installed")
    if argv is None:
        pytest.fail(f"cannot run the installed podpy: {reason}", pytrace=False)
    home = tmp_path_factory.mktemp("more-store")
    run = tmp_path_factory.mktemp("more-run")
    os.chmod(run, 0o700)
    q = Podpy(variant="installed", argv=argv, home=home, base_env={**base_env, "XDG_RUNTIME_DIR": str(run)})
    q("import", image_tar, "busybox", timeout=120)
    q("volume", "create", "first")   # the store's directories of volumes made once, not by a test
    q("volume", "rm", "first")
    q("run", "--rm", "--network", "none", "busybox", "true")   # and of containers
    yield q
    q("rm", "-f", "-a", "-t", "0", check=False, timeout=120)
    q("network", "prune", "-f", check=False)
    remove_tree(home)


@pytest.fixture(autouse=True)
def no_containers_left(p):
    """A failed test's containers are not the next test's."""
    yield
    p("rm", "-f", "-a", "-t", "0", check=False, timeout=120)


def runroot(p: Podpy) -> str:
    return p("info", "--format", "{{.Store.RunRoot}}").stdout.strip()


def pids_of(module: str, root: str) -> list[int]:
    """The processes running `module` for the runtime directory root."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if any(module in a for a in args) and root in args:
            found.append(int(entry))
    return found


def parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def kill_one(module: str, root: str) -> int:
    """SIGKILL the one process of module for root (not its forks: a worker has the same
    command line as the process it was forked from)."""
    deadline = time.monotonic() + 10
    while True:
        # a second monitor spawned by a command that found no socket while the first was
        # starting leaves as soon as it finds the first serving
        pids = pids_of(module, root)
        top = [pid for pid in pids if parent(pid) not in pids]
        if len(top) == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(top) == 1, (module, root, pids)
    os.kill(top[0], signal.SIGKILL)
    for _ in range(100):
        if gone(top[0]):
            break
        time.sleep(0.05)
    return top[0]


def states(p: Podpy) -> dict[str, str]:
    """Each container's state, as the first word of its status: Up, Exited, Created."""
    out = p("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout
    return {line.split()[0]: line.split()[1] for line in out.splitlines()}


def inits(p: Podpy, names: list[str]) -> dict[str, int]:
    return {n: int(p("inspect", "--format", "{{.State.Pid}}", n).stdout) for n in names}


def alive(pid: int) -> bool:
    return pid > 0 and not gone(pid)


def next_commands_work(p: Podpy, old: list[str], net: tuple = (), pids: dict | None = None) -> None:
    """After a kill: the old containers show as exited (or running), and run -d, stop, rm and
    start all work; the store checks clean. pids: the old containers' processes before the
    kill; one shown as exited has none left running."""
    seen = states(p)
    for name in old:
        assert seen.get(name) in ("Exited", "Up"), seen
        if seen[name] == "Exited" and pids and name in pids:
            assert not alive(pids[name]), f"{name} is shown as exited, but its process {pids[name]} runs"
    p("run", "-d", "--name", "after", *net, "busybox", "sleep", "100")
    assert states(p)["after"] == "Up"
    p("stop", "-t", "0", "after")
    assert states(p)["after"] == "Exited"
    p("rm", "after")
    for name in old:
        p("stop", "-t", "0", name)
        p("start", name)
        assert states(p)[name] == "Up"
    after_kill(p)
    p("rm", "-f", "-t", "0", *old)
    assert containers(p) == set()
    consistent(p)


MONITOR = "podpy.monitor.service"
HOLDER = "rootless.network.holder"


def test_monitor_killed_under_detached_containers(p):
    root = runroot(p)
    p("run", "-d", "--name", "m1", "--network", "none", "busybox", "sleep", "100")
    p("run", "-d", "--name", "m2", "--network", "none", "busybox", "sleep", "100")
    pids = inits(p, ["m1", "m2"])
    kill_one(MONITOR, root)
    next_commands_work(p, ["m1", "m2"], ["--network", "none"], pids)


def test_the_spare_launcher_serves_and_leaves(p):
    """The monitor forks a launcher ahead of each launch (its imports done before the request
    comes); several run -d in a row each start, and once idle no spare is left beside the
    monitor."""
    root = runroot(p)
    for n in range(3):
        p("run", "-d", "--name", f"s{n}", "--network", "none", "busybox", "sleep", "100")
    assert set(states(p).values()) == {"Up"}
    deadline = time.monotonic() + 10
    while len(pids_of(MONITOR, root)) != 1:
        assert time.monotonic() < deadline, pids_of(MONITOR, root)
        time.sleep(0.1)
    p("rm", "-f", "-t", "0", "s0", "s1", "s2")


def test_monitor_killed_while_run_d_starts(p):
    root = runroot(p)
    p("run", "-d", "--name", "m1", "--network", "none", "busybox", "sleep", "100")   # a monitor runs
    for delay in (0.05, 0.2, 0.5):
        pids = inits(p, ["m1"])
        proc = subprocess.Popen(p.command("run", "-d", "--name", "m2", "--network", "none", "busybox", "sleep", "100"),
                                env=p.environ(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(delay)
            for pid in pids_of(MONITOR, root):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass   # a launcher the monitor forked (its command line is the monitor's), gone with it
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:   # a failure above: the command is not left to the next test
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0 or (proc.returncode == 125 and err.count("\n") == 1), (proc.returncode, err)
        old = ["m1"] + (["m2"] if "m2" in containers(p) else [])
        next_commands_work(p, old, ["--network", "none"], pids)
        p("run", "-d", "--name", "m1", "--network", "none", "busybox", "sleep", "100")
    p("rm", "-f", "-t", "0", "m1")


def test_network_holder_killed(p):
    root = runroot(p)
    p("network", "create", "knet")
    try:
        p("run", "-d", "--name", "n1", "--network", "knet", "busybox", "sleep", "100")
        pids = inits(p, ["n1"])
        kill_one(HOLDER, root)
        next_commands_work(p, ["n1"], ["--network", "knet"], pids)
        # a new holder serves the network: containers on it reach each other by name
        p("run", "-d", "--name", "n2", "--network", "knet", "busybox", "sh", "-c", "echo hello | nc -l -p 5000")
        out = p("run", "--rm", "--network", "knet", "busybox", "sh", "-c",
                "for i in 1 2 3 4 5; do nc -w 5 n2 5000 && break; sleep 0.5; done").stdout
        assert out == "hello\n", out
        p("rm", "-f", "-t", "0", "n2")
    finally:
        p("network", "rm", "-f", "knet")
    consistent(p)


def test_killed_volume_rm_and_run_rm(p):
    def prepare_volume():
        p("volume", "create", "kv")
        runs(p, "-v", "kv:/v", "busybox", "sh", "-c", "head -c 4194304 /dev/urandom > /v/big && mkdir /v/many && "
             "cd /v/many && seq 1 2000 | xargs touch")

    def verify_volume(whole):
        if p("volume", "exists", "kv", check=False).returncode == 0:
            assert not whole
            # whole still (the removal was undone), or emptied: usable either way
            out = runs(p, "-v", "kv:/v", "busybox", "sh", "-c", "ls /v | wc -l")
            assert out.split() in (["0"], ["2"]), out
            p("volume", "rm", "kv")

    matrix(p, "volume rm", prepare_volume, ["volume", "rm", "kv"], verify_volume)

    def verify_run(whole):
        if "krr" in containers(p):
            assert not whole
            p("rm", "-f", "-t", "0", "krr")

    matrix(p, "run --rm", lambda: None, ["run", "--rm", "--name", "krr", "--network", "none", "busybox", "sh", "-c",
                                        FILL], verify_run)


def test_a_blob_that_does_not_match_its_digest(p, tmp_path):
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is needed (installed by packaging/setup.sh test)")
    from faultproxy import FaultProxy
    from registry import LocalRegistry
    from test_370_faults_kill import same_tree, tree

    reg = LocalRegistry(tmp_path)
    proxy = FaultProxy(reg.host)
    try:
        p("run", "--name", "filler", "--network", "none", "busybox", "sh", "-c", "head -c 1048576 /dev/urandom > /big")
        p("commit", "-q", "filler", "kbad")
        p("rm", "filler")
        p("push", "-q", "--tls-verify=false", "kbad", f"{reg.host}/faults/kbad:1")
        p("rmi", "kbad")
        before = tree(p)
        proxy.add("GET", r"/blobs/sha256:", "corrupt", times=None, detail=100)
        dest = f"{proxy.host}/faults/kbad:1"
        res = p("pull", "-q", "--tls-verify=false", dest, check=False, timeout=120)
        assert res.returncode == 125 and res.stdout == "" and res.stderr.count("\n") == 1, res
        blobs = [e[1].rsplit("/", 1)[1] for e in proxy.log if e[3] == "corrupt"]
        assert blobs, proxy.log
        assert proxy.host in res.stderr and any(b in res.stderr for b in blobs), res.stderr
        assert "digest" in res.stderr, res.stderr
        print(f"a blob that does not match its digest: {res.stderr}", end="")
        assert p("image", "exists", dest, check=False).returncode == 1
        after_kill(p)
        same_tree(p, before, "a pull of a blob that does not match")
        proxy.clear()   # the same pull works once the bytes are right
        p("pull", "-q", "--tls-verify=false", dest, timeout=120)
        assert runs(p, dest, "wc", "-c", "/big").split()[0] == "1048576"
        p("rmi", dest)
    finally:
        proxy.stop()
        reg.stop()


def test_twenty_pulls_of_one_image(p, tmp_path):
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is needed (installed by packaging/setup.sh test)")
    from registry import LocalRegistry

    reg = LocalRegistry(tmp_path)
    try:
        p("run", "--name", "filler", "--network", "none", "busybox", "sh", "-c", "head -c 1048576 /dev/urandom > /big")
        p("commit", "-q", "filler", "k20")
        p("rm", "filler")
        dest = f"{reg.host}/faults/k20:1"
        p("push", "-q", "--tls-verify=false", "k20", dest)
        p("rmi", "k20")
        procs = [subprocess.Popen(p.command("pull", "-q", "--tls-verify=false", dest), env=p.environ(),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(20)]
        results = [(proc.communicate(timeout=300), proc.returncode) for proc in procs]
        for (out, err), code in results:
            assert code == 0 and "locked" not in err, (code, err)
        assert len({out for (out, _), _ in results}) == 1, results   # one image id
        assert p("images", "-q", "--filter", f"reference={dest}").stdout.count("\n") == 1
        assert runs(p, dest, "wc", "-c", "/big").split()[0] == "1048576"
        consistent(p)
        p("rmi", dest)
    finally:
        reg.stop()


def test_build_while_its_base_is_removed(p, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Containerfile").write_text("FROM localhost/kbase\nRUN echo built > /built\n")
    p("run", "--name", "filler", "--network", "none", "busybox", "sh", "-c", "head -c 1048576 /dev/urandom > /big")
    p("commit", "-q", "filler", "kbase")
    p("rm", "filler")
    tar = tmp_path / "kbase.tar"
    p("save", "-o", tar, "kbase")
    for i in range(4):
        if p("image", "exists", "kbase", check=False).returncode != 0:
            p("load", "-q", "-i", tar)
        build, rmi = both(p, ["build", "-q", "--pull=never", "--network", "none", "-t", "kbuilt", ctx],
                          ["rmi", "-f", "kbase"], 0.2 * i)
        one_line(build)
        one_line(rmi)
        assert rmi[0] == 0, rmi   # -f: the base goes (its name at least), whatever the build does
        if build[0] == 0:
            assert runs(p, "kbuilt", "sh", "-c", "cat /built; wc -c < /big").split() == ["built", "1048576"]
            p("rmi", "kbuilt")
        else:   # one line: the base was gone before the build took it (once taken, its layers stay)
            assert build[2].startswith("Error: ") and "localhost/kbase: image not known" in build[2], build
        assert containers(p) == set()
        p("image", "prune", "-f")
        consistent(p)


def test_two_rm_f_of_one_container(p):
    for i in range(4):
        p("run", "-d", "--name", "twice", "--network", "none", "busybox", "sleep", "100")
        a, b = both(p, ["rm", "-f", "-t", "0", "twice"], ["rm", "-f", "-t", "0", "twice"], 0.05 * i)
        assert a[0] == 0 and b[0] == 0, (a, b)
        assert "twice" not in containers(p)
        consistent(p)


def test_system_prune_during_run_d(p):
    for i in range(3):
        procs = [subprocess.Popen(p.command("run", "-d", "--name", f"pr{j}", "--network", "none", "busybox", "sleep",
                                            "100"), env=p.environ(), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for j in range(3)]
        time.sleep(0.15 * i)
        prune = p("system", "prune", "-f", check=False, timeout=120)
        assert prune.returncode == 0, prune
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0 or (proc.returncode == 125 and err.count("\n") == 1), err
        # each container runs, or was removed before it started
        for name, state in states(p).items():
            assert state == "Up", (name, state)
        assert p("image", "exists", "busybox", check=False).returncode == 0
        p("rm", "-f", "-a", "-t", "0")
        consistent(p)
