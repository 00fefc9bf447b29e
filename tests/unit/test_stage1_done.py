"""The host side learns a container's exit status from stage 1's pipe, without waiting for
stage 1's own exit, and waits for stage 1 to be done (its after_exit) only in finish()."""

import os
import time

from rootless import parent


def _stage1(lines: list[bytes], linger: float, then_exit: float = 0.0, code: int = 0) -> parent.Container:
    """A stand-in stage 1: writes lines on its pipe, keeps it open for linger seconds, then
    closes it and exits then_exit seconds later (status code)."""
    r, w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            for line in lines:
                os.write(w, line)
            time.sleep(linger)
            os.close(w)
            time.sleep(then_exit)
        finally:
            os._exit(code)
    os.close(w)
    return parent.Container(stage1_pid=pid, pid=pid, done_fd=r)


def test_the_status_comes_before_stage1_is_done_and_finish_waits_for_that_only():
    ctr = _stage1([b"7\n"], linger=0.3, then_exit=0.5, code=9)
    t = time.monotonic()
    assert ctr.wait(finish=False) == 7   # the init's status, not stage 1's exit code
    assert time.monotonic() - t < 0.25
    ctr.finish()
    waited = time.monotonic() - t
    assert 0.25 < waited < 0.7   # the end of the pipe, not the exit half a second later
    assert ctr.done_fd is None
    assert ctr.stage1_pid in parent._left   # still exiting: left for later
    time.sleep(0.7)
    parent.reap_left()
    assert ctr.stage1_pid not in parent._left
    assert not os.path.exists(f"/proc/{ctr.stage1_pid}")   # reaped, no zombie left


def test_a_stage1_that_ends_without_telling_gives_its_own_status():
    ctr = _stage1([], linger=0, code=3)   # killed before it wrote, say
    assert ctr.wait() == 3
    assert ctr.done_fd is None and ctr.stage1_pid not in parent._left


def test_a_signal_that_killed_the_init_is_128_plus_its_number():
    ctr = _stage1([b"137\n"], linger=0)
    assert ctr.wait() == 137
    parent.reap_left()



def test_stage1_is_done_before_the_removal_after_exit_leaves_for_later():
    """after_exit may return the slow part of its work (discard: the removal of the directory
    it moved aside): stage 1 closes its pipe first (the host side is told it is done), with
    its parent's death no longer its own, and only then does it."""
    from rootless.stage1 import _after_exit

    order = []
    r, w = os.pipe()

    class Sc:
        def set_pdeathsig(self, sig):
            order.append(("pdeathsig", sig))

    def rest():
        order.append(("rest", os.read(r, 10)))   # the pipe's end is there already: EOF

    _after_exit(Sc(), w, ("builtins", "getattr", (rest, "__call__")), devnull=False)
    assert order == [("pdeathsig", 0), ("rest", b"")]
    os.close(r)


def test_an_after_exit_with_nothing_left_closes_the_pipe_and_keeps_pdeathsig():
    from rootless.stage1 import _after_exit

    calls = []
    r, w = os.pipe()

    class Sc:
        def set_pdeathsig(self, sig):
            calls.append(sig)

    _after_exit(Sc(), w, ("os.path", "exists", ("/nonexistent",)))
    assert os.read(r, 10) == b"" and calls == []
    os.close(r)


def test_a_rm_runs_runtime_directory_goes_with_its_container_unless_poststop_hooks_read_it():
    from types import SimpleNamespace

    from podpy.engine.foreground import _run_dir_after

    rt = SimpleNamespace(container_run_dir=lambda cid: f"/run/podpy/containers/{cid}")
    rec = SimpleNamespace(id="c0ffee")
    assert _run_dir_after(rt, rec, {"hooks": {}}) == ("/run/podpy/containers/c0ffee",)
    assert _run_dir_after(rt, rec, {}) == ("/run/podpy/containers/c0ffee",)
    assert _run_dir_after(rt, rec, {"hooks": {"poststop": [{"path": "/bin/true"}]}}) == ()
