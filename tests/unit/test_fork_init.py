"""Stage 1 forks the container's init straight into its cgroup (clone3 with CLONE_INTO_CGROUP)
where it can, and says so; where it cannot, or where the kernel kills the child at birth, it
forks the ordinary way and the host side moves the init as before. Each case checks where
the child really is, from the child itself."""

from __future__ import annotations

import os
import uuid

import pytest

from rootless import cgroupfork, cgroups
from rootless import syscalls as S
from rootless.errors import SyscallError

from forked import in_child as _in_helper  # helper module beside this file (the test process keeps its cgroup)


def _writable_cgroup2() -> str:
    mount = cgroups.cgroup2_mount()
    if mount is None or not os.access(os.path.join(mount, "cgroup.procs"), os.W_OK):
        pytest.skip("needs a cgroup2 hierarchy this user may make cgroups in (the unit tests run as root)")
    return mount


@pytest.fixture
def cgroup_dirs():
    """Make cgroups under the cgroup2 mount; all removed afterwards (their processes are gone)."""
    mount = _writable_cgroup2()
    made: list[str] = []

    def make(parent: str = "") -> str:
        path = os.path.join(parent or mount, f"podpy-test-{uuid.uuid4().hex[:12]}")
        os.mkdir(path)
        made.append(path)
        return path

    yield make
    for path in reversed(made):
        try:
            os.rmdir(path)
        except OSError:
            pass


