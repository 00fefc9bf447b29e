"""Image commands: pull, push, save, load, import, images, history, rmi, prune, tag, untag,
image exists/inspect (each one ImageEngine call), login and logout."""

from __future__ import annotations

from typing import List, Optional

import typer

from . import render
from .app import runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

IMAGE_COLUMNS = [("REPOSITORY", "Repository"), ("TAG", "Tag"), ("IMAGE ID", "ID"), ("CREATED", "CreatedSince"),
                 ("SIZE", "Size")]


def engine(ctx: typer.Context, progress: Optional[Callable[[str], None]] = None,
           layer_progress: Any = None) -> Any:
    """The image engine over this command's store."""
    from ..engine.images import ImageEngine

    return ImageEngine(runtime(ctx), render.warn, progress, layer_progress)


def _progress(quiet: bool) -> Optional[Callable[[str], None]]:
    return None if quiet else render.err_line


def import_(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="A rootfs tarball, or - for stdin."),
    reference: Optional[str] = typer.Argument(None, help="Name for the new image."),
    change: List[str] = typer.Option([], "-c", "--change", help="Apply a Containerfile instruction."),
    message: str = typer.Option("", "-m", "--message", help="Commit message for the image."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Accepted for podman compatibility."),
) -> None:
    """Import a tarball as a one-layer image."""
    from ..engine.entities import ImportOptions

    image = engine(ctx).import_(ImportOptions(source=source, reference=reference, changes=list(change),
                                              message=message))
    render.out(image.id)


def pull(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Image to pull, e.g. registry.example.com/app:1.0."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the image id."),
    tls_verify: Optional[bool] = typer.Option(None, "--tls-verify/--no-tls-verify",
                                              help="Require HTTPS and verify certificates."),
    creds: Optional[str] = typer.Option(None, "--creds", help="USERNAME:PASSWORD for the registry."),
    cert_dir: Optional[str] = typer.Option(None, "--cert-dir", help="Directory with ca.crt, client.cert/.key."),
    authfile: Optional[str] = typer.Option(None, "--authfile", help="Credentials file (default: auth.json)."),
    platform: Optional[str] = typer.Option(None, "--platform", help="OS/ARCH[/VARIANT]."),
    os_: Optional[str] = typer.Option(None, "--os", help="Operating system to choose."),
    arch: Optional[str] = typer.Option(None, "--arch", help="Architecture to choose."),
    variant: Optional[str] = typer.Option(None, "--variant", help="Architecture variant to choose."),
    _content_trust: bool = typer.Option(False, "--disable-content-trust",
                                        help="A no-op kept for Docker's scripts, as in podman."),
) -> None:
    """Pull an image from a registry."""
    from ..engine.pull import PullOptions

    opts = PullOptions(name=name, tls_verify=tls_verify, creds=creds, cert_dir=cert_dir, auth_file=authfile,
                       platform=platform, os=os_, arch=arch, variant=variant)
    image = _with_bars(ctx, quiet, lambda images: images.pull(opts))
    render.out(image.id)


def push(
    ctx: typer.Context,
    image: str = typer.Argument(..., help="Image to push."),
    destination: Optional[str] = typer.Argument(None, help="Where to (default: the image's name)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print nothing but errors."),
    compression: str = typer.Option("gzip", "--compression-format", help="gzip or zstd."),
    tls_verify: Optional[bool] = typer.Option(None, "--tls-verify/--no-tls-verify",
                                              help="Require HTTPS and verify certificates."),
    creds: Optional[str] = typer.Option(None, "--creds", help="USERNAME:PASSWORD for the registry."),
    cert_dir: Optional[str] = typer.Option(None, "--cert-dir", help="Directory with ca.crt, client.cert/.key."),
    authfile: Optional[str] = typer.Option(None, "--authfile", help="Credentials file (default: auth.json)."),
    digestfile: Optional[str] = typer.Option(None, "--digestfile", help="Write the manifest digest here."),
    _content_trust: bool = typer.Option(False, "--disable-content-trust",
                                        help="A no-op kept for Docker's scripts, as in podman."),
) -> None:
    """Push an image to a registry."""
    from ..engine.push import PushOptions

    opts = PushOptions(image=image, destination=destination, compression=compression, tls_verify=tls_verify,
                       creds=creds, cert_dir=cert_dir, auth_file=authfile, digest_file=digestfile)
    _with_bars(ctx, quiet, lambda images: images.push(opts))


