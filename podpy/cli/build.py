"""`podpy build` (and `podpy image build`): options -> podpy.imagebuild's executor."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from . import render
from .app import runtime


def _say(line: str) -> None:
    # flushed at once: a RUN step's output goes straight to the same file descriptor
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def build(
    ctx: typer.Context,
    context: str = typer.Argument(".", help="The build context: a directory, - (a tar on stdin) or a git URL."),
    tags: List[str] = typer.Option([], "-t", "--tag", help="Name the image (repeatable)."),
    files: List[str] = typer.Option([], "-f", "--file", help="The Containerfile (- for stdin)."),
    target: Optional[str] = typer.Option(None, "--target", help="Build this stage and what it needs."),
    build_args: List[str] = typer.Option([], "--build-arg", help="KEY=VALUE for an ARG (repeatable)."),
    build_arg_files: List[str] = typer.Option([], "--build-arg-file", help="A file of KEY=VALUE lines."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the layer cache."),
    pull: Optional[str] = typer.Option(None, "--pull", help="always, missing (the default), never or newer."),
    layers: bool = typer.Option(True, "--layers/--no-layers", help="Commit and cache each step (default)."),
    squash: bool = typer.Option(False, "--squash", help="The new layers as one."),
    labels: List[str] = typer.Option([], "--label", help="KEY=VALUE label of the image (repeatable)."),
    secrets: List[str] = typer.Option([], "--secret", help="id=ID,src=FILE for RUN --mount=type=secret."),
    fmt: Optional[str] = typer.Option(None, "--format", help="oci (default) or docker."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the image id."),
    iidfile: Optional[str] = typer.Option(None, "--iidfile", help="Write the image id to this file."),
    network: Optional[str] = typer.Option(None, "--network", help="RUN's network: slirp4netns, none or host."),
    jobs: int = typer.Option(1, "--jobs", help="Stages built side by side when independent (0: no limit)."),
    tls_verify: Optional[bool] = typer.Option(None, "--tls-verify/--no-tls-verify",
                                              help="Require HTTPS and verify certificates when pulling."),
    creds: Optional[str] = typer.Option(None, "--creds", help="USERNAME:PASSWORD for pulling."),
    cert_dir: Optional[str] = typer.Option(None, "--cert-dir", help="Directory with ca.crt, client.cert/.key."),
    authfile: Optional[str] = typer.Option(None, "--authfile", help="Credentials file (default: auth.json)."),
    _content_trust: bool = typer.Option(False, "--disable-content-trust",
                                        help="A no-op kept for Docker's scripts, as in podman."),
) -> None:
    """Build an image from a Containerfile."""
    from ..imagebuild.executor import BuildOptions
    from ..imagebuild.executor import build as do_build

    opts = BuildOptions(context=context, files=list(files), tags=list(tags), target=target,
                        build_args=list(build_args), build_arg_files=list(build_arg_files), no_cache=no_cache,
                        pull=pull or "missing", layers=layers, squash=squash, labels=list(labels),
                        secrets=list(secrets), format=fmt, quiet=quiet, iidfile=iidfile, network=network,
                        jobs=jobs, tls_verify=tls_verify, creds=creds, cert_dir=cert_dir, auth_file=authfile)
    image = do_build(runtime(ctx), opts, _say, render.warn, render.err_line)
    render.out(image.id)


TOP = {"build": (build, {})}
