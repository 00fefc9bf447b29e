"""The fork of a foreground run's stage 1 at the very start of podpy's `main`, before anything
is parsed (ahead.py says why), with the least done before it: the host side's every page
written after the fork while stage 1 lives is a copy, so nothing is imported for it but the
socket module. `ahead.start` adopts what is forked here (`take`); stage 1 itself is ahead.py's."""

import os

_forked = None   # (pid, the host side's socket, the write end of stage 1's pipe), until taken


def fork() -> None:
    """Fork stage 1 now (nothing when it cannot be: a later start forks its own)."""
    global _forked
    import _socket

    try:
        host, inside = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    except OSError:
        return
    try:
        spec_r, spec_w = os.pipe2(os.O_CLOEXEC)
    except OSError:
        host.close()
        inside.close()
        return
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        for fd in (spec_r, spec_w):
            os.close(fd)
        host.close()
        inside.close()
        return
    if pid == 0:
        os.close(spec_w)
        from .ahead import early_stage1

        early_stage1(inside, spec_r, host.fileno(), parent)
    os.close(spec_r)
    inside.close()
    _forked = (pid, host, spec_w)


def take():  # type: ignore[no-untyped-def]
    """What fork() forked, once (None: nothing)."""
    global _forked
    forked, _forked = _forked, None
    return forked
