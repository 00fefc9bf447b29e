"""Signatures kept with a stored image (`build --sign-by`) and carried along by `push`.

What is signed: the OCI manifest of the image's uncompressed layers (each layer exported as the
tar its diff id names, with that tar's size), as podman signs the manifest it commits to
containers-storage. That manifest and its signatures are a JSON file beside the image's record
(storage's `images/<hex>/signatures`), replaced whole in one rename and removed with the image.

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
    manifest: bytes                      # the signed manifest, byte for byte
    manifest_digest: str
    simple: tuple[bytes, ...]            # OpenPGP messages
    sigstore: tuple[dict[str, Any], ...]  # sigstore.Signature.to_json() documents


def load(rt: Runtime, image: Any) -> Optional[Stored]:
    """The signatures kept with image (None: it has none)."""
    import hashlib

    data = rt.store.image_signatures(image.id)
    if not data:
        return None
    try:
        doc = json.loads(data)
        simple = tuple(base64.b64decode(s["blob"]) for s in doc["signatures"] if s.get("format") == SIMPLE)
        other = tuple(s for s in doc["signatures"] if s.get("format") == SIGSTORE)
        manifest = str(doc["manifest"]).encode()
    except (ValueError, KeyError, TypeError) as exc:
        raise PodpyError(f"reading the signatures of image {image.id[:12]}: {exc}") from None
    if not (simple or other):
        return None
    return Stored(manifest, "sha256:" + hashlib.sha256(manifest).hexdigest(), simple, other)


def _keep(rt: Runtime, image: Any, manifest: bytes, simple: list[bytes], other: list[dict[str, Any]]) -> None:
    entries = [{"format": SIMPLE, "blob": base64.b64encode(s).decode()} for s in simple] + other
    doc = {"manifest": manifest.decode(), "signatures": entries}
    rt.store.set_image_signatures(image.id, json.dumps(doc, separators=(",", ":")).encode())


def _export(rt: Runtime, image: Any, stage: Any) -> list[tuple[str, str, int]]:
    """Each layer of image as the uncompressed tar its diff id names: (path, digest, size)."""
    from .layerexport import export_in_ns

    out = []
    for i, lid in enumerate(image.layers):
        path = os.path.join(stage.path, f"layer{i}")
        _diff, digest, size = rt.store.in_userns(export_in_ns, rt.store.layer_export_dirs(image, i), path, "none",
                                                 rt.store.tar_split(lid), rt.store.layer_diff_id(lid))
        out.append((path, digest, size))
    return out


def signed_manifest(rt: Runtime, image: Any) -> bytes:
    """The manifest a signature of image signs: OCI, its config, its uncompressed layers with
    their tars' sizes, the annotations of its stored manifest."""
    from storage import images as img

    config_raw = img.config_text(rt.db.conn, image.id).encode()
    diff_ids = list((json.loads(config_raw).get("rootfs") or {}).get("diff_ids") or [])
    with rt.store.temporary("sign") as stage:
        layers = _export(rt, image, stage)
    if [d for _p, d, _s in layers] != diff_ids:
        raise PodpyError(f"image {image.id[:12]}: its layers do not export to the diff ids of its config, so "
                         "there is no manifest to sign that a push could keep")
    doc: dict[str, Any] = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": f"sha256:{image.id}",
                   "size": len(config_raw)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s}
                   for _p, d, s in layers]}
    annotations = json.loads(image.manifest or "{}").get("annotations")
    if annotations:
        doc["annotations"] = annotations
    return json.dumps(doc, separators=(",", ":")).encode()


def sign_built(rt: Runtime, image: Any, name: str, key: str, report: Report) -> None:
    """`build --sign-by`: sign the built image's manifest as `name` and keep the signature
    (after those of the same manifest kept already)."""
    import hashlib

    from ..registry import signatures
    from .signing import creator

    stored = load(rt, image)
    manifest = signed_manifest(rt, image)
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    report("Signing manifest using simple signing")
    try:
        sig = signatures.sign(signatures.make_payload(name, digest, creator()), key)
    except signatures.SignatureError as exc:
        raise PodpyError(f"signing image {image.id[:12]}: {exc}") from exc
    kept = stored if stored is not None and stored.manifest == manifest else None
    _keep(rt, image, manifest, [*(kept.simple if kept else ()), sig], [dict(s) for s in (kept.sigstore if kept else ())])


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
                  mount_from: Optional[str], meter: Callable[[Any, str, int], Any]) -> str:
    """Send image's layers (uncompressed), config and signed manifest unchanged; its digest.
    meter(file, label, size) is the file to upload a layer from (push's progress bars)."""
    import hashlib
    import io

    raw = stored.manifest
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
        blobs = _export(rt, image, stage)
        if [(d, s) for _p, d, s in blobs] != [(desc["digest"], desc["size"]) for desc in layers]:
            raise PodpyError(INVALIDATES)
        for path, digest, size in blobs:
            short = digest.split(":", 1)[1][:12]
            with open(path, "rb") as f:
                body = meter(f, short, size)
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
