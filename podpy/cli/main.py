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
    from typing import Optional

from .common import Globals, guarded

# Global flags that take a value; they may come before the command.
GLOBAL_WITH_VALUE = ("--root", "--runroot", "--storage-driver", "--log-level")
FAST = ("run", "create", "exec")


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


def run_or_create(command: str, args: list[str], g: Globals) -> int:
    """`podpy run` and `podpy create`: parse, create, and for run start in the foreground."""
    from ..engine.containers import ContainerEngine
    from ..engine.context import Runtime
    from ..engine.runoptions import CreateOptions
    from . import render, runargs

    fields = runargs.parse(command, args)
    if fields is None:
        return 0
    opts = CreateOptions(**fields, create_command=["podpy", *sys.argv[1:]])
    if opts.preserve_fds:
        _check_inherited_fds(opts.preserve_fds)
    if opts.tty and opts.interactive and not opts.detach and not sys.stdin.isatty():
        render.warn("The input device is not a TTY. The --tty and --interactive flags might not work properly")
    engine = ContainerEngine(Runtime.open(g.root, g.runroot, g.storage_driver), render.warn, render.err_line)
    if command == "create":
        rec = engine.create(opts, on_replaced=render.out)
        for line in engine.rt.cfg.warnings:
            render.warn(line)
        render.out(rec.id)
        return 0
    return engine.run(opts, on_detached=render.out, on_replaced=render.out)


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


def exec_command(args: list[str], g: Globals) -> int:
    """`podpy exec`: parsed here too, for the same reason as run."""
    from ..engine.execute import ExecOptions, exec_
    from ..engine.context import Runtime
    from . import render, runargs

    fields = runargs.parse("exec", args)
    if fields is None:
        return 0
    opts = ExecOptions(**fields)
    if opts.preserve_fds:
        _check_inherited_fds(opts.preserve_fds)
    if opts.tty and opts.interactive and not opts.detach and not sys.stdin.isatty():
        render.warn("The input device is not a TTY. The --tty and --interactive flags might not work properly")
    rt = Runtime.open(g.root, g.runroot, g.storage_driver)
    sys.stdout.flush()
    return exec_(rt, opts, lambda: None)


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    g, command, rest = split_globals(args)
    if g is not None and command == "exec":
        return guarded(lambda: exec_command(rest, g))
    if g is not None and command in FAST:
        return guarded(lambda: run_or_create(str(command), rest, g))
    from .app import main as typer_main

    return typer_main(args, command)
