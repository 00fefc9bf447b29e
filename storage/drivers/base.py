"""What every storage driver provides, and the choice of driver.

A layer is a directory under `layers/<id>`; a container's writable state lives
under `containers/<id>`. The overlay drivers keep each layer as a diff (with
overlay whiteouts) and stack them at mount time; the copying driver keeps each
layer as a full tree, so it works on any file system at the cost of space.
"""

from __future__ import annotations

import os

from ..named import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol
else:
    Protocol = object


class Choice(NamedTuple):
    """The driver in force and why it was chosen (shown by `podpy info`); `recorded`: already in
    the store's database."""

    __slots__ = ()
    name: str
    reason: str
    recorded: bool = False


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


# The mode of every layer's root, as containers/storage gives it: it makes a layer's root with
# its parent's mode (the first layer's with its overlay driver's defaultPerms, 0555) and its
# untar skips a tar's entry for the root, so each layer it makes has a 0555 root, and an image's
# / is 0555 under podman. A constant, not read from the parent: a pull applies its layers in
# parallel, before their parents are in place.
LAYER_ROOT_MODE = 0o555

# The file at a store's top that records the driver the store was made with (storage/sidecar.py).
RECORD = "driver.json"


def root_mode(top_layer_dir: str | None) -> int:
    """The mode a container's writable root starts with: its image's top layer's, else
    LAYER_ROOT_MODE (a container of an image with no layers)."""
    if top_layer_dir is None:
        return LAYER_ROOT_MODE
    return os.stat(top_layer_dir).st_mode & 0o7777
