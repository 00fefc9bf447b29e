"""Simple signing signatures (containers-signature(5)): where they are kept, how they are made and checked.

Where: containers-registries.d(5). The YAML files of ~/.config/containers/registries.d
(when that directory exists, else /etc/containers/registries.d) name, per registry namespace
(`docker:`) or for all (`default-docker:`), a `lookaside` URL to read signatures from and a
`lookaside-staging` one to write them to (`sigstore`/`sigstore-staging` are the older names).
Nothing configured: ~/.local/share/containers/sigstore (root: /var/lib/containers/sigstore), as
podman. A manifest's signatures are `<url>/<repository path>@sha256=<hex>/signature-1`, `-2`, ...
read until one is missing; file:// and http(s):// URLs are read, file:// ones written.
`use-sigstore-attachments: true` in a namespace (or the default) lets sigstore signatures
(sigstore.py) be read from and written to that registry beside the image.

How: the signed payload is the JSON of containers-signature(5) (its "critical" section names
the image's reference and its manifest's digest), in an OpenPGP message made by `gpg --sign`
with the user's keys. It is checked with `gpgv` against a keyring made only of the policy's keys
(armored keys are dearmored here), so a good signature is one by a trusted key.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Optional

from storage import reference

from ..errors import InvalidArgument, PodpyError
from .policy import SIGNATURE_TYPE, Requirement, SignatureRejected, Verified, scope_candidates, identity_of

SYSTEM_REGISTRIES_D = "/etc/containers/registries.d"
MAX_SIGNATURES = 128
SIGNATURE_LIMIT = 4 << 20


class SignatureError(PodpyError):
    """Signatures could not be read, made or stored."""


# ------------------------------------------------------------ registries.d --


@dataclass(frozen=True)
class Namespace:
    lookaside: str = ""
    staging: str = ""
    use_sigstore_attachments: Optional[bool] = None   # None: not said here

    def url(self, write: bool) -> str:
        return (self.staging or self.lookaside) if write else self.lookaside


@dataclass(frozen=True)
class RegistriesD:
    default: Optional[Namespace]
    docker: dict[str, Namespace]

    def namespace(self, scope: str) -> Optional[Namespace]:
        """The entry podman's `image trust show` lists for a policy scope ("" for the default)."""
        if scope:
            search = scope
            for _ in scope.split("/"):
                if search in self.docker:
                    return self.docker[search]
                if "/" in search:
                    search = search[:search.rindex("/")]
        return self.default

    def base_url(self, ref: reference.Reference, write: bool) -> str:
        """The lookaside URL for ref's repository, for reading or (write) for writing."""
        for scope in [identity_of(ref), *scope_candidates(ref)[1:]]:
            ns = self.docker.get(scope)
            if ns is not None and ns.url(write):
                return ns.url(write)
        if self.default is not None and self.default.url(write):
            return self.default.url(write)
        return "file://" + default_store()

    def use_sigstore_attachments(self, ref: reference.Reference) -> bool:
        """Whether sigstore signatures of ref's repository are read from and written to the
        registry (`use-sigstore-attachments`, most specific namespace first, then the default)."""
        for scope in [identity_of(ref), *scope_candidates(ref)[1:]]:
            ns = self.docker.get(scope)
            if ns is not None and ns.use_sigstore_attachments is not None:
                return ns.use_sigstore_attachments
        if self.default is not None and self.default.use_sigstore_attachments is not None:
            return self.default.use_sigstore_attachments
        return False


def default_store() -> str:
    if os.geteuid() == 0:
        return "/var/lib/containers/sigstore"
    return os.path.join(os.path.expanduser("~"), ".local", "share", "containers", "sigstore")


def registries_d_path(given: Optional[str] = None) -> str:
    if given:
        return given
    user = os.path.join(os.path.expanduser("~"), ".config", "containers", "registries.d")
    return user if os.path.exists(user) else SYSTEM_REGISTRIES_D


