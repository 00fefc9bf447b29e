"""`completion` (shell completion scripts, and the answers they ask podpy for) and `help`.

`podpy completion bash|zsh|fish|powershell` prints click's script for that shell, as
`podman completion` prints cobra's. The script runs `podpy` with _PODPY_COMPLETE set
(`bash_complete`, `zsh_complete`...); main.py sends such a call to complete(), which
answers from the whole command tree (refused commands and flags are hidden, so never
offered). `--no-desc` scripts ask with a `_nodesc` suffix, and get no descriptions.
"""

from __future__ import annotations

from typing import List, Optional

import click
import typer

from . import render

SHELLS = ("bash", "zsh", "fish", "powershell")
COMPLETE_VAR = "_PODPY_COMPLETE"


def completion(
    ctx: typer.Context,
    shell: str = typer.Argument(..., help="bash, zsh, fish or powershell."),
    file: Optional[str] = typer.Option(None, "-f", "--file", help="Write the script to this file, not stdout."),
    no_desc: bool = typer.Option(False, "--no-desc", help="Offer no descriptions with the completions."),
) -> None:
    """Print a shell completion script: `source <(podpy completion bash)`."""
    from ..errors import InvalidArgument

    if shell not in SHELLS:
        raise InvalidArgument(f'invalid argument "{shell}" for "podpy completion": use {", ".join(SHELLS)}')
    script = _completer(shell, ctx.find_root().command).source()  # type: ignore[arg-type]
    if no_desc:
        ask = f"{shell}_complete"
        if ask not in script:
            raise InvalidArgument(f"podpy completion {shell} --no-desc: the {shell} script has no place for it")
        script = script.replace(ask, ask + "_nodesc")
    script = script if script.endswith("\n") else script + "\n"
    if file is None:
        render.out(script.rstrip("\n"))
        return
    try:
        with open(file, "w") as f:
            f.write(script)
    except OSError as exc:
        raise InvalidArgument(f"cannot write {file}: {exc.strerror}") from None


def complete(instruction: str) -> int:
    """Answer a completion script's request (the value of _PODPY_COMPLETE): 0, or 1 if unknown."""
    shell, _, what = instruction.partition("_")
    no_desc = what.endswith("_nodesc")
    what = what.removesuffix("_nodesc")
    if shell not in SHELLS or what != "complete":
        render.error(f"unknown completion request {instruction!r}")
        return 1
    comp = _completer(shell, _tree())
    if no_desc:
        found = comp.get_completions

        def bare(args: list[str], incomplete: str) -> list[click.shell_completion.CompletionItem]:
            return [click.shell_completion.CompletionItem(i.value, type=i.type) for i in found(args, incomplete)]

        comp.get_completions = bare  # type: ignore[method-assign]
    click.echo(comp.complete())
    return 0


def help_(ctx: typer.Context, words: Optional[List[str]] = typer.Argument(None, help="A command: ps, image ls...")
          ) -> None:
    """Help about any command."""
    from .tree import invoke

    root = ctx.find_root().command
    cmd: click.Command = root
    for word in words or []:
        sub = cmd.get_command(ctx, word) if isinstance(cmd, click.Group) else None
        if sub is None:
            render.out(f"Unknown help topic [`{' '.join(words or [])}`]")
            raise typer.Exit(invoke(root, ["--help"], ctx.find_root().obj))  # type: ignore[arg-type]
        cmd = sub
    raise typer.Exit(invoke(root, [*(words or []), "--help"], ctx.find_root().obj))  # type: ignore[arg-type]


def _tree() -> click.Group:
    from .app import app, build
    from .tree import click_tree

    build(None)
    return click_tree(app)


def _completer(shell: str, cli: click.Group) -> click.shell_completion.ShellComplete:
    import click.shell_completion

    cls = click.shell_completion.get_completion_class(shell)
    assert cls is not None, shell
    return cls(cli, {}, "podpy", COMPLETE_VAR)


TOP = {"completion": (completion, {}), "help": (help_, {})}
