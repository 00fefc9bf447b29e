"""podman's command-line rules (its parser, cobra, and its own checks) on the click tree.

click parses podpy's command lines; podman's users and scripts know cobra's words for what
goes wrong. This module gives each command of the tree those words, from what the command
declares:

- argument counts: `takes no arguments`, `accepts 1 arg(s), received 2`, ... derived from
  the command's click arguments (a few commands have words of their own, ARITY_WORDS);
- how a command names its targets: --all, --latest, names and --cidfile (--pod-id-file)
  with each other, checked before the command runs (podman's CheckAllLatestAndIDFile);
- a group without a subcommand, an unknown subcommand (with cobra's suggestions at the top)
  and an unknown flag, each with podman's hint line.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Optional

import click

from ..errors import UsageError
from . import render

INFINITE = 1 << 30

# Commands whose argument counts podman checks in words of its own: (too few, too many);
# None keeps cobra's words. `{path}` is the command as invoked.
ARITY_WORDS: dict[str, tuple[Optional[str], Optional[str]]] = {
    "attach": (None, "`{path}` accepts at most one argument"),
    "port": (None, "`port` accepts at most 2 arguments"),
    "save": ("need at least 1 argument", None),
    "image inspect": ("no names or ids specified", None),
    "pod logs": (None, "requires exactly 1 arg"),
}

# How podman words --latest given with names, by command (others: "containers").
LATEST_NOUN = {"inspect": "arguments", "container inspect": "arguments", "pod inspect": "arguments", "pod logs": "pods"}
# Commands that refuse any two of --all, --latest and names in one message (its noun).
TOGETHER = {"stats": "containers", "pod stats": "arguments"}
# Commands whose arguments with --latest are not names (port's port, top's descriptors).
LATEST_ARGUMENTS = ("port", "top", "pod top")
# Commands that word --all with names themselves (start's "either start all containers or ...").
OWN_ALL_WITH_NAMES = ("start",)
# Commands whose --filter picks among the names given (podman's others refuse the two together).
FILTER_WITH_NAMES = ("start",)
# The options that name targets from a file, refused with --all or --latest.
ID_FILES = ("--cidfile", "--pod-id-file")


def arity(cmd: click.Command) -> tuple[int, int]:
    """(the fewest, the most) arguments cmd takes, from its click arguments."""
    low = high = 0
    for param in cmd.params:
        if isinstance(param, click.Argument):
            n = param.nargs
            low += (n if n > 0 else 1) if param.required else 0
            high += n if n > 0 else INFINITE
    return low, min(high, INFINITE)


def arity_message(path: str, canonical: str, low: int, high: int, received: int) -> str:
    """podman's error for `received` arguments to a command taking low..high."""
    few, many = ARITY_WORDS.get(canonical, (None, None))
    own = few if received < low else many
    if own:
        return own.format(path=path)
    if high == 0:
        return f"`{path}` takes no arguments"
    if low == high:
        return f"accepts {low} arg(s), received {received}"
    if high == INFINITE:
        return f"requires at least {low} arg(s), only received {received}"
    if low == 0:
        return f"accepts at most {high} arg(s), received {received}"
    return f"accepts between {low} and {high} arg(s), received {received}"


def _received(cmd: click.Command, ctx: click.Context, args: list[str]) -> int:
    """How many arguments (not options or their values) args gives cmd."""
    opts, extra, _order = cmd.make_parser(ctx).parse_args(args=list(args))
    count = len(extra)
    for param in cmd.params:
        if isinstance(param, click.Argument):
            value = opts.get(param.name)   # type: ignore[arg-type]
            if isinstance(value, (tuple, list)):
                count += sum(isinstance(v, str) for v in value)
            elif isinstance(value, str):
                count += 1
    return count


def count_arguments(cmd: click.Command, canonical: str) -> None:
    """Make cmd's missing and extra arguments podman's errors (click's are worded otherwise)."""
    parse = cmd.parse_args

    def parse_args(ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)   # click's parser consumes the list
        try:
            return parse(ctx, args)
        except click.MissingParameter as exc:
            if not isinstance(exc.param, click.Argument):
                raise
        except click.UsageError as exc:
            if not exc.message.startswith("Got unexpected extra argument"):
                raise
        low, high = arity(cmd)
        raise UsageError(arity_message(ctx.command_path, canonical, low, high, _received(cmd, ctx, given)))

    cmd.parse_args = parse_args  # type: ignore[method-assign]


def _param(cmd: click.Command, *flags: str) -> Optional[click.Parameter]:
    return next((p for p in cmd.params if isinstance(p, click.Option) and set(flags) & set(p.opts)), None)


