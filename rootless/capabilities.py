"""Linux capabilities: names, podman's default set, and dropping to a set.

Order: the bounding set is dropped first (needs CAP_SETPCAP), then the user is
changed with PR_SET_KEEPCAPS so a non-root user keeps what it was granted, then
capset writes effective/permitted/inheritable and the ambient set is filled.
"""

from __future__ import annotations

from .errors import SetupError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .syscalls import Syscalls

NAMES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)
NUMBER = {name: i for i, name in enumerate(NAMES)}

# podman's default for containers (containers.conf default_capabilities).
DEFAULT = (
    "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETFCAP",
    "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
)


def normalize(name: str) -> str:
    """`cap_net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN` -> `CAP_NET_ADMIN`; raises on unknown."""
    bare = name.strip().upper()
    if bare.startswith("CAP_"):
        bare = bare[4:]
    if bare != "ALL" and bare not in NUMBER:
        raise SetupError(f"unknown capability {name!r}")
    return "CAP_" + bare


def resolve(base: tuple[str, ...], add: list[str], drop: list[str], privileged: bool) -> list[str]:
    """The capability names a container gets, as `CAP_X` strings."""
    if privileged:
        caps = {"CAP_" + n for n in NAMES}
    else:
        caps = {"CAP_" + n for n in base}
    adds = [normalize(a) for a in add]
    drops = [normalize(d) for d in drop]
    if "CAP_ALL" in drops:
        caps = set()
    caps -= set(drops)
    if "CAP_ALL" in adds:
        caps |= {"CAP_" + n for n in NAMES}
    caps |= {a for a in adds if a != "CAP_ALL"}
    return sorted(caps, key=lambda c: NUMBER[c[4:]])


def mask_of(names: list[str]) -> int:
    mask = 0
    for n in names:
        mask |= 1 << NUMBER[n[4:] if n.startswith("CAP_") else n]
    return mask


def last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(NAMES) - 1


def drop_bounding(sc: Syscalls, keep: int) -> None:
    """Drop every capability not in `keep` from the bounding set."""
    for cap in range(last_cap() + 1):
        if not keep & (1 << cap):
            try:
                sc.capbset_drop(cap)
            except OSError:
                pass  # unknown to this kernel


def apply(sc: Syscalls, keep: int, ambient: bool) -> None:
    """Set effective, permitted and inheritable to `keep`; ambient too for non-root users."""
    sc.capset(keep, keep, keep)
    if ambient:
        for cap in range(last_cap() + 1):
            if keep & (1 << cap):
                try:
                    sc.cap_ambient_raise(cap)
                except OSError:
                    pass
