"""Commands on running containers: init, stop, kill, wait, restart, pause, unpause, top, stats, logs,
attach, healthcheck run, and the clean-up the monitor runs."""

from __future__ import annotations

import json
import sys
from typing import Any, List, Optional

import typer

from . import render
from .app import runtime


def _reports(reports: List[Any], echo: bool = True, ignore_missing: bool = False) -> int:
    """Render the engine's reports: each name (as given) or its error; podman's exit codes:
    0, or 125 when any failed (with ignore_missing, a container that does not exist is no
    failure)."""
    from ..errors import NoSuchContainer

    code = 0
    for rep in reports:
        if rep.error is None:
            if echo:
                render.out(rep.name)
        elif not (ignore_missing and isinstance(rep.error, NoSuchContainer)):  # ignored: not printed either
            render.error(str(rep.error))
            code = rep.error.exit_code if rep.error.exit_code != 0 else 125
    return code


def engine(ctx: typer.Context) -> Any:
    """The container engine over this command's store."""
    from .app import remote_engine

    remote = remote_engine(ctx, "containers", render.warn)
    if remote is not None:
        return remote
    from ..engine.containers import ContainerEngine

    return ContainerEngine(runtime(ctx), render.warn, render.err_line)


def targets(names: Optional[List[str]], all_: bool = False, latest: bool = False,
            cidfiles: Optional[List[str]] = None, filters: Optional[List[str]] = None) -> List[str]:
    """podman's checks of the ways a verb names its containers (names, --all, --latest,
    --cidfile, --filter), then the names with the id of each --cidfile after them (its first
    line, as written by `create --cidfile`)."""
    from ..errors import InvalidArgument

    names, cidfiles = list(names or []), list(cidfiles or [])
    if filters and names:
        raise InvalidArgument("--filter takes no arguments")
    if cidfiles and (all_ or latest):
        raise InvalidArgument("--all, --latest, and --cidfile cannot be used together")
    if all_ and latest:
        raise InvalidArgument("--all and --latest cannot be used together")
    if names and all_:
        raise InvalidArgument("no arguments are needed with --all")
    if names and latest:
        raise InvalidArgument("--latest and containers cannot be used together")
    if names and cidfiles:
        raise InvalidArgument("no arguments are needed with --latest or --cidfile")
    if not (names or all_ or latest or cidfiles or filters):
        raise InvalidArgument("you must provide at least one name or id")
    for path in cidfiles:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                cid = f.read().split("\n")[0]
        except OSError as exc:
            raise InvalidArgument(f"reading CIDFile: open {path}: {(exc.strerror or str(exc)).lower()}") from None
        if not cid:
            raise InvalidArgument("name or ID cannot be empty")
        names.append(cid)
    return names


def latest_or(ctx: typer.Context, name: Optional[str], latest: bool, needs: str, missing: str = "") -> str:
    """The one container of a verb that takes a name or --latest (the newest container's full
    id); needs is podman's message when there is neither, missing the words it puts before
    "no such container" when there is no container at all. `{path}` in needs: the command as
    invoked (`podpy container wait`)."""
    from ..errors import InvalidArgument, NoSuchContainer

    if latest and name:
        raise InvalidArgument("--latest and containers cannot be used together")
    if latest:
        try:
            return str(engine(ctx).latest())
        except NoSuchContainer as exc:
            raise NoSuchContainer(f"{missing}{exc}") from None
    if not name:
        raise InvalidArgument(needs.format(path=ctx.command_path))
    return name


CIDFILE_HELP = "Read the container's id from this file (repeatable)."
FILTER_HELP = "The containers matching KEY=VALUE (ps keys: name, id, status, label, ancestor)."


