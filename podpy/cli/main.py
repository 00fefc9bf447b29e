"""The entry point: global flags, then either the fast path (`run`, `create`) or typer.

Exit codes, as podman's: 125 for podpy's own errors (including unknown flags
and bad values), 126 when the container's command cannot be invoked, 127 when
it is not found, otherwise the container's own exit code.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional
    from ..engine.runtime import Runtime

# Global flags that take a value; they may come before the command.
GLOBAL_WITH_VALUE = ("--root", "--runroot", "--storage-driver", "--log-level")
FAST = ("run", "create", "exec")


class Globals:
    """The global flags of one command line."""

    def __init__(self, root: Optional[str] = None, runroot: Optional[str] = None,
                 storage_driver: Optional[str] = None) -> None:
        self.root = root
        self.runroot = runroot
        self.storage_driver = storage_driver


def split_globals(args: list[str]) -> tuple[Optional[Globals], Optional[str], list[str]]:
    """(globals, command, the command's arguments) when only value-taking global
    flags precede the command; (None, ...) when typer must parse the line."""
    g = Globals()
    i = 0
    while i < len(args):
        a = args[i]
        name, eq, value = a.partition("=")
        if name in GLOBAL_WITH_VALUE:
            if not eq:
                if i + 1 >= len(args):
                    return None, None, args
                value = args[i + 1]
                i += 1
            if name != "--log-level":
                setattr(g, name[2:].replace("-", "_"), value)
        elif a.startswith("-"):
            return None, None, args
        else:
            return g, a, args[i + 1:]
        i += 1
    return None, None, args


def guarded(fn: Callable[[], int]) -> int:
    """Run fn; podpy's errors become one `Error:` line and their exit code."""
    from ..errors import PodpyError
    from . import render

    try:
        return fn()
    except PodpyError as exc:
        render.error(str(exc))
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
        return 125


def run_or_create(command: str, args: list[str], g: Globals) -> int:
    """`podpy run` and `podpy create`: parse, create, and for run start in the foreground."""
    from ..engine import containers as ce
    from ..engine.create import CreateOptions, create
    from ..engine.runtime import Runtime
    from . import render, runargs

    fields = runargs.parse(command, args)
    if fields is None:
        return 0
    if fields.get("preserve_fds"):
        _check_inherited_fds(fields["preserve_fds"])
    if fields["tty"] and fields["interactive"] and not fields["detach"] and not sys.stdin.isatty():
        render.warn("The input device is not a TTY. The --tty and --interactive flags might not work properly")
    rt = Runtime.open(g.root, g.runroot, g.storage_driver)
    rt.reconcile()
    if fields["pull"] != "never":
        _pull_if_needed(rt, fields["image"], fields["pull"] or "missing")
    rec = create(rt, CreateOptions(**fields, create_command=["podpy", *sys.argv[1:]]), for_run=command == "run")
    for line in rt.cfg.warnings:
        render.warn(line)
    if command == "create":
        render.out(rec.id)
        return 0
    if fields["detach"]:
        from ..engine.detached import start_detached

        start_detached(rt, rec, render.warn)
        render.out(rec.id)
        return 0
    sys.stdout.flush()
    return ce.start_attached(rt, rec, render.warn)


def _check_inherited_fds(value: str) -> None:
    """--preserve-fds N: 3..3+N-1 must be open now, before podpy opens anything of its own."""
    from ..errors import InvalidArgument

    if not value.isdigit():
        raise InvalidArgument(f"invalid --preserve-fds {value!r}: expected a number")
    for fd in range(3, 3 + int(value)):
        try:
            os.fstat(fd)
        except OSError:
            raise InvalidArgument(f"--preserve-fds {value}: file descriptor {fd} is not open") from None


def _pull_if_needed(rt: "Runtime", image: str, policy: str) -> None:
    from storage.errors import StorageError

    from . import render

    if policy == "missing":
        try:
            rt.store.image(image, rt.cfg.short_names)
            return
        except StorageError:
            pass  # not here: pull it, as podman does
    from ..engine.pull import ensure_image

    ensure_image(rt, image, policy, lambda line: render.err_line(line))


def exec_command(args: list[str], g: Globals) -> int:
    """`podpy exec`: parsed here too, for the same reason as run."""
    from ..engine.execute import ExecOptions, exec_
    from ..engine.runtime import Runtime
    from . import render, runargs

    fields = runargs.parse("exec", args)
    if fields and fields.get("preserve_fds"):
        _check_inherited_fds(fields["preserve_fds"])
    if fields is None:
        return 0
    if fields["tty"] and fields["interactive"] and not fields["detach"] and not sys.stdin.isatty():
        render.warn("The input device is not a TTY. The --tty and --interactive flags might not work properly")
    rt = Runtime.open(g.root, g.runroot, g.storage_driver)
    sys.stdout.flush()
    return exec_(rt, ExecOptions(**fields), lambda: None)


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    g, command, rest = split_globals(args)
    if g is not None and command == "exec":
        return guarded(lambda: exec_command(rest, g))
    if g is not None and command in FAST:
        return guarded(lambda: run_or_create(str(command), rest, g))
    from .app import main as typer_main

    return typer_main(args, command)
