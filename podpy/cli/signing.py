"""Signature commands: `image sign` and `image trust set/show` (each one engine or library call)."""

from __future__ import annotations

from typing import List, Optional

import typer

from . import render
from .app import CONTEXT, runtime


def sign(
    ctx: typer.Context,
    images: List[str] = typer.Argument(..., help="Registry images to sign (docker://NAME)."),
    sign_by: str = typer.Option("", "--sign-by", help="The GPG key to sign with (id, fingerprint or e-mail)."),
    directory: Optional[str] = typer.Option(None, "-d", "--directory",
                                            help="Write the signatures under this directory (default: the "
                                                 "lookaside staging location of registries.d)."),
    cert_dir: Optional[str] = typer.Option(None, "--cert-dir", help="Directory with ca.crt, client.cert/.key."),
    authfile: Optional[str] = typer.Option(None, "--authfile", help="Credentials file (default: auth.json)."),
    all_: bool = typer.Option(False, "-a", "--all", help="Sign every image of a manifest list."),
) -> None:
    """Sign registry images with a GPG key (simple signing signatures)."""
    from ..engine.signing import SignOptions, sign_images

    sign_images(runtime(ctx), list(images), SignOptions(sign_by=sign_by, directory=directory, cert_dir=cert_dir,
                                                        auth_file=authfile, all=all_))


def trust_set(
    registry: str = typer.Argument(..., help="default, or a registry or repository (host[:port][/path])."),
    kind: str = typer.Option("signedBy", "-t", "--type", help="accept, reject, signedBy or sigstoreSigned."),
    pubkeys: List[str] = typer.Option([], "-f", "--pubkeysfile", help="A public key file (repeatable)."),
    policypath: Optional[str] = typer.Option(None, "--policypath", hidden=True,
                                             help="The policy file (default: policy.json)."),
) -> None:
    """Set the trust policy of a registry or repository."""
    from ..registry.policy import policy_path
    from ..registry.trust import set_trust

    set_trust(policy_path(policypath), registry, kind, list(pubkeys))


def trust_show(
    _registry: Optional[str] = typer.Argument(None, metavar="[REGISTRY]",
                                              help="Accepted, as podman accepts it; all scopes are shown."),
    raw: bool = typer.Option(False, "--raw", help="Print the policy file as it is."),
    as_json: bool = typer.Option(False, "-j", "--json", help="Print the rows as JSON."),
    noheading: bool = typer.Option(False, "-n", "--noheading", help="No table header."),
    policypath: Optional[str] = typer.Option(None, "--policypath", hidden=True,
                                             help="The policy file (default: policy.json)."),
    registrypath: Optional[str] = typer.Option(None, "--registrypath", hidden=True,
                                               help="The registries.d directory."),
) -> None:
    """Show the trust policy."""
    from ..registry.policy import policy_path
    from ..registry.trust import describe, go_json, raw_policy

    path = policy_path(policypath)
    if raw:
        render.out(raw_policy(path).decode(errors="replace"))
        return
    rows = describe(path, registrypath)
    if as_json:
        render.out(go_json([r.as_json() for r in rows], indent=2))
        return
    lines = [] if noheading else [["TRANSPORT", "NAME", "TYPE", "ID", "STORE"]]
    lines += [[r.transport, r.repo_name, r.type, r.gpg_id, r.sigstore] for r in rows]
    widths = [max([12] + [len(line[i]) + 2 for line in lines]) for i in range(4)]
    for line in lines:
        render.out("".join(cell.ljust(widths[i]) for i, cell in enumerate(line[:4])) + line[4])


trust = typer.Typer(name="trust", help="Manage the trust policy of images.", no_args_is_help=True,
                    context_settings=CONTEXT, rich_markup_mode=None)
trust.command("set")(trust_set)
trust.command("show")(trust_show)


def passphrase(sign_by: Optional[str], sigstore_key: Optional[str], passphrase_file: Optional[str]) -> Optional[str]:
    """The passphrase for push's signing key, as podman gets it: from --sign-passphrase-file's first
    line, else (for a sigstore key) asked on the terminal; None when none is needed."""
    from ..engine.sigstoresign import check_passphrase_use

    check_passphrase_use(sign_by, sigstore_key, passphrase_file)
    if passphrase_file:
        from ..registry.sigstore import read_passphrase_file

        return read_passphrase_file(passphrase_file)
    if sigstore_key:
        import getpass
        import sys

        if sys.stdin.isatty():
            return getpass.getpass("Key Passphrase: ")
        return ""
    return None
