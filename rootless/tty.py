"""The caller's terminal and a container's pty: raw mode, window size, relay.

The caller's terminal is put in raw mode so Ctrl-C, Ctrl-Z and friends reach
the container's line discipline as bytes; its settings are restored on every
way out (normal exit, exception, signal), because `restore` runs in `finally`.
"""

from __future__ import annotations

import _signal
import errno
import os
import select
import termios

from . import syscalls

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional


def window_size(fd: int = 0) -> Optional[tuple[int, int]]:
    """(rows, columns) of the terminal on fd, or None when it is not a terminal."""
    try:
        return syscalls.default().get_winsize(fd)
    except OSError:
        return None


def set_window_size(fd: int, rows: int, cols: int) -> None:
    try:
        syscalls.default().set_winsize(fd, rows, cols)
    except OSError:
        pass


class RawMode:
    """Context manager: the terminal on fd in raw mode, restored on exit."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved: Optional[list[Any]] = None

    def __enter__(self) -> "RawMode":
        if os.isatty(self.fd):
            self.saved = termios.tcgetattr(self.fd)
            import tty as _tty   # here: `run` without a terminal does without it

            _tty.setraw(self.fd, termios.TCSANOW)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            self.saved = None


class Escape:
    """Watches input for a key sequence (detach keys): feed() returns what to pass on, without
    the sequence, and how many times it was typed. A prefix of it at the end of one read waits
    for the next, as podman's escape proxy holds it."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.pending = b""

    def feed(self, data: bytes) -> tuple[bytes, int]:
        buf, self.pending = self.pending + data, b""
        keys, out, found, i = self.keys, bytearray(), 0, 0
        while i < len(buf):
            if buf.startswith(keys, i):
                found += 1
                i += len(keys)
                continue
            rest = buf[i:]
            if len(rest) < len(keys) and keys.startswith(rest):
                self.pending = rest
                break
            out.append(buf[i])
            i += 1
        return bytes(out), found

    def flush(self) -> bytes:
        held, self.pending = self.pending, b""
        return held


def relay(master: int, stdin_open: bool, in_fd: int = 0, out_fd: int = 1,
          escape: Optional[tuple[bytes, Callable[[], object]]] = None,
          copy: Optional[Callable[[bytes], None]] = None) -> None:
    """Copy in_fd -> master and master -> out_fd (and to copy, a log) until the container
    closes the pty.

    SIGWINCH on our terminal is passed on as the pty's new window size. escape: a key sequence
    taken out of the input, and what to do when it is typed.
    """
    watch = Escape(escape[0]) if escape else None
    def on_winch(_sig: int, _frame: object) -> None:
        size = window_size(in_fd)
        if size:
            set_window_size(master, *size)

    old = _signal.signal(_signal.SIGWINCH, on_winch)
    inputs = [master] + ([in_fd] if stdin_open else [])
    try:
        while True:
            try:
                ready, _, _ = select.select(inputs, [], [])
            except InterruptedError:
                continue
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError as exc:
                    if exc.errno == errno.EIO:  # every slave fd closed: the container is gone
                        return
                    raise
                if not data:
                    return
                _write_all(out_fd, data)
                if copy is not None:
                    copy(data)
            if in_fd in ready:
                data = os.read(in_fd, 65536)
                if watch is not None and escape is not None:
                    if data:
                        data, typed = watch.feed(data)
                        for _ in range(typed):
                            escape[1]()
                        if not data:
                            continue
                    else:
                        held = watch.flush()
                        if held:
                            _write_all(master, held)
                if not data:
                    inputs.remove(in_fd)
                    # End of input: pass an EOF character, as a terminal would.
                    try:
                        _write_all(master, b"\x04")
                    except OSError:
                        pass
                    continue
                try:
                    _write_all(master, data)
                except OSError as exc:
                    if exc.errno == errno.EIO:
                        return
                    raise
    finally:
        _signal.signal(_signal.SIGWINCH, old)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[n:]
