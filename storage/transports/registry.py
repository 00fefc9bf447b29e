"""HTTP client for the OCI distribution API: manifests, blobs, token auth, TLS and retries."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Optional, cast
from urllib.parse import urljoin, urlsplit

from storage.compression import DigestReader
from storage.errors import StorageError
from storage.transports import auth
from storage.transports.manifest import (
    ACCEPT_MANIFESTS, Descriptor, ImageManifest, choose_platform, parse_manifest, served_media_type, sha256_digest,
    valid_digest,
)

if TYPE_CHECKING:
    import http.client

__all__ = ["DigestMismatchError", "ManifestUnknownError", "RegistryClient", "RegistryError", "RegistryOptions",
           "UnauthorizedError"]


class RegistryError(StorageError):
    """A registry could not be used: unreachable, refused, or sent something unusable."""


class ManifestUnknownError(RegistryError):
    """The registry has no manifest (or repository) by that name."""


class UnauthorizedError(RegistryError):
    """The registry wants credentials we lack, or refuses the ones we have."""


class DigestMismatchError(RegistryError):
    """Content did not match its digest or announced size."""


class _TransientError(RegistryError):
    """A request failed in a way worth repeating (connection error, 5xx, 429) and was given up on.

    Uploads catch it to start over from their beginning, since repeating one
    request of an upload session the registry may have dropped seldom helps.
    """


MANIFEST_LIMIT = 4 << 20
"""Largest manifest accepted; manifests are read into memory, so a hostile registry must not choose."""

_SMALL_LIMIT = 1 << 20  # error bodies and token answers
_USER_AGENT = "podpy/0.1"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_API_HOSTS = {"docker.io": "registry-1.docker.io", "index.docker.io": "registry-1.docker.io"}
_DEFAULT_PORTS = {"https": 443, "http": 80}
_REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:[._/]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"\w[\w.-]{0,127}", re.ASCII)
_ALGORITHM = re.compile(r"[A-Za-z0-9+._-]+:")  # a reference starting so is a digest, not a tag

_Key = tuple[str, str, int]  # scheme, host, port: one pooled connection each


@dataclass
class RegistryOptions:
    """How to talk to one registry."""

    insecure: bool = False  # plain HTTP allowed (after HTTPS fails) and the registry's certificate unchecked
    tls_verify: bool = True
    cert_dir: Optional[str] = None  # certs.d-style directory; None: the usual places
    credentials: Optional[tuple[str, str]] = None  # (username, password)
    timeout: float = 30.0  # per socket operation, so a stalled registry fails instead of hanging
    retries: int = 3  # further attempts after connection errors, 5xx and 429
    backoff: float = 0.2  # first retry delay; doubles each time
    backoff_max: float = 5.0


@dataclass
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    label: str  # what the user asked for, to start error messages
    limit: int = _SMALL_LIMIT  # most body bytes read into memory
    stream: bool = False  # leave a 200 body unread, for the caller to stream
    # A factory, not bytes: a request may be sent again (stale keep-alive
    # connection, 401), and an upload body streams from a file each time.
    body: Optional[Callable[[], Iterable[bytes]]] = None
    retry: bool = True  # False: the caller repeats the whole operation instead


@dataclass
class _Reply:
    """One HTTP answer: its body read (up to the limit), or for a streamed 200 left in `stream`."""

    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes
    url: str  # what was asked, for resolving a relative Location
    where: str  # host[:port] for messages
    key: _Key
    stream: Optional[http.client.HTTPResponse] = None
    conn: Optional[http.client.HTTPConnection] = None


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _printable(text: str) -> str:
    """Text with control characters escaped, so a bad name cannot break a one-line message."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _netloc(key: _Key) -> str:
    scheme, host, port = key
    shown = f"[{host}]" if ":" in host else host
    return shown if _DEFAULT_PORTS.get(scheme) == port else f"{shown}:{port}"


def _registry_error(body: bytes) -> tuple[str, str]:
    """(code, message on one line) of a distribution-spec error body ({"errors": [...]}), or empty strings."""
    try:
        first = json.loads(body)["errors"][0]
        code, text = str(first.get("code") or ""), str(first.get("message") or first.get("code") or "")
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return "", ""
    return code, " ".join(text.split())[:200]


