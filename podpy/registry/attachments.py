"""Sigstore attachments in a registry: reading and appending the `sha256-<hex>.sig` manifest.

The client is storage's RegistryClient (get_manifest, open_blob, upload_blob, put_manifest).
Writing follows containers/image: fetch the attachment manifest and its config if there is
one, upload the payload blob of each signature not already listed, then the config (its
diff ids are the payloads' digests) and the manifest under the attachment tag.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any, Optional

from . import sigstore

ATTACHMENT_LIMIT = 4 << 20


def _fetch(client: Any, repo: str, tag: str) -> Optional[dict[str, Any]]:
    from storage.transports.errors import ManifestUnknownError

    try:
        raw, _media_type, _digest = client.get_manifest(repo, tag)
    except ManifestUnknownError:
        return None
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise sigstore.SigstoreError(f"parsing sigstore attachment manifest {tag}: {exc}") from None
    if not isinstance(doc, dict):
        raise sigstore.SigstoreError(f"parsing sigstore attachment manifest {tag}: not a JSON object")
    return doc


def _blob(client: Any, repo: str, desc: dict[str, Any]) -> bytes:
    size = desc.get("size")
    if not isinstance(size, int) or not 0 <= size <= ATTACHMENT_LIMIT:
        raise sigstore.SigstoreError(f"sigstore attachment blob {desc.get('digest')} has an unacceptable size")
    with client.open_blob(repo, str(desc.get("digest")), size) as reader:
        data = b""
        while True:
            chunk = reader.read(1 << 16)
            if not chunk:
                return bytes(data)
            data += chunk


def read(client: Any, repo: str, manifest_digest: str) -> list[sigstore.Signature]:
    """The sigstore signatures attached to the manifest manifest_digest of repo (none: [])."""
    doc = _fetch(client, repo, sigstore.attachment_tag(manifest_digest))
    if doc is None:
        return []
    return sigstore.attachment_signatures(doc, lambda desc: _blob(client, repo, desc))


def append(client: Any, repo: str, manifest_digest: str, signatures: list[sigstore.Signature]) -> str:
    """Attach signatures to manifest_digest of repo after those there; the attachment's digest."""
    tag = sigstore.attachment_tag(manifest_digest)
    manifest = _fetch(client, repo, tag)
    config = None
    if manifest is not None:
        desc = manifest.get("config") or {}
        try:
            config = json.loads(_blob(client, repo, desc))
        except ValueError as exc:
            raise sigstore.SigstoreError(f"parsing sigstore attachment config {desc.get('digest')} in "
                                         f"{repo}: {exc}") from None
    new_manifest, new_config, added = sigstore.extend_attachment(manifest, config, signatures)
    for sig in added:
        digest = "sha256:" + hashlib.sha256(sig.payload).hexdigest()
        client.upload_blob(repo, digest, len(sig.payload), io.BytesIO(sig.payload))
    config_raw = json.dumps(new_config, separators=(",", ":")).encode()
    config_digest = "sha256:" + hashlib.sha256(config_raw).hexdigest()
    client.upload_blob(repo, config_digest, len(config_raw), io.BytesIO(config_raw))
    new_manifest["config"] = {"mediaType": sigstore.OCI_CONFIG, "digest": config_digest, "size": len(config_raw)}
    raw = json.dumps(new_manifest, separators=(",", ":")).encode()
    return str(client.put_manifest(repo, tag, raw, sigstore.OCI_MANIFEST))