def stop(
    ctx: typer.Context,
    containers: Optional[List[str]] = typer.Argument(None, help="Containers to stop."),
    timeout: Optional[int] = typer.Option(None, "-t", "--time", "--timeout",
                                          help="Seconds to wait before SIGKILL (default: the container's, 10)."),
    all_: bool = typer.Option(False, "-a", "--all", help="Stop every running container."),
    ignore: bool = typer.Option(False, "-i", "--ignore", help="Ignore containers that do not exist."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
    cidfiles: List[str] = typer.Option([], "--cidfile", help=CIDFILE_HELP),
    filters: List[str] = typer.Option([], "-f", "--filter", help=FILTER_HELP),
) -> None:
    """Stop containers: the stop signal, then SIGKILL."""
    names = targets(containers, all_, latest, cidfiles, filters)
    raise typer.Exit(_reports(engine(ctx).stop(names, timeout, all_, latest, filters, ignore), ignore_missing=ignore))


def kill(
    ctx: typer.Context,
    containers: Optional[List[str]] = typer.Argument(None, help="Containers to signal."),
    sig: str = typer.Option("KILL", "-s", "--signal", help="Signal to send (name or number)."),
    all_: bool = typer.Option(False, "-a", "--all", help="Signal every running container."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
    cidfiles: List[str] = typer.Option([], "--cidfile", help=CIDFILE_HELP),
) -> None:
    """Send a signal to containers' main process."""
    from ..options import parse_signal

    num = parse_signal(sig)
    names = targets(containers, all_, latest, cidfiles)
    raise typer.Exit(_reports(engine(ctx).kill(names, num, all_, latest)))


def wait(
    ctx: typer.Context,
    containers: Optional[List[str]] = typer.Argument(None, help="Containers to wait for."),
    condition: List[str] = typer.Option([], "--condition", help="stopped (default), exited or created."),
    ignore: bool = typer.Option(False, "--ignore", help="Ignore containers that do not exist."),
    interval: str = typer.Option("250ms", "-i", "--interval",
                                 help="Time between two looks at the containers (a duration; a plain number is "
                                      "milliseconds)."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
) -> None:
    """Wait for containers to stop; print their exit codes."""
    from ..errors import NoSuchContainer

    every = _interval(interval)
    names = list(containers or [])
    if latest or not names:
        names = [latest_or(ctx, names[0] if names else None, latest,
                           '"{path}" requires a name, id, or the "--latest" flag')]
    code = 0
    for rep in engine(ctx).wait(names, tuple(condition) or ("stopped",), every, ignore):
        if rep.error is None:
            render.out(str(rep.value))
        elif ignore and isinstance(rep.error, NoSuchContainer):
            render.out("-1")
        else:
            code = _reports([rep])
    raise typer.Exit(code)


def _interval(text: str) -> float:
    """wait --interval as podman reads it: a Go duration, a whole number being milliseconds (a
    negative one is no wait)."""
    import re

    from ..errors import InvalidArgument
    from ..formats import go_duration

    value = text + "ms" if re.fullmatch(r"[-+]?[0-9]+", text) else text
    seconds = go_duration(value.lstrip("+-"))
    if seconds is None or not value.lstrip("+-"):
        raise InvalidArgument(f'time: invalid duration "{text}"')
    return 0.0 if value.startswith("-") else seconds


def restart(
    ctx: typer.Context,
    containers: Optional[List[str]] = typer.Argument(None, help="Containers to restart."),
    timeout: Optional[int] = typer.Option(None, "-t", "--time", "--timeout", help="Seconds before SIGKILL."),
    all_: bool = typer.Option(False, "-a", "--all", help="Restart every container."),
    running: bool = typer.Option(False, "--running", help="With --all: only running containers."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
    cidfiles: List[str] = typer.Option([], "--cidfile", help=CIDFILE_HELP),
    filters: List[str] = typer.Option([], "-f", "--filter", help=FILTER_HELP),
) -> None:
    """Stop and start containers again (detached)."""
    names = targets(containers, all_, latest, cidfiles, filters)
    raise typer.Exit(_reports(engine(ctx).restart(names, timeout, all_, running, latest, filters)))


def logs(
    ctx: typer.Context,
    containers: Optional[List[str]] = typer.Argument(None, help="Containers whose logs to show."),
    follow: bool = typer.Option(False, "-f", "--follow", help="Keep printing new lines until the container stops."),
    tail: int = typer.Option(-1, "--tail", help="Only the last N lines (-1: all)."),
    since: Optional[str] = typer.Option(None, "--since", help="Only lines since a time or duration (10m)."),
    until: Optional[str] = typer.Option(None, "--until", help="Only lines until a time or duration."),
    timestamps: bool = typer.Option(False, "-t", "--timestamps", help="Prefix each line with its time."),
    names: bool = typer.Option(False, "-n", "--names", help="Prefix each line with the container's name."),
    color: bool = typer.Option(False, "--color", help="Each container's lines in a color of its own."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
) -> None:
    """Show a container's output: stdout to stdout, stderr to stderr."""
    from ..errors import InvalidArgument

    containers = list(containers or [])
    if latest and containers:
        raise InvalidArgument("--latest and containers cannot be used together")
    if not latest and not containers:
        raise InvalidArgument("specify at least one container name or ID to log")
    if latest:
        containers = [engine(ctx).latest()]
    show_logs(ctx, containers, follow, tail, since, until, timestamps, names, color)


def show_logs(ctx: typer.Context, containers: List[str], follow: bool, tail: int, since: Optional[str],
              until: Optional[str], timestamps: bool, names: bool, color: bool,
              color_index: Optional[dict[str, int]] = None) -> None:
    """The logs of containers (ids or names), as `logs` prints them; color_index: each
    container's place in podman's color order (by default, the order in which their lines come)."""
    from ..engine.entities import LogsOptions
    from ..formats import parse_time

    eng = engine(ctx)
    opts = LogsOptions(follow=follow, tail=tail, since=parse_time(since, "--since") if since else None,
                       until=parse_time(until, "--until", ahead=True) if until else None)
    prefix_names = len(containers) > 1   # (podman 4.3.1 prefixes one container's lines with nothing, --names or not)
    out, err = sys.stdout.buffer, sys.stderr.buffer
    colors: dict[str, bytes] = {}
    for rec, e in eng.logs(containers, opts):
        # podman: the short id before each line of several logs, the name with --names
        prefix = ((rec.name if names else rec.id[:12]) + " ").encode() if prefix_names else b""
        stream = err if e.stream == b"stderr" else out
        line = prefix + (_go_stamp(e.stamp) + b" " if timestamps else b"") + e.text
        if color:   # the line (without its newline) between the container's color and a reset
            index = color_index.get(rec.id, len(colors)) if color_index is not None else len(colors)
            code = colors.setdefault(rec.id, LOG_COLORS[index % len(LOG_COLORS)])
            body, nl = (line[:-1], b"\n") if line.endswith(b"\n") else (line, b"")
            line = code + body + b"\x1b[0m" + nl
        stream.write(line)
        if follow:
            stream.flush()


def _go_stamp(stamp: bytes) -> bytes:
    """A log line's time as podman's `logs -t` prints it (Go's `Z07:00`: Z for UTC)."""
    return stamp[:-6] + b"Z" if stamp.endswith((b"+00:00", b"-00:00")) else stamp


# --color: the colors of the containers' lines, in the order podman gives them out
LOG_COLORS = tuple(f"\x1b[{n}m".encode() for n in (37, 31, 33, 34, 35, 36, 32))


def pause(
    ctx: typer.Context,
    containers: Optional[List[str]] = typer.Argument(None, help="Containers to pause."),
    all_: bool = typer.Option(False, "-a", "--all", help="Pause every running container."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
    cidfiles: List[str] = typer.Option([], "--cidfile", help=CIDFILE_HELP),
    filters: List[str] = typer.Option([], "-f", "--filter", help=FILTER_HELP),
) -> None:
    """Freeze every process of containers (cgroup.freeze)."""
    names = targets(containers, all_, latest, cidfiles, filters)
    raise typer.Exit(_reports(engine(ctx).pause(names, all_, latest, filters)))


def init(
    ctx: typer.Context,
    containers: Optional[List[str]] = typer.Argument(None, help="Containers to initialize."),
    all_: bool = typer.Option(False, "-a", "--all", help="Initialize every created or exited container."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
) -> None:
    """Set containers up as `start` would, their processes waiting for `start` to run."""
    raise typer.Exit(_reports(engine(ctx).init(list(containers or []), all_, latest)))


def unpause(
    ctx: typer.Context,
    containers: Optional[List[str]] = typer.Argument(None, help="Containers to unpause."),
    all_: bool = typer.Option(False, "-a", "--all", help="Unpause every paused container."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
    cidfiles: List[str] = typer.Option([], "--cidfile", help=CIDFILE_HELP),
    filters: List[str] = typer.Option([], "-f", "--filter", help=FILTER_HELP),
) -> None:
    """Thaw paused containers."""
    names = targets(containers, all_, latest, cidfiles, filters)
    raise typer.Exit(_reports(engine(ctx).unpause(names, all_, latest, filters)))


def top(
    ctx: typer.Context,
    container: Optional[str] = typer.Argument(None, help="Container name or id."),
    descriptors: Optional[List[str]] = typer.Argument(None, help="Fields: user pid ppid pcpu etime tty time args..."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container (every argument is a field)."),
) -> None:
    """Show a container's processes."""
    fields = list(descriptors or [])
    if latest and container is not None:   # `top -l pid user`: the words are all fields
        fields.insert(0, container)
        container = None
    name = latest_or(ctx, container, latest, "you must provide the name or id of a running container",
                     "unable to look up requested container: ")
    rows = engine(ctx).top(name, fields)
    for line in render._tabwrite(rows):
        render.out(line)


def stats(
    ctx: typer.Context,
    containers: Optional[List[str]] = typer.Argument(None, help="Containers (default: all running)."),
    all_: bool = typer.Option(False, "-a", "--all", help="Every container (only running ones have figures)."),
    no_stream: bool = typer.Option(False, "--no-stream", help="One reading, then exit."),
    no_reset: bool = typer.Option(False, "--no-reset", help="Do not clear the terminal between readings."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not truncate the ids."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, or a Go template."),
    interval: int = typer.Option(5, "-i", "--interval", help="Seconds between readings."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
) -> None:
    """Resource use of running containers: CPU, memory, network, block I/O, processes."""
    from ..errors import InvalidArgument
    from .views import STATS_COLUMNS, stats_json, stats_row

    if latest and (containers or all_):
        raise InvalidArgument("--all, --latest and containers cannot be used together")
    if latest:
        containers = [engine(ctx).latest()]
    for readings in engine(ctx).stats(list(containers or []), interval, not no_stream, all_):
        if not no_reset and sys.stdout.isatty():
            sys.stdout.write("\x1b[2J\x1b[H")
        rows = [stats_row(r, no_trunc) for r in readings]
        if fmt and render.is_json(fmt):
            render.out(json.dumps([stats_json(r) for r in rows], indent=1))
        else:
            render.formatted(rows, fmt, STATS_COLUMNS,
                             header_overrides={"ID": "ID", "UpTime": "CPU TIME", "CPUPerc": "CPU %",
                                               "AVGCPU": "AVG CPU %", "MemUsage": "MEM USAGE / LIMIT",
                                               "MemUsageBytes": "MEM USAGE / LIMIT", "MemPerc": "MEM %",
                                               "NetIO": "NET IO", "BlockIO": "BLOCK IO", "PIDS": "PIDS"})
        sys.stdout.flush()


def attach(
    ctx: typer.Context,
    container: Optional[str] = typer.Argument(None, help="Container name or id."),
    no_stdin: bool = typer.Option(False, "--no-stdin", help="Do not pass this terminal's input on."),
    detach_keys: str = typer.Option("ctrl-p,ctrl-q", "--detach-keys", help="Keys that detach (with -t)."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
    sig_proxy: bool = typer.Option(True, "--sig-proxy/--no-sig-proxy",
                                   help="Pass the signals podpy receives on to the container (without -t)."),
) -> None:
    """Attach this terminal to a detached container's input and output."""
    name = latest_or(ctx, container, latest, '"{path}" requires a name, id, or the "--latest" flag')
    raise typer.Exit(engine(ctx).attach(name, no_stdin, detach_keys, sig_proxy))


def healthcheck_run(ctx: typer.Context, container: str = typer.Argument(..., help="Container name or id.")) -> None:
    """Run a container's healthcheck once: exit 0 when it passes, 1 (and "unhealthy") when not."""
    from .app import remote_engine

    remote = remote_engine(ctx, "containers", render.warn)
    if remote is not None:
        _status, code = remote.healthcheck_run(container)
    else:
        from ..engine import health

        _status, code = health.run(runtime(ctx), container, render.warn)
    if code != 0:
        render.out("unhealthy")
        raise typer.Exit(1)


def cleanup(
    ctx: typer.Context,
    containers: Optional[List[str]] = typer.Argument(None, help="Containers."),
    all_: bool = typer.Option(False, "-a", "--all", help="Every container."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
    rm: bool = typer.Option(False, "--rm", help="Then remove the container."),
    rmi: bool = typer.Option(False, "--rmi", help="Then remove its image (unless a container uses it)."),
    exec_session: Optional[str] = typer.Option(None, "--exec", help="An exec session's (podpy keeps none)."),
) -> None:
    """Record containers' exits and apply their --rm and restart policies (what the monitor runs
    after an exit); a running container is refused."""
    names = targets(containers, all_, latest)
    raise typer.Exit(_reports(engine(ctx).cleanup_many(names, all_, latest, rm, rmi, exec_session)))
