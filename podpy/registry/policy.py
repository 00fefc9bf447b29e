"""containers-policy.json(5): which images a pull from a registry accepts, and whose signatures it needs.

A policy is a default list of requirements and, per transport, lists of requirements by
scope. For the `docker` transport (registries) the most specific scope that names the image
wins: `host/repo:tag` (or `@digest`), then `host/repo`, its parent namespaces, `host`, the
wildcards `*.domain` of the host's parent domains, the transport's `""` scope, and last the
default. Every requirement of the chosen list must accept the image.

Parsing follows containers/image: unknown keys and types are errors, worded as its own
(`invalid policy in "F": ...`), so a policy file podman refuses podpy refuses too. Evaluation
asks the caller for the image's signatures and for a verifier (signatures.py), so this module
stays free of subprocesses and files beyond the policy itself: `signedBy` requirements check
simple signing signatures, `sigstoreSigned` ones (keyPath or keyData, as containers/image 5.23)
the sigstore signatures attached to the image in its registry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from storage import reference

from ..errors import InvalidArgument, PodpyError

SYSTEM_POLICY = "/etc/containers/policy.json"
SIGNATURE_TYPE = "atomic container signature"


class PolicyError(InvalidArgument):
    """The policy file is missing, unreadable or invalid."""


class ImageRejected(PodpyError):
    """The policy does not accept the image (podman's "Source image rejected: ...")."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Source image rejected: {reason}")
        self.reason = reason


class _Invalid(Exception):
    """A problem inside the policy, reported with the file's name around it."""


# ------------------------------------------------------------------ model --


@dataclass(frozen=True)
class Identity:
    """signedIdentity: which signed references an image's reference accepts."""

    type: str = "matchRepoDigestOrExact"
    docker_reference: str = ""   # exactReference
    docker_repository: str = ""  # exactRepository
    prefix: str = ""             # remapIdentity
    signed_prefix: str = ""


@dataclass(frozen=True)
class Requirement:
    type: str                                   # insecureAcceptAnything, reject, signedBy, sigstoreSigned
    key_type: str = ""
    key_paths: tuple[str, ...] = ()
    key_data: Optional[bytes] = None
    identity: Identity = field(default_factory=Identity)


@dataclass(frozen=True)
class Policy:
    path: str
    default: tuple[Requirement, ...]
    transports: dict[str, dict[str, tuple[Requirement, ...]]]

    def for_docker(self, ref: reference.Reference) -> tuple[Requirement, ...]:
        """The requirements of the most specific `docker` scope naming ref (a registry image)."""
        scopes = self.transports.get("docker", {})
        for scope in scope_candidates(ref):
            if scope in scopes:
                return scopes[scope]
        if "" in scopes:
            return scopes[""]
        return self.default

    def accepts_anything(self, ref: reference.Reference) -> bool:
        return all(r.type == "insecureAcceptAnything" for r in self.for_docker(ref))


# --------------------------------------------------------------- loading --


def policy_path(given: Optional[str] = None) -> str:
    """--signature-policy, else ~/.config/containers/policy.json if it exists, else the system's."""
    if given:
        return given
    user = os.path.join(os.path.expanduser("~"), ".config", "containers", "policy.json")
    return user if os.path.exists(user) else SYSTEM_POLICY


def load(path: str) -> Policy:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise PolicyError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from exc
    return parse(raw, path)


def parse(raw: bytes, path: str = "policy.json") -> Policy:
    try:
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise _Invalid(f"invalid JSON: {exc}") from exc
        obj = _object(doc, ("default", "transports"))
        if "default" not in obj:
            raise _Invalid("Default policy is missing")
        default = _requirements(obj["default"])
        transports: dict[str, dict[str, tuple[Requirement, ...]]] = {}
        raw_transports = obj.get("transports")
        if raw_transports is not None:
            if not isinstance(raw_transports, dict):
                raise _Invalid('"transports" is not a JSON object')
            for name, scopes in raw_transports.items():
                if not isinstance(scopes, dict):
                    raise _Invalid(f'transport "{name}" is not a JSON object')
                transports[name] = {scope: _requirements(reqs) for scope, reqs in scopes.items()}
    except _Invalid as exc:
        raise PolicyError(f'invalid policy in "{path}": {exc}') from None
    return Policy(path, default, transports)


def _object(value: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid("expected a JSON object")
    for key in value:
        if key not in allowed:
            raise _Invalid(f'Unknown key "{key}"')
    return value


def _requirements(value: Any) -> tuple[Requirement, ...]:
    if not isinstance(value, list):
        raise _Invalid("expected a JSON array of policy requirements")
    if not value:
        raise _Invalid("List of verification policy requirements must not be empty")
    return tuple(_requirement(v) for v in value)


def _requirement(value: Any) -> Requirement:
    if not isinstance(value, dict):
        raise _Invalid("expected a JSON object")
    kind = value.get("type")
    if kind in ("insecureAcceptAnything", "reject"):
        _object(value, ("type",))
        return Requirement(kind)
    if kind == "signedBy":
        obj = _object(value, ("type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity"))
        key_type = obj.get("keyType", "")
        if key_type not in ("GPGKeys", "signedByGPGKeys", "X509Certificates", "signedByX509CAs"):
            raise _Invalid(f'invalid keyType "{key_type}"' if not key_type
                           else f'Unrecognized keyType value "{key_type}"')
        if key_type != "GPGKeys":
            raise _Invalid(f'Unimplemented "keyType" value "{key_type}"')
        given = [k for k in ("keyPath", "keyPaths", "keyData") if k in obj]
        if len(given) != 1:
            raise _Invalid("Exactly one of keyPath, keyPaths and keyData must be specified, "
                           + ("none of them present" if not given else "more than one present"))
        paths: tuple[str, ...] = ()
        data = None
        if "keyPath" in obj:
            if not isinstance(obj["keyPath"], str):
                raise _Invalid('"keyPath" is not a string')
            paths = (obj["keyPath"],)
        elif "keyPaths" in obj:
            if not isinstance(obj["keyPaths"], list) or not all(isinstance(p, str) for p in obj["keyPaths"]):
                raise _Invalid('"keyPaths" is not a list of strings')
            paths = tuple(obj["keyPaths"])
        else:
            try:
                data = base64.b64decode(str(obj["keyData"]), validate=True)
            except (binascii.Error, ValueError):
                raise _Invalid("illegal base64 data in keyData") from None
        identity = _identity(obj["signedIdentity"]) if "signedIdentity" in obj else Identity()
        return Requirement("signedBy", key_type, paths, data, identity)
    if kind == "sigstoreSigned":
        obj = _object(value, ("type", "keyPath", "keyData", "signedIdentity"))
        if ("keyPath" in obj) == ("keyData" in obj):
            raise _Invalid("exactly one of keyPath and keyData must be specified")
        paths = ()
        data = None
        if "keyPath" in obj:
            if not isinstance(obj["keyPath"], str):
                raise _Invalid('"keyPath" is not a string')
            paths = (obj["keyPath"],)
        else:
            try:
                data = base64.b64decode(str(obj["keyData"]), validate=True)
            except (binascii.Error, ValueError):
                raise _Invalid("illegal base64 data in keyData") from None
        identity = _identity(obj["signedIdentity"]) if "signedIdentity" in obj else Identity()
        return Requirement("sigstoreSigned", "", paths, data, identity)
    if kind is None:
        raise _Invalid('Key "type" missing in a JSON object')
    raise _Invalid(f'Unknown policy requirement type "{kind}"')


def _identity(value: Any) -> Identity:
    if not isinstance(value, dict):
        raise _Invalid("signedIdentity is not a JSON object")
    kind = value.get("type")
    if kind in ("matchExact", "matchRepoDigestOrExact", "matchRepository"):
        _object(value, ("type",))
        return Identity(kind)
    if kind == "exactReference":
        _object(value, ("type", "dockerReference"))
        ref = _required_str(value, "dockerReference")
        parsed = _docker_ref(ref, lambda e: _Invalid(f"Invalid format of dockerReference {ref}: {e}"))
        if not parsed.tag and not parsed.digest:
            raise _Invalid(f"dockerReference {ref} contains neither a tag nor digest")
        return Identity(kind, docker_reference=ref)
    if kind == "exactRepository":
        _object(value, ("type", "dockerRepository"))
        repo = _required_str(value, "dockerRepository")
        _docker_ref(repo, lambda e: _Invalid(f"Invalid format of dockerRepository {repo}: {e}"))
        return Identity(kind, docker_repository=repo)
    if kind == "remapIdentity":
        _object(value, ("type", "prefix", "signedPrefix"))
        prefix, signed = _required_str(value, "prefix"), _required_str(value, "signedPrefix")
        for what, p in (("prefix", prefix), ("signedPrefix", signed)):
            if not _valid_prefix(p):
                raise _Invalid(f'Invalid {what} "{p}"')
        return Identity(kind, prefix=prefix, signed_prefix=signed)
    if kind is None:
        raise _Invalid('Key "type" missing in a JSON object')
    raise _Invalid(f'Unknown policy reference match type "{kind}"')


def _required_str(obj: dict[str, Any], key: str) -> str:
    if key not in obj:
        raise _Invalid(f'Key "{key}" missing in a JSON object')
    if not isinstance(obj[key], str):
        raise _Invalid(f'"{key}" is not a string')
    return str(obj[key])


def _valid_prefix(prefix: str) -> bool:
    """A remapIdentity prefix: a host[:port], or a repository name (no tag, no digest)."""
    if not prefix or prefix.startswith("*.") or prefix.endswith("/"):
        return False
    try:
        parsed = reference.parse(prefix)
    except Exception:  # noqa: BLE001
        return "/" not in prefix and bool(prefix)
    return not parsed.tag and not parsed.digest


# --------------------------------------------------------- references --


def _docker_ref(name: str, error: Callable[[str], Exception] = ValueError) -> reference.Reference:
    """name as containers/image normalizes it: docker.io (and library/) when no registry is named."""
    try:
        ref = reference.parse(name)
    except Exception as exc:  # noqa: BLE001
        raise error(str(exc)) from None
    if not ref.domain:
        path = ref.path if "/" in ref.path else f"library/{ref.path}"
        ref = reference.Reference(reference.DEFAULT_REGISTRY, path, ref.tag, ref.digest)
    return ref


def normalized(name: str) -> reference.Reference:
    """A docker reference as a policy sees it (see _docker_ref); ValueError when it is none."""
    return _docker_ref(name)


def identity_of(ref: reference.Reference) -> str:
    """The scope naming exactly ref: host/repo@digest, else host/repo:tag."""
    if ref.digest:
        return f"{ref.repository}@{ref.digest}"
    return f"{ref.repository}:{ref.tag or reference.DEFAULT_TAG}"


def scope_candidates(ref: reference.Reference) -> list[str]:
    """ref's scopes, most specific first: host/repo:tag, host/repo, its parents, host, *.domains."""
    out = [identity_of(ref)]
    parts = ref.repository.split("/")
    for n in range(len(parts), 0, -1):
        out.append("/".join(parts[:n]))
    host = ref.domain
    if ":" not in host and not host.replace(".", "").isdigit():
        labels = host.split(".")
        for i in range(1, len(labels)):
            out.append("*." + ".".join(labels[i:]))
    return out


def familiar(ref: reference.Reference) -> str:
    """ref as podman names it in messages: docker.io/library/ dropped."""
    text = str(ref)
    if ref.domain == reference.DEFAULT_REGISTRY:
        text = text[len(reference.DEFAULT_REGISTRY) + 1:]
        if text.startswith("library/") and "/" not in text[len("library/"):].split(":")[0].split("@")[0]:
            text = text[len("library/"):]
    return text


def _has_prefix(name: str, prefix: str) -> bool:
    """Whether the reference text name starts with prefix at a component boundary."""
    if not name.startswith(prefix):
        return False
    return len(name) == len(prefix) or name[len(prefix)] in "/:@"


def identity_matches(identity: Identity, image: reference.Reference, signed: str) -> bool:
    """Whether a signature claiming the reference `signed` is accepted for image (a pull's
    reference, fully qualified) under identity (containers-policy.json's signedIdentity)."""
    try:
        sig = _docker_ref(signed)
    except ValueError:
        return False
    kind = identity.type
    if kind == "remapIdentity":
        text = str(image)
        if _has_prefix(text, identity.prefix):
            try:
                image = _docker_ref(identity.signed_prefix + text[len(identity.prefix):])
            except ValueError:
                return False
        kind = "matchRepoDigestOrExact"
    if kind == "matchExact":
        return bool(image.tag or image.digest) and _ref_text(image) == _ref_text(sig)
    if kind == "matchRepoDigestOrExact":
        if image.digest:
            return sig.repository == image.repository
        if image.tag:
            return _ref_text(image) == _ref_text(sig)
        return False
    if kind == "matchRepository":
        return sig.repository == image.repository
    if kind == "exactReference":
        return _ref_text(_docker_ref(identity.docker_reference)) == _ref_text(sig)
    if kind == "exactRepository":
        return _docker_ref(identity.docker_repository).repository == sig.repository
    return False


def _ref_text(ref: reference.Reference) -> str:
    return str(ref)


# ------------------------------------------------------------ evaluation --


@dataclass(frozen=True)
class Verified:
    """What a verifier returns for a signature whose key the requirement trusts."""

    docker_reference: str
    manifest_digest: str


class SignatureRejected(Exception):
    """One signature not accepted, with containers/image's reason."""


# verify(signature bytes, requirement) -> the signed claims (raises SignatureRejected)
Verifier = Callable[[bytes, Requirement], Verified]


def check(policy: Policy, ref: reference.Reference, manifest: bytes,
          signatures: Callable[[], list[bytes]], verify: Verifier,
          sigstore: Optional[tuple[Callable[[], list[Any]], Callable[[Any, Requirement], Verified]]] = None) -> None:
    """Raise ImageRejected unless every requirement of ref's scope accepts the image whose
    manifest is `manifest`; signatures() is called at most once, when a requirement needs them.
    sigstore: (the image's sigstore signatures, their verifier) for sigstoreSigned requirements
    (None: the image has none)."""
    fetched: dict[str, list[Any]] = {}

    def sigs() -> list[bytes]:
        if "simple" not in fetched:
            fetched["simple"] = signatures()
        return fetched["simple"]

    def sigstore_sigs() -> list[Any]:
        if "sigstore" not in fetched:
            fetched["sigstore"] = sigstore[0]() if sigstore is not None else []
        return fetched["sigstore"]

    for req in policy.for_docker(ref):
        if req.type == "insecureAcceptAnything":
            continue
        if req.type == "reject":
            raise ImageRejected(f"Running image docker://{familiar(ref)} is rejected by policy.")
        if req.type == "sigstoreSigned":
            _check_signed_by(req, ref, manifest, sigstore_sigs(),
                             sigstore[1] if sigstore is not None else verify)
            continue
        _check_signed_by(req, ref, manifest, sigs(), verify)


def _check_signed_by(req: Requirement, ref: reference.Reference, manifest: bytes, sigs: list[Any],
                     verify: Callable[[Any, Requirement], Verified]) -> None:
    reasons = []
    for sig in sigs:
        try:
            claims = verify(sig, req)
            if not manifest_matches(manifest, claims.manifest_digest):
                raise SignatureRejected(f"Signature for digest {claims.manifest_digest} does not match")
            if not identity_matches(req.identity, ref, claims.docker_reference):
                raise SignatureRejected(f"Signature for identity {claims.docker_reference} is not accepted")
            return
        except SignatureRejected as exc:
            reasons.append(str(exc))
    if not reasons:
        raise ImageRejected("A signature was required, but no signature exists")
    if len(reasons) == 1:
        raise ImageRejected(reasons[0])
    raise ImageRejected("None of the signatures were accepted, reasons: " + "; ".join(reasons))


def manifest_matches(manifest: bytes, digest: str) -> bool:
    algorithm, _, value = digest.partition(":")
    if algorithm not in ("sha256", "sha384", "sha512") or not value:
        return False
    return hashlib.new(algorithm, manifest).hexdigest() == value
