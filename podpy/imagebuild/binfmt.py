"""Whether this host runs a platform's RUN steps: its own architecture, or binfmt_misc's.

A platform of another architecture is built like any other; its RUN steps need this kernel to
run that architecture's binaries: the host's own (and its 32-bit compat: 386 on amd64, arm on
arm64), or one a binfmt_misc handler runs (qemu-user-static registers them) with the F flag,
whose interpreter the kernel opened when it was registered, so a container reaches it too.
Without one, RUN fails in one line before it starts, naming the platform and what is missing.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from ..errors import InvalidArgument

BINFMT = "/proc/sys/fs/binfmt_misc"

# architectures a host runs without emulation besides its own (the kernel's 32-bit compat)
NATIVE_TOO = {"amd64": ("386",), "arm64": ("arm",)}

# ELF (class, e_machine) of each architecture: what a binfmt_misc handler's magic matches
_ELF = {"amd64": (2, 0x3E), "386": (1, 0x03), "arm64": (2, 0xB7), "arm": (1, 0x28), "ppc64le": (2, 0x15),
        "ppc64": (2, 0x15), "s390x": (2, 0x16), "riscv64": (2, 0xF3), "mips64le": (2, 0x08),
        "mips64": (2, 0x08), "mipsle": (1, 0x08), "mips": (1, 0x08), "loong64": (2, 0x102)}
_BIG_ENDIAN = {"ppc64", "s390x", "mips64", "mips"}


def _handlers() -> list[tuple[str, dict[str, str]]]:
    """(name, fields) of every enabled binfmt_misc handler."""
    try:
        names = os.listdir(BINFMT)
    except OSError:
        return []
    out = []
    for name in names:
        if name in ("register", "status"):
            continue
        try:
            with open(os.path.join(BINFMT, name), encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        if not lines or lines[0].strip() != "enabled":
            continue
        fields = {}
        for line in lines[1:]:
            key, _, value = line.partition(" ")
            fields[key.rstrip(":")] = value.strip()
        out.append((name, fields))
    return out


def _runs(fields: dict[str, str], arch: str) -> bool:
    """Whether a handler's magic is that of ELF binaries of arch."""
    try:
        magic = bytes.fromhex(fields.get("magic", ""))
        offset = int(fields.get("offset", "0") or 0)
    except ValueError:
        return False
    if offset != 0 or len(magic) < 20 or not magic.startswith(b"\x7fELF"):
        return False
    klass, machine = _ELF[arch]
    order = "big" if arch in _BIG_ENDIAN else "little"
    return magic[4] == klass and magic[5] == (2 if order == "big" else 1) \
        and int.from_bytes(magic[18:20], order) == machine


def missing_for(os_: str, arch: str) -> Optional[str]:
    """What this host lacks to run os/arch binaries (None: nothing)."""
    from ..engine.imagestore import host_arch

    host = host_arch()
    if os_ != "linux":
        return f"this host runs linux binaries only, not {os_} ones"
    if arch == host or arch in NATIVE_TOO.get(host, ()):
        return None
    if arch not in _ELF:
        return f"podpy knows no binfmt_misc handler for {arch} binaries"
    found = [(name, fields) for name, fields in _handlers() if _runs(fields, arch)]
    if any("F" in fields.get("flags", "") for _name, fields in found):
        return None
    if found:
        return (f"the binfmt_misc handler {found[0][0]} for {arch} binaries is registered without the F flag, "
                "so a container cannot reach its interpreter")
    return f"no binfmt_misc handler for {arch} binaries is registered (e.g. install qemu-user-static)"


def check_runnable(config: dict[str, Any]) -> None:
    """Before a RUN step: the one-line error when the stage's platform needs what this host lacks."""
    from ..engine.imagestore import host_arch

    os_ = str(config.get("os") or "linux")
    arch = str(config.get("architecture") or host_arch())
    reason = missing_for(os_, arch)
    if reason is not None:
        variant = f"/{config['variant']}" if config.get("variant") else ""
        raise InvalidArgument(f"the platform {os_}/{arch}{variant} cannot run on this linux/{host_arch()} "
                              f"host (exec format error): {reason}")
