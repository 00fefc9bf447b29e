"""A registry that fails on the way: connections dropped or cut short in the middle of a blob,
5xx and 429 (with Retry-After) answers, stalls, no Range support, uploads hung up on.

The tests' registry sits behind a fault proxy (faultproxy.py). A pull retries (a bounded
number of times, with back-off) and resumes a blob where it stopped; when the retries are
spent it fails in one line and leaves nothing; a push sends a failed blob again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import urllib.request

import pytest

from faultproxy import FaultProxy
from helpers import Podpy, command_for_variant, remove_tree
from registry import LocalRegistry

BLOB = ""   # the path of the image's big layer (set by the env fixture)
FILL = "head -c 4194304 /dev/urandom > /big"


@pytest.fixture(scope="module")
def env(tmp_path_factory, base_env, image_tar):
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is needed (installed by packaging/setup.sh test)")
    argv, reason = command_for_variant("installed")
    if argv is None:
        pytest.fail(f"cannot run the installed podpy: {reason}", pytrace=False)
    work = tmp_path_factory.mktemp("registry-faults")
    (work / "reg").mkdir()
    reg = LocalRegistry(work / "reg")
    proxy = FaultProxy(reg.host)
    p = Podpy(variant="installed", argv=argv, home=work / "store", base_env=base_env)
    p("import", image_tar, "busybox", timeout=120)
    p("run", "--name", "filler", "--network", "none", "busybox", "sh", "-c", FILL)
    p("commit", "filler", "big")
    p("rm", "filler")
    # the image, straight into the registry: its big layer is the one the faults hit
    p("push", "--tls-verify=false", "big", f"{reg.host}/faults/big:1")
    p("rmi", "big")
    # the faults hit the big layer's blob (the config and busybox's layer are small)
    request = urllib.request.Request(f"http://{reg.host}/v2/faults/big/manifests/1", headers={
        "Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        layers = json.load(answer)["layers"]
    global BLOB
    BLOB = "/v2/faults/big/blobs/" + max(layers, key=lambda d: d["size"])["digest"] + "$"
    try:
        yield p, proxy, work
    finally:
        proxy.stop()
        reg.stop()
        remove_tree(work / "store")


@pytest.fixture
def clean(env):
    p, proxy, work = env
    proxy.clear()
    yield p, proxy
    proxy.clear()
    if p("image", "exists", f"{proxy.host}/faults/big:1", check=False).returncode == 0:
        p("rmi", f"{proxy.host}/faults/big:1")


def pull(p: Podpy, proxy: FaultProxy, check: bool = True):
    return p("pull", "-q", "--tls-verify=false", f"{proxy.host}/faults/big:1", check=check, timeout=120)


def usable(p: Podpy, proxy: FaultProxy) -> None:
    out = p("run", "--rm", "--network", "none", f"{proxy.host}/faults/big:1", "wc", "-c", "/big").stdout
    assert out.split()[0] == "4194304"


def nothing_left(p: Podpy, proxy: FaultProxy) -> None:
    assert p("image", "exists", f"{proxy.host}/faults/big:1", check=False).returncode == 1
    assert p("images", "--format", "{{.Repository}}").stdout.split() == ["localhost/busybox"]
    layers = [n for n in os.listdir(p.data_home / "podpy" / "layers") if n.endswith(".json")]
    assert len(layers) == 1   # busybox's
    tmp = p.data_home / "podpy" / "tmp"
    assert not tmp.exists() or os.listdir(tmp) == []
    assert p("system", "check").stdout == ""


def blob_gets(proxy: FaultProxy) -> list[tuple[str, str, str | None, str]]:
    return [e for e in proxy.log if e[0] == "GET" and re.search(BLOB, e[1])]


def test_a_blob_cut_off_twice_is_resumed_with_range(clean):
    p, proxy = clean
    proxy.add("GET", BLOB, "drop", times=1, detail=1 << 20)
    proxy.add("GET", BLOB, "truncate", times=1, detail=1 << 20)
    pull(p, proxy)
    usable(p, proxy)
    gets = blob_gets(proxy)
    cut = [e for e in gets if e[3] in ("drop", "truncate")]
    assert len(cut) == 2
    # asked for again from where it stopped, not from its start (after a reset, the part sent
    # before it may never arrive: then it starts again from 0, without a range)
    resumed = [e for e in gets if e[2] is not None]
    assert 1 <= len(resumed) <= 2 and len(gets) == 3, gets
    assert all(re.fullmatch(r"bytes=[1-9]\d*-", e[2]) for e in resumed), resumed
    assert p("system", "check").stdout == ""


def test_a_registry_without_ranges_is_read_again_from_the_start(clean):
    p, proxy = clean
    proxy.add("GET", BLOB, "drop", times=1, detail=1 << 20)
    proxy.add("GET", BLOB, "norange", times=None)
    pull(p, proxy)
    usable(p, proxy)


def test_5xx_and_429_are_retried_with_backoff_and_retry_after(clean):
    p, proxy = clean
    proxy.add("GET", r"/manifests/1$", "status", times=1, detail=503)
    proxy.add("GET", BLOB, "status", times=1, detail=(429, {"Retry-After": "2"}))
    proxy.add("GET", BLOB, "status", times=1, detail=502)
    start = time.monotonic()
    pull(p, proxy)
    took = time.monotonic() - start
    usable(p, proxy)
    assert [e[3] for e in proxy.log].count("status") == 3
    assert took >= 2.0, f"Retry-After: 2 was not waited for ({took:.2f} s)"


def test_a_stalled_blob_goes_on(clean):
    p, proxy = clean
    proxy.add("GET", BLOB, "stall", times=None, detail=(1 << 20, 2))
    pull(p, proxy)
    usable(p, proxy)


def test_spent_retries_fail_in_one_line_and_leave_nothing(clean):
    p, proxy = clean
    proxy.add("GET", BLOB, "status", times=None, detail=500)
    res = pull(p, proxy, check=False)
    assert res.returncode == 125 and res.stdout == ""
    assert res.stderr.count("\n") == 1, res.stderr
    assert re.fullmatch(r"Error: pulling blob sha256:[0-9a-f]{64} of 127\.0\.0\.1:\d+/faults/big: 127\.0\.0\.1:\d+ "
                        r"answered 500 Internal Server Error: injected fault \(after 4 attempts\)\n", res.stderr), \
        res.stderr
    nothing_left(p, proxy)

    proxy.clear()
    proxy.add("GET", BLOB, "drop", times=None, detail=1 << 19)
    res = pull(p, proxy, check=False)
    assert res.returncode == 125 and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.endswith("(after 4 attempts)\n"), res.stderr
    assert "reading the blob failed" in res.stderr
    nothing_left(p, proxy)

    proxy.clear()   # the registry is well again: the same pull works
    pull(p, proxy)
    usable(p, proxy)


def test_a_push_sends_a_failed_blob_again(clean, env):
    p, proxy = clean
    p("run", "--name", "filler2", "--network", "none", "busybox", "sh", "-c", FILL)
    p("commit", "filler2", "again")
    p("rm", "filler2")
    try:
        proxy.add("POST", r"/blobs/uploads/$", "status", times=1, detail=503)
        proxy.add("PUT", r"/blobs/uploads/", "hangup", times=1)
        dest = f"{proxy.host}/faults/again:1"
        p("push", "-q", "--tls-verify=false", "again", dest, timeout=120)
        kinds = [e[3] for e in proxy.log]
        assert "hangup" in kinds and "status" in kinds
        p("rmi", "again")
        p("pull", "-q", "--tls-verify=false", dest, timeout=120)
        assert p("run", "--rm", "--network", "none", dest, "wc", "-c", "/big").stdout.split()[0] == "4194304"
        p("rmi", dest)

        proxy.clear()   # an upload that always fails: one line, after the retries
        p("run", "--name", "filler3", "--network", "none", "busybox", "sh", "-c", FILL)
        p("commit", "filler3", "never")
        p("rm", "filler3")
        proxy.add("PUT", r"/blobs/uploads/", "hangup", times=None)
        res = p("push", "-q", "--tls-verify=false", "never", f"{proxy.host}/faults/never:1", check=False, timeout=120)
        assert res.returncode == 125 and res.stderr.count("\n") == 1, res.stderr
        assert res.stderr.startswith("Error: pushing blob sha256:") and "(after 4 attempts)" in res.stderr, res.stderr
        assert p("system", "check").stdout == ""
    finally:
        for n in ("again", "never"):
            p("rmi", "-f", n, check=False)