def _with_bars(ctx: typer.Context, quiet: bool, call: Callable[[Any], Any]) -> Any:
    """call(the image engine), its progress lines on stderr, and on a terminal a bar per layer
    (pull's downloads, push's uploads) as podman shows them."""
    import sys

    if quiet or not sys.stderr.isatty():
        return call(engine(ctx, _progress(quiet)))
    with render.LayerProgress() as bars:
        return call(engine(ctx, bars.line, bars.start))


def save(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., help="Images to save."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Write to this file (default: stdout)."),
    fmt: str = typer.Option("docker-archive", "--format", help="docker-archive or oci-archive."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print nothing but errors."),
) -> None:
    """Save images to a docker-archive or oci-archive tar."""
    import sys

    from ..errors import InvalidArgument

    if output in (None, "-") and sys.stdout.isatty():
        raise InvalidArgument("refusing to save to a terminal. Use -o flag or redirect")
    sys.stdout.flush()  # the archive goes to fd 1 directly: nothing buffered may follow it
    engine(ctx, _progress(quiet)).save(list(names), output, fmt)


def load(
    ctx: typer.Context,
    input_: Optional[str] = typer.Option(None, "-i", "--input", help="Read from this file (default: stdin)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the loaded names."),
) -> None:
    """Load images from a docker-archive or oci-archive tar."""
    import sys

    from ..errors import InvalidArgument

    if input_ in (None, "-") and sys.stdin.isatty():
        raise InvalidArgument("cannot read from terminal, use command-line redirection or the --input flag")
    for image in engine(ctx, _progress(quiet)).load(input_):
        for name in image.names or (image.id,):
            render.out(f"Loaded image: {name}")


def login(
    registry: str = typer.Argument(..., help="Registry host[:port] to log in to."),
    username: Optional[str] = typer.Option(None, "-u", "--username", help="User name."),
    password: Optional[str] = typer.Option(None, "-p", "--password", help="Password (prefer --password-stdin)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    tls_verify: Optional[bool] = typer.Option(None, "--tls-verify/--no-tls-verify",
                                              help="Require HTTPS and verify certificates."),
    cert_dir: Optional[str] = typer.Option(None, "--cert-dir", help="Directory with ca.crt, client.cert/.key."),
    authfile: Optional[str] = typer.Option(None, "--authfile", help="Credentials file to write."),
    get_login: bool = typer.Option(False, "--get-login", help="Print the stored user name for the registry."),
) -> None:
    """Log in to a registry: check the credentials and store them in auth.json."""
    import sys

    from ..engine.login import login as do_login
    from ..engine.login import stored_user
    from ..errors import InvalidArgument, PodpyError

    if get_login:
        user = stored_user(registry, authfile)
        if user is None:
            raise PodpyError(f"not logged into {registry}")
        render.out(user)
        return
    if password_stdin:
        if password is not None:
            raise InvalidArgument("--password and --password-stdin are mutually exclusive")
        password = sys.stdin.readline().rstrip("\n")
    if username is None and sys.stdin.isatty():
        username = input("Username: ")
    if password is None:
        if not sys.stdin.isatty():
            raise InvalidArgument("no password given: use --password-stdin or -p")
        import getpass

        password = getpass.getpass("Password: ")
    do_login(registry, username or "", password, tls_verify=tls_verify, cert_dir=cert_dir, auth_file=authfile)
    render.out("Login Succeeded!")


def logout(
    registry: Optional[str] = typer.Argument(None, help="Registry to log out of."),
    all_: bool = typer.Option(False, "-a", "--all", help="Remove every stored credential."),
    authfile: Optional[str] = typer.Option(None, "--authfile", help="Credentials file."),
) -> None:
    """Remove the stored credentials of a registry."""
    from ..engine.login import logout as do_logout

    removed = do_logout(registry, all_, authfile)
    if all_:
        render.out("Removed login credentials for all registries")
    else:
        render.out(f"Removed login credentials for {removed[0]}")


def history(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Image."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, or a Go template."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not truncate the output."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the ids."),
) -> None:
    """Show the history of an image."""
    rows = engine(ctx).history(name)
    if not no_trunc:
        for r in rows:
            r["ID"] = r["id"] = r["ID"][:12]
    if quiet:
        for r in rows:
            render.out(r["ID"])
        return
    if not no_trunc:
        for r in rows:
            r["CreatedBy"] = r["CreatedBy"] if len(r["CreatedBy"]) <= 45 else r["CreatedBy"][:42] + "..."
    json_rows = [{k: r[k] for k in ("id", "created", "CreatedBy", "size", "comment", "tags")} for r in rows]
    render.formatted(rows, fmt, [("ID", "ID"), ("CREATED", "Created"), ("CREATED BY", "CreatedBy"),
                                 ("SIZE", "Size"), ("COMMENT", "Comment")], json_rows=json_rows,
                     header_overrides={"CreatedBy": "CREATED BY"})


