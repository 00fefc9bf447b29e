"""Image name parsing and normalisation, as podman does it."""

import pytest

from storage import reference as ref
from storage.errors import ReferenceError_


@pytest.mark.parametrize("name,local,pull", [
    ("busybox", "localhost/busybox:latest", "docker.io/library/busybox:latest"),
    ("busybox:1.36", "localhost/busybox:1.36", "docker.io/library/busybox:1.36"),
    ("me/app", "localhost/me/app:latest", "docker.io/me/app:latest"),
    ("quay.io/a/b:v1", "quay.io/a/b:v1", "quay.io/a/b:v1"),
    ("localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest"),
    ("127.0.0.1:5000/x/y:z", "127.0.0.1:5000/x/y:z", "127.0.0.1:5000/x/y:z"),
])
def test_normalize(name, local, pull):
    assert ref.normalize_local(name) == local
    assert ref.normalize_pull(name) == pull


def test_digest():
    d = "sha256:" + "a" * 64
    r = ref.parse(f"quay.io/x/y@{d}")
    assert (r.domain, r.path, r.tag, r.digest) == ("quay.io", "x/y", None, d)


@pytest.mark.parametrize("bad", ["", "UPPER", "a//b", "a:b:c", "a@sha256:zz", "-a", "a:", " a", "a/B"])
def test_invalid(bad):
    with pytest.raises(ReferenceError_):
        ref.parse(bad)


def test_candidates_order():
    assert ref.candidates("busybox", ["docker.io", "quay.io"]) == [
        "localhost/busybox:latest", "docker.io/library/busybox:latest", "quay.io/busybox:latest"]
    assert ref.candidates("quay.io/a/b", ["docker.io"]) == ["quay.io/a/b:latest"]


def test_split_repo_tag():
    assert ref.split_repo_tag("docker.io/library/busybox:1.36") == ("docker.io/library/busybox", "1.36")
