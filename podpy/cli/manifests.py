"""Manifest-list commands: manifest create, add, annotate, remove, inspect, exists, rm, push
(each one ManifestEngine call)."""

from __future__ import annotations

from typing import List, Optional

import typer

from . import render
from .app import runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def engine(ctx: typer.Context, quiet: bool = True) -> Any:
    from .app import remote_engine

    remote = remote_engine(ctx, "manifests", render.warn, None if quiet else render.err_line)
    if remote is not None:
        return remote
    from ..engine.manifests import ManifestEngine

    return ManifestEngine(runtime(ctx), None if quiet else render.err_line)


def _add_options(**kw: Any) -> Any:
    from ..engine.manifestadd import AddOptions
    from ..engine.manifeststore import annotations_of

    notes = annotations_of(list(kw.pop("annotation", None) or []))
    for key in ("features", "os_features"):
        kw[key] = tuple(f for item in kw.get(key) or () for f in item.split(",") if f)
    return AddOptions(annotations=notes, **kw)


_TLS = typer.Option(None, "--tls-verify/--no-tls-verify", help="Require HTTPS and verify certificates.")


def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Name of the new list."),
    images: Optional[List[str]] = typer.Argument(None, help="Images to put in it."),
    all_: bool = typer.Option(False, "--all", help="Add every image of a registry list given."),
    amend: bool = typer.Option(False, "-a", "--amend", help="Add to the list if it exists already."),
    tls_verify: Optional[bool] = _TLS,
) -> None:
    """Create a manifest list; print its id."""
    opts = _add_options(all=all_, tls_verify=tls_verify)
    render.out(engine(ctx).create(name, list(images or []), opts, amend))


def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The list."),
    image: str = typer.Argument(..., help="Image to add: a local image or a registry reference."),
    all_: bool = typer.Option(False, "--all", help="Add every image of a registry list."),
    annotation: List[str] = typer.Option([], "--annotation", help="Set an annotation of the entry (K=V)."),
    arch: Optional[str] = typer.Option(None, "--arch", help="Architecture of the entry (and to choose)."),
    os_: Optional[str] = typer.Option(None, "--os", help="Operating system of the entry (and to choose)."),
    variant: Optional[str] = typer.Option(None, "--variant", help="Architecture variant of the entry."),
    os_version: Optional[str] = typer.Option(None, "--os-version", help="Operating system version of the entry."),
    features: List[str] = typer.Option([], "--features", help="Features the entry's image needs."),
    authfile: Optional[str] = typer.Option(None, "--authfile", help="Credentials file (default: auth.json)."),
    cert_dir: Optional[str] = typer.Option(None, "--cert-dir", help="Directory with ca.crt, client.cert/.key."),
    creds: Optional[str] = typer.Option(None, "--creds", help="USERNAME:PASSWORD for the registry."),
    tls_verify: Optional[bool] = _TLS,
) -> None:
    """Add an image (or a registry list's images) to a manifest list; print the list's id."""
    opts = _add_options(all=all_, annotation=annotation, arch=arch, os=os_, variant=variant,
                        os_version=os_version, features=features, auth_file=authfile, cert_dir=cert_dir,
                        creds=creds, tls_verify=tls_verify)
    render.out(engine(ctx).add(name, image, opts))


def annotate(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The list."),
    digest: str = typer.Argument(..., help="Digest of the entry."),
    annotation: List[str] = typer.Option([], "--annotation", help="Set an annotation of the entry (K=V)."),
    arch: Optional[str] = typer.Option(None, "--arch", help="Architecture of the entry."),
    os_: Optional[str] = typer.Option(None, "--os", help="Operating system of the entry."),
    variant: Optional[str] = typer.Option(None, "--variant", help="Architecture variant of the entry."),
    os_version: Optional[str] = typer.Option(None, "--os-version", help="Operating system version of the entry."),
    os_features: List[str] = typer.Option([], "--os-features", help="Operating system features of the entry."),
    features: List[str] = typer.Option([], "--features", help="Features the entry's image needs."),
) -> None:
    """Change an entry of a manifest list; print the list's id."""
    opts = _add_options(annotation=annotation, arch=arch, os=os_, variant=variant, os_version=os_version,
                        features=features, os_features=os_features)
    render.out(engine(ctx).annotate(name, digest, opts))


