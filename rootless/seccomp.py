"""seccomp: profiles (docker/podman format) resolved for one container, and the filter loaded
into the kernel.

A profile has a default action, an `archMap` (an architecture and the ones its
kernel also runs, such as x86 and x32 beside x86_64), and syscall groups, each
with an action, optional argument conditions and optional `includes`/`excludes`
on capabilities, architectures and the kernel version. `resolve()` keeps the
groups that apply to a container with given capabilities on this machine and
returns the OCI runtime spec's `linux.seccomp`; `load()` installs that filter
in the calling process, last thing before exec, through the syscalls object (its compiled
program, or built by libseccomp there).
"""

from __future__ import annotations

import os

from . import SECCOMP_PROFILE
from . import syscalls as S
from .errors import SetupError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from ._ffi.libseccomp import Filter

DEFAULT_PROFILE = SECCOMP_PROFILE

# uname machine -> the profile's SCMP_ARCH name
_NATIVE = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64", "i686": "SCMP_ARCH_X86",
           "armv7l": "SCMP_ARCH_ARM", "ppc64le": "SCMP_ARCH_PPC64LE", "s390x": "SCMP_ARCH_S390X",
           "riscv64": "SCMP_ARCH_RISCV64", "mips64": "SCMP_ARCH_MIPS64"}
_ERRNO_BASE, _TRACE_BASE = 0x00050000, 0x7FF00000
_ACTIONS = {"SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000, "SCMP_ACT_KILL_PROCESS": 0x80000000,
            "SCMP_ACT_TRAP": 0x00030000, "SCMP_ACT_LOG": 0x7FFC0000, "SCMP_ACT_ALLOW": 0x7FFF0000,
            "SCMP_ACT_NOTIFY": 0x7FC00000}
_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
        "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
EPERM = 1


def read_profile(path: Optional[str] = None, loads: Optional[Callable[[str], Any]] = None) -> dict[str, Any]:
    """A profile file (the default one when path is None), decoded with loads (json.loads when
    None: the engine passes a decoder that does without the json package's imports);
    SetupError names what is wrong."""
    path = path or DEFAULT_PROFILE
    if loads is None:
        import json

        loads = json.loads
    try:
        with open(path) as f:
            profile = loads(f.read())
    except OSError as exc:
        raise SetupError(f"seccomp profile {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise SetupError(f"seccomp profile {path}: not JSON: {exc}") from exc
    if not isinstance(profile, dict) or "defaultAction" not in profile:
        raise SetupError(f"seccomp profile {path}: no defaultAction")
    return profile


def _kernel() -> tuple[int, ...]:
    parts = []
    for piece in os.uname().release.split("-")[0].split(".")[:3]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int("".join(c for c in p if c.isdigit()) or 0) for p in text.split(".")[:3])


def resolve(profile: dict[str, Any], capabilities: list[str], machine: Optional[str] = None
            ) -> dict[str, Any]:
    """The OCI `linux.seccomp` for a container with these capabilities on this machine."""
    native = _NATIVE.get(machine or os.uname().machine, "")
    arches = [native] if native else []
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == native:
            arches += [a for a in entry.get("subArchitectures") or [] if a not in arches]
    if not arches:
        arches = list(profile.get("architectures") or [])
    caps = set(capabilities)
    kernel = _kernel()
    syscalls = []
    for group in profile.get("syscalls") or []:
        inc, exc = group.get("includes") or {}, group.get("excludes") or {}
        if inc.get("caps") and not set(inc["caps"]) <= caps:
            continue
        if inc.get("arches") and not set(inc["arches"]) & {_short(a) for a in arches}:
            continue
        if inc.get("minKernel") and kernel < _version(str(inc["minKernel"])):
            continue
        if exc.get("caps") and set(exc["caps"]) & caps:
            continue
        if exc.get("arches") and set(exc["arches"]) & {_short(a) for a in arches}:
            continue
        names = list(group.get("names") or ([group["name"]] if group.get("name") else []))
        if not names:
            continue
        rule: dict[str, Any] = {"names": names, "action": group["action"]}
        if group.get("errnoRet") is not None:
            rule["errnoRet"] = group["errnoRet"]
        if group.get("args"):
            rule["args"] = [{"index": a["index"], "value": a.get("value", 0), "valueTwo": a.get("valueTwo", 0),
                             "op": a["op"]} for a in group["args"]]
        syscalls.append(rule)
    out: dict[str, Any] = {"defaultAction": profile["defaultAction"], "architectures": arches,
                           "syscalls": syscalls}
    if profile.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    return out


