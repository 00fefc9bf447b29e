"""Signals podpy receives while it supervises a process in the foreground (a container's
PID 1, an exec'd process), passed on to it (remembered until its pid is known)."""

from __future__ import annotations

import _signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGUSR1, _signal.SIGUSR2)


class Forwarder:
    """Signal handlers that pass signals to the container (remembered until its pid is known);
    with proxy False (`run --sig-proxy=false`) they are taken and dropped: the container runs on,
    and this podpy, which supervises it, with it."""

    def __init__(self, proxy: bool = True) -> None:
        self.target: Optional[Callable[[int], None]] = None
        self.pending: list[int] = []
        self.old: dict[int, Any] = {}
        self.proxy = proxy

    def __enter__(self) -> "Forwarder":
        for sig in FORWARDED:
            self.old[sig] = _signal.signal(sig, self._handle)
        return self

    def _handle(self, sig: int, _frame: object) -> None:
        if not self.proxy:
            return
        if self.target is None:
            self.pending.append(sig)
        else:
            self.target(sig)

    def attach(self, target: Callable[[int], None]) -> None:
        self.target = target
        for sig in self.pending:
            target(sig)
        self.pending.clear()

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.old.items():
            _signal.signal(sig, handler)
