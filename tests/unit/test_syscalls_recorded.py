"""Stage 1 and the container's init, run with a recording stand-in for the kernel: the calls
they make, in order, for a typical spec, and a failed call reaching the host side as the same
SyscallError. No namespaces are made (the recorder makes no call), so this runs as any user;
the two stages are forked as in a real start, and the init ends by exec'ing /bin/true."""

from __future__ import annotations

import ast
import errno
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rootless import capabilities, child, rootfs
from rootless import stage1 as stage_one
from rootless import syscalls as S
from rootless.errors import RuntimeFailure, SetupError, SyscallError, from_wire
from rootless.sync import Channel

ROOT = Path(__file__).resolve().parents[2]

# What a stand-in returns where the real call returns something.
_RESULTS = {"ptsname": "/dev/pts/0", "get_winsize": (24, 80), "capget": (0, 0, 0), "prctl": 0,
            "seccomp_listener": -1, "ns_get_userns": -1, "ns_get_parent": -1, "pidfd_getfd": -1}


class Recorder:
    """Stands in for rootless.syscalls.Syscalls: each call is written as one line (pid, method,
    arguments) to a pipe, so that calls made in forked processes reach the test. Only methods
    the real object has, with arguments its signature takes, can be called. fail=(method, errno)
    makes that call raise what the real one would."""

    def __init__(self, out: int, fail: tuple[str, int] | None = None) -> None:
        self._out = out
        self._fail = fail

    def __getattr__(self, name: str):
        real = getattr(S.Syscalls, name)   # AttributeError for a call the real object lacks
        signature = inspect.signature(real)

        def call(*args, **kwargs):
            bound = signature.bind(None, *args, **kwargs)
            bound.apply_defaults()
            values = [int(v) if isinstance(v, int) else v for v in list(bound.arguments.values())[1:]]
            os.write(self._out, (repr((os.getpid(), name, values)) + "\n").encode())
            if self._fail and self._fail[0] == name:
                path = next((v for v in values if isinstance(v, str)), "")
                if path and not path.startswith("/"):
                    path = os.path.normpath(os.path.join(os.getcwd(), path))
                raise SyscallError(name, path, self._fail[1])
            return _RESULTS.get(name)
        return call


def _spec(tmp_path: Path) -> dict:
    root = tmp_path / "merged"
    for d in ("merged", "lower", "upper", "work"):
        (tmp_path / d).mkdir()
    program = tmp_path / "seccomp.bpf"
    program.write_bytes(b"\x06\x00\x00\x00\x00\x00\xff\x7f")   # one instruction: RET ALLOW
    caps = ["CAP_" + c for c in capabilities.DEFAULT]
    return {
        "process": {"args": ["true"], "env": ["PATH=/usr/bin:/bin"], "cwd": "/", "terminal": False,
                    "user": {"uid": 0, "gid": 0, "additionalGids": [10]},
                    "capabilities": {"bounding": caps, "effective": caps, "permitted": caps}},
        "root": {"path": str(root)},
        "hostname": "box",
        # host paths that are there on every Linux (the recorder's pivot_root leaves us on the host)
        "linux": {"namespaces": [{"type": t} for t in ("user", "mount", "pid", "uts", "ipc", "network")],
                  "maskedPaths": ["/proc/cmdline"], "readonlyPaths": ["/proc/sys"],
                  "seccomp": {"bpf": str(program)}},
        "mounts": rootfs.default_mounts(tty_gid_mapped=True, own_netns=True),
        "rootfsMount": {"type": "overlay", "target": str(root), "lower": [str(tmp_path / "lower")],
                        "upper": str(tmp_path / "upper"), "work": str(tmp_path / "work"), "userxattr": True},
    }