def prune(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "-a", "--all", help="Remove every image no container uses."),
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask (podpy never asks)."),
) -> None:
    """Remove dangling images (with -a, every unused image)."""
    for image_id in engine(ctx).prune(all_):
        render.out(image_id)


def images(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, help="Show only images of this repository."),
    all_: bool = typer.Option(False, "-a", "--all", help="Show all images."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the ids."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, or a Go template."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not truncate ids."),
    noheading: bool = typer.Option(False, "-n", "--noheading", help="Do not print the header."),
) -> None:
    """List images."""
    from .views import image_rows

    found = engine(ctx).ls(name, all_)
    if quiet:
        seen = set()
        for s in found:
            if s.image.id not in seen:
                seen.add(s.image.id)
                render.out(s.image.id if no_trunc else s.image.short_id)
        return
    rows = [row for s in found for row in image_rows(s, no_trunc)]
    render.formatted(rows, fmt, IMAGE_COLUMNS, json_rows=[s.data for s in found],
                     header_overrides={"ID": "IMAGE ID", "CreatedSince": "CREATED"}, noheading=noheading)


def rmi(
    ctx: typer.Context,
    names: Optional[List[str]] = typer.Argument(None, help="Images to remove."),
    force: bool = typer.Option(False, "-f", "--force", help="Also remove containers using them."),
    all_: bool = typer.Option(False, "-a", "--all", help="Remove all images."),
) -> None:
    """Remove one or more images."""
    from ..errors import NoSuchImage

    codes = set()
    for rep in engine(ctx).rm(list(names or []), force, all_):
        for n in rep.untagged:
            render.out(f"Untagged: {n}")
        if rep.deleted:
            render.out(f"Deleted: {rep.deleted}")
        for image_id in rep.also:
            render.out(f"Deleted: {image_id}")
        if rep.error is not None:
            render.error(str(rep.error))
            codes.add(1 if isinstance(rep.error, NoSuchImage) else 2 if "in use" in str(rep.error) else 125)
    raise typer.Exit(125 if 125 in codes else 2 if 2 in codes else 1 if codes else 0)


def tag(
    ctx: typer.Context,
    image: str = typer.Argument(..., help="Source image."),
    targets: List[str] = typer.Argument(..., help="New names."),
) -> None:
    """Add names to an image."""
    engine(ctx).tag(image, list(targets))


def untag(
    ctx: typer.Context,
    image: str = typer.Argument(..., help="Image."),
    names: Optional[List[str]] = typer.Argument(None, help="Names to take off (default: all of them)."),
) -> None:
    """Take names off an image (all of them when none are given)."""
    engine(ctx).untag(image, list(names or []))


def exists(ctx: typer.Context, name: str = typer.Argument(..., help="Image name or id.")) -> None:
    """Exit 0 if the image exists, 1 if not."""
    if not engine(ctx).exists(name):
        raise typer.Exit(1)


def inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., help="Images."),
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="json, or a Go template."),
) -> None:
    """Show the configuration of images."""
    from ..engine.entities import failed

    reports = engine(ctx).inspect(list(names))
    render.inspect([r.value for r in reports if r.error is None], fmt)
    error = failed(reports)
    if error is not None:
        raise error


TOP = {"import": (import_, {}), "images": (images, {}), "rmi": (rmi, {}), "tag": (tag, {}), "untag": (untag, {}),
       "pull": (pull, {}),
       "login": (login, {}), "logout": (logout, {}), "history": (history, {}), "push": (push, {}),
       "save": (save, {}), "load": (load, {})}
from .build import build as _build  # noqa: E402 - `image build` is `build`

GROUP = {"build": (_build, {}), "save": (save, {}), "load": (load, {}), "import": (import_, {}), "pull": (pull, {}), "push": (push, {}), "history": (history, {}), "prune": (prune, {}), "ls": (images, {}), "list": (images, {"hidden": True}), "rm": (rmi, {}),
         "tag": (tag, {}), "untag": (untag, {}), "exists": (exists, {}), "inspect": (inspect, {})}
from .mounts import IMAGE_GROUP  # noqa: E402 - `image mount`, `image unmount`

GROUP.update(IMAGE_GROUP)
