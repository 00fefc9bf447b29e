"""The entry point: global flags (globalflags.py), then either the fast path (`run`, `create`,
`exec` always; `pod create` and `kube play` when fastcmds.py can parse their command line) or
typer.

Exit codes, as podman's: 125 for podpy's own errors (including unknown flags
and bad values), 126 when the container's command cannot be invoked, 127 when
it is not found, otherwise the container's own exit code.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

from .common import guarded
from .globalflags import Globals, lift, parse

FAST = ("run", "create", "exec")
FAST_TYPER = ("pod create", "kube play", "play kube", "kube down")   # typer's commands that fastcmds.py parses when it can


def split_globals(args: list[str]) -> tuple[Globals, Optional[str], list[str]]:
    """(the global flags, the command or None, the command's arguments)."""
    g, rest = parse(args)
    return g, (rest[0] if rest else None), rest[1:]


def _discard_early_stage1() -> None:
    """Let go the stage 1 that `main` forked for what looked like a foreground run
    (rootless/ahead.py), if it did: before --preserve-fds counts descriptors, its pipes closed."""
    early = sys.modules.get("rootless.early")
    forked = early.take() if early is not None else None
    if forked is not None:
        from rootless.ahead import let_go

        let_go(forked)


def run_or_create(command: str, fields: dict, g: Globals) -> int:
    """`podpy run` and `podpy create` (their command line parsed by runargs): create, and for
    run start in the foreground."""
    from ..engine.runoptions import CreateOptions
    from . import render

    opts = CreateOptions(**fields, create_command=["podpy", *sys.argv[1:]])
    if command != "run" or opts.preserve_fds or g.is_remote():
        _discard_early_stage1()
    if g.is_remote():
        remote = g.remote_engine("containers", command, render.warn)
        if command == "create":
            render.out(remote.create(opts).id)
            return 0
        return int(remote.run(opts, on_detached=render.out))
    from ..engine.runverbs import RunVerbs   # ContainerEngine's run and create, without its other verbs

    if opts.preserve_fds:
        _check_inherited_fds(opts.preserve_fds)
    if opts.tty and opts.interactive and not opts.detach and not sys.stdin.isatty():
        render.warn("The input device is not a TTY. The --tty and --interactive flags might not work properly")
    engine = RunVerbs(g.open_runtime(), render.warn, None if opts.quiet else render.err_line)
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


def exec_command(fields: dict, g: Globals) -> int:
    """`podpy exec` (its command line parsed by runargs, for the same reason as run's)."""
    from ..engine.execute import ExecOptions, exec_
    from . import render

    opts = ExecOptions(**fields)
    if g.is_remote():
        from ..remote.run import exec_ as remote_exec

        return remote_exec(g.remote_engine("containers", "exec", render.warn), opts)
    if opts.preserve_fds:
        _check_inherited_fds(opts.preserve_fds)
    if opts.tty and opts.interactive and not opts.detach and not sys.stdin.isatty():
        render.warn("The input device is not a TTY. The --tty and --interactive flags might not work properly")
    rt = g.open_runtime()
    sys.stdout.flush()
    return exec_(rt, opts, lambda: None)


def _service_args(rest: list[str]) -> Optional[tuple[int, Optional[str], Optional[str]]]:
    """`system service [-t|--time N] [--cors ORIGIN] [URI]` as (time, uri, cors): the API service
    starts without typer (socket activation waits for it); None for anything else, which typer
    parses and refuses."""
    if not rest or rest[0] != "service":
        return None
    words, time_value, uri, cors = rest[1:], "5", None, None
    while words:
        word = words.pop(0)
        if word in ("-t", "--time") and words:
            time_value = words.pop(0)
        elif word.startswith("--time="):
            time_value = word[len("--time="):]
        elif word == "--cors" and words:
            cors = words.pop(0)
        elif word.startswith("--cors="):
            cors = word[len("--cors="):]
        elif word.startswith("-t") and len(word) > 2:
            time_value = word[2:]
        elif not word.startswith("-") and uri is None:
            uri = word
        else:
            return None
    return (int(time_value), uri, cors) if time_value.isdigit() else None


def serve_command(g: Globals, idle_time: int, uri: Optional[str], cors: Optional[str] = None) -> int:
    """`podpy system service` (also cli/service.py's command): serve the store the global flags
    name, each request with a Runtime of its own; cors: the origin the CORS headers allow."""
    from ..api.http import log_to_stderr
    from ..api.service import serve

    settings = g.engine_settings()

    def open_runtime() -> Any:
        # the engine is imported with the first request that needs it: a socket-activated
        # service answers its first connection sooner
        from ..engine.context import Runtime

        return Runtime.open(g.root, g.runroot, g.storage_driver, g.storage_opts, settings)

    def warn(line: str) -> None:
        from . import render

        render.warn(line)

    serve(uri, idle_time, open_runtime, warn, log_to_stderr, cors=cors)
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if os.environ.get("_PODPY_COMPLETE"):   # a completion script asking (podpy completion)
        from .shell import complete

        return complete(os.environ["_PODPY_COMPLETE"])
    return guarded(lambda: dispatch(args))


def dispatch(args: list[str]) -> int:
    """Global flags (before the command, and podman's persistent ones after it) checked and
    applied, then the command: the fast path's or typer's."""
    g, command, rest = split_globals(args)
    fields = params = None
    path = ""
    fast = command
    if command == "container" and rest and rest[0] in FAST:   # `podpy container run`: the same
        fast, rest = rest[0], rest[1:]
    if not g.help and fast in FAST:
        from .. import preload
        from ..engine import paths

        preload(paths.PATHS[fast])
        from . import runargs

        invoked = f"{command} {fast}" if command != fast else str(fast)
        command = fast
        fields = runargs.parse(str(command), rest, g, invoked)
        if fields is None:   # --help, answered
            return 0
    elif command == "quadlet" and not g.help and not {"-h", "--help", "-help"} & set(rest):
        # Go-style flags (-v is not --version here): straight to the generator, without typer
        from ..quadlet.generator import main as generator

        return generator(rest)
    elif command and not g.help:
        rest = lift(g, [command, *rest])[1:]
        path = " ".join([command, *rest[:1]])
        if path in FAST_TYPER:   # `pod create`, `kube play`: parsed without typer when they can be
            from . import fastcmds

            params = fastcmds.parse(path, rest[1:])
    service = _service_args(rest) if command == "system" and not g.help else None
    g.check()   # a bad value stops the command line here, before anything is done
    from ..config import check_containers_conf_override

    missing = check_containers_conf_override()
    if missing is not None:   # podman logs it and stops, exit 1
        from . import render

        render.log_error(missing)
        return 1
    g.apply(args)
    if service is not None:
        return serve_command(g, *service)
    if g.version:
        from .. import __version__

        sys.stdout.write(f"podpy version {__version__}\n")
        return 0
    if fields is not None and command == "exec":
        return exec_command(fields, g)
    if fields is not None:
        return run_or_create(str(command), fields, g)
    if params is not None:
        from . import fastcmds

        return fastcmds.run(path, params, g)
    from .app import main as typer_main

    words = [str(command), *rest] if command else []
    return typer_main([*words, "--help"] if g.help else words, command, g)