def load_registries_d(directory: Optional[str] = None) -> RegistriesD:
    """The merged YAML files of directory (registries_d_path()'s by default): a namespace or the
    default defined in two files is an error, as in containers/image."""
    import yaml

    directory = registries_d_path(directory)
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return RegistriesD(None, {})
    except OSError as exc:
        raise SignatureError(f"reading {directory}: {exc.strerror or exc}") from exc
    default: Optional[Namespace] = None
    default_from = ""
    docker: dict[str, Namespace] = {}
    origin: dict[str, str] = {}
    for name in names:
        if not name.endswith(".yaml"):
            continue
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="utf-8") as f:
                doc = yaml.safe_load(f) or {}
        except OSError as exc:
            raise SignatureError(f"reading {path}: {exc.strerror or exc}") from exc
        except yaml.YAMLError as exc:
            raise SignatureError(f"parsing {path}: {' '.join(str(exc).split())}") from exc
        if not isinstance(doc, dict):
            raise SignatureError(f"parsing {path}: expected a mapping")
        if doc.get("default-docker") is not None:
            if default is not None:
                raise SignatureError('error parsing signature storage configuration: "default-docker" defined '
                                     f'both in "{default_from}" and "{path}"')
            default, default_from = _namespace(doc["default-docker"], path), path
        for ns_name, entry in (doc.get("docker") or {}).items():
            if ns_name in docker:
                raise SignatureError(f'error parsing signature storage configuration: "docker" namespace '
                                     f'"{ns_name}" defined both in "{origin[ns_name]}" and "{path}"')
            docker[str(ns_name)], origin[str(ns_name)] = _namespace(entry, path), path
    return RegistriesD(default, docker)


def _namespace(entry: Any, path: str) -> Namespace:
    if not isinstance(entry, dict):
        raise SignatureError(f"parsing {path}: a namespace's entry is not a mapping")
    for new, old in (("lookaside", "sigstore"), ("lookaside-staging", "sigstore-staging")):
        if entry.get(new) and entry.get(old):
            raise SignatureError(f'parsing {path}: "{new}" and "{old}" are both set; keep one')
    use = entry.get("use-sigstore-attachments")
    if use is not None and not isinstance(use, bool):
        raise SignatureError(f"parsing {path}: use-sigstore-attachments must be true or false")
    return Namespace(str(entry.get("lookaside") or entry.get("sigstore") or ""),
                     str(entry.get("lookaside-staging") or entry.get("sigstore-staging") or ""), use)


def signature_dir(base: str, ref: reference.Reference, digest: str) -> str:
    """The URL of the directory of one manifest's signatures under base."""
    algorithm, _, value = digest.partition(":")
    return f"{base.rstrip('/')}/{ref.path}@{algorithm}={value}"


def local_path(url: str) -> str:
    """A file:// URL's path; signatures are written only there, as podman writes them."""
    if not url.startswith("file://"):
        raise SignatureError(f"writing to {url} is not supported. Use a supported scheme")
    return url[len("file://"):]


# ----------------------------------------------------------------- reading --


def read_signatures(config: RegistriesD, ref: reference.Reference, digest: str) -> list[bytes]:
    """The signatures of the manifest `digest` of ref's repository, from its lookaside."""
    where = signature_dir(config.base_url(ref, write=False), ref, digest)
    out: list[bytes] = []
    for n in range(1, MAX_SIGNATURES + 1):
        data = _read_one(f"{where}/signature-{n}")
        if data is None:
            break
        out.append(data)
    return out


def _read_one(url: str) -> Optional[bytes]:
    if url.startswith("file://"):
        try:
            with open(url[len("file://"):], "rb") as f:
                return f.read(SIGNATURE_LIMIT + 1)[:SIGNATURE_LIMIT]
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SignatureError(f"reading signature from {url}: {exc.strerror or exc}") from exc
    if url.startswith(("http://", "https://")):
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(url, timeout=30) as reply:  # noqa: S310 - http(s) only
                return bytes(reply.read(SIGNATURE_LIMIT))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise SignatureError(f"reading signature from {url}: status {exc.code} ({exc.reason})") from exc
        except OSError as exc:
            raise SignatureError(f"reading signature from {url}: {exc}") from exc
    raise SignatureError(f"unsupported scheme in lookaside URL {url}")


# -------------------------------------------------------------- checking --


def dearmor(data: bytes) -> bytes:
    """OpenPGP data in binary form (an ASCII-armored block decoded; binary data as it is)."""
    text = data.lstrip()
    if not text.startswith(b"-----BEGIN PGP"):
        return data
    out = b""
    for block in text.split(b"-----BEGIN PGP")[1:]:
        lines = block.split(b"\n")[1:]
        body: list[bytes] = []
        in_headers = True
        for line in lines:
            line = line.strip()
            if in_headers:
                if not line:
                    in_headers = False
                elif b":" not in line:
                    in_headers = False
                    body.append(line)
                continue
            if line.startswith(b"-----END") or line.startswith(b"="):
                break
            body.append(line)
        try:
            out += base64.b64decode(b"".join(body))
        except ValueError as exc:
            raise SignatureRejected(f"invalid armored key: {exc}") from exc
    return out


