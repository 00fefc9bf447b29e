"""Client of the OCI distribution API: manifests and blobs (pulled with digest checks), login, and pushes."""

from __future__ import annotations

import dataclasses
from typing import BinaryIO, Callable, Optional, cast

from storage.compression import DigestReader
from storage.transports import upload
from storage.transports._api import MANIFEST_LIMIT, blob_path, by_digest, check_repository, check_tag, reference_label
from storage.transports._http import Reply, Request, Session, SessionOptions, unexpected
from storage.transports.errors import (
    DigestMismatchError, ManifestUnknownError, RegistryError, UnauthorizedError, error_body, one_line, printable,
)
from storage.transports.manifest import (
    ACCEPT_MANIFESTS, Descriptor, ImageManifest, choose_platform, parse_manifest, served_media_type, sha256_digest,
    valid_digest,
)

__all__ = ["MANIFEST_LIMIT", "DigestMismatchError", "ManifestUnknownError", "RegistryClient", "RegistryError",
           "RegistryOptions", "UnauthorizedError"]

RegistryOptions = SessionOptions
"""How to talk to one registry (TLS, credentials, timeout, retries)."""


class RegistryClient:
    """A client of one registry, reusing one keep-alive connection per host.

    Not thread safe: use one client per thread.  Creating one does no I/O.
    Close it (or use it as a context manager) to close its connections.
    """

    def __init__(self, registry: str, options: Optional[RegistryOptions] = None) -> None:
        self._session = Session(registry, options or RegistryOptions())
        self.registry = registry

    def fork_copy(self) -> RegistryClient:
        """A client with this one's settings, scheme and tokens but no connections, for another thread or process.

        It keeps no connection after use, so it needs no close().
        """
        copy = RegistryClient.__new__(RegistryClient)
        copy._session, copy.registry = self._session.fork_copy(), self.registry
        return copy

    def close(self) -> None:
        """Close idle connections; blob readers still open keep theirs until they are closed."""
        self._session.close()

    def __del__(self) -> None:
        # A forgotten client must not leave sockets to the garbage collector;
        # one whose constructor failed has no session to close.
        if "_session" in self.__dict__:
            self.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        """Fetch a manifest by tag or digest: (raw bytes, media type, sha256 digest of raw)."""
        digest_ref, label = by_digest(reference), reference_label("pulling", self.registry, repository, reference)
        if digest_ref and not valid_digest(reference):
            raise RegistryError(f"{label}: only sha256 digests are supported")
        if not digest_ref:
            check_tag(reference, label)
        path = f"/v2/{check_repository(repository, label)}/manifests/{reference}"
        request = Request("GET", path, {"Accept": ACCEPT_MANIFESTS}, label, MANIFEST_LIMIT)
        reply = self._session.fetch(request, repository)
        if reply.status == 404:
            unknown = error_body(reply.body)[0] == "NAME_UNKNOWN"
            raise ManifestUnknownError(f"{label}: manifest unknown"
                                       + (" (repository name not known to registry)" if unknown else ""))
        if reply.status != 200:
            raise RegistryError(f"{label}: {unexpected(reply)}")
        if len(reply.body) > MANIFEST_LIMIT:
            raise RegistryError(f"{label}: manifest is larger than {MANIFEST_LIMIT >> 20} MiB")
        digest = sha256_digest(reply.body)
        if digest_ref and digest != reference:
            raise DigestMismatchError(f"{label}: manifest digest mismatch: the registry sent {digest}")
        return reply.body, served_media_type(reply.body, reply.header("Content-Type") or ""), digest

    def manifest_digest(self, repository: str, tag: str) -> tuple[Optional[str], str]:
        """HEAD a tag's manifest: (its digest from Docker-Content-Digest, None when the registry
        sends none or an invalid one; its media type, "" when not given). Nothing is downloaded."""
        label = reference_label("checking", self.registry, repository, tag)
        check_tag(tag, label)
        path = f"/v2/{check_repository(repository, label)}/manifests/{tag}"
        reply = self._session.fetch(Request("HEAD", path, {"Accept": ACCEPT_MANIFESTS}, label), repository)
        if reply.status == 404:
            raise ManifestUnknownError(f"{label}: manifest unknown")
        if reply.status != 200:
            raise RegistryError(f"{label}: {unexpected(reply)}")
        digest = reply.header("Docker-Content-Digest")
        media_type = (reply.header("Content-Type") or "").split(";", 1)[0].strip()
        return (digest if digest and valid_digest(digest) else None), media_type

    def resolve(self, repository: str, reference: str, os: str, arch: str,
                variant: Optional[str]) -> ImageManifest:
        """The image manifest for reference, choosing os/arch/variant from an index or list."""
        label = reference_label("pulling", self.registry, repository, reference)
        raw, media_type, digest = self.get_manifest(repository, reference)
        parsed = self._parse(raw, media_type, label)
        if isinstance(parsed, ImageManifest):
            return parsed
        try:
            entry = choose_platform(parsed, os, arch, variant)
        except RegistryError as e:
            raise RegistryError(f"{label}: {e}") from None
        child_raw, child_type, _ = self.get_manifest(repository, entry.digest)
        if len(child_raw) != entry.size:
            raise DigestMismatchError(f"{label}: manifest {entry.digest} is {len(child_raw)} bytes, "
                                      f"the list says {entry.size}")
        child = self._parse(child_raw, child_type, label)
        if not isinstance(child, ImageManifest):
            raise RegistryError(f"{label}: the entry for the platform is itself a manifest list; "
                                "nested lists are not supported")
        return dataclasses.replace(child, index_digest=digest)

    def open_blob(self, repository: str, digest: str, size: Optional[int] = None) -> BinaryIO:
        """A streaming reader of a blob that verifies digest (and size) when it reaches the end.

        A connection that drops, stalls past the timeout or ends early while the body is read
        is opened again (at most `retries` times, with the same back-off as other requests)
        and the blob resumed where it stopped: with `Range: bytes=N-` where the registry
        answers 206, otherwise by reading the first N bytes again and dropping them.
        Reading to EOF raises DigestMismatchError instead of returning the final b"" if the
        content is wrong, RegistryError once the retries are spent.  Close the reader when done.
        """
        label = printable(f"pulling blob {digest} of {self.registry}/{repository}")
        path = blob_path(repository, digest, label)

        def fetch(offset: int) -> Reply:
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            reply = self._session.fetch(Request("GET", path, headers, label, stream=True), repository)
            if reply.stream is None:
                detail = "blob unknown to registry" if reply.status == 404 else unexpected(reply)
                raise RegistryError(f"{label}: {detail}")
            return reply

        reply = fetch(0)
        reader = _BlobReader(reply, digest, size, label, fetch, self._session.options)
        length = reply.header("Content-Length")
        if size is not None and length is not None and length.isdigit() and int(length) != size:
            reader.close()
            raise DigestMismatchError(f"{label}: size mismatch: expected {size} bytes, the registry sends {length}")
        return cast(BinaryIO, reader)

    def list_tags(self, repository: str) -> list[str]:
        """The repository's tags, in the registry's order, every page of them (`Link: <...>;
        rel="next"`, which must stay on this registry's tags path)."""
        import json
        import re

        label = printable(f"listing the tags of {self.registry}/{repository}")
        path = f"/v2/{check_repository(repository, label)}/tags/list"
        tags: list[str] = []
        for _ in range(1000):   # a registry paging forever is cut off
            reply = self._session.fetch(Request("GET", path, {"Accept": "application/json"}, label, MANIFEST_LIMIT),
                                        repository)
            if reply.status == 404:
                raise ManifestUnknownError(f"{label}: repository name not known to registry")
            if reply.status != 200:
                raise RegistryError(f"{label}: {unexpected(reply)}")
            try:
                page = json.loads(reply.body).get("tags") or []
            except (ValueError, AttributeError):
                raise RegistryError(f"{label}: the registry's answer is not a tag list") from None
            tags += [str(t) for t in page]
            link = re.match(r'\s*<([^>]*)>\s*;\s*rel="?next"?', reply.header("Link") or "")
            if link is None:
                return tags
            nxt = link.group(1)
            if nxt.startswith(("http://", "https://")):
                nxt = "/" + nxt.split("://", 1)[1].partition("/")[2]
            if not nxt.startswith(path.partition("?")[0].rsplit("/tags/list", 1)[0] + "/tags/list"):
                raise RegistryError(f"{label}: the registry's next page {nxt!r} is not a tag list of the repository")
            path = nxt
        return tags

    def check_login(self) -> None:
        """GET /v2/ with the credentials, as `login` checks them; raises UnauthorizedError when refused."""
        label = printable(f"logging in to {self.registry}")
        reply = self._session.fetch(Request("GET", "/v2/", {}, label), "")
        if reply.status != 200:
            raise RegistryError(f"{label}: {unexpected(reply)}")

    def catalog(self, enough: Optional[int] = None) -> list[str]:
        """The repositories the registry lists (/v2/_catalog): all, or at least `enough` when it has them."""
        from storage.transports.listing import catalog

        return catalog(self._session, enough)

    def tags(self, repository: str) -> list[str]:
        """The tags of repository (/v2/NAME/tags/list)."""
        from storage.transports.listing import tags

        return tags(self._session, repository)

    def blob_exists(self, repository: str, digest: str, *, push: bool = False, label: str = "") -> bool:
        """Whether the registry has the blob (HEAD); push asks for a token that may also push."""
        return upload.blob_exists(self._session, repository, digest, push=push, label=label)

    def upload_blob(self, repository: str, digest: str, size: int, source: BinaryIO,
                    mount_from: Optional[str] = None, chunk_size: Optional[int] = None) -> str:
        """Push size bytes of source as blob digest: "exists", "mounted" (from mount_from) or "uploaded".

        The body is streamed; chunk_size set uploads in PATCH chunks of that
        size instead of one PUT.  Failed attempts start over only if source
        can seek back (or nothing was read from it yet).
        """
        return upload.upload_blob(self._session, repository, digest, size, source, mount_from, chunk_size)

    def put_manifest(self, repository: str, reference: str, raw: bytes, media_type: str) -> str:
        """Push manifest raw under reference (tag or digest); returns its sha256 digest."""
        return upload.put_manifest(self._session, repository, reference, raw, media_type)

    @staticmethod
    def _parse(raw: bytes, media_type: str, label: str) -> ImageManifest | list[Descriptor]:
        try:
            return parse_manifest(raw, media_type)
        except RegistryError as e:
            raise type(e)(f"{label}: {e}") from None


