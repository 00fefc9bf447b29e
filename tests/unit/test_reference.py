"""Image name parsing, normalisation and short-name resolution, as podman does them."""

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
    ("docker.io/u4", "docker.io/library/u4:latest", "docker.io/library/u4:latest"),
    ("docker.io/x/u4:1", "docker.io/x/u4:1", "docker.io/x/u4:1"),
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


SEARCH = ref.ShortNames(("docker.io", "quay.io"), {})
ALIASES = ref.ShortNames(("docker.io", "quay.io"), {
    "busybox": "docker.io/library/busybox", "tw-busybox": "registry.opensuse.org/opensuse/busybox",
    "pinned": "example.com/p/pinned@sha256:" + "b" * 64, "tagged": "example.com/t/tagged:v9"})
DIGEST = "sha256:" + "a" * 64


def test_candidates_order():
    assert ref.candidates("busybox", SEARCH) == [
        "localhost/busybox:latest", "docker.io/library/busybox:latest", "quay.io/busybox:latest"]
    assert ref.candidates("quay.io/a/b", SEARCH) == ["quay.io/a/b:latest"]


def test_local_candidates_put_the_alias_after_localhost():
    assert ref.candidates("tw-busybox:1.36", ALIASES) == [
        "localhost/tw-busybox:1.36", "registry.opensuse.org/opensuse/busybox:1.36",
        "docker.io/library/tw-busybox:1.36", "quay.io/tw-busybox:1.36"]


def test_pull_candidates_without_an_alias_go_through_the_search_registries():
    assert [str(r) for r in ref.pull_candidates("me/app:2", SEARCH)] == ["docker.io/me/app:2", "quay.io/me/app:2"]
    assert [str(r) for r in ref.pull_candidates("quay.io/a/b", SEARCH)] == ["quay.io/a/b:latest"]
    with pytest.raises(ReferenceError_, match="no unqualified-search-registries"):
        ref.pull_candidates("app", ref.ShortNames((), {}))


def test_alias_keeps_the_tag_given():
    assert [str(r) for r in ref.pull_candidates("busybox:1.36", ALIASES)] == ["docker.io/library/busybox:1.36"]
    assert [str(r) for r in ref.pull_candidates("busybox", ALIASES)] == ["docker.io/library/busybox:latest"]
    # The user's tag wins over one the alias names.
    assert [str(r) for r in ref.pull_candidates("tagged:1", ALIASES)] == ["example.com/t/tagged:1"]
    assert [str(r) for r in ref.pull_candidates("tagged", ALIASES)] == ["example.com/t/tagged:v9"]


def test_alias_keeps_the_digest_given():
    [r] = ref.pull_candidates(f"busybox@{DIGEST}", ALIASES)
    assert (r.domain, r.path, r.tag, r.digest) == ("docker.io", "library/busybox", None, DIGEST)
    [r] = ref.pull_candidates(f"busybox:1.36@{DIGEST}", ALIASES)
    assert (r.tag, r.digest) == ("1.36", DIGEST)
    [r] = ref.pull_candidates("pinned", ALIASES)
    assert r.digest == "sha256:" + "b" * 64


def test_a_digest_that_contradicts_the_alias_is_an_error():
    with pytest.raises(ReferenceError_, match="does not match"):
        ref.pull_candidates(f"pinned@{DIGEST}", ALIASES)
    with pytest.raises(ReferenceError_, match="must name a registry"):
        ref.pull_candidates("x", ref.ShortNames((), {"x": "library/x"}))


def test_split_repo_tag():
    assert ref.split_repo_tag("docker.io/library/busybox:1.36") == ("docker.io/library/busybox", "1.36")


def test_the_name_of_an_image_a_name_stands_for() -> None:
    """rmi's and untag's question: which of an image's names does a name mean? A candidate of
    the short name first, then a stored name ending in it; never all of them."""
    from storage.images import name_for

    names = ["docker.io/library/u4:latest", "localhost/busybox:latest", "localhost/t6:latest", "quay.io/x/u5:1"]
    short = ref.ShortNames(("docker.io",), {})
    assert name_for(names, "u5:1", short) == "quay.io/x/u5:1"
    assert name_for(names, "x/u5:1", short) == "quay.io/x/u5:1"
    assert name_for(names, "t6", short) == "localhost/t6:latest"
    assert name_for(names, "u4", short) == "docker.io/library/u4:latest"
    assert name_for(names, "docker.io/u4", short) == "docker.io/library/u4:latest"
    assert name_for(names, "u5", short) is None   # another tag
    assert name_for(names, "quay.io/u5:1", short) is None