def requirement_keys(req: Requirement) -> bytes:
    """The public keys a signedBy requirement trusts, as one binary keyring."""
    if req.key_data is not None:
        return dearmor(req.key_data)
    out = b""
    for path in req.key_paths:
        try:
            with open(path, "rb") as f:
                out += dearmor(f.read())
        except OSError as exc:
            raise SignatureRejected(f"open {path}: {(exc.strerror or str(exc)).lower()}") from exc
    return out


class GpgVerifier:
    """policy.Verifier with gpgv: one keyring file per requirement, in a private directory."""

    def __init__(self) -> None:
        self._dir: Optional[tempfile.TemporaryDirectory[str]] = None
        # id(requirement) -> (the requirement, its keyring): the requirement is held so that
        # its id is not reused by another one while the ring is cached
        self._rings: dict[int, tuple[Requirement, str]] = {}

    def __enter__(self) -> "GpgVerifier":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._dir is not None:
            self._dir.cleanup()

    def _ring(self, req: Requirement) -> str:
        if id(req) not in self._rings:
            if self._dir is None:
                self._dir = tempfile.TemporaryDirectory(prefix="podpy-gpgv-")
            keys = requirement_keys(req)
            if not keys:
                raise SignatureRejected("No public keys imported")
            path = os.path.join(self._dir.name, f"ring{len(self._rings)}.gpg")
            with open(path, "wb") as f:
                f.write(keys)
            self._rings[id(req)] = (req, path)
        return self._rings[id(req)][1]

    def __call__(self, sig: bytes, req: Requirement) -> Verified:
        ring = self._ring(req)
        assert self._dir is not None
        sig_path = os.path.join(self._dir.name, "signature")
        out_path = os.path.join(self._dir.name, "payload")
        with open(sig_path, "wb") as f:
            f.write(sig)
        if os.path.exists(out_path):
            os.unlink(out_path)
        try:
            proc = subprocess.run(["gpgv", "--homedir", self._dir.name, "--status-fd", "1", "--keyring", ring,
                                   "--output", out_path, sig_path], capture_output=True, timeout=60)
        except FileNotFoundError:
            raise SignatureRejected("gpgv is not installed: signatures cannot be checked (install gnupg)") from None
        status = _status(proc.stdout)
        if proc.returncode != 0 or "VALIDSIG" not in status or "GOODSIG" not in status:
            raise SignatureRejected(_gpg_reason(status, proc.stderr))
        with open(out_path, "rb") as f:
            payload = f.read()
        return parse_payload(payload)


def _status(out: bytes) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("[GNUPG:] "):
            words = line[9:].split()
            if words:
                found.setdefault(words[0], words[1:])
    return found


def _gpg_reason(status: dict[str, list[str]], stderr: bytes) -> str:
    for key, words in (("EXPKEYSIG", "expired key"), ("REVKEYSIG", "revoked key"), ("BADSIG", "bad signature"),
                       ("EXPSIG", "expired signature")):
        if key in status:
            return f"Invalid GPG signature: {words} {status[key][0] if status[key] else ''}".rstrip()
    if "NO_PUBKEY" in status or "ERRSIG" in status:
        errsig = status.get("ERRSIG") or []
        key = errsig[-1] if len(errsig) >= 7 else (status.get("NO_PUBKEY") or ["?"])[0]
        return f"Invalid GPG signature: signed by key {key}, which is not among the policy's keys"
    if "NODATA" in status:
        return "Invalid GPG signature: no OpenPGP signature found"
    lines = [ln for ln in stderr.decode(errors="replace").splitlines() if ln.strip()]
    return "Invalid GPG signature: " + (lines[-1].removeprefix("gpgv: ") if lines else "not verified")


