"""Running a test's body in a forked child, for what must not touch the test process (its
cgroup, its seccomp filter, its capabilities)."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable


def in_child(body: Callable[[], int]) -> int:
    """body() in a forked process; its exit code (99 when body raised)."""
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            code = body()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
