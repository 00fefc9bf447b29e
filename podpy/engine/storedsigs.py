"""Signatures kept with a stored image (`build --sign-by`) and carried along by `push`.

What is signed: the image's stored manifest (the OCI manifest of its uncompressed layers, the
one its Digest names), as podman signs the manifest it commits to containers-storage. The
signatures are a JSON file beside the image's record (storage's `images/<hex>/signatures`),
replaced whole in one rename and removed with the image.

A push of a signed image must send that very manifest, or the signatures would sign nothing
the registry has: the layers go uncompressed (podman does the same: it may not change the
layers of a signed image), each exported layer must match the manifest's digest, and the
manifest is sent byte for byte. When that cannot be (--format v2s2, or layers that do not
export to the same bytes) the push fails before any manifest is written; --remove-signatures
pushes the image as any other, without them. After the manifest, simple signing signatures
go to the lookaside, sigstore ones to the registry's attachments.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Optional

from storage import reference

from ..errors import InvalidArgument, PodpyError
from .context import Runtime

Report = Callable[[str], None]
SIMPLE = "simple-signing"
SIGSTORE = "sigstore"
INVALIDATES = ('Copying this image would require changing layer representation, which we cannot do: '
               '"Would invalidate signatures" (push it with --remove-signatures to leave them behind)')


@dataclass(frozen=True)
class Stored:
    manifest_digest: str
    simple: tuple[bytes, ...]            # OpenPGP messages
    sigstore: tuple[dict[str, Any], ...]  # sigstore.Signature.to_json() documents


def load(rt: Runtime, image: Any) -> Optional[Stored]:
    """The signatures kept with image (None: none, or none of the manifest it has now)."""
    data = rt.store.image_signatures(image.id)
    if not data:
        return None
    try:
        doc = json.loads(data)
        simple = tuple(base64.b64decode(s["blob"]) for s in doc["signatures"] if s.get("format") == SIMPLE)
        other = tuple(s for s in doc["signatures"] if s.get("format") == SIGSTORE)
        digest = str(doc["manifest_digest"])
    except (ValueError, KeyError, TypeError) as exc:
        raise PodpyError(f"reading the signatures of image {image.id[:12]}: {exc}") from None
    if digest != image.digest or not (simple or other):
        return None
    return Stored(digest, simple, other)


def add_simple(rt: Runtime, image: Any, signature: bytes) -> None:
    """Keep one more simple signing signature of image's manifest with it."""
    stored = load(rt, image)
    entries: list[dict[str, Any]] = []
    if stored is not None:
        entries = [{"format": SIMPLE, "blob": base64.b64encode(s).decode()} for s in stored.simple]
        entries += [dict(s) for s in stored.sigstore]
    entries.append({"format": SIMPLE, "blob": base64.b64encode(signature).decode()})
    doc = {"manifest_digest": image.digest, "signatures": entries}
    rt.store.set_image_signatures(image.id, json.dumps(doc, separators=(",", ":")).encode())


def sign_built(rt: Runtime, image: Any, name: str, key: str, report: Report) -> None:
    """`build --sign-by`: sign the built image's manifest as `name` and keep the signature."""
    from ..registry import signatures
    from .signing import creator

    if not image.digest:
        raise PodpyError(f"image {image.id[:12]} has no manifest to sign")
    report("Signing manifest using simple signing")
    payload = signatures.make_payload(name, image.digest, creator())
    try:
        sig = signatures.sign(payload, key)
    except signatures.SignatureError as exc:
        raise PodpyError(f"signing image {image.id[:12]}: {exc}") from exc
    add_simple(rt, image, sig)


def check_push(stored: Stored, dest: reference.Reference, o: Any) -> None:
    """Refuse, before anything is sent, a push that would change the signed manifest."""
    if o.format == "v2s2":
        raise InvalidArgument(INVALIDATES.replace("layer representation", "the manifest to Docker schema 2"))
    if dest.digest and dest.digest != stored.manifest_digest:
        raise InvalidArgument(f"the destination names digest {dest.digest}, the signed manifest is "
                              f"{stored.manifest_digest}")
    if stored.sigstore:
        from ..registry import signatures

        if not signatures.load_registries_d().use_sigstore_attachments(dest):
            raise PodpyError("writing signatures: writing sigstore attachments is disabled by configuration")


def upload_signed(rt: Runtime, image: Any, stored: Stored, client: Any, repo: str, ref: str, report: Report,
                  mount_from: Optional[str], progress: Any) -> str:
    """Send image's layers (uncompressed), config and stored manifest unchanged; its digest."""
    import hashlib
    import io

    from .layerexport import export_in_ns
    from .push import _Metered

    raw = (image.manifest or "").encode()
    if "sha256:" + hashlib.sha256(raw).hexdigest() != stored.manifest_digest:
        raise PodpyError(INVALIDATES)
    doc = json.loads(raw)
    layers = doc.get("layers") or []
    if len(layers) != len(image.layers):
        raise PodpyError(INVALIDATES)
    from storage import images as img

    config_raw = img.config_text(rt.db.conn, image.id).encode()
    if "sha256:" + hashlib.sha256(config_raw).hexdigest() != doc["config"]["digest"]:
        raise PodpyError(INVALIDATES)
    with rt.store.temporary("push") as stage:
        report("Getting image source signatures")
        blobs = []
        for i, desc in enumerate(layers):
            path = os.path.join(stage.path, f"layer{i}")
            lid = image.layers[i]
            _diff, digest, size = rt.store.in_userns(export_in_ns, rt.store.layer_export_dirs(image, i), path, "none",
                                                     rt.store.tar_split(lid), rt.store.layer_diff_id(lid))
            if digest != desc["digest"] or size != desc["size"]:
                raise PodpyError(INVALIDATES)
            blobs.append((path, digest, size))
        for path, digest, size in blobs:
            short = digest.split(":", 1)[1][:12]
            with open(path, "rb") as f:
                body = _Metered(f, short, size, progress) if progress else f
                how = client.upload_blob(repo, digest, size, body, mount_from=mount_from)
            report(f"Copying blob {short}" + (" skipped: already exists" if how == "exists" else ""))
        client.upload_blob(repo, doc["config"]["digest"], len(config_raw), io.BytesIO(config_raw))
        report(f"Copying config {doc['config']['digest'].split(':', 1)[1][:12]}")
        report("Writing manifest to image destination")
        return str(client.put_manifest(repo, ref, raw, doc.get("mediaType") or "application/vnd.oci.image.manifest.v1+json"))


def copy_signatures(client: Any, dest: reference.Reference, stored: Stored, report: Report) -> None:
    """The stored signatures to where dest's registry keeps them."""
    from ..registry import signatures

    report("Storing signatures")
    if stored.simple:
        directory = signatures.local_path(signatures.load_registries_d().base_url(dest, write=True))
        try:
            for i, sig in enumerate(stored.simple):
                signatures.store(directory, dest, stored.manifest_digest, sig, replace=i == 0)
        except OSError as exc:
            raise PodpyError(f"storing signature for {dest}, {stored.manifest_digest}: {exc.strerror or exc}") from exc
    if stored.sigstore:
        from ..registry import attachments, sigstore

        attachments.append(client, dest.path, stored.manifest_digest,
                           [sigstore.Signature.from_json(s) for s in stored.sigstore])
