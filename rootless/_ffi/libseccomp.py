"""libseccomp's filter builder through ctypes: a context made from a default action, its
architectures and rules, then loaded into this process or exported as a BPF program.

libseccomp reports failures as negative errno values; they are raised as SyscallError named
after the library call ("seccomp_load: Invalid argument").
"""

from __future__ import annotations

import ctypes

from ..errors import SetupError, SyscallError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

FLTATR_CTL_NNP = 3   # enum scmp_filter_attr: whether seccomp_load sets no_new_privs
FLTATR_CTL_OPTIMIZE = 8   # ... and how the program is laid out (2: a binary tree of syscall numbers)


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


_LIB: Any = None


def load() -> Any:
    """libseccomp.so.2, opened once per process (before pivot_root: the host's file)."""
    global _LIB
    if _LIB is not None:
        return _LIB
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError as exc:
        raise SetupError("seccomp: libseccomp is not installed (Debian: apt-get install libseccomp2), "
                         "or run with --security-opt seccomp=unconfined") from exc
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    _LIB = lib
    return lib


class Filter:
    """A libseccomp filter context; release() it (or use it as a context manager)."""

    def __init__(self, default_action: int) -> None:
        self.lib = load()
        self.ctx: Optional[int] = self.lib.seccomp_init(default_action)
        if not self.ctx:
            raise SyscallError("seccomp_init", "", 22)   # EINVAL: libseccomp says no more

    def __enter__(self) -> "Filter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        if self.ctx:
            self.lib.seccomp_release(self.ctx)
            self.ctx = None

    def set_nnp(self, on: bool) -> None:
        self.lib.seccomp_attr_set(self.ctx, FLTATR_CTL_NNP, int(on))

    def optimize(self) -> None:
        """Lay the program out as a binary tree of syscall numbers (libseccomp 2.5 and later;
        an older one keeps its list). For podman's profile the kernel then takes about a third
        of the time to load it (its cache of allowed calls runs the program for each call
        number), and a call the container makes passes some 20 instructions, not hundreds."""
        self.lib.seccomp_attr_set(self.ctx, FLTATR_CTL_OPTIMIZE, 2)

    def add_arch(self, name: str) -> None:
        """Also filter calls of architecture `name` (libseccomp's name: x86_64, x32); one
        unknown to libseccomp, or already there (the native one), is left out."""
        token = self.lib.seccomp_arch_resolve_name(name.encode())
        if token:
            self.lib.seccomp_arch_add(self.ctx, token)

    def syscall_number(self, name: str) -> int:
        """The call's number on the native architecture; negative when it has none."""
        return int(self.lib.seccomp_syscall_resolve_name(name.encode()))

    def add_rule(self, action: int, nr: int, conditions: list[tuple[int, int, int, int]]) -> None:
        """A rule for call nr: action when every (argument index, op, value, value two) holds.
        A rule libseccomp refuses (a call this architecture lacks) is left out."""
        array = (_ArgCmp * max(1, len(conditions)))()
        for i, (index, op, a, b) in enumerate(conditions):
            array[i] = _ArgCmp(index, op, a, b)
        self.lib.seccomp_rule_add_array(self.ctx, action, nr, len(conditions), array)

    def load(self) -> None:
        """Install the filter in this process."""
        rc = self.lib.seccomp_load(self.ctx)
        if rc != 0:
            raise SyscallError("seccomp_load", "", -rc)

    def export_bpf(self, fd: int) -> None:
        """Write the filter, as the kernel's BPF program, to fd."""
        rc = self.lib.seccomp_export_bpf(self.ctx, fd)
        if rc != 0:
            raise SyscallError("seccomp_export_bpf", "", -rc)
