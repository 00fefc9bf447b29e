"""`podpy quadlet`: the Quadlet generator on the command line (podpy/quadlet/generator.py).

Its flags are Go's, as podman's generator takes them (-dryrun or --dryrun, -user, -v, ...),
so typer only lists the command; main.py sends the words straight to the generator.
"""

from __future__ import annotations

import typer

HELP = ("Generate systemd units from Quadlet files (podpy only: podman 4.3.1 has no Quadlet): "
        "`podpy quadlet -user -dryrun` checks ~/.config/podpy/systemd/ and prints the units.")


def quadlet(ctx: typer.Context) -> None:
    """Generate systemd units from Quadlet files (podpy only: podman 4.3.1 has no Quadlet)."""
    from ..quadlet.generator import main

    args = list(ctx.args)
    if any(a in ("-h", "--help", "-help") for a in args):
        from ..quadlet.generator import usage

        typer.echo(HELP + "\n\n" + usage("podpy quadlet"), nl=False)
        raise typer.Exit(0)
    raise typer.Exit(main(args))


_SETTINGS = {"context_settings": {"ignore_unknown_options": True, "allow_extra_args": True,
                                  "allow_interspersed_args": False},
             "add_help_option": False, "help": HELP}
TOP = {"quadlet": (quadlet, _SETTINGS)}
