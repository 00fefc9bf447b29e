"""What both entry paths share (the fast path in main.py and typer's in app.py): the
global flags of one command line (globalflags.py), and the guard that turns errors into
one line and an exit code."""

from __future__ import annotations

import os

from .globalflags import Globals, program

__all__ = ["Globals", "guarded", "program"]   # Globals: where the CLI's modules find it

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable


def guarded(fn: Callable[[], int]) -> int:
    """Run fn; podpy's errors become one `Error:` line and their exit code."""
    from ..errors import PodpyError, UsageError
    from . import render

    try:
        return fn()
    except UsageError as exc:
        (render.err_line if exc.bare else render.error)(str(exc))
        if exc.hint:
            render.err_line(exc.hint)
        return exc.exit_code
    except PodpyError as exc:
        render.error(str(exc))
        _host_cause(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback (PODPY_DEBUG=1 shows it)
        if os.environ.get("PODPY_DEBUG"):
            raise
        from ..errors import translate

        render.error(str(translate(exc)))
        _host_cause(exc)
        return 125
    finally:
        _tidy()


def _host_cause(exc: BaseException) -> None:
    """After the error: one line naming the host's problem behind it, when a check of
    `system doctor` finds one (an error of the container's own command has none)."""
    from ..errors import ExecFailed
    from . import render

    if isinstance(exc, ExecFailed):
        return
    try:
        from ..engine.doctor import cause_of

        line = cause_of(exc, os.geteuid() != 0)
    except Exception:  # noqa: BLE001 - the hint must never hide the error
        line = None
    if line:
        render.cause(line)


def _tidy() -> None:
    """The command is done with the database: the layers it installed for an image it did not
    record go (store.release_all_claims), and a WAL grown large goes back into it (db.tidy_all;
    only when those modules were loaded: `version` and `--help` never open the database)."""
    import sys

    client = sys.modules.get("podpy.remote.client")
    if client is not None:   # a remote command's ssh forward ends with it
        client.close_all()
    store = sys.modules.get("storage.store")
    if store is not None:
        store.release_all_claims()
    db = sys.modules.get("storage.db")
    if db is not None:
        db.tidy_all()
