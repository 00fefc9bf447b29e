"""What save and push share: a layer exported from the store, an image's config for it, media types."""

from __future__ import annotations

import json
from typing import Any, Optional

from .context import Runtime

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = {"none": "application/vnd.oci.image.layer.v1.tar",
             "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
             "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = {"none": "application/vnd.docker.image.rootfs.diff.tar",
                "gzip": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "zstd": "application/vnd.docker.image.rootfs.diff.tar.zstd"}


def export_in_ns(dirs: tuple[str, Optional[str]], path: str, compression: str, tar_split: Optional[str] = None,
                  diff_id: Optional[str] = None) -> tuple[str, str, int]:
    from storage.export import export_to_file

    layer_dir, parent_dir = dirs
    return export_to_file(layer_dir, path, compression, parent_dir, tar_split, diff_id)


def config_for(rt: Runtime, image: Any, diff_ids: list[str]) -> bytes:
    """The image's config bytes as stored when the layers export to the same diff ids; otherwise
    the same config with the exported layers' diff ids."""
    from storage import images as img

    raw = img.config_text(rt.db.conn, image.id).encode()
    config = json.loads(raw)
    if list((config.get("rootfs") or {}).get("diff_ids") or []) == diff_ids:
        return raw
    config.setdefault("rootfs", {"type": "layers"})["diff_ids"] = diff_ids
    return json.dumps(config, separators=(",", ":")).encode()


