"""`image sign` and the signatures `push --sign-by` and `manifest push --sign-by` make.

A signature names a registry image (its reference and its manifest's digest), so `image sign`
fetches the manifest from the registry, as podman does, rather than reading the store. Where a
signature goes: `image sign --directory DIR` writes under DIR; otherwise, and for a push, it
goes to the lookaside staging location registries.d gives for the reference (a file:// URL).
`image sign` adds signature-N after those present; a push stores its image's one signature as
signature-1, as podman's push does, or after the signatures of a stored image (`build
--sign-by`) that the push copied along (storedsigs.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Optional

from storage import reference

from ..errors import InvalidArgument, PodpyError, translate
from .context import Runtime

Report = Callable[[str], None]


@dataclass(frozen=True)
class SignOptions:
    sign_by: str = ""
    directory: Optional[str] = None
    cert_dir: Optional[str] = None
    auth_file: Optional[str] = None
    all: bool = False


def creator() -> str:
    from .. import __version__

    return f"podpy {__version__}"


def check_key(key: str, passphrase: Optional[str] = None) -> None:
    """Fail before anything is sent when the user's keyring has no secret key `key` (or, given a
    passphrase, when it does not unlock it: a trial signature tells)."""
    import subprocess

    if not key:
        raise InvalidArgument("please provide an identity")
    try:
        proc = subprocess.run(["gpg", "--batch", "--with-colons", "--list-secret-keys", "--", key],
                              capture_output=True, timeout=60)
    except FileNotFoundError:
        raise InvalidArgument("signing is not supported: gpg is not installed (install gnupg)") from None
    if proc.returncode != 0 or b"\nsec:" not in b"\n" + proc.stdout:
        raise InvalidArgument(f'key "{key}" not found')
    if passphrase is not None:
        from ..registry import signatures

        try:
            signatures.sign(b"podpy: the passphrase unlocks the key", key, passphrase)
        except signatures.SignatureError as exc:
            raise InvalidArgument(str(exc)) from exc


def sign_pushed(dest: reference.Reference, digests: list[str], key: str, report: Report,
                passphrase: Optional[str] = None, keep: bool = False) -> None:
    """Sign each manifest digest just pushed to dest and store the signatures in dest's
    lookaside staging location (the list's and, for `manifest push --all`, its images');
    keep: after the signatures the push copied there, else in their place."""
    from ..registry import signatures

    lookaside = signatures.load_registries_d()
    directory = signatures.local_path(lookaside.base_url(dest, write=True))
    report("Signing manifest using simple signing")
    made = [(d, signatures.sign(signatures.make_payload(str(dest), d, creator()), key, passphrase))
            for d in digests]
    report("Storing signatures")
    for digest, sig in made:
        try:
            signatures.store(directory, dest, digest, sig, replace=not keep)
        except OSError as exc:
            raise PodpyError(f"storing signature for {dest}, {digest}: {exc.strerror or exc}") from exc


def sign_images(rt: Runtime, names: list[str], o: SignOptions) -> list[str]:
    """`image sign`: each docker://NAME's manifest (with --all, each image of its list) signed
    with o.sign_by; the signature files written."""
    from ..registry import signatures

    check_key(o.sign_by)
    if o.directory is not None and not os.path.isdir(o.directory):
        raise InvalidArgument(f"stat {o.directory}: no such file or directory")
    written: list[str] = []
    lookaside = None
    for name in names:
        ref = _registry_ref(name)
        if o.directory is not None:
            directory = o.directory
        else:
            lookaside = lookaside or signatures.load_registries_d()
            directory = signatures.local_path(lookaside.base_url(ref, write=True))
        digests = _manifest_digests(rt, ref, o, name)
        for digest, raw in digests:
            payload = signatures.make_payload(str(ref), digest, creator())
            try:
                sig = signatures.sign(payload, o.sign_by)
                written.append(signatures.store(directory, ref, digest, sig, replace=False))
            except (signatures.SignatureError, OSError) as exc:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                raise PodpyError(f"storing signature for {ref}, {digest}: {why}") from exc
    return written


def _registry_ref(name: str) -> reference.Reference:
    """image sign's names are transport references; only docker:// (a registry) can be signed."""
    from . import transports

    t = transports.parse(name)
    if t is None:
        scheme = name.split(":", 1)[0] if ":" in name else name
        raise InvalidArgument(f'parsing image name: Invalid image name "{name}", unknown transport "{scheme}"')
    if t.transport != "docker":
        raise InvalidArgument(f"{name}: only registry images (docker://NAME) can be signed")
    try:
        return reference.parse(transports.registry_name(t))
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def _manifest_digests(rt: Runtime, ref: reference.Reference, o: SignOptions, name: str) -> list[tuple[str, bytes]]:
    """(digest, manifest) to sign: ref's manifest, or with --all each image of its list."""
    import json

    from ..registry.conf import load
    from .pull import Endpoint, PullOptions, _client

    conf = load(rt.cfg.config_dir)
    entry = conf.find(ref.repository)
    ep = Endpoint(ref.domain, ref.path, bool(entry and entry.insecure), False)
    popts = PullOptions(name=str(ref), cert_dir=o.cert_dir, auth_file=o.auth_file)
    try:
        with _client(ep, popts) as client:
            raw, media_type, digest = client.get_manifest(ref.path, ref.digest or ref.tag or "latest")
            if not o.all:
                return [(digest, raw)]
            doc = json.loads(raw)
            if not isinstance(doc, dict) or not isinstance(doc.get("manifests"), list):
                raise InvalidArgument(f"{name} is not a multi-architecture image (manifest type {media_type})")
            out = []
            for item in doc["manifests"]:
                child, _type, child_digest = client.get_manifest(ref.path, item["digest"])
                out.append((child_digest, child))
            return out
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
