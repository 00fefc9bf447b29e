"""What every storage driver provides, and the choice of driver.

A layer is a directory under `layers/<id>`; a container's writable state lives
under `containers/<id>`. The overlay drivers keep each layer as a diff (with
overlay whiteouts) and stack them at mount time; the copying driver keeps each
layer as a full tree, so it works on any file system at the cost of space.
"""

from __future__ import annotations

import os
from collections import namedtuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol
else:
    Protocol = object


class Choice(namedtuple("Choice", "name reason recorded", defaults=(False,))):
    """The driver in force and why it was chosen (shown by `podpy info`); `recorded`: already in
    the store's database."""

    __slots__ = ()
    name: str
    reason: str
    recorded: bool


class Driver(Protocol):
    name: str
    full_tree_layers: bool   # each layer directory holds the whole tree, not its diff

    def whiteout_format(self) -> str:
        """"overlay" or "vfs": how layer tars' whiteouts are written."""

    def opaque_xattr(self) -> str:
        """The xattr that marks an opaque directory in a layer."""

    def prepare_layer(self, layer_dir: str, parent_dir: str | None) -> None:
        """Make the empty directory a layer is applied into (runs in the user namespace)."""

    def prepare_container(self, cdir: str, layer_dirs: list[str]) -> None:
        """Create a container's writable state (runs in the user namespace when it copies)."""

    def rootfs_mount(self, cdir: str, layer_dirs: list[str]) -> dict[str, Any]:
        """The rootfs description handed to the runtime (`rootfsMount` in the spec)."""

    def needs_userns_to_prepare(self) -> bool:
        """True when prepare_* copies files owned by container ids."""


def merged_dir(cdir: str) -> str:
    return os.path.join(cdir, "merged")


# The mode of a layer's root when its tar has no entry for it and it has no parent to take it
# from, as containers/storage gives it (its overlay driver's defaultPerms): an image made of
# such a tar has a / of 0555 under podman.
DEFAULT_ROOT_MODE = 0o555


def root_mode(parent_dir: str | None) -> int:
    """The mode a new layer's (or a container's upper) root starts with: its parent's, else
    DEFAULT_ROOT_MODE; a tar's own entry for the root replaces it."""
    if parent_dir is None:
        return DEFAULT_ROOT_MODE
    return os.stat(parent_dir).st_mode & 0o7777