def check_targets(cmd: click.Command, canonical: str) -> None:
    """When cmd has --latest: refuse it with --all, with names, and with an id file, in
    podman's words, before the command runs."""
    latest = _param(cmd, "--latest")
    if latest is None or cmd.callback is None:
        return
    every, id_file, filters = _param(cmd, "--all"), _param(cmd, *ID_FILES), _param(cmd, "--filter")
    arguments = [p for p in cmd.params if isinstance(p, click.Argument)] if canonical not in LATEST_ARGUMENTS else []
    callback: Callable[..., Any] = cmd.callback

    def checked(*args: Any, **kwargs: Any) -> Any:
        params = click.get_current_context().params
        given_latest = bool(params.get(latest.name))   # type: ignore[arg-type]
        given_all = bool(every is not None and params.get(every.name))   # type: ignore[arg-type]
        names = any(params.get(p.name) for p in arguments)   # type: ignore[arg-type]
        if canonical in TOGETHER:
            if given_latest + given_all + names > 1:
                raise UsageError(f"--all, --latest and {TOGETHER[canonical]} cannot be used together")
            return callback(*args, **kwargs)
        if id_file is not None and params.get(id_file.name) and (given_all or given_latest):   # type: ignore[arg-type]
            raise UsageError(f"--all, --latest, and {id_file.opts[-1]} cannot be used together")
        if given_all and given_latest:
            raise UsageError("--all and --latest cannot be used together")
        filtered = filters is not None and params.get(filters.name)   # type: ignore[arg-type]
        if names and filtered and canonical not in FILTER_WITH_NAMES:
            raise UsageError("--filter takes no arguments")   # podman says so first (`rm --filter K=V -a NAME`)
        if names and given_all and canonical not in OWN_ALL_WITH_NAMES:
            raise UsageError("no arguments are needed with --all")
        if names and given_latest:
            raise UsageError(f"--latest and {LATEST_NOUN.get(canonical, 'containers')} cannot be used together")
        return callback(*args, **kwargs)

    cmd.callback = checked


# -- groups and flags ------------------------------------------------------------------------

def _distance(a: str, b: str) -> int:
    """Levenshtein distance (cobra's suggestions)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def suggestions(group: click.Group, ctx: click.Context, typed: str) -> list[str]:
    """cobra's `Did you mean this?` list: the visible commands within two edits of typed or
    starting with it."""
    names = [n for n in group.list_commands(ctx) if not getattr(group.get_command(ctx, n), "hidden", False)]
    return [n for n in names if _distance(typed.lower(), n.lower()) <= 2 or n.lower().startswith(typed.lower())]


def unknown_commands(group: click.Group) -> None:
    """An unknown subcommand of group refused in podman's words: the group's --help named as
    what to try, and at the top cobra's suggestions."""
    resolve = group.resolve_command

    def resolve_command(ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and group.get_command(ctx, name) is None \
                and not ctx.resilient_parsing:
            message = f"unrecognized command `{ctx.command_path} {name}`"
            near = suggestions(group, ctx, name) if ctx.parent is None else []
            if near:
                message += "\n\nDid you mean this?\n" + "".join(f"\t{n}\n" for n in near)
            raise UsageError(message, f"Try '{ctx.command_path} --help' for more information")
        return resolve(ctx, args)

    group.resolve_command = resolve_command  # type: ignore[method-assign]


def missing_command(ctx: click.Context) -> UsageError:
    """A group run without a subcommand: its help on stdout, then podman's error."""
    click.echo(ctx.get_help())
    return UsageError(f"missing command '{ctx.command_path} COMMAND'")


def unknown_flag(exc: click.NoSuchOption) -> UsageError:
    """An unknown flag in pflag's words, then the command's --help to see."""
    name = exc.option_name
    message = f"unknown flag: {name}" if name.startswith("--") else f"unknown shorthand flag: {name[1:]!r} in {name}"
    return UsageError(message, f"See '{exc.ctx.command_path} --help'" if exc.ctx is not None else "")


# -- help ------------------------------------------------------------------------------------

def _type_word(param: click.Option) -> str:
    """pflag's word for what an option takes (none for a flag)."""
    if param.is_flag or param.count:
        return ""
    if param.multiple:
        return "stringArray"
    return {click.INT: "int", click.FLOAT: "float"}.get(param.type, "string")   # type: ignore[call-overload]


def _argument_words(cmd: click.Command) -> str:
    """The arguments of a usage line, upper case, the optional ones bracketed: `NAME [NAME...]`."""
    words = []
    for param in cmd.params:
        if not isinstance(param, click.Argument):
            continue
        name = (param.metavar or param.name or "ARG").upper().rstrip(".")
        if param.nargs < 0:
            words.append(f"{name} [{name}...]" if param.required else f"[{name}...]")
        else:
            words.append(name if param.required else f"[{name}]")
    return " ".join(words)


def command_help(cmd: click.Command, ctx: click.Context) -> str:
    """cmd's help page in cobra's layout (the command named as invoked, its commands sorted)."""
    text = (cmd.help or cmd.short_help or "").strip()
    title, _, description = text.partition("\n\n")
    title = " ".join(title.split())
    rows = []
    # podman in remote mode (CONTAINER_HOST or CONTAINER_CONNECTION set) hides --remote
    remote = bool(os.environ.get("CONTAINER_HOST") or os.environ.get("CONTAINER_CONNECTION"))
    for param in cmd.get_params(ctx):
        if not isinstance(param, click.Option) or param.hidden or "--help" in param.opts:
            continue
        if remote and "--remote" in param.opts:
            continue
        short = next((o for o in param.opts if len(o) == 2), "")
        long = next((o for o in param.opts if o.startswith("--")), short)
        rows.append((short if long != short else "", long, _type_word(param), " ".join((param.help or "").split())))
    commands = []
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                commands.append((name, " ".join((sub.help or sub.short_help or "").split("\n\n")[0].split())))
    if isinstance(cmd, click.Group):
        usage = f"{ctx.command_path}{' [options]' if rows and ctx.parent is None else ''} [command]"
    else:
        usage = " ".join(w for w in (ctx.command_path, "[options]" if rows else "", _argument_words(cmd)) if w)
    return render.help_page(title, description.strip("\n"), usage, sorted(commands), render.flag_rows(rows))


def cobra_help(cmd: click.Command) -> None:
    """cmd's --help (and a group's page before `missing command`) in cobra's layout."""
    cmd.get_help = lambda ctx: command_help(cmd, ctx).rstrip("\n") + "\n"  # type: ignore[method-assign]
