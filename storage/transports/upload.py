"""Pushing to an OCI distribution registry: blob uploads (monolithic, chunked, cross-repository mount) and manifests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import BinaryIO, Optional
from urllib.parse import urlencode, urljoin

from storage.compression import CHUNK
from storage.transports._api import MANIFEST_LIMIT, blob_path, by_digest, check_repository, check_tag, reference_label
from storage.transports._http import Key, Reply, Request, Session, unexpected, url_target
from storage.transports.errors import (
    DigestMismatchError, RegistryError, TransientError, UnauthorizedError, error_body, one_line, printable,
)
from storage.transports.manifest import sha256_digest, valid_digest

__all__ = ["blob_exists", "put_manifest", "upload_blob"]

_OCTETS = "application/octet-stream"
# Codes by which the registry says the content is not what we announced.
_CONTENT_CODES = frozenset({"DIGEST_INVALID", "SIZE_INVALID"})


class _Source:
    """The content being pushed, and whether anything was read from it (an unseekable one cannot be re-sent)."""

    def __init__(self, source: BinaryIO, label: str) -> None:
        self.file, self.label, self.touched = source, label, False
        self.seekable = _seekable(source)
        self.start = source.tell() if self.seekable else 0

    def rewindable(self) -> bool:
        return self.seekable or not self.touched

    def seek(self, offset: int) -> None:
        try:
            self.file.seek(self.start + offset)
        except (OSError, ValueError) as e:
            raise RegistryError(f"{self.label}: seeking back in the content failed: {one_line(e)}") from None

    def body(self, offset: int, length: int) -> Callable[[], Iterator[bytes]]:
        """A request body factory: length bytes from offset, read in CHUNK pieces, never all in memory."""
        def chunks() -> Iterator[bytes]:
            # Each send (a stale connection, a 401) starts at offset again.
            if self.seekable:
                self.seek(offset)
            elif sent[0] and self.touched:
                raise RegistryError(f"{self.label}: the content must be sent again but cannot seek back")
            sent[0] = True
            remaining = length
            while remaining > 0:
                self.touched = True
                try:
                    data = self.file.read(min(CHUNK, remaining)) or b""
                except (OSError, ValueError) as e:
                    # Not an OSError: it would pass for a network failure and be retried.
                    raise RegistryError(f"{self.label}: reading the content failed: {one_line(e)}") from None
                if not data:
                    raise RegistryError(f"{self.label}: the content ended after {offset + length - remaining} "
                                        "bytes, before its announced size")
                remaining -= len(data)
                yield data

        sent = [False]
        return chunks


def _seekable(source: BinaryIO) -> bool:
    try:
        return source.seekable()
    except (OSError, ValueError):
        return False


def _location(reply: Reply, label: str) -> tuple[Key, str]:
    """Where an upload goes on: the reply's Location, resolved against the URL that was asked."""
    location = reply.header("Location")
    target = url_target(urljoin(reply.url, location)) if location else None
    # http.client refuses control characters and spaces with a message that
    # quotes the URL, and a Location may hold a state token: check first.
    if target is None or not target[1].isprintable() or " " in target[1]:
        raise RegistryError(f"{label}: {reply.where} sent no usable upload location")
    return target


def _with_query(path: str, **params: str) -> str:
    # A Location may carry the upload's state in its query; keep it.
    return path + ("&" if "?" in path else "?") + urlencode(params)


def _failed(reply: Reply, label: str) -> RegistryError:
    if error_body(reply.body)[0] in _CONTENT_CODES:
        return DigestMismatchError(f"{label}: {unexpected(reply)}")
    return RegistryError(f"{label}: {unexpected(reply)}")


def blob_exists(session: Session, repository: str, digest: str, *, push: bool = False, label: str = "") -> bool:
    """RegistryClient.blob_exists: whether the registry has the blob (HEAD); push asks for a push token."""
    label = label or printable(f"checking blob {digest} in {session.registry}/{repository}")
    reply = session.fetch(Request("HEAD", blob_path(repository, digest, label), {}, label), repository, push)
    if reply.status in (200, 404):
        return reply.status == 200
    raise RegistryError(f"{label}: {unexpected(reply)}")