def _reap_code(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _cgroup_of_self() -> str:
    with open("/proc/self/cgroup") as f:
        return next(line[3:].strip() for line in f if line.startswith("0::"))


def _killed_cgroup(cgroup_dirs) -> str:
    """A new cgroup that cgroup.kill went through while empty: nothing died, its count went up."""
    home = cgroup_dirs()
    if not os.path.exists(os.path.join(home, "cgroup.kill")):
        pytest.skip("this kernel has no cgroup.kill")
    with open(os.path.join(home, "cgroup.kill"), "w") as f:
        f.write("1")
    return home


def _kernel_kills_at_birth(target: str) -> bool:
    """The kernel's own answer, from the caller's cgroup: is a bare clone3 child into target
    killed at birth?"""
    fd = os.open(target, os.O_PATH | os.O_DIRECTORY)
    pid = S.default().fork_into_cgroup(fd, target)
    if pid == 0:
        os._exit(0)
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9


def _fork_and_report(sc, target: str | None, mount: str, flags: int = 0) -> int:
    """fork_init into target; the child exits 0 when it is where fork_init said it is born
    (and, with CLONE_NEWPID, the first process of a new PID namespace)."""
    want = "/" + os.path.relpath(target, mount) if target else None
    r, w = os.pipe()
    pid, in_cgroup = cgroupfork.fork_init(sc, target, flags)
    if pid == 0:
        here = _cgroup_of_self()
        first = os.getpid() == 1 if flags & S.CLONE_NEWPID else True
        os._exit(0 if (here == want) == in_cgroup and first else 1)
    os.close(w)
    os.close(r)
    code = _reap_code(pid)
    return code * 10 + (2 if in_cgroup else 3)


def test_the_init_is_born_in_its_cgroup(cgroup_dirs):
    target = cgroup_dirs()
    mount = cgroups.cgroup2_mount()
    # a fresh cgroup to start from, as a user's session, so nothing earlier bears on it
    home = cgroup_dirs()

    def body() -> int:
        with open(os.path.join(home, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        return _fork_and_report(S.default(), target, mount)

    assert _in_helper(body) == 2   # the child is in target, and fork_init said so


def test_a_child_killed_at_birth_is_forked_again_outside(cgroup_dirs):
    """Kernels that compare the caller's cgroup kill count with the target's kill a clone3
    child whose caller sits in a cgroup killed before (cgroup.kill); fork_init then forks it
    the ordinary way. On a kernel without that flaw the child is born in the target."""
    mount = cgroups.cgroup2_mount()
    home = _killed_cgroup(cgroup_dirs)
    target = cgroup_dirs()

    def body() -> int:
        with open(os.path.join(home, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        # the kernel's own answer first: does a bare clone3 child live?
        flawed = _kernel_kills_at_birth(target)
        return 100 * flawed + _fork_and_report(S.default(), target, mount)

    # alive (no tens), and outside the target where the kernel kills, born in it where it does not
    assert _in_helper(body) in (103, 2)

    def body_new_pid() -> int:
        """The init's PID namespace comes with its clone: a clone killed at birth must leave
        the fork after it a namespace to be the first process of."""
        with open(os.path.join(home, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        return _fork_and_report(S.default(), target, mount, S.CLONE_NEWPID)

    assert _in_helper(body_new_pid) in (3, 2)   # never 13: the child lives, as PID 1


def test_no_cgroup_or_a_refused_clone_gives_an_ordinary_fork(cgroup_dirs):
    mount = cgroups.cgroup2_mount()

    class Refusing:
        def fork_into_cgroup(self, fd: int, path: str = "", flags: int = 0) -> int:
            raise SyscallError("clone3", path, 38)   # ENOSYS: a kernel before 5.7

    target = cgroup_dirs()
    assert _in_helper(lambda: _fork_and_report(Refusing(), target, mount)) == 3
    assert _in_helper(lambda: _fork_and_report(Refusing(), None, mount)) == 3
    gone = os.path.join(mount, "podpy-test-missing")
    assert _in_helper(lambda: _fork_and_report(S.default(), gone, mount)) == 3


def test_killed_at_birth_reads_the_child_state():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    while True:   # a zombie: gone before it could run
        with open(f"/proc/{pid}/status") as f:
            if "\nState:\tZ" in f.read():
                break
    assert cgroupfork.killed_at_birth(pid)
    os.waitpid(pid, 0)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.read(r, 1)
        os._exit(0)
    try:
        assert not cgroupfork.killed_at_birth(pid)   # alive, nothing pending
    finally:
        os.write(w, b"x")
        os.waitpid(pid, 0)


def test_fork_in_cgroup_reads_the_childs_state_through_a_given_proc(cgroup_dirs):
    """exec's stage is in the container's mount namespace when it forks, where /proc is the
    container's: it passes a descriptor of its own /proc, opened before."""
    mount = cgroups.cgroup2_mount()
    target = cgroup_dirs()
    home = cgroup_dirs()
    proc = os.open("/proc", os.O_PATH | os.O_DIRECTORY)

    def body() -> int:
        with open(os.path.join(home, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        fd = os.open(target, os.O_PATH | os.O_DIRECTORY)
        pid = cgroupfork.fork_in_cgroup(S.default(), fd, target, proc)
        if pid == 0:
            os._exit(0 if _cgroup_of_self() == "/" + os.path.relpath(target, mount) else 1)
        return _reap_code(pid) if pid > 0 else 2

    try:
        assert _in_helper(body) == 0
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        while True:   # a zombie: gone
            with open(f"/proc/{pid}/status") as f:
                if "\nState:\tZ" in f.read():
                    break
        assert cgroupfork.killed_at_birth(pid, proc)
        os.waitpid(pid, 0)
    finally:
        os.close(proc)


# -- system doctor's probe of the same ---------------------------------------------------------

def _no_scratch_left(path: str) -> bool:
    return not any(name.startswith("podpy-doctor-") for name in os.listdir(path))


def test_doctor_finds_a_first_process_born_in_its_cgroup(cgroup_dirs):
    from podpy.engine import doctor

    home = cgroup_dirs()

    def body() -> int:
        with open(os.path.join(home, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        found = doctor.cgroup_fork_finding(home)
        return 0 if (found.status, found.fix) == ("ok", "") and _no_scratch_left(home) else 1

    assert _in_helper(body) == 0


def test_doctor_warns_where_the_kernel_kills_a_child_born_in_a_cgroup(cgroup_dirs):
    """From a cgroup that cgroup.kill went through: a warning with the way out where the kernel
    kills such a child (its own answer, asked with a bare clone), ok where it does not."""
    from podpy.engine import doctor

    home = _killed_cgroup(cgroup_dirs)
    bare = cgroup_dirs(home)

    def body() -> int:
        with open(os.path.join(home, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        flawed = _kernel_kills_at_birth(bare)
        found = doctor.cgroup_fork_finding(home)
        if flawed:
            right = (found.status == "warn" and "kills a child cloned into a new cgroup" in found.message
                     and "1 to 10 ms slower" in found.message and f"echo $$ > {home}/session/cgroup.procs" in found.fix)
        else:
            right = found.status == "ok"
        return (0 if right else 1) + (10 if _no_scratch_left(home) else 20)

    assert _in_helper(body) == 10


def test_doctor_warns_where_the_kernel_does_not_clone_into_a_cgroup(cgroup_dirs, monkeypatch):
    from podpy.engine import doctor

    def refused(self, fd, path="", flags=0):
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(S.Syscalls, "fork_into_cgroup", refused)
    home = cgroup_dirs()
    found = doctor.cgroup_fork_finding(home)
    assert found.status == "warn" and found.fix == ""
    assert found.message == ("this kernel does not clone into a cgroup (Function not implemented; Linux 5.7 and "
                             "later do): each start moves the container's first process into its cgroup instead, "
                             "1 to 10 ms slower")
    assert _no_scratch_left(home)


def test_doctor_says_when_no_cgroup_can_be_made(tmp_path):
    from podpy.engine import doctor

    found = doctor.cgroup_fork_finding(str(tmp_path / "gone"))
    assert found.status == "warn"
    assert found.message.startswith(f"no cgroup can be made in {tmp_path / 'gone'} (No such file or directory)")
