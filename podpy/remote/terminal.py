"""A remote container's or exec session's terminal here: this terminal in raw mode (when the
keys typed go up the stream), its size sent at each SIGWINCH, restored when done. Entered in
the main thread (where signal handlers are set); the stream is copied by the caller."""

from __future__ import annotations

import os
import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional


def size() -> Optional[tuple[int, int]]:
    from rootless.tty import window_size

    return window_size(0) if os.isatty(0) else None


class Terminal:
    """Context manager: raw mode with interactive (on a terminal), resize(rows, cols) at each
    change of this terminal's size."""

    def __init__(self, interactive: bool, resize: Callable[[int, int], None]) -> None:
        from rootless.tty import RawMode

        self.raw: Any = RawMode(0) if interactive and os.isatty(0) else None
        self.resize = resize
        self.old: Any = None

    def _winch(self, _sig: int, _frame: object) -> None:
        now = size()
        if now:
            try:
                self.resize(*now)
            except Exception:  # noqa: BLE001 - a size that does not reach the service is no failure
                pass

    def __enter__(self) -> "Terminal":
        self.old = signal.signal(signal.SIGWINCH, self._winch)
        if self.raw is not None:
            self.raw.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.raw is not None:
            self.raw.__exit__(*exc)
        signal.signal(signal.SIGWINCH, self.old)