def upload_blob(session: Session, repository: str, digest: str, size: int, source: BinaryIO,
                mount_from: Optional[str], chunk_size: Optional[int]) -> str:
    """RegistryClient.upload_blob: "exists", "mounted" or "uploaded"."""
    label = printable(f"pushing blob {digest} to {session.registry}/{repository}")
    if not valid_digest(digest):
        raise RegistryError(f"{label}: only sha256 digests are supported")
    repo = check_repository(repository, label)
    if mount_from is not None:
        check_repository(mount_from, label)
    if size < 0 or (chunk_size is not None and chunk_size <= 0):
        raise RegistryError(f"{label}: invalid size or chunk size")
    if blob_exists(session, repository, digest, push=True, label=label):
        return "exists"
    content = _Source(source, label)
    opts, attempt = session.options, 0
    while True:
        try:
            return _upload_once(session, repo, digest, size, content, mount_from, chunk_size, label)
        except UnauthorizedError:
            # Mounting needs pull rights on the other repository too; without them, upload.
            if mount_from is None:
                raise
            mount_from = None
        except TransientError as e:
            # Start over with a new upload session: the registry may have
            # dropped the old one, and the content must be sent again from
            # its start, which needs a source that can seek back.
            if attempt >= opts.retries or not content.rewindable():
                after = f" (after {attempt + 1} attempts)" if attempt else ""
                raise RegistryError(f"{e}{after}") from None
            time.sleep(min(opts.backoff * 2 ** attempt, opts.backoff_max))
            attempt += 1


def _upload_once(session: Session, repo: str, digest: str, size: int, content: _Source,
                 mount_from: Optional[str], chunk_size: Optional[int], label: str) -> str:
    """One attempt: start (or mount) an upload, send the content, commit it."""
    path = f"/v2/{repo}/blobs/uploads/"
    if mount_from is not None:
        path += "?" + urlencode({"mount": digest, "from": mount_from})
    reply = session.fetch(Request("POST", path, {}, label, retry=False), repo, True)
    if mount_from is not None and reply.status == 201:
        return "mounted"
    if reply.status != 202:
        raise _failed(reply, label)  # 202 also when a mount was refused: upload instead
    key, where = _location(reply, label)
    headers = {"Content-Type": _OCTETS}
    offset = 0
    if chunk_size is not None:
        while offset < size:
            length = min(chunk_size, size - offset)
            request = Request("PATCH", where, {**headers, "Content-Length": str(length),
                                                "Content-Range": f"{offset}-{offset + length - 1}"},
                               label, body=content.body(offset, length), retry=False)
            reply = session.fetch(request, repo, True, key)
            if reply.status != 202:
                raise _failed(reply, label)
            key, where = _location(reply, label)
            offset += length
    request = Request("PUT", _with_query(where, digest=digest), {**headers, "Content-Length": str(size - offset)},
                       label, body=content.body(offset, size - offset), retry=False)
    reply = session.fetch(request, repo, True, key)
    if reply.status != 201:
        raise _failed(reply, label)
    stored = reply.header("Docker-Content-Digest")
    if stored and stored != digest:
        raise DigestMismatchError(f"{label}: the registry stored the content as {printable(stored)[:80]}")
    return "uploaded"


def put_manifest(session: Session, repository: str, reference: str, raw: bytes, media_type: str) -> str:
    """RegistryClient.put_manifest: the manifest's sha256 digest."""
    label = reference_label("pushing manifest", session.registry, repository, reference)
    repo = check_repository(repository, label)
    digest = sha256_digest(raw)
    if by_digest(reference) and reference != digest:
        raise DigestMismatchError(f"{label}: the manifest's digest is {digest}")
    if not by_digest(reference):
        check_tag(reference, label)
    if len(raw) > MANIFEST_LIMIT:
        raise RegistryError(f"{label}: manifest is larger than {MANIFEST_LIMIT >> 20} MiB")
    if not media_type or not media_type.isprintable():
        raise RegistryError(f"{label}: invalid media type")
    request = Request("PUT", f"/v2/{repo}/manifests/{reference}",
                       {"Content-Type": media_type, "Content-Length": str(len(raw))}, label, body=lambda: (raw,))
    reply = session.fetch(request, repo, True)
    if reply.status != 201:
        raise _failed(reply, label)
    stored = reply.header("Docker-Content-Digest")
    if stored and stored != digest:
        raise DigestMismatchError(f"{label}: the registry stored the manifest as {printable(stored)[:80]}, "
                                  f"not {digest}")
    return digest