def _start(spec: dict, fail: tuple[str, int] | None = None, prepared: dict | None = None,
           plan: dict | None = None):
    """Fork stage 1 with a recorder and play the host side (without id maps). Returns stage 1's
    pid, the init's pid (0 when it never came), the error the host side got (or None), and the
    recorded calls as (pid, method, arguments). prepared: a stage 1 started ahead (ahead.py)
    whose root file system came before its spec (prepare_root): its user namespace made and
    mapped already, "go" sent at once, as parent.launch sends it."""
    r, w = os.pipe()
    host, inside = Channel.pair()
    stage1 = os.fork()
    if stage1 == 0:
        os.close(r)
        if prepared is None:
            stage_one.stage1(spec, inside, [host.fileno()], sc=Recorder(w, fail))
        code = 1
        try:
            host.close()
            sc = Recorder(w, fail)
            made = stage_one.make_namespaces(sc, (plan or {}).get("namespaces", ()))
            stage_one.enter_own_root(sc)
            ready = stage_one.mount_ahead(sc, (plan or {}).get("mounts"), made)
            stage_one.prepare_root(sc, prepared)
            code = stage_one.run_stage1(spec, inside, None, False, sc, in_userns=True, prepared=prepared, rooted=True,
                                    made=made, ready=ready)
        finally:
            os._exit(code)
    os.close(w)
    inside.close()
    init, error = 0, None
    try:
        if prepared is None:
            host.expect("userns")
            host.send("mapped")
        else:
            host.send("go")
        msg, _ = host.expect("pid")
        init = int(msg["pid"])
        if prepared is None:
            host.send("go")
        while True:
            reply, fds = host.recv()
            for fd in fds:
                os.close(fd)
            if reply is None:
                break
            if reply.get("type") == "error":
                raise from_wire(reply["error"])
    except RuntimeFailure as exc:
        error = exc
    finally:
        host.close()
        with os.fdopen(r) as f:
            calls = [ast.literal_eval(line) for line in f]
        _, status = os.waitpid(stage1, 0)
    return stage1, init, error, calls, os.waitstatus_to_exitcode(status)


def _brief(calls, pid, root):
    """(method, what it was about) of pid's calls; repeats of one bounding-set drop as one."""
    out = []
    for who, name, args in calls:
        if who != pid:
            continue
        if name in ("mount", "umount2"):
            target = args[1] if name == "mount" else args[0]
            item = (name, target.replace(root, "<root>"))
        elif name == "unshare":
            item = (name, args[0])
        elif name in ("sethostname", "interface_up", "sysctl", "setgroups", "setresgid", "setresuid"):
            item = (name, args[0])
        else:
            item = (name,)
        if out and item == out[-1] == ("capbset_drop",):
            continue
        out.append(item)
    return out


def test_stage1_and_init_make_their_calls_in_order(tmp_path):
    spec = _spec(tmp_path)
    root = spec["root"]["path"]
    stage1, init, error, calls, status = _start(spec)
    assert error is None and status == 0
    assert _brief(calls, stage1, root) == [
        ("set_pdeathsig",),
        ("unshare", S.CLONE_NEWUSER),
        ("setresgid", 0), ("setresuid", 0),
        ("unshare", S.CLONE_NEWNS),
        ("mount", "/"),                                      # made private
        ("mount", "<root>"),                                 # the overlay
        ("unshare", S.CLONE_NEWPID | S.CLONE_NEWUTS | S.CLONE_NEWIPC | S.CLONE_NEWNET),
        ("umount2", "<root>"),                               # after the init exited
    ]
    devices = [("mount", f"<root>/dev/{d}") for d in rootfs.DEVICES]
    assert _brief(calls, init, root) == [
        ("set_pdeathsig",),
        ("unshare", S.CLONE_NEWNS),
        ("interface_up", "lo"),
        ("sysctl", "net/ipv4/ping_group_range"),
        ("sethostname", "box"),
        ("mount", "<root>/proc"), ("mount", "<root>/dev"), *devices, ("mount", "<root>/dev/pts"),
        ("mount", "<root>/dev/mqueue"), ("mount", "<root>/dev/shm"), ("mount", "<root>/sys"),
        ("pivot_root",), ("umount2", "."),
        ("mount", "/proc/cmdline"),                          # masked
        ("mount", "/proc/sys"), ("mount", "/proc/sys"),      # read-only: bind, then remount
        ("seccomp_filter",),                                 # before the capabilities go
        ("capbset_drop",),
        ("setgroups", [10]), ("setresgid", 0), ("setresuid", 0),
        ("capset",),
    ]
    by_name = {name: args for who, name, args in calls if who == init}
    assert by_name["pivot_root"] == [".", "."]
    assert by_name["seccomp_filter"] == [(tmp_path / "seccomp.bpf").read_bytes()]
    keep = capabilities.mask_of(spec["process"]["capabilities"]["bounding"])
    assert by_name["capset"] == [keep, keep, 0]
    dropped = {args[0] for who, name, args in calls if who == init and name == "capbset_drop"}
    assert dropped and not {c for c in dropped if keep & (1 << c)}
    assert {who for who, _n, _a in calls} == {stage1, init}


