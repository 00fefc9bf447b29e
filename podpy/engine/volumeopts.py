"""The local volume driver's options (`volume create -o KEY=VALUE`): what create accepts and
stores, who owns the volume's directory, and the mount a container gets for the volume.

The keys are `type`, `device` and `o` (mount(8)'s -t, device and -o), and `uid`/`gid`.
Inside `o`, `uid=`/`gid=` also give the volume's directory (or its tmpfs) an owner,
`noquota` is taken and stored as `NOQUOTA`, and `size=`/`inodes=` need a project quota,
which a rootless store does not have, except on a tmpfs, where `size=` is the tmpfs's own
option. What a container gets:

- `type=tmpfs`: a fresh tmpfs at the mount point, with `o`'s options (uid= and gid= count
  in the container's ids);
- `type=bind`, or `o` with `bind`/`rbind`: the host directory `device`, bound;
- no type and no device: the volume's own directory, bound, with `o`'s mount flags
  (ro, noexec, nosuid, nodev) on the bind;
- any other file system (or a device without a type) needs a real mount(2), which an
  unprivileged user may not make: the container's start fails, as podman's does.
"""

from __future__ import annotations

import os

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

KEYS = ("device", "o", "type", "uid", "gid", "size", "inodes")
QUOTA = "volume options size and inodes not supported. Filesystem does not support Project Quota"
# the mount flags a bind of the volume's directory takes from `o`
_BIND_FLAGS = ("ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec")


def _int(what: str, value: str) -> int:
    try:
        number = int(value, 10)
    except ValueError:
        raise InvalidArgument(f"cannot convert {what} {value} to integer") from None
    if number < 0:
        raise InvalidArgument(f"cannot convert {what} {value} to integer: a negative id")
    return number


def parse(options: dict[str, str]) -> tuple[dict[str, str], Optional[int], Optional[int]]:
    """Check `-o` of `volume create`: the options as inspect shows them, and the owner
    (uid, gid; None: unchanged) the volume's directory gets."""
    stored: dict[str, str] = {}
    uid: Optional[int] = None
    gid: Optional[int] = None
    kind = next((v for k, v in options.items() if k.lower() == "type"), "").lower()
    for key, value in options.items():
        low = key.lower()
        if low not in KEYS:
            raise InvalidArgument(f"invalid mount option {key} for driver 'local': invalid argument")
        if low == "device" and kind == "bind" and not os.path.exists(value):
            raise InvalidArgument(f"invalid volume option {key} for driver 'local': "
                                  f"stat {value}: no such file or directory")
        if low in ("size", "inodes"):
            raise InvalidArgument(QUOTA)
        if low == "uid":
            uid = _int("UID", value)
        elif low == "gid":
            gid = _int("GID", value)
        if low != "o":
            stored[key] = value
            continue
        kept: list[str] = []
        for item in value.split(","):
            name, eq, arg = item.partition("=")
            name = name.lower()
            if name in ("uid", "gid"):
                if not eq:
                    raise InvalidArgument(f"{name} option must provide a {name.upper()}: invalid argument")
                number = _int(name.upper(), arg)
                stored[name.upper()] = arg
                if name == "uid":
                    uid = number
                else:
                    gid = number
            elif name == "noquota":
                stored["NOQUOTA"] = "true"
                continue
            elif name in ("size", "inodes") and kind != "tmpfs":
                raise InvalidArgument(QUOTA)
            if item:
                kept.append(item)
        if kept:
            stored["o"] = ",".join(kept)
    return stored, uid, gid


def owner(options: dict[str, str]) -> tuple[Optional[int], Optional[int]]:
    """The UID and GID inspect shows (those given inside `o`)."""
    uid = options.get("UID")
    gid = options.get("GID")
    return (int(uid) if uid is not None else None, int(gid) if gid is not None else None)


def _get(options: dict[str, str], key: str) -> str:
    return next((v for k, v in options.items() if k.lower() == key), "")


def mount_for(name: str, data: str, options: dict[str, str], destination: str,
              readonly: bool) -> Optional[dict[str, Any]]:
    """The OCI mount a container gets for a volume with driver options; None for a plain
    directory (the caller binds data itself). A mount that cannot be made rootless carries
    `refused`, the reason a start gives."""
    kind = _get(options, "type").lower()
    device = _get(options, "device")
    o = [x for x in _get(options, "o").split(",") if x]
    binds = "bind" in o or "rbind" in o
    if kind == "tmpfs":
        opts = ["rw", "nosuid", "nodev"] + [x for x in o if x not in ("rw",)]
        if readonly and "ro" not in opts:
            opts.append("ro")
        return {"destination": destination, "type": "tmpfs", "source": device or "tmpfs",
                "options": opts, "volume": name}
    if kind == "bind" or (binds and not kind):
        if not device:
            return {"destination": destination, "type": "bind", "source": data, "options": [],
                    "volume": name, "refused": f"mount: {data}: special device {kind or 'none'} does not exist"}
        opts = ["rbind" if "rbind" in o or "bind" not in o else "bind"]
        opts.append("ro" if readonly or "ro" in o else "rw")
        opts += [x for x in o if x in _BIND_FLAGS and x not in ("ro", "rw")]
        opts.append("rprivate")
        return {"destination": destination, "type": "bind", "source": device, "options": opts, "volume": name}
    if kind or device:
        return {"destination": destination, "type": kind or "none", "source": device or data, "options": o,
                "volume": name, "refused": f"mount: {data}: permission denied"}
    flags = [x for x in o if x in _BIND_FLAGS]
    if not flags:
        return None
    opts = ["rbind", "ro" if readonly or "ro" in flags else "rw"]
    opts += [x for x in flags if x not in ("ro", "rw")] + ["rprivate"]
    return {"destination": destination, "type": "bind", "source": data, "options": opts, "volume": name}
