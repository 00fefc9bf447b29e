"""One monitor per runtime directory: a second one started while the first serves leaves at
once (it used to wait five seconds for the lock, and was seen as a second monitor)."""

from __future__ import annotations

import fcntl
import os
import time

from podpy.monitor import service
from podpy.monitor.channel import LOCK, SOCKET
from rootless import sync


def test_a_second_monitor_leaves_at_once_when_the_first_serves(tmp_path):
    root = str(tmp_path)
    held = os.open(os.path.join(root, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(held, fcntl.LOCK_EX)
    listening = sync.listen(root, SOCKET, 4)
    try:
        start = time.monotonic()
        assert service._take_lock(root) == -1
        assert time.monotonic() - start < 1.0
    finally:
        listening.close()
        os.close(held)


def test_a_monitor_waits_for_one_that_is_leaving(tmp_path):
    root = str(tmp_path)
    held = os.open(os.path.join(root, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(held, fcntl.LOCK_EX)
    pid = os.fork()
    if pid == 0:   # the leaving monitor: no socket, the lock released a moment later
        time.sleep(0.3)
        os._exit(0)
    os.close(held)   # the child's copy holds the lock until it exits
    try:
        fd = service._take_lock(root)
        assert fd >= 0
        with open(os.path.join(root, LOCK)) as f:
            assert f.read().strip() == str(os.getpid())
        os.close(fd)
    finally:
        os.waitpid(pid, 0)