def test_a_root_mounted_ahead_of_the_spec_is_not_mounted_again(tmp_path):
    spec = _spec(tmp_path)
    root = spec["root"]["path"]
    stage1, init, error, calls, status = _start(spec, prepared=dict(spec["rootfsMount"]))
    assert error is None and status == 0
    assert _brief(calls, stage1, root) == [
        ("setresgid", 0), ("setresuid", 0),                 # enter_own_root, before the spec
        ("unshare", S.CLONE_NEWNS),
        ("mount", "/"),
        ("mount", "<root>"),
        ("unshare", S.CLONE_NEWPID | S.CLONE_NEWUTS | S.CLONE_NEWIPC | S.CLONE_NEWNET),
        ("umount2", "<root>"),
    ]
    assert ("mount", "<root>/proc") in _brief(calls, init, root)


def test_namespaces_and_mounts_made_ahead_are_used_where_the_spec_has_them(tmp_path):
    """A stage 1 started ahead with a plan (runverbs.ahead_plan): its UTS, IPC and network
    namespaces made (loopback up) and the default /dev and /sys mounted on a scratch tmpfs
    before the spec; the init binds each group into place in one call where the spec's mounts
    are the group's, and makes neither the namespaces nor the loopback again."""
    spec = _spec(tmp_path)
    root = spec["root"]["path"]
    mounts = spec["mounts"]
    scratch = str(tmp_path / "scratch")
    plan = {"namespaces": ["uts", "ipc", "network"],
            "mounts": {"scratch": scratch, "groups": [mounts[1:5], mounts[5:6]]}}
    stage1, init, error, calls, status = _start(spec, prepared=dict(spec["rootfsMount"]), plan=plan)
    assert error is None and status == 0
    brief = [(name, what.replace(scratch, "<scratch>") if isinstance(what, str) else what)
             for name, *rest in _brief(calls, stage1, root) for what in (rest[0] if rest else "",)]
    devices = [("mount", f"<scratch>/dev/{d}") for d in rootfs.DEVICES]
    assert brief == [
        ("unshare", S.CLONE_NEWUTS | S.CLONE_NEWIPC | S.CLONE_NEWNET),   # the namespaces, once mapped
        ("interface_up", "lo"), ("sysctl", "net/ipv4/ping_group_range"),
        ("setresgid", 0), ("setresuid", 0), ("unshare", S.CLONE_NEWNS), ("mount", "/"),
        ("mount", "<scratch>"), ("mount", "<scratch>/dev"), *devices, ("mount", "<scratch>/dev/pts"),
        ("mount", "<scratch>/dev/mqueue"), ("mount", "<scratch>/dev/shm"), ("mount", "<scratch>/sys"),
        ("mount", "<root>"),                                 # the root file system, given ahead
        ("unshare", S.CLONE_NEWPID),                         # the rest of the spec's namespaces
        ("umount2", "<root>"),
    ]
    init_calls = _brief(calls, init, root)
    assert ("interface_up", "lo") not in init_calls
    assert init_calls[init_calls.index(("sethostname", "box")) + 1:init_calls.index(("pivot_root",))] == [
        ("mount", "<root>/proc"), ("mount", "<root>/dev"), ("mount", "<root>/sys")]
    binds = [args for who, name, args in calls if who == init and name == "mount" and args[1] != f"{root}/proc"][:2]
    assert binds == [[f"{scratch}/dev", f"{root}/dev", None, S.MS_BIND | S.MS_REC, None],
                     [f"{scratch}/sys", f"{root}/sys", None, S.MS_BIND | S.MS_REC, None]]