def remove(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The list."),
    digest: str = typer.Argument(..., help="Digest of the entry to take out."),
) -> None:
    """Take an entry out of a manifest list; print the list's id."""
    render.out(engine(ctx).remove(name, digest))


def inspect(ctx: typer.Context, name: str = typer.Argument(..., help="A local list, or a registry reference.")) -> None:
    """Show a manifest list (a local one, or what a registry serves)."""
    import json

    render.out(json.dumps(engine(ctx).inspect(name), indent=4))


def exists(ctx: typer.Context, name: str = typer.Argument(..., help="The list.")) -> None:
    """Exit 0 if the manifest list exists, 1 if not."""
    if not engine(ctx).exists(name):
        raise typer.Exit(1)


def rm(ctx: typer.Context, names: List[str] = typer.Argument(..., help="Lists to remove.")) -> None:
    """Remove manifest lists (not the images they name)."""
    from ..errors import NoSuchImage

    reports = engine(ctx).rm(list(names))
    for rep in reports:
        for n in rep.untagged:
            render.out(f"Untagged: {n}")
    for rep in reports:
        if rep.deleted:
            render.out(f"Deleted: {rep.deleted}")
    codes = set()
    for rep in reports:
        if rep.error is not None:
            render.error(str(rep.error))
            codes.add(1 if isinstance(rep.error, NoSuchImage) else 125)
    raise typer.Exit(125 if 125 in codes else 1 if codes else 0)


def push(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The list."),
    destination: Optional[str] = typer.Argument(None, help="Where to (default: the list's name)."),
    all_: bool = typer.Option(True, "--all/--no-all", help="Push the list's images too (default)."),
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="oci or v2s2 (default: as the images are)."),
    rm_: bool = typer.Option(False, "--rm", help="Remove the local list once pushed."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print nothing but errors."),
    compression: str = typer.Option("gzip", "--compression-format", help="gzip or zstd."),
    tls_verify: Optional[bool] = _TLS,
    creds: Optional[str] = typer.Option(None, "--creds", help="USERNAME:PASSWORD for the registry."),
    cert_dir: Optional[str] = typer.Option(None, "--cert-dir", help="Directory with ca.crt, client.cert/.key."),
    authfile: Optional[str] = typer.Option(None, "--authfile", help="Credentials file (default: auth.json)."),
    digestfile: Optional[str] = typer.Option(None, "--digestfile", help="Write the list's digest here."),
    sign_by: Optional[str] = typer.Option(None, "--sign-by", help="Sign the list (and with --all its images) "
                                                                  "with this GPG key."),
    sigstore_key: Optional[str] = typer.Option(None, "--sign-by-sigstore-private-key",
                                               help="Sign the list (and with --all its images) with this sigstore "
                                                    "private key file."),
    passphrase_file: Optional[str] = typer.Option(None, "--sign-passphrase-file",
                                                  help="Read the signing key's passphrase from this file."),
    _remove_signatures: bool = typer.Option(False, "--remove-signatures",
                                            help="Copy no signatures (a list's images are pushed without them)."),
) -> None:
    """Push a manifest list (and its images) to a registry."""
    from ..engine.manifestpush import ManifestPushOptions
    from .signing import passphrase

    opts = ManifestPushOptions(destination=destination, all=all_, format=fmt, compression=compression, rm=rm_,
                               tls_verify=tls_verify, creds=creds, cert_dir=cert_dir, auth_file=authfile,
                               digest_file=digestfile, sign_by=sign_by, sigstore_key=sigstore_key,
                               sign_passphrase=passphrase(sign_by, sigstore_key, passphrase_file))
    engine(ctx, quiet).push(name, opts)


GROUP = {"create": (create, {}), "add": (add, {}), "annotate": (annotate, {}), "remove": (remove, {}),
         "inspect": (inspect, {}), "exists": (exists, {}), "rm": (rm, {}), "push": (push, {})}
