"""The fork of a foreground run's stage 1 at the very start of podpy's `main`, before anything
is parsed (ahead.py says why), with the least done before it: the host side's every page
written after the fork while stage 1 lives is a copy, so nothing is imported for it but the
socket module. Every stage 1 started ahead is forked here (`start`), and adopted by
`ahead.start`; what stage 1 does is ahead.py's."""

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from .userns import IdMappings

_forked = None   # what fork() forked, until taken


def start(mappings: "Optional[IdMappings]" = None, plan: "Optional[dict[str, Any]]" = None,
          ) -> "Optional[tuple[int, Any, int, bool]]":
    """Fork a stage 1 (ahead.py's) now: its pid, the host side's end of its channel, the write
    end of its pipe and whether it was given the mappings (None: not known yet, they follow
    through the pipe); None when it cannot be forked."""
    import _socket

    try:
        host, inside = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    except OSError:
        return None
    try:
        spec_r, spec_w = os.pipe2(os.O_CLOEXEC)
    except OSError:
        host.close()
        inside.close()
        return None
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        for fd in (spec_r, spec_w):
            os.close(fd)
        host.close()
        inside.close()
        return None
    if pid == 0:
        os.close(spec_w)
        from .ahead import forked_stage1

        forked_stage1(inside, spec_r, host.fileno(), parent, mappings, plan)
    os.close(spec_r)
    inside.close()
    return pid, host, spec_w, mappings is not None


def fork() -> None:
    """Fork a stage 1 at the start of podpy's main, its mappings to come, for `take`."""
    global _forked
    _forked = start()


def take():  # type: ignore[no-untyped-def]
    """What fork() forked, once (None: nothing)."""
    global _forked
    forked, _forked = _forked, None
    return forked