def test_mounts_made_ahead_that_the_spec_does_not_have_are_left(tmp_path):
    """A spec whose /dev/shm is not the default one (--shm-size): the init mounts that group
    itself; the /sys made ahead is still the spec's."""
    spec = _spec(tmp_path)
    root = spec["root"]["path"]
    mounts = spec["mounts"]
    plan = {"namespaces": ["uts", "ipc", "network"],
            "mounts": {"scratch": str(tmp_path / "scratch"), "groups": [[dict(m) for m in mounts[1:5]], mounts[5:6]]}}
    mounts[4] = {**mounts[4], "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=1m"]}
    stage1, init, error, calls, status = _start(spec, prepared=dict(spec["rootfsMount"]), plan=plan)
    assert error is None and status == 0
    init_calls = _brief(calls, init, root)
    devices = [("mount", f"<root>/dev/{d}") for d in rootfs.DEVICES]
    assert init_calls[init_calls.index(("sethostname", "box")) + 1:init_calls.index(("pivot_root",))] == [
        ("mount", "<root>/proc"), ("mount", "<root>/dev"), *devices, ("mount", "<root>/dev/pts"),
        ("mount", "<root>/dev/mqueue"), ("mount", "<root>/dev/shm"), ("mount", "<root>/sys")]
    sys_mount = [args for who, name, args in calls if who == init and name == "mount" and args[1] == f"{root}/sys"]
    assert sys_mount == [[str(tmp_path / "scratch" / "sys"), f"{root}/sys", None, S.MS_BIND | S.MS_REC, None]]
    shm = [args for who, name, args in calls if who == init and name == "mount" and args[1] == f"{root}/dev/shm"]
    assert shm[0][2] == "tmpfs" and "size=1m" in shm[0][4]


def test_a_spec_for_another_root_than_the_one_mounted_ahead_replaces_it(tmp_path):
    spec = _spec(tmp_path)
    root = spec["root"]["path"]
    other = tmp_path / "other"
    other.mkdir()
    prepared = {"type": "bind", "source": str(tmp_path / "lower"), "target": str(other)}
    stage1, _init, error, calls, status = _start(spec, prepared=prepared)
    assert error is None and status == 0
    brief = _brief(calls, stage1, root)
    assert brief[brief.index(("mount", "/")) + 1:] == [
        ("mount", str(other)),                               # the one given ahead
        ("umount2", str(other)),                             # let go for the spec's
        ("mount", "<root>"),
        ("unshare", S.CLONE_NEWPID | S.CLONE_NEWUTS | S.CLONE_NEWIPC | S.CLONE_NEWNET),
        ("umount2", "<root>"),
    ]


def test_joined_namespaces_limits_and_settings(tmp_path):
    """--pid/--uts container:NAME are joined by stage 1 (setns) instead of made; the init writes
    --sysctl's settings after the hostname and sets --ulimit's limits last before the user and
    capabilities change."""
    spec = _spec(tmp_path)
    root = spec["root"]["path"]
    spec["linux"]["namespaces"] = [{"type": "user"}, {"type": "mount"}, {"type": "pid", "path": "/proc/self/ns/pid"},
                                   {"type": "uts", "path": "/proc/self/ns/uts"}, {"type": "ipc"},
                                   {"type": "network"}]
    spec["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096"}
    spec["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20},
                                  {"type": "RLIMIT_CORE", "soft": -1, "hard": -1}]
    stage1, init, error, calls, status = _start(spec)
    assert error is None and status == 0
    brief = _brief(calls, stage1, root)
    assert brief[brief.index(("mount", "<root>")) + 1:] == [
        ("setns",), ("setns",),                              # uts, then pid (taking effect for the init)
        ("unshare", S.CLONE_NEWIPC | S.CLONE_NEWNET),
        ("umount2", "<root>"),
    ]
    assert [args[1] for who, name, args in calls if who == stage1 and name == "setns"] == [
        S.CLONE_NEWUTS, S.CLONE_NEWPID]
    brief = _brief(calls, init, root)
    assert ("sethostname", "box") not in brief               # the UTS namespace is another's
    settings = [b for b in brief if b[0] == "sysctl"]
    assert settings == [("sysctl", "net/ipv4/ping_group_range"), ("sysctl", "net/ipv4/ip_forward"),
                        ("sysctl", "kernel/msgmax")]
    limits = [args for who, name, args in calls if who == init and name == "setrlimit"]
    assert limits == [["RLIMIT_NOFILE", 10, 20], ["RLIMIT_CORE", -1, -1]]
    names = [b[0] for b in brief]
    assert names.index("setrlimit") > names.index("pivot_root") and names.index("setrlimit") < names.index("setgroups")


