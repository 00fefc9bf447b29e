"""typer's commands as one click tree, completed with what podman has and podpy refuses.

typer makes the click commands from the command functions; this adds, per command path,
podman's refused subcommands (a command that prints its reason) and refused flags (hidden
options that print theirs, whatever their value), both from refusals.py, and lists the
global flags (parsed earlier, in globalflags.py) in `podpy --help`. `invoke` runs a
command line through the tree and maps click's errors to podpy's one line and exit 125
(podman's words for them: cobra.py).
"""

from __future__ import annotations

from typing import Any, Optional

import click
import typer

from . import cobra, refusals
from .globalflags import FLAG, MULTI, TABLE, Globals

_UNGIVEN = object()
RUNARGS = ("run", "create", "exec")


def click_tree(app: typer.Typer, only: Optional[str] = None) -> click.Group:
    """The click group of app's registered commands (`only`'s, or all), with podman's refusals."""
    root = typer.main.get_command(app)
    assert isinstance(root, click.Group)
    for flags, attr, kind, metavar, text in TABLE:
        if attr not in (None, "help"):
            root.params.append(click.Option(list(flags), metavar=metavar or None, help=text, expose_value=False,
                                            is_flag=kind == FLAG, multiple=kind == MULTI))
    _complete(root, "", only)
    return root


def _complete(group: click.Group, path: str, only: Optional[str]) -> None:
    for refused, reason in refusals.COMMANDS.items():
        parent, _, name = refused.rpartition(" ")
        if parent == path and name not in group.commands and (path or only in (None, name)):
            group.add_command(refused_command(name, refused, reason))
    cobra.unknown_commands(group)
    cobra.cobra_help(group)
    for name, cmd in list(group.commands.items()):
        sub = f"{path} {name}".strip()
        if getattr(cmd, "refused", False):
            continue
        if refusals.SAME.get(sub, sub) not in RUNARGS:   # runargs parses these, refusals included
            refuse_flags(cmd, sub)
        if isinstance(cmd, click.Group):
            _complete(cmd, sub, None)
        else:
            cobra.cobra_help(cmd)
            cobra.count_arguments(cmd, refusals.SAME.get(sub, sub))
            cobra.check_targets(cmd, refusals.SAME.get(sub, sub))


def refuse_flags(cmd: click.Command, path: str) -> None:
    """Add path's refused flags to cmd as hidden options that refuse when given (a flag cmd
    declares itself stays cmd's: the table's entry is stale, which the unit test reports)."""
    declared = {o for p in cmd.params for o in (*getattr(p, "opts", ()), *getattr(p, "secondary_opts", ()))}
    for names, reason in refusals.FLAGS.get(refusals.SAME.get(path, path), {}).items():
        flags = [n for n in names.split("/") if n not in declared]
        if not flags:
            continue
        what = names.split("/")[-1]

        def refuse(ctx: click.Context, param: click.Parameter, value: Any, what: str = what,
                   reason: str = reason) -> None:
            if value is not _UNGIVEN:
                from ..errors import InvalidArgument

                raise InvalidArgument(refusals.message(path, what, reason))

        # The value is optional, so that a refused boolean does not take the next word and a
        # refused option with a value does not leave it as an argument: either way, it refuses.
        cmd.params.append(click.Option(flags, is_flag=False, flag_value="", default=_UNGIVEN, hidden=True,
                                       expose_value=False, is_eager=True, callback=refuse, type=click.UNPROCESSED))


def refused_command(name: str, path: str, reason: str) -> click.Command:
    """A command podpy has not: any use prints its reason (exit 125), --help says so (exit 0)."""

    def callback(args: tuple[str, ...]) -> None:
        from ..errors import InvalidArgument
        from .common import program

        # a subcommand with a reason of its own (`generate spec`) says it rather than the group's
        where, why = refusals.refused_command(" ".join([path, *args[:1]])) or (path, reason)
        if "--help" in args or "-h" in args:
            click.echo(f"{refusals.message(where, '', why)}\n\nUsage:\n  {program()} {where} ...")
            return
        raise InvalidArgument(refusals.message(where, "", why))

    cmd = click.Command(name, callback=callback, hidden=True, add_help_option=False,
                        params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
                        context_settings={"ignore_unknown_options": True, "help_option_names": []},
                        help=refusals.message(path, "", reason))
    cmd.refused = True  # type: ignore[attr-defined]
    return cmd


def invoke(cli: click.Group, args: list[str], g: Globals) -> int:
    """Run one command line through the tree: its exit code, errors (click's and podpy's) as
    one line."""
    from . import render
    from .common import guarded, program

    def run() -> int:
        try:
            code = cli.main(args=args, prog_name=program(), standalone_mode=False, obj=g)
        except click.exceptions.NoSuchOption as exc:
            raise cobra.unknown_flag(exc) from None
        except click.exceptions.NoArgsIsHelpError as exc:
            raise cobra.missing_command(exc.ctx) from None
        except click.exceptions.UsageError as exc:
            render.error(exc.format_message())
            return 125
        except click.exceptions.Exit as exc:
            return int(exc.exit_code)
        except click.exceptions.Abort:
            return 130
        return code if isinstance(code, int) else 0

    return guarded(run)