def _short(arch: str) -> str:
    """SCMP_ARCH_X86_64 -> amd64: architectures as includes/excludes name them (Go's names)."""
    return {"SCMP_ARCH_X86_64": "amd64", "SCMP_ARCH_X86": "386", "SCMP_ARCH_X32": "x32",
            "SCMP_ARCH_AARCH64": "arm64", "SCMP_ARCH_ARM": "arm", "SCMP_ARCH_PPC64LE": "ppc64le",
            "SCMP_ARCH_S390X": "s390x", "SCMP_ARCH_S390": "s390", "SCMP_ARCH_RISCV64": "riscv64"}.get(
        arch, arch.removeprefix("SCMP_ARCH_").lower())


def _action(name: str, errno_ret: Optional[int]) -> int:
    if name == "SCMP_ACT_ERRNO":
        return _ERRNO_BASE | ((EPERM if errno_ret is None else int(errno_ret)) & 0xFFFF)
    if name == "SCMP_ACT_TRACE":
        return _TRACE_BASE | ((EPERM if errno_ret is None else int(errno_ret)) & 0xFFFF)
    try:
        return _ACTIONS[name]
    except KeyError:
        raise SetupError(f"seccomp: unknown action {name}") from None


def preload(spec: Optional[dict[str, Any]] = None, sc: Optional[S.Syscalls] = None) -> None:
    """Read what load() will need while the host's files are still reachable (before
    pivot_root or joining a container's mount namespace): the compiled program, else libseccomp."""
    if spec is not None and spec.get("bpf"):
        spec["bpf_program"] = read_bpf(spec["bpf"])
        return
    (sc or S.default()).libseccomp_load()


def load(spec: dict[str, Any], sc: Optional[S.Syscalls] = None) -> None:
    """Install the filter (OCI `linux.seccomp`) in this process: its compiled program when the
    spec carries one (`bpf`, read by preload()), else built here through libseccomp."""
    sc = sc or S.default()
    program = spec.get("bpf_program")
    if program is None and spec.get("bpf"):
        program = read_bpf(spec["bpf"])
    if program is not None:
        load_bpf(program, sc)
        return
    with _build(spec, sc) as ctx:
        ctx.load()


def compile_bpf(spec: dict[str, Any], sc: Optional[S.Syscalls] = None) -> bytes:
    """The filter as the kernel's BPF program (what seccomp_load would install). Building it
    takes libseccomp some 20 ms for podman's profile; the program loads in well under one."""
    with _build(spec, sc or S.default()) as ctx:
        r, w = os.pipe()
        try:
            try:
                ctx.export_bpf(w)
            finally:
                os.close(w)
            chunks = []
            while True:
                chunk = os.read(r, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(r)


def read_bpf(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise SetupError(f"seccomp: reading the compiled filter {path}: {exc.strerror}") from exc


def load_bpf(program: bytes, sc: Optional[S.Syscalls] = None) -> None:
    """Install a compiled filter (struct sock_filter[])."""
    if not program or len(program) % 8:
        raise SetupError("seccomp: the compiled filter is damaged")
    (sc or S.default()).seccomp_filter(program)


def _build(spec: dict[str, Any], sc: S.Syscalls) -> Filter:
    """A libseccomp context holding the filter (the caller releases it)."""
    default = _action(spec["defaultAction"], spec.get("defaultErrnoRet"))
    ctx = sc.libseccomp_filter(default)
    try:
        # libseccomp would set no_new_privs itself; that is --security-opt no-new-privileges' call.
        ctx.set_nnp(False)
        ctx.optimize()
        for arch in spec.get("architectures") or []:
            # libseccomp's names: SCMP_ARCH_X86_64 -> x86_64, SCMP_ARCH_X32 -> x32 (the native one
            # is there already)
            ctx.add_arch(arch.removeprefix("SCMP_ARCH_").lower())
        for rule in spec.get("syscalls") or []:
            action = _action(rule["action"], rule.get("errnoRet"))
            if action == default:
                continue
            args = rule.get("args") or []
            # libseccomp takes one condition per argument in a rule: conditions on the same
            # argument become rules of their own (either may match), as runc does it.
            indexes = [a["index"] for a in args]
            groups = [[a] for a in args] if len(set(indexes)) != len(indexes) else [args]
            for name in rule["names"]:
                nr = ctx.syscall_number(str(name))
                if nr < 0:
                    continue
                for conds in groups:
                    ctx.add_rule(action, nr, [(int(a["index"]), _OPS[a["op"]], int(a.get("value", 0)),
                                               int(a.get("valueTwo", 0))) for a in conds])
    except BaseException:
        ctx.release()
        raise
    return ctx