def test_a_limit_above_the_hard_one_is_podmans_126(tmp_path):
    spec = _spec(tmp_path)
    spec["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 99}]
    _stage1, init, error, _calls, status = _start(spec, fail=("setrlimit", errno.EPERM))
    assert isinstance(error, SetupError) and error.status == 126
    assert str(error).startswith("setting RLIMIT_NOFILE to 10:99: Operation not permitted")
    spec["process"].pop("rlimits")
    spec["linux"]["sysctl"] = {"net.ipv4.nope": "1"}
    _stage1, init, error, _calls, status = _start(spec, fail=("sysctl", errno.ENOENT))
    # the default ping_group_range is written first, and a failure there is ignored: the
    # recorder fails every sysctl, so the user's is the one reported
    assert isinstance(error, SetupError) and error.status == 127 and "sysctl net.ipv4.nope=1" in str(error)


def test_process_settings_before_the_user_changes(tmp_path):
    """--oom-score-adj, --personality and --umask are set by the init after the limits and before
    the user and capabilities change; keep-groups makes no setgroups; a lowered OOM score that
    the kernel refuses is podman's 126."""
    spec = _spec(tmp_path)
    root = spec["root"]["path"]
    spec["process"]["oomScoreAdj"] = 300
    spec["process"]["user"].update(umask=0o027, keepOriginalGroups=True)
    spec["linux"]["personality"] = {"domain": "LINUX32"}
    _stage1, init, error, calls, status = _start(spec)
    assert error is None and status == 0
    by_name = {name: args for who, name, args in calls if who == init}
    assert by_name["set_oom_score_adj"] == [300] and by_name["personality"] == [8] and by_name["umask"] == [0o027]
    names = [b[0] for b in _brief(calls, init, root)]
    assert names.index("pivot_root") < names.index("set_oom_score_adj") < names.index("personality") < \
        names.index("umask") < names.index("setresuid")
    assert "setgroups" not in names
    spec["process"]["oomScoreAdj"] = -500
    _stage1, init, error, _calls, status = _start(spec, fail=("set_oom_score_adj", errno.EACCES))
    assert isinstance(error, SetupError) and error.status == 126 and "oom_score_adj to -500" in str(error)


def test_setup_error_status_crosses_the_wire():
    import pickle

    back = from_wire(SetupError("setting RLIMIT_NOFILE", 126).to_wire())
    assert isinstance(back, SetupError) and back.status == 126 and str(back) == "setting RLIMIT_NOFILE"
    assert from_wire({"kind": "setup", "message": "old"}).status == 0
    assert pickle.loads(pickle.dumps(SetupError("x", 127))).status == 127


def test_the_real_setrlimit(tmp_path):
    script = ("from rootless import syscalls\nsc = syscalls.default()\nsc.setrlimit('RLIMIT_CORE', 0, 0)\n"
              "import resource\nassert resource.getrlimit(resource.RLIMIT_CORE) == (0, 0)\n"
              "try:\n    sc.setrlimit('RLIMIT_BOGUS', 1, 1)\nexcept OSError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", script], check=True, cwd=str(ROOT), capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    assert out == "setrlimit `RLIMIT_BOGUS`: Invalid argument\n"


@pytest.mark.parametrize("where, method, err", [("stage 1", "unshare", errno.EPERM),
                                                 ("init", "pivot_root", errno.EINVAL)])
def test_a_failed_call_reaches_the_host_side_as_a_syscall_error(tmp_path, where, method, err):
    spec = _spec(tmp_path)
    stage1, init, error, calls, status = _start(spec, fail=(method, err))
    assert isinstance(error, SyscallError) and isinstance(error, OSError)
    assert (error.op, error.errno) == (method, err)
    if where == "init":
        assert init and error.path == spec["root"]["path"]   # pivot_root(".", ".") in the root
        assert str(error) == f"pivot_root `{spec['root']['path']}`: Invalid argument"
    else:
        assert not init and str(error) == "unshare: Operation not permitted"
    assert status == child.EXIT_SETUP_FAILED
    failing = [name for who, name, _a in calls if who == (init if where == "init" else stage1)]
    assert failing[-1] == method                             # nothing after the failed call
    if where == "init":                                      # stage 1 still cleans up
        assert [name for who, name, _a in calls if who == stage1][-1] == "umount2"


def test_syscall_error_crosses_the_wire_as_its_fields():
    exc = SyscallError("pivot_root", "/x", errno.EINVAL)
    wire = exc.to_wire()
    assert wire == {"kind": "syscall", "op": "pivot_root", "path": "/x", "errno": errno.EINVAL}
    back = from_wire(wire)
    assert type(back) is SyscallError and (back.op, back.path, back.errno) == ("pivot_root", "/x", errno.EINVAL)
    assert str(back) == "pivot_root `/x`: Invalid argument" and back.strerror == os.strerror(errno.EINVAL)
    # through a sync socket, and from an older sender that named the field "syscall"
    a, b = Channel.pair()
    try:
        a.send_error(exc)
        with pytest.raises(SyscallError) as got:
            b.expect("anything")
        assert (got.value.op, got.value.path, got.value.errno) == ("pivot_root", "/x", errno.EINVAL)
    finally:
        a.close()
        b.close()
    assert from_wire({"kind": "syscall", "syscall": "mount", "path": "/y", "errno": 1}).op == "mount"


def test_syscall_error_survives_pickling():
    """run_in_userns's helpers send their exceptions pickled."""
    import pickle

    back = pickle.loads(pickle.dumps(SyscallError("setns", "/proc/1/ns/net", errno.EPERM)))
    assert (back.op, back.path, back.errno) == ("setns", "/proc/1/ns/net", errno.EPERM)


def test_the_real_calls_raise_syscall_errors(tmp_path):
    sc = S.Syscalls()
    with pytest.raises(SyscallError) as got:
        sc.umount2(str(tmp_path / "not-there"))
    assert (got.value.op, got.value.path, got.value.errno) == ("umount2", str(tmp_path / "not-there"), errno.ENOENT)
    r, w = os.pipe()
    try:
        with pytest.raises(SyscallError) as got:
            sc.get_winsize(r)
        assert (got.value.op, got.value.errno) == ("ioctl(TIOCGWINSZ)", errno.ENOTTY)
        with pytest.raises(OSError):            # caught as before, by `except OSError`
            sc.set_controlling_terminal(w)
    finally:
        os.close(r)
        os.close(w)
    with pytest.raises(SyscallError) as got:
        sc.setns(-1, S.CLONE_NEWNET, "nowhere")
    assert str(got.value) == "setns `" + os.path.join(os.getcwd(), "nowhere") + "`: Bad file descriptor"


def test_terminal_calls_need_no_ctypes():
    """The monitor resizes terminals through the syscalls object: ctypes stays out of it."""
    script = ("import os, sys\nfrom rootless import syscalls\nm, s = os.openpty()\n"
              "syscalls.default().set_winsize(m, 30, 100)\nassert syscalls.default().get_winsize(s) == (30, 100)\n"
              "assert 'ctypes' not in sys.modules, 'ctypes imported'\n")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=str(ROOT),
                   env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_the_recorder_has_only_real_methods():
    rec = Recorder(-1)
    with pytest.raises(AttributeError):
        rec.no_such_call
    with pytest.raises(TypeError):
        rec.unshare()                          # the real signature takes flags



def test_libc_calls_bind_without_the_ctypes_package():
    """libc's calls go through _ctypes with the few C types they take declared by the binding:
    the ctypes package stays unimported, and values cross both ways (a structure filled by the
    kernel, a pointer to a buffer, errno on failure)."""
    script = (
        "import os, sys, resource\n"
        "from rootless import syscalls as S\n"
        "from rootless._ffi.libc import _fprog\n"
        "from rootless.errors import SyscallError\n"
        "sc = S.default()\n"
        "eff, prm, inh = sc._libc.capget()\n"
        "assert eff == prm and inh == 0, (eff, prm, inh)\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "sc._libc.prlimit(resource.RLIMIT_NOFILE, soft - 1, hard, 'nofile')\n"
        "assert resource.getrlimit(resource.RLIMIT_NOFILE) == (soft - 1, hard)\n"
        "prog, buf = _fprog(bytes(range(16)))\n"
        "assert prog.len == 2 and bytes(buf) == bytes(range(16))\n"
        "try:\n"
        "    sc.umount2('/no/such/mount/point', 0)\n"
        "except SyscallError as exc:\n"
        "    assert exc.errno in (1, 2), exc\n"
        "else:\n"
        "    raise AssertionError('umount2 of nothing succeeded')\n"
        "assert 'ctypes' not in sys.modules, 'ctypes imported'\n")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=str(ROOT),
                   env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_dev_nodes_get_their_mount_points_also_where_one_is_there_already(tmp_path):
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "null").write_text("")          # made already (not on a fresh tmpfs)
    mounted = []

    class Sc:
        def mount(self, source, target, fstype=None, flags=0, data=None):
            mounted.append((source, target))

    rootfs.populate_dev(Sc(), str(tmp_path))
    assert mounted == [(f"/dev/{d}", str(tmp_path / "dev" / d)) for d in rootfs.DEVICES]
    assert all((tmp_path / "dev" / d).is_file() for d in rootfs.DEVICES)
    assert os.readlink(tmp_path / "dev" / "stdin") == "/proc/self/fd/0"
