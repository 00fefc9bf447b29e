"""Kernel overlayfs (with `userxattr` in a user namespace) and fuse-overlayfs.

Both read the same layer format: diffs with char 0/0 whiteouts and an opaque
xattr, so one store can be used by either. A container has `diff` (the upper
layer), `work` and `merged`.
"""

from __future__ import annotations

import os

from .base import root_mode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class OverlayDriver:
    name = "overlay"

    def __init__(self, rootless: bool) -> None:
        self.rootless = rootless

    full_tree_layers = False   # a layer directory is its diff

    def whiteout_format(self) -> str:
        return "overlay"

    def opaque_xattr(self) -> str:
        return "user.overlay.opaque" if self.rootless else "trusted.overlay.opaque"

    def needs_userns_to_prepare(self) -> bool:
        return False

    def prepare_layer(self, layer_dir: str, parent_dir: str | None) -> None:
        os.makedirs(layer_dir, mode=0o755, exist_ok=True)

    def prepare_container(self, cdir: str, layer_dirs: list[str]) -> None:
        for sub in ("diff", "work", "merged"):
            os.makedirs(os.path.join(cdir, sub), mode=0o755, exist_ok=True)
        # The merged root is the upper directory's: it keeps the image's / (0555 stays 0555).
        os.chmod(os.path.join(cdir, "diff"), root_mode(layer_dirs[-1] if layer_dirs else None))

    def rootfs_mount(self, cdir: str, layer_dirs: list[str]) -> dict[str, Any]:
        return {
            "type": "overlay",
            "lower": list(reversed(layer_dirs)),  # overlay wants the top layer first
            "upper": os.path.join(cdir, "diff"),
            "work": os.path.join(cdir, "work"),
            "target": os.path.join(cdir, "merged"),
            "userxattr": self.rootless,
        }


class FuseOverlayDriver(OverlayDriver):
    name = "fuse-overlayfs"

    def __init__(self, rootless: bool, program: str | None = None) -> None:
        super().__init__(rootless)
        import shutil

        self.program = program or shutil.which("fuse-overlayfs") or "fuse-overlayfs"

    def opaque_xattr(self) -> str:
        # fuse-overlayfs honours the kernel's unprivileged xattr too.
        return "user.overlay.opaque" if self.rootless else "trusted.overlay.opaque"

    def rootfs_mount(self, cdir: str, layer_dirs: list[str]) -> dict[str, Any]:
        desc = super().rootfs_mount(cdir, layer_dirs)
        desc["type"] = "fuse-overlayfs"
        desc["program"] = self.program
        del desc["userxattr"]
        return desc