def _unexpected(reply: _Reply) -> str:
    message = _registry_error(reply.body)[1]
    return f"{reply.where} answered {reply.status} {reply.reason}" + (f": {message}" if message else "")


def _url_target(url: str) -> Optional[tuple[_Key, str]]:
    """(connection key, request path with query) of an http(s) URL; None if unusable."""
    parts = urlsplit(url)
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or not port:
        return None
    return (parts.scheme, parts.hostname, port), (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class RegistryClient:
    """A client of one registry, reusing one keep-alive connection per host.

    Not thread safe: use one client per thread.  Creating one does no I/O.
    Close it (or use it as a context manager) to close its connections.
    """

    def __init__(self, registry: str, options: Optional[RegistryOptions] = None) -> None:
        self._pool: dict[_Key, http.client.HTTPConnection] = {}
        self._keep = True  # keep connections for reuse (not once closed, nor in a fork_copy)
        self.registry = registry
        self._options = options or RegistryOptions()
        parts = urlsplit("//" + _API_HOSTS.get(registry, registry))
        try:
            port = parts.port
        except ValueError:
            port = -1
        if not parts.hostname or port == -1 or parts.path or parts.query or parts.username:
            raise RegistryError(f"invalid registry address {_printable(repr(registry))}")
        self._host, self._port = parts.hostname, port
        # Without insecure it is HTTPS or nothing; with it, the first
        # request finds out (HTTPS first) and the answer is kept.
        self._scheme: Optional[str] = None if self._options.insecure else "https"
        self._auth = auth.Authenticator(self._options.credentials)

    def fork_copy(self) -> RegistryClient:
        """A client with this one's settings, scheme and tokens but no connections, for another thread or process.

        It keeps no connection after use, so it needs no close().
        """
        copy = RegistryClient(self.registry, self._options)
        copy._scheme, copy._auth, copy._keep = self._scheme, self._auth.copy(), False
        return copy

    def close(self) -> None:
        """Close idle connections; blob readers still open keep theirs until they are closed."""
        self._keep = False
        pool, self._pool = self._pool, {}
        for conn in pool.values():
            conn.close()

    def __del__(self) -> None:
        self.close()  # a forgotten client must not leave sockets to the garbage collector

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        """Fetch a manifest by tag or digest: (raw bytes, media type, sha256 digest of raw)."""
        by_digest, label = bool(_ALGORITHM.match(reference)), self._label(repository, reference)
        if by_digest and not valid_digest(reference):
            raise RegistryError(f"{label}: only sha256 digests are supported")
        if not by_digest and not _TAG.fullmatch(reference):
            raise RegistryError(f"{label}: invalid tag")
        path = f"/v2/{self._repo(repository, label)}/manifests/{reference}"
        request = _Request("GET", path, {"Accept": ACCEPT_MANIFESTS}, label, MANIFEST_LIMIT)
        reply = self._fetch(request, repository)
        if reply.status == 404:
            unknown = _registry_error(reply.body)[0] == "NAME_UNKNOWN"
            raise ManifestUnknownError(f"{label}: manifest unknown"
                                       + (" (repository name not known to registry)" if unknown else ""))
        if reply.status != 200:
            raise RegistryError(f"{label}: {_unexpected(reply)}")
        if len(reply.body) > MANIFEST_LIMIT:
            raise RegistryError(f"{label}: manifest is larger than {MANIFEST_LIMIT >> 20} MiB")
        digest = sha256_digest(reply.body)
        if by_digest and digest != reference:
            raise DigestMismatchError(f"{label}: manifest digest mismatch: the registry sent {digest}")
        return reply.body, served_media_type(reply.body, reply.headers.get("Content-Type") or ""), digest

    def resolve(self, repository: str, reference: str, os: str, arch: str,
                variant: Optional[str]) -> ImageManifest:
        """The image manifest for reference, choosing os/arch/variant from an index or list."""
        label = self._label(repository, reference)
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

        Reading to EOF raises DigestMismatchError instead of returning the
        final b"" if the content is wrong.  Close the reader when done.
        """
        label = _printable(f"pulling blob {digest} of {self.registry}/{repository}")
        reply = self._fetch(_Request("GET", self._blob_path(repository, digest, label), {}, label, stream=True),
                            repository)
        if reply.stream is None or reply.conn is None:
            detail = "blob unknown to registry" if reply.status == 404 else _unexpected(reply)
            raise RegistryError(f"{label}: {detail}")
        reader = _BlobReader(reply, self._checkin, digest, size, label)
        length = reply.stream.getheader("Content-Length")
        if size is not None and length is not None and length.isdigit() and int(length) != size:
            reader.close()
            raise DigestMismatchError(f"{label}: size mismatch: expected {size} bytes, the registry sends {length}")
        return cast(BinaryIO, reader)

    def check_login(self) -> None:
        """GET /v2/ with the credentials, as `login` checks them; raises UnauthorizedError when refused."""
        label = _printable(f"logging in to {self.registry}")
        reply = self._fetch(_Request("GET", "/v2/", {}, label), "")
        if reply.status != 200:
            raise RegistryError(f"{label}: {_unexpected(reply)}")

    def blob_exists(self, repository: str, digest: str, *, push: bool = False, label: str = "") -> bool:
        """Whether the registry has the blob (HEAD); push asks for a token that may also push."""
        label = label or _printable(f"checking blob {digest} in {self.registry}/{repository}")
        reply = self._fetch(_Request("HEAD", self._blob_path(repository, digest, label), {}, label), repository,
                            push)
        if reply.status in (200, 404):
            return reply.status == 200
        raise RegistryError(f"{label}: {_unexpected(reply)}")

    def upload_blob(self, repository: str, digest: str, size: int, source: BinaryIO,
                    mount_from: Optional[str] = None, chunk_size: Optional[int] = None) -> str:
        """Push size bytes of source as blob digest: "exists", "mounted" (from mount_from) or "uploaded".

        The body is streamed; chunk_size set uploads in PATCH chunks of that
        size instead of one PUT.  Failed attempts start over only if source
        can seek back (or nothing was read from it yet).
        """
        from storage.transports import upload  # it builds on this module

        return upload.upload_blob(self, repository, digest, size, source, mount_from, chunk_size)

    def put_manifest(self, repository: str, reference: str, raw: bytes, media_type: str) -> str:
        """Push manifest raw under reference (tag or digest); returns its sha256 digest."""
        from storage.transports import upload

        return upload.put_manifest(self, repository, reference, raw, media_type)

    # -- helpers for the API ----------------------------------------------------

    def _label(self, repository: str, reference: str) -> str:
        sep = "@" if _ALGORITHM.match(reference) else ":"
        return _printable(f"pulling {self.registry}/{repository}{sep}{reference}")

    @staticmethod
    def _repo(repository: str, label: str) -> str:
        if not _REPOSITORY.fullmatch(repository):
            raise RegistryError(f"{label}: invalid repository name")
        return repository

    def _blob_path(self, repository: str, digest: str, label: str) -> str:
        if not valid_digest(digest):
            raise RegistryError(f"{label}: only sha256 digests are supported")
        return f"/v2/{self._repo(repository, label)}/blobs/{digest}"

    @staticmethod
    def _parse(raw: bytes, media_type: str, label: str) -> ImageManifest | list[Descriptor]:
        try:
            return parse_manifest(raw, media_type)
        except RegistryError as e:
            raise type(e)(f"{label}: {e}") from None

    # -- authentication and redirects ---------------------------------------------------

    def _fetch(self, request: _Request, repository: str, push: bool = False, key: Optional[_Key] = None) -> _Reply:
        """A request to the registry (or key: an upload location) with authentication, then redirects followed."""
        label = request.label
        extra = dict(request.headers)
        request.headers = {"User-Agent": _USER_AGENT, **extra}
        # An upload location may be on another host, which must not get the
        # registry's credentials; nor may plain HTTP when the registry is HTTPS.
        trusted = key is None or key == self._registry_key(self._scheme or "https")
        current = self._auth.header(repository, push) if trusted else None
        if current:
            request.headers["Authorization"] = current
        reply = self._exchange(request, key)
        if reply.status == 401 and trusted:
            request.headers["Authorization"] = self._auth.answer(
                reply.headers.get_all("WWW-Authenticate") or [], current, repository, push, label,
                lambda url, headers: self._get_token(url, headers, label))
            reply = self._exchange(request, key)
        if reply.status == 401:
            if trusted:  # a refusal elsewhere says nothing about the registry's token
                self._auth.forget(auth.token_scope(repository, push))
            rejected = " (credentials rejected)" if request.headers.get("Authorization", "").startswith(
                "Basic ") else ""
            raise UnauthorizedError(f"{label}: authentication required{rejected}")
        if reply.status == 403:
            raise UnauthorizedError(f"{label}: access denied")
        for _ in range(_MAX_REDIRECTS):
            # Only reads are redirected; resending an upload elsewhere is no
            # part of the protocol, so such an answer is left to the caller.
            if reply.status not in _REDIRECTS or request.method not in ("GET", "HEAD"):
                return reply
            location = reply.headers.get("Location")
            target = _url_target(urljoin(reply.url, location)) if location else None
            if target is None:
                raise RegistryError(f"{label}: {reply.where} redirected to an unusable location")
            key, request.path = target
            request.headers = {"User-Agent": _USER_AGENT, **extra}
            # Blob storage elsewhere (S3, a CDN) gets pre-signed URLs; the
            # registry's credentials must never leave for another host.
            current = self._auth.header(repository, push)
            if current and self._is_registry(key):
                request.headers["Authorization"] = current
            reply = self._exchange(request, key)
        if reply.status in _REDIRECTS:
            raise RegistryError(f"{label}: too many redirects")
        return reply

    def _is_registry(self, key: _Key) -> bool:
        scheme, host, port = key
        return host.lower() == self._host and port == (self._port or _DEFAULT_PORTS[scheme])

    def _get_token(self, url: str, headers: dict[str, str], label: str) -> tuple[int, bytes, str]:
        target = _url_target(url)
        if target is None:
            raise RegistryError(f"{label}: the registry's token realm is not a usable URL")
        request = _Request("GET", target[1], {"User-Agent": _USER_AGENT, **headers}, label)
        reply = self._exchange(request, target[0])
        return reply.status, reply.body, _unexpected(reply)

    # -- connections, retries ------------------------------------------------------------

    def _registry_key(self, scheme: str) -> _Key:
        return scheme, self._host, self._port or _DEFAULT_PORTS[scheme]

    def _exchange(self, request: _Request, key: Optional[_Key]) -> _Reply:
        """One request (key None: the registry) with retries on connection errors, 5xx and 429."""
        import http.client
        import ssl

        opts, label = self._options, request.label
        retries = opts.retries if request.retry else 0
        attempt = 0
        while True:
            where = _netloc(key or self._registry_key(self._scheme or "https"))
            try:
                reply = self._once(request, key)
            except TimeoutError:
                # Not retried: each attempt would wait the whole timeout again.
                raise RegistryError(f"{label}: {where} did not answer within {opts.timeout:g} s") from None
            except ssl.SSLCertVerificationError as e:
                raise RegistryError(f"{label}: the TLS certificate of {where} is not trusted ({e.verify_message}); "
                                    "add its CA to certs.d or disable TLS verification") from None
            except ssl.SSLError as e:
                raise RegistryError(f"{label}: TLS with {where} failed ({e.reason or _one_line(e)}); "
                                    "a plain-HTTP registry must be marked insecure") from None
            except (OSError, http.client.HTTPException) as e:
                problem = f"cannot talk to {where}: {_one_line(e)}"
            else:
                if reply.status < 500 and reply.status != 429:
                    return reply
                problem = _unexpected(reply)
            if attempt >= retries:
                after = f" (after {attempt + 1} attempts)" if attempt else ""
                raise _TransientError(f"{label}: {problem}{after}")
            time.sleep(min(opts.backoff * 2 ** attempt, opts.backoff_max))
            attempt += 1

    def _connect(self, key: _Key, label: str) -> http.client.HTTPConnection:
        # An insecure registry's own certificate goes unchecked; hosts it sends us to are checked as usual.
        verify = self._options.tls_verify and not (self._options.insecure and self._is_registry(key))
        try:
            return auth.connection(key, _netloc(key), self._options.timeout, verify, self._options.cert_dir)
        except (OSError, ValueError) as e:
            raise RegistryError(f"{label}: loading the TLS certificates for {_netloc(key)}: {_one_line(e)}") from None

    def _checkin(self, key: _Key, conn: http.client.HTTPConnection) -> None:
        if not self._keep or key in self._pool:
            conn.close()
        else:
            self._pool[key] = conn

    def _once(self, request: _Request, key: Optional[_Key]) -> _Reply:
        """One request on the pooled connection for key (a fresh one if the kept one went stale).

        key None is the registry; when insecure and not yet known, HTTPS if it
        answers, else plain HTTP, and the first that works is kept.
        """
        import http.client

        if key is None and self._scheme is None:
            try:
                reply = self._once(request, self._registry_key("https"))
            except (OSError, http.client.HTTPException):
                reply = self._once(request, self._registry_key("http"))
            self._scheme = reply.key[0]
            return reply
        key = key or self._registry_key(cast(str, self._scheme))
        where = _netloc(key)
        url = f"{key[0]}://{where}{request.path}"
        for fresh in (False, True):
            conn = None if fresh else self._pool.pop(key, None)
            reused = conn is not None
            conn = conn or self._connect(key, request.label)
            try:
                body = request.body() if request.body is not None else None
                conn.request(request.method, request.path, body, headers=request.headers)
                response = conn.getresponse()
            except BaseException as e:
                conn.close()
                # A kept-alive connection the server has since closed fails
                # like this; that is no sign of trouble, so retry at once.
                if reused and isinstance(e, (ConnectionError, http.client.BadStatusLine)):
                    continue
                raise
            reply = _Reply(response.status, response.reason, response.headers, b"", url, where, key)
            if request.stream and response.status == 200:
                reply.stream, reply.conn = response, conn
                return reply
            try:
                reply.body = response.read(request.limit + 1)
            finally:
                complete = response.isclosed()
                response.close()
                if complete:
                    self._checkin(key, conn)
                else:
                    conn.close()  # unread body left on the socket makes it unusable
            return reply
        raise AssertionError("unreachable")


class _BlobReader(DigestReader):
    """A blob body: hashed and counted while read, verified at EOF, its connection kept on success."""

    def __init__(self, reply: _Reply, checkin: Callable[[_Key, http.client.HTTPConnection], None], digest: str,
                 size: Optional[int], label: str) -> None:
        assert reply.stream is not None and reply.conn is not None
        super().__init__(cast(BinaryIO, reply.stream))
        self._response, self._conn, self._key = reply.stream, reply.conn, reply.key
        self._checkin: Optional[Callable[[_Key, http.client.HTTPConnection], None]] = checkin
        self._expected, self._size, self._label = digest, size, label
        self._failure: Optional[RegistryError] = None

    def _finish(self, reusable: bool) -> None:
        """Hand the connection back (body read to its end) or close it; once."""
        self._response.close()
        if self._checkin is not None:
            checkin, self._checkin = self._checkin, None
            if reusable:
                checkin(self._key, self._conn)
            else:
                self._conn.close()

    def _fail(self, error: RegistryError) -> RegistryError:
        self._failure = error
        self._finish(False)
        return error

    def _read(self, size: int) -> bytes:
        import http.client

        if self._failure is not None:
            raise self._failure
        if self._checkin is None:
            return b""  # verified and handed back already
        try:
            data = super()._read(size)
        except TimeoutError:
            raise self._fail(RegistryError(f"{self._label}: the registry stopped sending the blob")) from None
        except (OSError, http.client.HTTPException) as e:
            raise self._fail(RegistryError(f"{self._label}: reading the blob failed: {_one_line(e)}")) from None
        if self._size is not None and self.count > self._size:
            raise self._fail(DigestMismatchError(f"{self._label}: size mismatch: more than {self._size} bytes"))
        if data or size <= 0:
            return data
        if self._size is not None and self.count != self._size:
            raise self._fail(DigestMismatchError(
                f"{self._label}: size mismatch: expected {self._size} bytes, got {self.count}"))
        if self.digest() != self._expected:
            raise self._fail(DigestMismatchError(f"{self._label}: digest mismatch: the content is {self.digest()}"))
        self._finish(True)
        return data

    def close(self) -> None:
        if not self.closed:
            self._finish(False)
        super().close()