def parse_payload(payload: bytes, kind: str = SIGNATURE_TYPE, exact: bool = True) -> Verified:
    """The claims of a simple signing payload (containers-signature(5)) of type kind, checked
    for shape. exact: the GPG form's rules (no other keys in image and identity, "optional" an
    object); a sigstore payload (sigstore.py) is read as containers/image reads it, leniently."""
    try:
        doc = json.loads(payload)
    except ValueError as exc:
        raise SignatureRejected(f"Invalid signature format: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("critical"), dict):
        raise SignatureRejected('Invalid signature format: "critical" is missing or not an object')
    critical = doc["critical"]
    if set(critical) != {"type", "image", "identity"}:
        raise SignatureRejected("Invalid signature format: the critical section must have exactly "
                                "type, image and identity")
    if critical["type"] != kind:
        raise SignatureRejected(f"Unrecognized signature type {critical['type']}")
    image, identity = critical["image"], critical["identity"]
    if not exact:
        if not isinstance(image, dict) or not isinstance(image.get("docker-manifest-digest"), str):
            raise SignatureRejected("Invalid signature format: critical.image.docker-manifest-digest is missing")
        if not isinstance(identity, dict) or not isinstance(identity.get("docker-reference"), str):
            raise SignatureRejected("Invalid signature format: critical.identity.docker-reference is missing")
        return Verified(identity["docker-reference"], image["docker-manifest-digest"])
    if "optional" in doc and not isinstance(doc["optional"], dict):
        raise SignatureRejected('Invalid signature format: "optional" is not an object')
    if not isinstance(image, dict) or set(image) != {"docker-manifest-digest"} \
            or not isinstance(image["docker-manifest-digest"], str):
        raise SignatureRejected("Invalid signature format: critical.image must be "
                                "{\"docker-manifest-digest\": string}")
    if not isinstance(identity, dict) or set(identity) != {"docker-reference"} \
            or not isinstance(identity["docker-reference"], str):
        raise SignatureRejected("Invalid signature format: critical.identity must be "
                                "{\"docker-reference\": string}")
    return Verified(identity["docker-reference"], image["docker-manifest-digest"])


# ---------------------------------------------------------------- signing --


def make_payload(docker_reference: str, manifest_digest: str, creator: str) -> bytes:
    doc = {"critical": {"identity": {"docker-reference": docker_reference},
                        "image": {"docker-manifest-digest": manifest_digest},
                        "type": SIGNATURE_TYPE},
           "optional": {"creator": creator, "timestamp": int(time.time())}}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def sign(payload: bytes, key: str, passphrase: Optional[str] = None) -> bytes:
    """payload signed with the secret key `key` (a fingerprint, id or e-mail) of the user's
    GnuPG home ($GNUPGHOME or ~/.gnupg), as an OpenPGP message; passphrase (--sign-passphrase-file)
    is handed to gpg through a pipe instead of its agent asking for it."""
    if not key:
        raise InvalidArgument("please provide an identity")
    cmd = ["gpg", "--sign", "--local-user", key, "--output", "-"]
    import sys

    if not sys.stdin.isatty() or passphrase is not None:
        cmd[1:1] = ["--batch", "--no-tty"]
    fds: tuple[int, ...] = ()
    if passphrase is not None:
        r, w = os.pipe()
        os.write(w, passphrase.encode() + b"\n")   # a passphrase is far smaller than a pipe's buffer
        os.close(w)
        fds = (r,)
        cmd[1:1] = ["--pinentry-mode", "loopback", "--passphrase-fd", str(r)]
    try:
        proc = subprocess.run(cmd, input=payload, capture_output=True, timeout=300, pass_fds=fds)
    except FileNotFoundError:
        raise SignatureError("signing is not supported: gpg is not installed (install gnupg)") from None
    finally:
        for fd in fds:
            os.close(fd)
    if proc.returncode != 0 or not proc.stdout:
        err = proc.stderr.decode(errors="replace")
        if "No secret key" in err or "skipped" in err:
            raise SignatureError(f'key "{key}" not found')
        lines = [ln.removeprefix("gpg: ") for ln in err.splitlines() if ln.strip()]
        raise SignatureError(f"signing with {key}: " + (lines[-1] if lines else f"gpg exited {proc.returncode}"))
    return proc.stdout


def store(directory: str, ref: reference.Reference, digest: str, signature: bytes, replace: bool) -> str:
    """Write one signature of the manifest `digest` of ref's repository under the local
    directory: the next free signature-N (image sign), or (replace, as a push stores the image's
    only signature) signature-1 with any later ones removed. The path written."""
    where = signature_dir(directory, ref, digest)
    os.makedirs(where, mode=0o751, exist_ok=True)
    if replace:
        n = 1
    else:
        present = set(os.listdir(where))
        n = 1
        while f"signature-{n}" in present:
            n += 1
    path = os.path.join(where, f"signature-{n}")
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(signature)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    if replace:
        extra = 2
        while os.path.exists(os.path.join(where, f"signature-{extra}")):
            os.unlink(os.path.join(where, f"signature-{extra}"))
            extra += 1
    return path
