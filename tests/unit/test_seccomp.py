"""The default seccomp profile, resolved for a container and loaded into the kernel for real
(in a forked child, with no_new_privs so it works unprivileged too)."""

import ctypes
import errno
import os

import pytest

from rootless import capabilities, seccomp

from forked import in_child as _in_child  # helper module beside this file

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


def _run_bpf(program: bytes, data: bytes) -> tuple[int, int]:
    """Run a classic BPF program (the instructions libseccomp emits) over seccomp_data; its
    return value and how many instructions it took."""
    import struct

    insns = [struct.unpack_from("=HBBI", program, i) for i in range(0, len(program), 8)]
    a = x = 0
    mem = [0] * 16
    pc = steps = 0
    while True:
        code, jt, jf, k = insns[pc]
        steps += 1
        pc += 1
        if code == 0x20:            # ld [k]
            a = struct.unpack_from("=I", data, k)[0]
        elif code == 0x06:          # ret #k
            return k, steps
        elif code == 0x16:          # ret a
            return a, steps
        elif code == 0x05:          # ja
            pc += k
        elif code in (0x15, 0x25, 0x35, 0x45):   # jeq, jgt, jge, jset #k
            hit = {0x15: a == k, 0x25: a > k, 0x35: a >= k, 0x45: bool(a & k)}[code]
            pc += jt if hit else jf
        elif code == 0x54:          # and #k
            a &= k
        elif code == 0x60:          # ld M[k]
            a = mem[k]
        elif code == 0x02:          # st M[k]
            mem[k] = a
        elif code == 0x07:          # tax
            x = a
        elif code == 0x87:          # txa
            a = x
        else:
            raise AssertionError(f"instruction {code:#x} not emulated")


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the audit architecture below is x86_64's")
def test_compiled_filter_is_a_tree_that_decides_as_the_list(monkeypatch):
    """The compiled program is laid out as a binary tree of call numbers (cheaper for the
    kernel to load and for each call to pass), and decides every call as the plain list does."""
    import struct

    from rootless._ffi import libseccomp

    spec = seccomp.resolve(seccomp.read_profile(), list(capabilities.DEFAULT))
    tree = seccomp.compile_bpf(spec)
    monkeypatch.setattr(libseccomp.Filter, "optimize", lambda self: None)
    listed = seccomp.compile_bpf(spec)
    assert tree != listed
    audit_x86_64 = 0xC000003E
    longest = {"tree": 0, "list": 0}
    for nr in range(0, 460):
        for args in ((0,) * 6, (0xFFFFFFFF,) * 6, (0x7E020000, 0, 0, 0, 0, 0)):
            data = struct.pack("=IIQ6Q", nr, audit_x86_64, 0, *args)
            got, steps = _run_bpf(tree, data)
            want, list_steps = _run_bpf(listed, data)
            assert got == want, f"call {nr} with {args}: {got:#x} from the tree, {want:#x} from the list"
            longest["tree"], longest["list"] = max(longest["tree"], steps), max(longest["list"], list_steps)
    assert longest["tree"] < 40 < longest["list"], longest


def test_a_resolved_filter_is_kept_while_its_profile_file_stays_the_same(tmp_path, monkeypatch):
    """The engine reads, resolves and keys a profile once: later starts read the kept filter,
    until the profile file changes (or the capabilities differ)."""
    import json

    from podpy.engine import spec

    profile = tmp_path / "profile.json"
    rules = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["chown"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_CHOWN"]}}]}
    profile.write_text(json.dumps(rules))
    runroot = tmp_path / "run"
    runroot.mkdir()
    resolved = []
    real = seccomp.resolve
    monkeypatch.setattr(seccomp, "resolve", lambda *a, **k: resolved.append(1) or real(*a, **k))

    first = spec.resolved_seccomp(str(runroot), str(profile), ["CAP_CHOWN"])
    assert ["chown"] in [r["names"] for r in first["syscalls"]] and os.path.exists(first["bpf"])
    again = spec.resolved_seccomp(str(runroot), str(profile), ["CAP_CHOWN"])
    assert again == first and len(resolved) == 1   # read back, not resolved again
    fewer = spec.resolved_seccomp(str(runroot), str(profile), [])
    assert ["chown"] not in [r["names"] for r in fewer["syscalls"]] and len(resolved) == 2

    rules["syscalls"][0]["names"].append("close")
    profile.write_text(json.dumps(rules))
    os.utime(profile, ns=(1, 1))   # another modification time, whatever the clock's resolution
    changed = spec.resolved_seccomp(str(runroot), str(profile), ["CAP_CHOWN"])
    assert len(resolved) == 3 and "close" in changed["syscalls"][0]["names"]
    assert changed["bpf"] != first["bpf"]

    for kept in (runroot / "seccomp").glob("*.filter"):
        kept.write_text("{not json")
    assert spec.resolved_seccomp(str(runroot), str(profile), ["CAP_CHOWN"]) == changed   # a damaged one is redone
