"""The sigstore signatures `push` and `manifest push --sign-by-sigstore-private-key` make.

Order, so a bad key or configuration sends nothing: the key is decrypted and the registry's
registries.d entry checked for `use-sigstore-attachments` before the image is pushed; the
pushed manifests are then signed and their signatures appended to the attachments.
"""

from __future__ import annotations

from typing import Any, Callable

from storage import reference

from ..errors import InvalidArgument, PodpyError

Report = Callable[[str], None]


def check_passphrase_use(sign_by: Any, sigstore_key: Any, passphrase_file: Any) -> None:
    """podman's rule: one passphrase file serves one kind of signing."""
    if passphrase_file and sign_by and sigstore_key:
        raise InvalidArgument("only one of --sign-by and sign-by-sigstore-private-key can be used with "
                              "--sign-passphrase-file")


def prepare(dest: reference.Reference, key_path: str, passphrase: str) -> Any:
    """The decrypted private key, once the registry is known to take sigstore attachments."""
    from ..registry import signatures, sigstore

    key = sigstore.load_private_key(key_path, passphrase)
    try:
        enabled = signatures.load_registries_d().use_sigstore_attachments(dest)
    except signatures.SignatureError as exc:
        raise InvalidArgument(str(exc)) from exc
    if not enabled:
        raise PodpyError("writing signatures: writing sigstore attachments is disabled by configuration")
    return key


def sign_pushed(client: Any, dest: reference.Reference, digests: list[str], key: Any, report: Report) -> None:
    """Sign each manifest digest just pushed to dest and attach the signatures there."""
    from ..registry import attachments, sigstore
    from .signing import creator

    report("Signing manifest using a sigstore signature")
    made = [(d, sigstore.sign(key, sigstore.make_payload(str(dest), d, creator()))) for d in digests]
    report("Storing signatures")
    for digest, sig in made:
        attachments.append(client, dest.path, digest, [sig])
