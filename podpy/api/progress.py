"""Long image work (pull, push, build, load) as Docker's JSON message stream.

The work runs in a thread of its own (with a Runtime of its own: a SQLite connection belongs
to one thread) and hands messages to the response through a queue. Until the first message
an error is still the response's status (a pull of an unknown image is a 404, as Docker
answers it); after it, an error is the stream's last line, {"errorDetail": {"message": M},
"error": M}, which the docker CLI prints and exits 1 on.
"""

from __future__ import annotations

import json
import queue
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterator, Optional

    from .errors import ApiError
    from .http import Request

_DONE = object()


def line(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode() + b"\n"


def error_line(message: str) -> bytes:
    return line({"errorDetail": {"message": message}, "error": message})


def run(req: Request, work: Callable[[Any, Callable[[dict[str, Any]], None]], Any],
        finish: Optional[Callable[[Any], list[dict[str, Any]]]] = None,
        describe: Optional[Callable[[BaseException], ApiError]] = None) -> Iterator[bytes]:
    """work(runtime, emit) in a thread; its messages, then finish(result)'s, as lines;
    describe: the error to give for what the work raised (from_engine's by default)."""
    from .errors import from_engine
    from .http import close_runtime

    messages: queue.Queue[Any] = queue.Queue()
    outcome: dict[str, Any] = {}

    def target() -> None:
        rt = None
        try:
            rt = req.conn.app.open_runtime()
            outcome["value"] = work(rt, messages.put)
        except BaseException as exc:  # noqa: BLE001 - the stream says it
            outcome["error"] = exc
        finally:
            if rt is not None:
                close_runtime(rt)
            messages.put(_DONE)

    threading.Thread(target=target, daemon=True, name="api-work").start()
    sent = False
    while True:
        item = messages.get()
        if item is _DONE:
            break
        sent = True
        yield line(item)
    error = outcome.get("error")
    if error is not None:
        err = (describe or from_engine)(error)
        if not sent:
            raise err
        yield error_line(err.message)
        return
    for doc in (finish(outcome.get("value")) if finish is not None else []):
        yield line(doc)


class Bars:
    """Docker's per-layer progress messages from the engine's progress(label, total) ->
    advance(n) callbacks: "Downloading"/"Pushing" with current and total (at most every
    tenth of the total), then the done words."""

    def __init__(self, emit: Callable[[dict[str, Any]], None], doing: str, done: tuple[str, ...]) -> None:
        self.emit, self.doing, self.done = emit, doing, done
        self.lock = threading.Lock()
        self.seen: set[str] = set()

    def __call__(self, label: str, total: int) -> Callable[[int], None]:
        state = {"current": 0, "shown": 0}
        self.seen.add(label)

        def advance(n: int) -> None:
            with self.lock:
                state["current"] += n
                current = state["current"]
                if total and current < total and current - state["shown"] < max(total // 10, 1):
                    return
                state["shown"] = current
                self.emit({"status": self.doing, "progressDetail": {"current": current, "total": total},
                           "progress": bar(current, total), "id": label})
                if total and current >= total:
                    for word in self.done:
                        self.emit({"status": word, "progressDetail": {}, "id": label})
        return advance


def bar(current: int, total: int) -> str:
    """Docker's text progress bar: [=====>      ] 1.2MB/3.4MB."""
    from ..formats import human_size

    width = 50
    filled = min(width, width * current // total) if total else 0
    arrow = "=" * max(filled - 1, 0) + (">" if filled else "")
    return f"[{arrow.ljust(width)}] {human_size(current, '')}/{human_size(total, '')}"
