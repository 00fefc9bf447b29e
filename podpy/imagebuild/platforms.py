"""Which platforms a build makes, and whether this host runs a platform's RUN steps.

`--all-platforms` (buildah's rule): the base images of the Containerfile's stages (each FROM
expanded with the global ARGs, after --from and --build-context replace it; `scratch` and earlier
stages skipped) must each name a registry manifest list, and every platform all of them offer
is built, one after another (engine/listplatforms.py reads the lists).

A platform of another architecture is built like any other; its RUN steps need this kernel to
run that architecture's binaries: the host's own (and its 32-bit compat: 386 on amd64, arm on
arm64), or one a binfmt_misc handler runs (qemu-user-static registers them) with the F flag,
whose interpreter the kernel opened when it was registered, so a container reaches it too.
Without one, RUN fails in one line before it starts, naming the platform and what is missing.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Optional

from ..errors import InvalidArgument
from .options import BuildOptions

BINFMT = "/proc/sys/fs/binfmt_misc"

# architectures a host runs without emulation besides its own (the kernel's 32-bit compat)
NATIVE_TOO = {"amd64": ("386",), "arm64": ("arm",)}

# ELF (class, e_machine) of each architecture: what a binfmt_misc handler's magic matches
_ELF = {"amd64": (2, 0x3E), "386": (1, 0x03), "arm64": (2, 0xB7), "arm": (1, 0x28), "ppc64le": (2, 0x15),
        "ppc64": (2, 0x15), "s390x": (2, 0x16), "riscv64": (2, 0xF3), "mips64le": (2, 0x08),
        "mips64": (2, 0x08), "mipsle": (1, 0x08), "mips": (1, 0x08), "loong64": (2, 0x102)}
_BIG_ENDIAN = {"ppc64", "s390x", "mips64", "mips"}


def base_images(rt: Any, o: BuildOptions, warn: Callable[[str], None]) -> list[str]:
    """The base images of the build's stages, as buildah's --all-platforms reads them."""
    from .executor import Build
    from .options import builtin_args
    from .parser import parse
    from .stages import base_of, global_values, split

    b = Build(rt, o, lambda _line: None, warn, lambda _line: None)
    try:
        with contextlib.ExitStack() as stack:
            b.scratch = stack.enter_context(rt.store.temporary("build-files")).path
            _root, text, fname = b._sources(stack)
    finally:
        b.ssh.close()
    plan = split(parse(text, fname))
    if o.from_:
        plan.stages[0].base = o.from_
    images = {name: value.split("://", 1)[-1] for name, value in b.build_contexts.items()
              if value.startswith(("docker-image://", "container-image://")) or not os.path.exists(value)}
    globals_ = global_values(plan, b.build_args, builtin_args(None))
    bases: list[str] = []
    nicknames: set[str] = set()
    for stage in plan.stages:
        if stage.base.lower() in images:
            stage.base = images[stage.base.lower()]
        base = base_of(plan, stage, globals_)
        if base.lower() != "scratch" and base.lower() not in nicknames:
            bases.append(base)
        if stage.name:
            nicknames.add(stage.name)
    return bases


def all_platforms(rt: Any, o: BuildOptions, warn: Callable[[str], None]) -> list[str]:
    """--all-platforms: every platform all the base images' manifest lists offer."""
    from ..engine.listplatforms import common_platforms
    from ..engine.pull import PullOptions

    given = PullOptions(name="", tls_verify=o.tls_verify, creds=o.creds, cert_dir=o.cert_dir,
                        auth_file=o.auth_file)
    return common_platforms(rt, base_images(rt, o, warn), given)


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
