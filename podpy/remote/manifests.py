"""The manifest-list verbs over a service (libpod's /manifests routes): the local
ManifestEngine's method names, options and returns, so `podpy manifest ...` prints them as
it prints its own. A list is changed with PUT /manifests/{name} and podman's
ManifestModifyOptions, as podman 4.3.1's client does; options that name files of this host
(--authfile, --cert-dir, --digestfile is written here) cannot cross and are refused."""

from __future__ import annotations

from ..errors import InvalidArgument, NoSuchImage, PodpyError
from .base import Remote, _q, engine_error
from .client import ServiceError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional


def _path(name: str) -> str:
    return f"/manifests/{_q(name)}"


def _report_error(exc: ServiceError) -> ServiceError:
    """podman's service answers a failed change with its report, {"Id": "", "errors": [...]}:
    the first error is the message."""
    import json

    try:
        doc = json.loads(str(exc))
    except ValueError:
        return exc
    errors = doc.get("errors") if isinstance(doc, dict) else None
    return ServiceError(str(errors[0]), exc.status) if errors else exc


class RemoteManifestEngine(Remote):
    def __init__(self, client: Any, command: str, warn: Callable[[str], None] = lambda _line: None,
                 progress: Optional[Callable[[str], None]] = None) -> None:
        super().__init__(client, command, warn)
        self.progress = progress

    def _refuse(self, opts: Any) -> None:
        for flag, value in (("--authfile", getattr(opts, "auth_file", None)),
                            ("--cert-dir", getattr(opts, "cert_dir", None)),
                            ("--sign-by", getattr(opts, "sign_by", None))):
            if value:
                raise InvalidArgument(f"podpy {self.command} {flag}: not available with --remote")

    def _headers(self, opts: Any) -> dict[str, str]:
        from .run import _auth

        return _auth(getattr(opts, "creds", None))

    def _call(self, method: str, path: str, query: Optional[dict[str, Any]] = None, body: Any = None,
              headers: Optional[dict[str, str]] = None) -> Any:
        try:
            return self.client.call(method, path, query, body, headers, timeout=None)
        except ServiceError as exc:
            raise engine_error(_report_error(exc), NoSuchImage) from None

    def create(self, name: str, images: list[str], opts: Any, amend: bool = False) -> str:
        """The list, its images added as create's query names them; with --tls-verify given,
        added one by one with update (podman 4.3.1's create route has no tlsVerify), a new
        list removed again when one of them fails."""
        self._refuse(opts)
        one_by_one = bool(images) and opts.tls_verify is not None
        query = {"images": None if one_by_one else list(images) or None, "all": opts.all, "amend": amend,
                 "tlsVerify": opts.tls_verify}
        list_id = str((self._call("POST", _path(name), query, headers=self._headers(opts)) or {}).get("Id") or "")
        if one_by_one:
            try:
                for image in images:
                    self.add(name, image, opts)
            except PodpyError:
                if not amend:
                    self.rm([name])
                raise
        return list_id

    def _modify(self, name: str, operation: str, images: list[str], opts: Any = None) -> str:
        body: dict[str, Any] = {"Operation": operation, "Images": images}
        headers: dict[str, str] = {}
        query: dict[str, Any] = {}
        if opts is not None:
            self._refuse(opts)
            body.update({"All": opts.all, "Annotations": dict(opts.annotations) or None, "Arch": opts.arch or "",
                         "Features": list(opts.features) or None, "OS": opts.os or "",
                         "os_features": list(opts.os_features) or None, "os_version": opts.os_version or "",
                         "Variant": opts.variant or ""})
            if opts.tls_verify is not None:
                body["SkipTLSVerify"] = not opts.tls_verify
                query["tlsVerify"] = opts.tls_verify
            headers = self._headers(opts)
        doc = self._call("PUT", _path(name), query, body, headers) or {}
        errors = doc.get("errors") or doc.get("Errors")
        if errors:
            raise PodpyError(str(errors[0]))
        return str(doc.get("Id") or "")

    def add(self, name: str, ref: str, opts: Any) -> str:
        return self._modify(name, "update", [ref], opts)

    def annotate(self, name: str, digest: str, opts: Any) -> str:
        return self._modify(name, "annotate", [digest], opts)

    def remove(self, name: str, digest: str) -> str:
        return self._modify(name, "remove", [digest])

    def inspect(self, name: str, tls_verify: Optional[bool] = None) -> dict[str, Any]:
        return dict(self._call("GET", f"{_path(name)}/json", {"tlsVerify": tls_verify}) or {})

    def exists(self, name: str) -> bool:
        from .base import exists

        return exists(self.client, "manifests", name)

    def rm(self, names: list[str]) -> list[Any]:
        from ..engine.entities import ImageRemoveReport

        out = []
        for name in names:
            try:
                doc = self.client.call("DELETE", _path(name), timeout=None) or {}
            except ServiceError as exc:
                out.append(ImageRemoveReport(name, error=engine_error(exc, NoSuchImage)))
                continue
            deleted = [str(d) for d in doc.get("Deleted") or []]
            errors = doc.get("Errors") or []
            out.append(ImageRemoveReport(name, untagged=[str(u) for u in doc.get("Untagged") or []],
                                         deleted=deleted[0] if deleted else None, also=deleted[1:],
                                         error=PodpyError(str(errors[0])) if errors else None))
        return out

    def push(self, name: str, opts: Any) -> str:
        """The list pushed by the service (its progress lines to progress); its digest."""
        self._refuse(opts)
        destination = opts.destination or name
        query = {"all": opts.all, "tlsVerify": opts.tls_verify, "quiet": self.progress is None,
                 "format": opts.format, "compressionFormat": opts.compression}
        digest = ""
        try:
            for doc in self.client.lines("POST", f"{_path(name)}/registry/{_q(destination)}", query,
                                         headers=self._headers(opts)):
                if doc.get("error"):
                    raise PodpyError(str(doc["error"]))
                if doc.get("stream") and self.progress is not None:
                    self.progress(str(doc["stream"]).rstrip("\n"))
                if doc.get("Id"):
                    digest = str(doc["Id"])
        except ServiceError as exc:
            raise engine_error(exc, NoSuchImage) from None
        if opts.digest_file:
            with open(opts.digest_file, "w", encoding="utf-8") as f:
                f.write(digest)
        if opts.rm:
            for rep in self.rm([name]):
                if rep.error is not None:
                    raise rep.error
        return digest
