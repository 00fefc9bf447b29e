"""Transport references (`docker-archive:x.tar:name`, `oci:dir:ref`, ...): one parser for every command."""

import pytest

from storage.errors import ReferenceError_
from storage.transports import refs


@pytest.mark.parametrize("text", ["busybox", "busybox:1.36", "localhost:5000/app:1", "docker:latest",
                                  "docker.io/library/busybox", "sha256:" + "a" * 64, "oci-archiver:x"])
def test_plain_names_have_no_transport(text):
    assert refs.transport_of(text) is None
    assert refs.parse(text) is None


@pytest.mark.parametrize("text,transport,path,name,index", [
    ("docker://busybox", "docker", "", "busybox", None),
    ("docker://127.0.0.1:5000/a/b:1", "docker", "", "127.0.0.1:5000/a/b:1", None),
    ("docker-archive:/tmp/x.tar", "docker-archive", "/tmp/x.tar", None, None),
    ("docker-archive:x.tar:localhost/app:2", "docker-archive", "x.tar", "localhost/app:2", None),
    ("docker-archive:/tmp/x.tar:@1", "docker-archive", "/tmp/x.tar", None, 1),
    ("oci-archive:/tmp/o.tar", "oci-archive", "/tmp/o.tar", None, None),
    ("oci-archive:/tmp/o.tar:mytag", "oci-archive", "/tmp/o.tar", "mytag", None),
    ("oci:/tmp/layout", "oci", "/tmp/layout", None, None),
    ("oci:/tmp/layout:localhost/app:1", "oci", "/tmp/layout", "localhost/app:1", None),
    ("dir:/tmp/d:with:colons", "dir", "/tmp/d:with:colons", None, None),
    ("containers-storage:localhost/app", "containers-storage", "", "localhost/app", None),
])
def test_parse(text, transport, path, name, index):
    r = refs.parse(text)
    assert (r.transport, r.path, r.name, r.index) == (transport, path, name, index)
    assert refs.transport_of(text) == transport


def test_round_trip_to_text():
    for text in ("docker://busybox", "docker-archive:/x.tar:@2", "oci:/d:t", "dir:/d",
                 "containers-storage:[overlay@/s+/r]localhost/a:1"):
        assert str(refs.parse(text)) == text


def test_store_spec():
    r = refs.parse("containers-storage:[overlay@/home/u/store+/run/u:opt=1]localhost/app:1")
    assert r.name == "localhost/app:1" and r.store_spec == "overlay@/home/u/store+/run/u:opt=1"
    assert refs.store_root(r.store_spec) == "/home/u/store"
    assert refs.store_root("/only/root") == "/only/root"


@pytest.mark.parametrize("bad", ["docker://", "docker-archive:", "oci:", "dir:", "oci-archive::x",
                                 "docker-archive:x.tar:", "docker-archive:x.tar:@one",
                                 "docker-archive:x.tar:UPPER", "docker-archive:x.tar:a@sha256:" + "a" * 64,
                                 "containers-storage:", "containers-storage:[x", "containers-storage:[x]",
                                 "docker-daemon:busybox"])
def test_malformed(bad):
    with pytest.raises(ReferenceError_):
        refs.parse(bad)


def test_docker_daemon_is_refused_by_name():
    with pytest.raises(ReferenceError_, match="docker-daemon"):
        refs.parse("docker-daemon:busybox:latest")
