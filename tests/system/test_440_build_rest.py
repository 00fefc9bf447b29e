"""build's remaining flags: the layer cache kept in a registry (--cache-to, --cache-from),
SSH agent forwarding into RUN (--ssh, RUN --mount=type=ssh), the id maps of RUN's user
namespace (--userns-uid-map & co), OCI hooks (--hooks-dir), and network create's
--ipam-driver."""

import json
import os
import shutil
from pathlib import Path

import pytest

from registry import LocalRegistry


@pytest.fixture
def p(new_podpy, image_tar):
    q = new_podpy()
    q("import", image_tar, "busybox")
    return q


def ctx(tmp_path: Path, containerfile: str, files: dict | None = None) -> Path:
    d = tmp_path / "ctx"
    d.mkdir(parents=True, exist_ok=True)
    (d / "Containerfile").write_text(containerfile)
    for rel, content in (files or {}).items():
        (d / rel).write_text(content)
    return d


@pytest.fixture
def registry(tmp_path):
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is needed (installed by packaging/setup.sh test)")
    (tmp_path / "reg").mkdir()
    reg = LocalRegistry(tmp_path / "reg")
    yield reg
    reg.stop()


# -- --cache-to / --cache-from ---------------------------------------------------------------

STAMPED = "FROM localhost/busybox\nCOPY f /f\nRUN date +%s%N > /stamp\nRUN echo second > /second\n"


def fresh_store_with_the_same_base(p, new_podpy, tmp_path):
    """A new store whose busybox is the very image of p's (its id is in every cache key)."""
    saved = tmp_path / "busybox-image.tar"
    if not saved.exists():
        p("save", "-o", saved, "busybox")
    fresh = new_podpy()
    fresh("load", "-i", saved)
    return fresh


def test_cache_to_then_cache_from_in_a_fresh_store_runs_no_step(p, new_podpy, registry, tmp_path):
    d = ctx(tmp_path, STAMPED, {"f": "x\n"})
    repo = f"{registry.host}/buildcache"
    out = p("build", "--tls-verify=false", "--cache-to", repo, "-t", "first", d).stdout
    assert "Using cache" not in out
    stamp = p("run", "--rm", "first", "cat", "/stamp").stdout
    # three steps with a layer each: three tags in the repository, the steps' cache keys
    tags = p("search", "--list-tags", "--tls-verify=false", repo, "--format", "{{.Tag}}").stdout.split()
    assert len(tags) == 3 and all(len(t) == 64 for t in tags)
    fresh = fresh_store_with_the_same_base(p, new_podpy, tmp_path)
    out = fresh("build", "--tls-verify=false", "--cache-from", repo, "-t", "second", d).stdout
    assert out.count("--> Using cache") == 3
    assert fresh("run", "--rm", "second", "cat", "/stamp").stdout == stamp   # RUN did not run again
    # the pulled steps keep no names of the cache's
    assert repo not in fresh("images", "--format", "{{.Repository}}").stdout
    # a changed step misses from there on: it runs, and what follows too
    (d / "f").write_text("changed\n")
    out = fresh("build", "--tls-verify=false", "--cache-from", repo, "-t", "third", d).stdout
    assert "Using cache" not in out
    assert fresh("run", "--rm", "third", "cat", "/stamp").stdout != stamp


def test_cache_ttl_ignores_older_cached_steps_of_the_registry(p, new_podpy, registry, tmp_path):
    d = ctx(tmp_path, STAMPED, {"f": "x\n"})
    repo = f"{registry.host}/ttl"
    p("build", "--tls-verify=false", "--cache-to", repo, d)
    fresh = fresh_store_with_the_same_base(p, new_podpy, tmp_path)
    import time
    time.sleep(2)
    out = fresh("build", "--tls-verify=false", "--cache-from", repo, "--cache-ttl", "1s", d).stdout
    assert "Using cache" not in out


def test_cache_from_refuses_a_tag_and_a_local_name(p, tmp_path):
    d = ctx(tmp_path, "FROM localhost/busybox\n")
    r = p("build", "--cache-from", "127.0.0.1:5000/c:tag", d, check=False)
    assert r.returncode == 125 and "without a tag" in r.stderr
    r = p("build", "--cache-to", "cache", d, check=False)
    assert r.returncode == 125 and "--cache-to" in r.stderr