class _BlobReader(DigestReader):
    """A blob body: hashed and counted while read, resumed after a broken connection, verified
    at EOF, its connection kept on success."""

    def __init__(self, reply: Reply, digest: str, size: Optional[int], label: str,
                 fetch: Callable[[int], Reply], options: RegistryOptions) -> None:
        assert reply.stream is not None
        super().__init__(cast(BinaryIO, reply.stream))
        self._release: Optional[Reply] = reply
        self._expected, self._size, self._label = digest, size, label
        self._failure: Optional[RegistryError] = None
        self._fetch, self._options, self._resumed = fetch, options, 0

    def _finish(self, reusable: bool) -> None:
        """Hand the connection back (body read to its end) or close it; once."""
        if self._release is not None:
            reply, self._release = self._release, None
            reply.release(reusable)

    def _fail(self, error: RegistryError) -> RegistryError:
        self._failure = error
        self._finish(False)
        return error

    def _read(self, size: int) -> bytes:
        if self._failure is not None:
            raise self._failure
        if self._release is None:
            return b""  # verified and handed back already
        while True:
            try:
                data = super()._read(size)
            except TimeoutError:
                problem = "the registry stopped sending the blob"
            except OSError as e:
                problem = f"reading the blob failed: {one_line(e)}"
            else:
                if self._size is not None and self.count > self._size:
                    raise self._fail(DigestMismatchError(f"{self._label}: size mismatch: more than {self._size} bytes"))
                if data or size <= 0:
                    return data
                # A body that ends as HTTP says it is whole (a connection cut short is an
                # IncompleteRead above) is the registry's answer, not a fault of the way.
                if self._size is not None and self.count != self._size:
                    raise self._fail(DigestMismatchError(
                        f"{self._label}: size mismatch: expected {self._size} bytes, got {self.count}"))
                break
            self._resume(problem)
        if self.digest() != self._expected:
            raise self._fail(DigestMismatchError(f"{self._label}: digest mismatch: the content is {self.digest()}"))
        self._finish(True)
        return b""

    def _resume(self, problem: str) -> None:
        """Go on from byte `count` on a new connection, or fail once the retries are spent."""
        import time

        self._finish(False)
        opts = self._options
        if self._resumed >= opts.retries:
            after = f" (after {self._resumed + 1} attempts)" if self._resumed else ""
            raise self._fail(RegistryError(f"{self._label}: {problem}{after}"))
        time.sleep(min(opts.backoff * 2 ** self._resumed, opts.backoff_max))
        self._resumed += 1
        try:
            reply = self._fetch(self.count)
        except RegistryError as e:
            raise self._fail(e) from None
        assert reply.stream is not None
        self._release = reply
        if reply.status == 206:
            where = (reply.header("Content-Range") or "").replace("=", " ").split()
            if len(where) < 2 or not where[1].startswith(f"{self.count}-"):
                raise self._fail(RegistryError(f"{self._label}: the registry resumed the blob at the wrong offset"))
        else:   # no range support: the part read already comes again, and is dropped
            skip = self.count
            try:
                while skip:
                    got = reply.stream.read(min(skip, 1 << 20))
                    if not got:
                        raise ConnectionError("the blob ended early")
                    skip -= len(got)
            except OSError as e:
                self._resume(f"reading the blob failed: {one_line(e)}")
                return
        self._source = cast(BinaryIO, reply.stream)

    def close(self) -> None:
        if not self.closed:
            self._finish(False)
        super().close()
