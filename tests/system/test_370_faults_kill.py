"""Commands killed with SIGKILL at ten moments spread over their run time.

For each command, its whole run is timed once, then it is started again and killed at 5%,
15%, ... 95% of that time. After each kill the next ordinary command (`ps -a`, `images`)
must see a consistent store: the object the command was making is either absent or whole
(an image runs, a container starts or is removed), `system check` finds nothing, and no
file of the killed command is left: after the object is removed again, the store holds
exactly the files it held before (every path under the store compared, the database and
the event log aside).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers import Podpy, command_for_variant, remove_tree

FRACTIONS = [0.05 + 0.1 * i for i in range(10)]
# What changes with every command and is no object's data: the database and the event log.
VOLATILE = ("podpy.db", "podpy.db-wal", "podpy.db-shm", "events")

WALK = r"""
import os, sys
root = sys.argv[1]
for d, dirs, files in os.walk(root):
    rel = os.path.relpath(d, root)
    for n in dirs + files:
        p = os.path.normpath(os.path.join(rel, n))
        st = os.lstat(os.path.join(d, n))
        print(p, st.st_size if os.path.isfile(os.path.join(d, n)) and not os.path.islink(os.path.join(d, n)) else "-")
"""


@pytest.fixture(scope="module")
def p(tmp_path_factory, base_env, image_tar):
    argv, reason = command_for_variant("installed")
    if argv is None:
        pytest.fail(f"cannot run the installed podpy: {reason}", pytrace=False)
    home = tmp_path_factory.mktemp("kill-store")
    q = Podpy(variant="installed", argv=argv, home=home, base_env=base_env)
    q("import", image_tar, "busybox", timeout=120)
    q("volume", "create", "first")   # the store's directories of volumes made once, not by a test
    q("volume", "rm", "first")
    q("run", "--rm", "--network", "none", "busybox", "true")   # and its directory of containers
    yield q
    q("rm", "-f", "-a", check=False, timeout=120)
    remove_tree(home)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("kill-work")


def store(p: Podpy) -> Path:
    return p.data_home / "podpy"


def tree(p: Podpy) -> dict[str, str]:
    """Every path under the store (with its size for a file), as the user namespace sees it."""
    out = p("unshare", "python3", "-c", WALK, str(store(p))).stdout
    paths = {}
    for line in out.splitlines():
        path, size = line.rsplit(" ", 1)
        if path.split(os.sep)[0] not in VOLATILE:
            paths[path] = size
    return paths


def images(p: Podpy) -> set[str]:
    return set(p("images", "-a", "--format", "{{.Repository}}:{{.Tag}}").stdout.split())


def containers(p: Podpy) -> set[str]:
    return set(p("ps", "-a", "--format", "{{.Names}}").stdout.split())


def killed_at(p: Podpy, argv: list, delay: float) -> int:
    proc = subprocess.Popen(p.command(*argv), env=p.environ(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    return proc.wait()


def after_kill(p: Podpy) -> None:
    """The next ordinary commands work, and the store checks clean."""
    p("ps", "-a")
    p("images")
    res = p("system", "check", check=False)
    assert (res.returncode, res.stdout, res.stderr) == (0, "", ""), res
    tmp = store(p) / "tmp"
    left = [n for n in os.listdir(tmp)] if tmp.exists() else []
    assert left == [], f"the killed command's work in progress is left: {left}"


def same_tree(p: Podpy, before: dict[str, str], what: str) -> None:
    now = tree(p)
    extra = sorted(set(now) - set(before))
    gone = sorted(set(before) - set(now))
    changed = sorted(k for k in set(now) & set(before) if now[k] != before[k])
    assert not extra and not gone and not changed, (what, extra[:10], gone[:10], changed[:10])


def matrix(p: Podpy, name: str, prepare, argv: list, verify, timeout: float = 120) -> None:
    """Time argv once, then kill it at each fraction of that time. prepare() makes what the
    command needs; verify(whole) checks what it left (whole: it ran to the end) and removes
    it, with what prepare() made, so that the store holds the files it held before."""
    base = tree(p)
    prepare()
    start = time.monotonic()
    p(*argv, timeout=timeout)
    whole = time.monotonic() - start
    verify(True)
    same_tree(p, base, f"{name}: a whole run, undone")
    for fraction in FRACTIONS:
        prepare()
        killed_at(p, argv, whole * fraction)
        after_kill(p)
        verify(False)
        same_tree(p, base, f"{name} killed at {fraction:.0%} of {whole:.2f} s")
    print(f"{name}: whole run {whole:.2f} s, killed at {[round(whole * f, 2) for f in FRACTIONS]}")


def runs(p: Podpy, image: str, *cmd: str) -> str:
    return p("run", "--rm", "--network", "none", image, *cmd).stdout


def rmi_if(p: Podpy, *names: str) -> None:
    for n in names:
        if p("image", "exists", n, check=False).returncode == 0:
            p("rmi", "-f", n)


def rm_if(p: Podpy, *names: str) -> None:
    for n in names:
        if p("container", "exists", n, check=False).returncode == 0:
            p("rm", "-f", n)


# A layer of its own (4 MiB of random bytes and 2000 small files) for an image or a container.
FILL = "head -c 4194304 /dev/urandom > /big && mkdir -p /many && cd /many && seq 1 2000 | xargs touch"


@pytest.fixture(scope="module")
def big_tar(p, work):
    """An image with a layer of its own, saved (then removed from the store)."""
    p("run", "--name", "filler", "--network", "none", "busybox", "sh", "-c", FILL)
    p("commit", "filler", "kbig")
    p("rm", "filler")
    out = work / "kbig.tar"
    p("save", "-o", out, "kbig")
    p("rmi", "kbig")
    return out


def whole_big(p: Podpy, image: str) -> None:
    assert runs(p, image, "sh", "-c", "wc -c < /big; ls /many | wc -l").split() == ["4194304", "2000"]


def test_killed_tag_and_rmi(p, big_tar):
    def verify_tag(whole):
        if "localhost/ktag:1" in images(p) or whole:
            assert runs(p, "ktag:1", "true") == ""
            p("rmi", "ktag:1")   # one name of several: untagged

    matrix(p, "tag", lambda: None, ["tag", "busybox", "ktag:1"], verify_tag)

    def verify_rmi(whole):
        if "localhost/kbig:latest" in images(p):
            assert not whole
            whole_big(p, "kbig")
            p("rmi", "kbig")

    matrix(p, "rmi", lambda: p("load", "-i", big_tar), ["rmi", "kbig"], verify_rmi)


def test_killed_load_and_save(p, big_tar, work):
    def verify_load(whole):
        if "localhost/kbig:latest" in images(p) or whole:
            whole_big(p, "kbig")
            p("rmi", "kbig")

    matrix(p, "load", lambda: None, ["load", "-i", big_tar], verify_load)

    out = work / "saved.tar"

    def verify_save(whole):
        # the output is there whole (it loads into a fresh store) or not at all
        if out.exists() or whole:
            q = Podpy(variant="installed", argv=p.argv, home=work / "fresh", base_env=p.base_env)
            q("load", "-i", out)
            whole_big(q, "kbig")
            remove_tree(work / "fresh")
        leftovers = [n for n in os.listdir(work) if n.startswith("saved.tar") and n != "saved.tar"]
        assert leftovers == [], leftovers
        out.unlink(missing_ok=True)
        p("rmi", "kbig")

    matrix(p, "save", lambda: p("load", "-i", big_tar), ["save", "-o", out, "kbig"], verify_save)


def test_killed_commit_and_build(p, work):
    def verify_commit(whole):
        if "localhost/kcommit:latest" in images(p) or whole:
            whole_big(p, "kcommit")
            p("rmi", "kcommit")
        p("rm", "kc")

    matrix(p, "commit", lambda: p("run", "--name", "kc", "--network", "none", "busybox", "sh", "-c", FILL),
           ["commit", "kc", "kcommit"], verify_commit)

    ctx = work / "ctx"
    ctx.mkdir()
    (ctx / "Containerfile").write_text(f"FROM busybox\nRUN {FILL}\nRUN echo done > /done\n")

    def verify_build(whole):
        if "localhost/kbuild:latest" in images(p) or whole:
            assert runs(p, "kbuild", "cat", "/done") == "done\n"
            p("rmi", "kbuild")
        # what a killed build left (an intermediate image) is usable, and pruned
        for image in p("images", "-q", "--filter", "dangling=true").stdout.split():
            assert runs(p, image, "true") == ""
        p("image", "prune", "-f")
        assert images(p) == {"localhost/busybox:latest"}
        assert containers(p) == set()

    matrix(p, "build", lambda: None, ["build", "--network", "none", "-t", "kbuild", ctx], verify_build)


def test_killed_create_run_rm(p):
    def verify_create(whole):
        if "kcreate" in containers(p) or whole:
            assert p("start", "-a", "kcreate").stdout == "made\n"
            p("rm", "kcreate")

    matrix(p, "create", lambda: None, ["create", "--name", "kcreate", "--network", "none", "busybox", "echo", "made"],
           verify_create)

    def verify_run(whole):
        if "krun" in containers(p) or whole:
            p("rm", "-f", "-t", "0", "krun")

    matrix(p, "run -d", lambda: None, ["run", "-d", "--name", "krun", "--network", "none", "busybox", "sleep", "100"],
           verify_run)

    def verify_rm(whole):
        if "krm" in containers(p):
            assert not whole
            assert p("start", "-a", "krm").returncode == 0   # whole still: it runs again
            p("rm", "krm")

    matrix(p, "rm", lambda: p("run", "--name", "krm", "--network", "none", "busybox", "sh", "-c", FILL),
           ["rm", "krm"], verify_rm)


def test_killed_volume_import_and_cp(p, work):
    src = work / "payload"
    (src / "many").mkdir(parents=True)
    (src / "big").write_bytes(os.urandom(4 << 20))
    for i in range(1000):
        (src / "many" / str(i)).write_text(str(i))
    tar = work / "payload.tar"
    subprocess.run(["tar", "-C", src, "-cf", tar, "."], check=True)

    def verify_import(whole):
        # the volume holds nothing (as before) or everything, and is usable
        out = runs(p, "-v", "kvol:/v", "busybox", "sh", "-c", "ls /v | wc -l; ls /v/many 2>/dev/null | wc -l")
        assert out.split() in (["0", "0"], ["2", "1000"]), out
        if whole:
            assert out.split() == ["2", "1000"]
        p("volume", "rm", "kvol")

    matrix(p, "volume import", lambda: p("volume", "create", "kvol"), ["volume", "import", "kvol", tar],
           verify_import)

    def verify_cp(whole):
        res = p("start", "-a", "kcp")
        assert res.stdout.split() in (["0", "0"], ["2", "1000"]), res.stdout
        if whole:
            assert res.stdout.split() == ["2", "1000"]
        p("rm", "kcp")

    matrix(p, "cp", lambda: p("create", "--name", "kcp", "--network", "none", "busybox", "sh", "-c",
                              "ls /dst 2>/dev/null | wc -l; ls /dst/many 2>/dev/null | wc -l"),
           ["cp", str(src), "kcp:/dst"], verify_cp)


def dangling(p: Podpy) -> list[str]:
    return p("images", "-q", "--filter", "dangling=true").stdout.split()


def test_killed_prunes(p):
    def prepare():
        p("run", "--name", "kexited", "--network", "none", "busybox", "sh", "-c", FILL)
        p("commit", "kexited", "kdangling")
        p("untag", "kdangling")

    def verify(kind):
        def check(whole):
            for d in dangling(p):
                assert not whole
                assert runs(p, d, "wc", "-c", "/big").split()[0] == "4194304"
                p("rmi", d)
            if "kexited" in containers(p):
                assert not (whole and kind == "system")
                assert p("start", "-a", "kexited").returncode == 0
                p("rm", "kexited")
        return check

    matrix(p, "image prune", prepare, ["image", "prune", "-f"], verify("image"))
    matrix(p, "system prune", prepare, ["system", "prune", "-f"], verify("system"))


def test_killed_pull(p, tmp_path):
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is needed (installed by packaging/setup.sh test)")
    from registry import LocalRegistry

    reg = LocalRegistry(tmp_path)
    try:
        p("run", "--name", "filler", "--network", "none", "busybox", "sh", "-c", FILL)
        p("commit", "filler", "kpush")
        p("rm", "filler")
        dest = f"{reg.host}/faults/kpull:1"
        p("push", "--tls-verify=false", "kpush", dest)
        p("rmi", "kpush")

        def verify(whole):
            if dest in images(p) or whole:
                whole_big(p, dest)
                p("rmi", dest)

        matrix(p, "pull", lambda: None, ["pull", "--tls-verify=false", dest], verify)
    finally:
        reg.stop()
