"""The default seccomp profile, resolved for a container and loaded into the kernel for real
(in a forked child, with no_new_privs so it works unprivileged too)."""

import ctypes
import errno
import os

import pytest

from rootless import capabilities, seccomp

NR = {"x86_64": {"getpid": 39, "add_key": 248, "vmsplice": 278, "personality": 135}}


def test_default_profile_resolves_by_capabilities():
    profile = seccomp.read_profile()
    default = seccomp.resolve(profile, list(capabilities.DEFAULT), machine="x86_64")
    assert default["defaultAction"] == "SCMP_ACT_ERRNO" and default["defaultErrnoRet"] == errno.ENOSYS
    assert default["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed = {n for r in default["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args")
               for n in r["names"]}
    assert {"read", "write", "execve", "clone3", "io_uring_setup"} <= allowed
    assert "sethostname" not in allowed and "bpf" not in allowed   # only with CAP_SYS_ADMIN
    denied = {n for r in default["syscalls"] if r["action"] == "SCMP_ACT_ERRNO" for n in r["names"]}
    assert {"sethostname", "vmsplice", "kexec_load", "swapon"} <= denied
    admin = seccomp.resolve(profile, [*capabilities.DEFAULT, "CAP_SYS_ADMIN"], machine="x86_64")
    assert "sethostname" in {n for r in admin["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}


def _in_child(fn) -> int:
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            code = fn()
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers below are x86_64's")
@pytest.mark.parametrize("how", ["libseccomp", "compiled"])
def test_default_filter_in_the_kernel(how):
    nr = NR["x86_64"]
    libc = ctypes.CDLL(None, use_errno=True)
    spec = seccomp.resolve(seccomp.read_profile(), list(capabilities.DEFAULT))
    if how == "compiled":   # as podpy runs it: compiled once, the program loaded by the init
        spec = {"bpf_program": seccomp.compile_bpf(spec)}

    def child() -> int:
        libc.prctl(38, 1, 0, 0, 0)   # PR_SET_NO_NEW_PRIVS
        seccomp.load(spec)
        checks = []
        checks.append(libc.syscall(nr["getpid"]) == os.getpid())
        checks.append(libc.syscall(nr["add_key"], 0, 0, 0, 0, 0) == -1 and ctypes.get_errno() == errno.ENOSYS)
        # denied by name (EPERM): without the filter this would be EBADF
        checks.append(libc.syscall(nr["vmsplice"], -1, 0, 0, 0) == -1 and ctypes.get_errno() == errno.EPERM)
        # personality: querying is allowed, ADDR_NO_RANDOMIZE is not
        checks.append(libc.syscall(nr["personality"], ctypes.c_ulong(0xFFFFFFFF)) >= 0)
        checks.append(libc.syscall(nr["personality"], ctypes.c_ulong(0x0040000)) == -1)
        return 0 if all(checks) else 10 + checks.index(False)

    assert _in_child(child) == 0


def test_profile_errors_are_one_line(tmp_path):
    with pytest.raises(Exception, match="no such file|No such file"):
        seccomp.read_profile(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text("[]")
    with pytest.raises(Exception, match="no defaultAction"):
        seccomp.read_profile(str(tmp_path / "bad.json"))
