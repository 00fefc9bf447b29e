"""Two commands on the same object at once: each gives a sensible result (one wins, the other
says why it could not, or both succeed) and the store stays consistent (`system check` finds
nothing, no staging directory or layer is left over)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from helpers import Podpy, command_for_variant, remove_tree

ROUNDS = 4
FILL = "head -c 2097152 /dev/urandom > /big"


@pytest.fixture(scope="module")
def p(tmp_path_factory, base_env, image_tar):
    argv, reason = command_for_variant("installed")
    if argv is None:
        pytest.fail(f"cannot run the installed podpy: {reason}", pytrace=False)
    home = tmp_path_factory.mktemp("race-store")
    q = Podpy(variant="installed", argv=argv, home=home, base_env=base_env)
    q("import", image_tar, "busybox", timeout=120)
    yield q
    q("rm", "-f", "-a", check=False, timeout=120)
    remove_tree(home)


def both(p: Podpy, first: list, second: list, delay: float = 0.0) -> tuple:
    """Start both commands (the second `delay` seconds after the first); their results."""
    a = subprocess.Popen(p.command(*first), env=p.environ(), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    b = subprocess.Popen(p.command(*second), env=p.environ(), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = []
    for proc in (a, b):
        stdout, stderr = proc.communicate(timeout=120)
        out.append((proc.returncode, stdout, stderr))
    return tuple(out)


def one_line(res: tuple, objects: int = 1) -> None:
    """A failed command says why in one line for each object it was given."""
    code, _, stderr = res
    if code != 0:
        errors = [line for line in stderr.splitlines() if line.startswith("Error")]
        assert 1 <= len(errors) <= objects and "Traceback" not in stderr, stderr


def consistent(p: Podpy) -> None:
    p("ps", "-a")
    res = p("system", "check", check=False)
    assert (res.returncode, res.stdout) == (0, ""), res
    store = p.data_home / "podpy"
    tmp = store / "tmp"
    assert not tmp.exists() or os.listdir(tmp) == [], os.listdir(tmp)
    used = set()
    for line in p("images", "-a", "-q", "--no-trunc").stdout.split():
        used.update(json.loads(p("image", "inspect", line).stdout)[0]["RootFS"]["Layers"])
    layers = [n for n in os.listdir(store / "layers") if n.endswith(".json")]
    assert len(layers) == len(used), (layers, used)


def test_two_pulls_of_one_image(p, tmp_path):
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is needed (installed by packaging/setup.sh test)")
    from registry import LocalRegistry

    reg = LocalRegistry(tmp_path)
    try:
        p("run", "--name", "filler", "--network", "none", "busybox", "sh", "-c", FILL)
        p("commit", "filler", "racer")
        p("rm", "filler")
        dest = f"{reg.host}/race/racer:1"
        p("push", "-q", "--tls-verify=false", "racer", dest)
        p("rmi", "racer")
        for i in range(ROUNDS):
            a, b = both(p, ["pull", "-q", "--tls-verify=false", dest], ["pull", "-q", "--tls-verify=false", dest],
                        0.05 * i)
            assert a[0] == 0 and b[0] == 0, (a, b)
            assert a[1] == b[1]   # the same image id
            assert p("run", "--rm", "--network", "none", dest, "wc", "-c", "/big").stdout.split()[0] == "2097152"
            consistent(p)
            p("rmi", dest)
    finally:
        reg.stop()


def test_rmi_while_a_run_of_the_image_starts(p, tmp_path):
    tar = tmp_path / "racer.tar"
    p("run", "--name", "filler", "--network", "none", "busybox", "sh", "-c", FILL)
    p("commit", "filler", "racer")
    p("rm", "filler")
    p("save", "-o", tar, "racer")
    for i in range(ROUNDS):
        if p("image", "exists", "racer", check=False).returncode != 0:
            p("load", "-q", "-i", tar)
        run, rmi = both(p, ["run", "--name", "r", "--network", "none", "racer", "wc", "-c", "/big"],
                        ["rmi", "racer"], 0.1 * i)
        one_line(run)
        one_line(rmi)
        if rmi[0] == 0:   # the image went first: run found no image (or ran before it went)
            assert run[0] == 0 or "racer" in run[2], run
        else:   # the container had it
            assert "in use" in rmi[2], rmi
            assert run[0] == 0 and run[1].split()[0] == "2097152", run
        if run[0] == 0:
            assert run[1].split()[0] == "2097152"
        p("rm", "-f", "r", check=False)
        consistent(p)


def test_rm_while_start_runs(p):
    for i in range(ROUNDS):
        p("create", "--name", "s", "--network", "none", "busybox", "sleep", "30")
        start, rm = both(p, ["start", "s"], ["rm", "s"], 0.05 * i)
        one_line(start)
        one_line(rm)
        if rm[0] == 0:   # removed before it started: start says there is no such container, or that
            # it is being removed (or started it, and rm took it when it had exited)
            assert start[0] == 0 or "no such container" in start[2] or "is removing" in start[2], start
        else:            # it started first: a running container is not removed without -f
            assert start[0] == 0
            assert "running" in rm[2] or "cannot remove" in rm[2], rm
        p("rm", "-f", "-t", "0", "s", check=False)
        consistent(p)


def test_commit_while_the_container_is_removed(p):
    for i in range(ROUNDS):
        p("run", "--name", "c", "--network", "none", "busybox", "sh", "-c", FILL)
        commit, rm = both(p, ["commit", "c", "committed"], ["rm", "c"], 0.05 * i)
        one_line(commit)
        one_line(rm)
        assert rm[0] == 0 or commit[0] == 0, (commit, rm)
        if commit[0] == 0:
            out = p("run", "--rm", "--network", "none", "committed", "wc", "-c", "/big").stdout
            assert out.split()[0] == "2097152"
            p("rmi", "committed")
        else:
            # the removal won: no image, half-read or otherwise
            assert p("image", "exists", "committed", check=False).returncode == 1
        p("rm", "-f", "c", check=False)
        consistent(p)


def test_two_volume_rms_of_one_volume(p):
    for i in range(ROUNDS):
        p("volume", "create", "v")
        p("run", "--rm", "--network", "none", "-v", "v:/v", "busybox", "sh", "-c", "seq 1 500 | sed 's,^,/v/,' | "
          "xargs touch")
        a, b = both(p, ["volume", "rm", "v"], ["volume", "rm", "v"], 0.02 * i)
        one_line(a)
        one_line(b)
        assert sorted([a[0], b[0]]) in ([0, 0], [0, 1], [0, 125]), (a, b)
        for res in (a, b):
            if res[0] != 0:
                assert "no such volume" in res[2], res
        assert p("volume", "ls", "-q").stdout == ""
        assert os.listdir(p.data_home / "podpy" / "volumes") == []
        consistent(p)


def test_system_prune_while_containers_start(p):
    for i in range(ROUNDS):
        p("create", "--name", "a", "--network", "none", "busybox", "sleep", "30")
        p("create", "--name", "b", "--network", "none", "busybox", "sleep", "30")
        start, prune = both(p, ["start", "a", "b"], ["system", "prune", "-f"], 0.05 * i)
        one_line(start, 2)
        one_line(prune)
        assert prune[0] == 0, prune
        # each container started, or was removed (as a stopped one) before it could
        left = p("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout.split("\n")[:-1]
        for line in left:
            assert line.split()[1] == "Up", left
        assert p("image", "exists", "busybox", check=False).returncode == 0
        p("rm", "-f", "-t", "0", "a", "b", check=False)
        consistent(p)
