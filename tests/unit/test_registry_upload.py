"""Pushing with the registry client (storage.transports.upload) to the in-process fake registry and a real one."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from storage.transports.manifest import OCI_MANIFEST
from storage.transports.registry import DigestMismatchError, RegistryClient, RegistryError, RegistryOptions
from test_registry_client import (  # the fake registry and helpers beside this file
    PASSWORD, USER, FakeRegistry, _tiny_image, client, read_all, sha,
)

BIG = bytes(range(256)) * (10 << 10) + b"tail"  # 2.5 MiB and a bit: several 1 MiB pieces


class Recording(io.BytesIO):
    """A source that remembers its read sizes, and can pretend it cannot seek."""

    def __init__(self, data: bytes, seekable: bool = True) -> None:
        super().__init__(data)
        self.reads: list[int] = []
        self._can_seek = seekable

    def read(self, size: int | None = -1, /) -> bytes:
        self.reads.append(-1 if size is None else size)
        return super().read(size)

    def seekable(self) -> bool:
        return self._can_seek

    def seek(self, offset: int, whence: int = 0, /) -> int:
        if not self._can_seek:
            raise io.UnsupportedOperation("seek")
        return super().seek(offset, whence)

    def tell(self) -> int:
        if not self._can_seek:
            raise io.UnsupportedOperation("tell")
        return super().tell()


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    registry = FakeRegistry()
    registry.auth = "bearer"
    yield registry
    registry.close()


def pushing(fake: FakeRegistry, **kw: Any) -> RegistryClient:
    return client(fake, credentials=(USER, PASSWORD), **kw)


def writes(fake: FakeRegistry) -> list[tuple[str, str, dict[str, str], int]]:
    return [r for r in fake.log if r[0] in ("POST", "PATCH", "PUT")]


def test_upload_new_blob_then_exists(fake: FakeRegistry) -> None:
    source = Recording(BIG)
    with pushing(fake) as c:
        assert c.upload_blob("a/b", sha(BIG), len(BIG), source) == "uploaded"
        assert fake.blobs[sha(BIG)] == BIG
        assert max(source.reads) <= 1 << 20, "the content must be streamed, not read whole"
        assert c.upload_blob("a/b", sha(BIG), len(BIG), Recording(BIG)) == "exists"
    # One token, for pull and push, asked once.
    assert [q["scope"] for q, _ in fake.token_requests] == [["repository:a/b:pull,push"]]
    post, put = writes(fake)
    assert post[1] == "/v2/a/b/blobs/uploads/" and post[2]["Authorization"] == "Bearer tok-1"
    url = urlsplit(put[1])
    assert url.path == "/v2/a/b/blobs/uploads/u0"
    assert parse_qs(url.query) == {"_state": ["secret-u0"], "digest": [sha(BIG)]}  # the state query is kept
    assert put[2]["Content-Length"] == str(len(BIG)) and put[2]["Content-Type"] == "application/octet-stream"
    assert len({r[3] for r in fake.log if r[1].startswith("/v2/")}) == 1, "keep-alive connection not reused"


def test_empty_blob(fake: FakeRegistry) -> None:
    with pushing(fake) as c:
        assert c.upload_blob("a/b", sha(b""), 0, io.BytesIO()) == "uploaded"
    assert fake.blobs[sha(b"")] == b""


def test_mount_and_refused_mount(fake: FakeRegistry) -> None:
    fake.repo_scoped = True
    fake.blobs[sha(BIG)] = BIG
    fake.links.add(("src/x", sha(BIG)))
    with pushing(fake) as c:
        assert c.upload_blob("dst/y", sha(BIG), len(BIG), Recording(BIG), mount_from="src/x") == "mounted"
        assert ("dst/y", sha(BIG)) in fake.links
        [post] = writes(fake)
        assert parse_qs(urlsplit(post[1]).query) == {"mount": [sha(BIG)], "from": ["src/x"]}
        # A registry that will not mount starts an upload instead (202), which is used.
        fake.allow_mount = False
        assert c.upload_blob("dst/z", sha(BIG), len(BIG), Recording(BIG), mount_from="src/x") == "uploaded"
    assert [r[0] for r in writes(fake)] == ["POST", "POST", "PUT"]


@pytest.mark.parametrize("seekable", [True, False])
def test_chunked_upload(fake: FakeRegistry, seekable: bool) -> None:
    source = Recording(BIG, seekable)
    chunk = 1_000_000
    with pushing(fake) as c:
        assert c.upload_blob("a/b", sha(BIG), len(BIG), source, chunk_size=chunk) == "uploaded"
    assert fake.blobs[sha(BIG)] == BIG
    post, *patches, put = writes(fake)
    assert [r[0] for r in patches] == ["PATCH"] * 3 and put[0] == "PUT"
    assert [r[2]["Content-Range"] for r in patches] == ["0-999999", "1000000-1999999", f"2000000-{len(BIG) - 1}"]
    assert all(r[2]["Content-Type"] == "application/octet-stream" for r in patches)
    assert put[2]["Content-Length"] == "0" and parse_qs(urlsplit(put[1]).query)["digest"] == [sha(BIG)]
    assert max(source.reads) <= 1 << 20


def test_digest_mismatch_rejected(fake: FakeRegistry) -> None:
    wrong = sha(b"something else")
    with pushing(fake) as c, pytest.raises(DigestMismatchError) as info:
        c.upload_blob("a/b", wrong, len(BIG), io.BytesIO(BIG))
    message = str(info.value)
    assert message == f"pushing blob {wrong} to {fake.netloc}/a/b: {fake.netloc} answered 400 Bad Request: " \
                      "digest invalid"
    assert wrong not in fake.blobs and len(writes(fake)) == 2  # a content error is not retried


def test_short_source(fake: FakeRegistry) -> None:
    with pushing(fake) as c, pytest.raises(RegistryError, match=r": the content ended after 4 bytes"):
        c.upload_blob("a/b", sha(b"abcdef"), 6, io.BytesIO(b"abcd"))


def test_retry_after_500_on_put(fake: FakeRegistry) -> None:
    fake.put_failures = 1
    with pushing(fake, retries=2) as c:
        assert c.upload_blob("a/b", sha(BIG), len(BIG), Recording(BIG)) == "uploaded"
    assert [r[0] for r in writes(fake)] == ["POST", "PUT", "POST", "PUT"]  # started over with a new session
    assert fake.blobs[sha(BIG)] == BIG


def test_no_retry_without_seek(fake: FakeRegistry) -> None:
    fake.put_failures = 1
    with pushing(fake, retries=2) as c, pytest.raises(RegistryError) as info:
        c.upload_blob("a/b", sha(BIG), len(BIG), Recording(BIG, seekable=False))
    assert str(info.value) == f"pushing blob {sha(BIG)} to {fake.netloc}/a/b: {fake.netloc} answered 500 " \
                              "Internal Server Error: unavailable"
    assert [r[0] for r in writes(fake)] == ["POST", "PUT"]


def test_retries_exhausted(fake: FakeRegistry) -> None:
    fake.put_failures = 10
    start = time.monotonic()
    with pushing(fake, retries=2, backoff=0.01) as c, pytest.raises(RegistryError, match=r"\(after 3 attempts\)$"):
        c.upload_blob("a/b", sha(BIG), len(BIG), Recording(BIG))
    assert [r[0] for r in writes(fake)] == ["POST", "PUT"] * 3
    assert time.monotonic() - start < 2


def test_upload_location_on_another_host(fake: FakeRegistry) -> None:
    fake.upload_host = "localhost"  # the same server under another name: to the client, another host
    with pushing(fake) as c:
        assert c.upload_blob("a/b", sha(BIG), len(BIG), Recording(BIG), chunk_size=1 << 20) == "uploaded"
        foreign = [r for r in fake.log if r[2]["Host"].startswith("localhost:")]
        assert [r[0] for r in foreign] == ["PATCH"] * 3 + ["PUT"]
        assert all("Authorization" not in r[2] for r in foreign)
        # Messages name the host only: a Location's query may hold a secret.
        fake.put_failures = 10
        with pytest.raises(RegistryError) as info:
            c.upload_blob("a/b", sha(b"x"), 1, io.BytesIO(b"x"))
    message = str(info.value)
    assert f"localhost:{fake.server.server_address[1]} answered 500" in message
    assert "secret" not in message and "uploads" not in message and "\n" not in message


def test_put_manifest(fake: FakeRegistry) -> None:
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {}, "layers": []}).encode()
    with pushing(fake) as c:
        assert c.put_manifest("a/b", "v1", raw, OCI_MANIFEST) == sha(raw)
        assert c.get_manifest("a/b", "v1") == (raw, OCI_MANIFEST, sha(raw))
        assert c.put_manifest("a/b", sha(raw), raw, OCI_MANIFEST) == sha(raw)
        with pytest.raises(DigestMismatchError, match="manifest's digest is"):
            c.put_manifest("a/b", sha(b"other"), raw, OCI_MANIFEST)
        fake.manifest_digest = sha(b"other")
        with pytest.raises(DigestMismatchError, match=rf"stored the manifest as {sha(b'other')}, not {sha(raw)}$"):
            c.put_manifest("a/b", "v2", raw, OCI_MANIFEST)
        with pytest.raises(RegistryError, match="invalid tag"):
            c.put_manifest("a/b", "bad tag", raw, OCI_MANIFEST)
    anonymous, put = writes(fake)[:2]  # the first try has no token yet and is answered 401
    assert "Authorization" not in anonymous[2] and put[2]["Authorization"] == "Bearer tok-1"
    assert put[2]["Content-Type"] == OCI_MANIFEST


def test_push_needs_push_scope(fake: FakeRegistry) -> None:
    fake.add_image("a/b", "latest", [b"layer"])
    with pushing(fake) as c:
        c.get_manifest("a/b", "latest")  # a pull token first: not enough to push
        assert c.upload_blob("a/b", sha(b"new"), 3, io.BytesIO(b"new")) == "uploaded"
    assert [q["scope"] for q, _ in fake.token_requests] == [["repository:a/b:pull"], ["repository:a/b:pull,push"]]


# -- the real registry ----------------------------------------------------------------------------


def test_real_registry_push_then_pull(real_registry: str) -> None:
    cfg, layer, manifest = _tiny_image("amd64")
    big = BIG + layer  # a second, bigger blob, sent in chunks
    with RegistryClient(real_registry, RegistryOptions(insecure=True, timeout=5, backoff=0.01)) as c:
        assert c.upload_blob("push/one", sha(cfg), len(cfg), io.BytesIO(cfg)) == "uploaded"
        assert c.upload_blob("push/one", sha(layer), len(layer), Recording(layer, seekable=False)) == "uploaded"
        assert c.upload_blob("push/one", sha(layer), len(layer), io.BytesIO(layer)) == "exists"
        assert c.upload_blob("push/one", sha(big), len(big), io.BytesIO(big), chunk_size=1 << 20) == "uploaded"
        assert c.put_manifest("push/one", "latest", manifest, OCI_MANIFEST) == sha(manifest)
        # Another repository gets the blobs by mounting, and the manifest by digest.
        for blob in (cfg, layer):
            assert c.upload_blob("push/two", sha(blob), len(blob), io.BytesIO(blob), mount_from="push/one") == "mounted"
        assert c.put_manifest("push/two", sha(manifest), manifest, OCI_MANIFEST) == sha(manifest)
        with pytest.raises(DigestMismatchError):
            c.upload_blob("push/one", sha(b"not this"), 4, io.BytesIO(b"this"))

        for repo, ref in (("push/one", "latest"), ("push/two", sha(manifest))):
            image = c.resolve(repo, ref, "linux", "amd64", None)
            assert image.digest == sha(manifest) and image.raw == manifest
            assert read_all(c, repo, image.config.digest, image.config.size) == cfg
            [desc] = image.layers
            assert read_all(c, repo, desc.digest, desc.size) == layer
        assert read_all(c, "push/one", sha(big), len(big)) == big
