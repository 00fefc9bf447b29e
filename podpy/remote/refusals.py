"""The one line a remote command line gets for what it cannot do, saying when podman 4.3.1's
own remote client cannot either."""

from __future__ import annotations

# what podman 4.3.1's own remote client refuses too ("cannot use command ... with the remote
# podman client", or its own words): podpy's refusal of them says so
PODMAN_REFUSES = frozenset((
    "auto-update", "cleanup", "clone", "runlabel", "mount", "unmount", "umount", "unshare", "checkpoint",
    "restore", "generate spec", "image mount", "image unmount", "image umount", "image sign",
    "network reload", "volume export", "volume import", "volume mount",
    "volume unmount", "volume umount", "volume reload", "system migrate", "system renumber",
    "machine"))


def refusal(command: str) -> str:
    """The one line a command line that is remote gets for what it cannot do there."""
    words = command.removeprefix("container ")
    if words == "pod clone":
        return f"podpy {command}: not available with --remote (podman 4.3.1's remote client fails on it too)"
    if words in PODMAN_REFUSES or words.partition(" ")[0] in ("machine",):
        return f"podpy {command}: not available with --remote (podman 4.3.1's remote client refuses it too)"
    return f"podpy {command}: not available with --remote"
