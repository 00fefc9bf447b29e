"""Image commands: pull, push, search, save, load, import, images, history, rmi, prune, tag, untag,
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
    from .app import remote_engine

    remote = remote_engine(ctx, "images", render.warn, progress)
    if remote is not None:
        return remote
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
    arch: Optional[str] = typer.Option(None, "--arch", help="The architecture the image says it is for."),
    os_: Optional[str] = typer.Option(None, "--os", help="The operating system the image says it is for."),
    variant: Optional[str] = typer.Option(None, "--variant", help="The architecture's variant (arm64: v8)."),
) -> None:
    """Import a tarball as a one-layer image."""
    from ..engine.entities import ImportOptions

    image = engine(ctx).import_(ImportOptions(source=source, reference=reference, changes=list(change),
                                              message=message, arch=arch, os=os_, variant=variant))
    render.out(f"sha256:{image.id}")   # as podman prints an import's id


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
    all_tags: bool = typer.Option(False, "-a", "--all-tags/--no-all-tags", show_default=False,
                                  help="Every tag of the repository (a tag given with the name is dropped)."),
    retry: Optional[str] = typer.Option(None, "--retry", help="Times to try again when the registry cannot be "
                                                              "reached (podman 5's flag; default 0)."),
    retry_delay: Optional[str] = typer.Option(None, "--retry-delay", help="Wait between tries (default: 2s, "
                                                                          "doubling each time)."),
    decryption_keys: list[str] = typer.Option([], "--decryption-key",
                                              help="KEY[:PASSPHRASE]: a private key for encrypted layers "
                                                   "(repeatable)."),
    signature_policy: Optional[str] = typer.Option(None, "--signature-policy", hidden=True,
                                                   help="The trust policy file (default: policy.json)."),
) -> None:
    """Pull an image from a registry."""
    from ..engine.pull import PullOptions, retry_plan

    retry_plan(retry, retry_delay)   # a bad value stops here, before any progress
    opts = PullOptions(name=name, tls_verify=tls_verify, creds=creds, cert_dir=cert_dir, auth_file=authfile,
                       platform=platform, os=os_, arch=arch, variant=variant, retry=retry, retry_delay=retry_delay,
                       signature_policy=signature_policy, decryption_keys=tuple(decryption_keys))
    images = _with_bars(ctx, quiet, lambda eng: eng.pull_all_tags(opts) if all_tags else [eng.pull(opts)])
    for image in images:
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
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="Manifest type: oci or v2s2."),
    compress: bool = typer.Option(False, "--compress", help="Gzip the layers written to a dir: directory."),
    _content_trust: bool = typer.Option(False, "--disable-content-trust",
                                        help="A no-op kept for Docker's scripts, as in podman."),
    sign_by: Optional[str] = typer.Option(None, "--sign-by", help="Sign the pushed image with this GPG key."),
    sigstore_key: Optional[str] = typer.Option(None, "--sign-by-sigstore-private-key",
                                               help="Sign the pushed image with this sigstore private key file."),
    passphrase_file: Optional[str] = typer.Option(None, "--sign-passphrase-file",
                                                  help="Read the signing key's passphrase from this file."),
    remove_signatures: bool = typer.Option(False, "--remove-signatures",
                                           help="Leave the signatures kept with the stored image behind."),
) -> None:
    """Push an image to a registry, an archive (docker-archive:, oci-archive:) or a directory (oci:, dir:)."""
    from ..engine.push import PushOptions, check
    from .signing import passphrase

    opts = PushOptions(image=image, destination=destination, compression=compression, tls_verify=tls_verify,
                       creds=creds, cert_dir=cert_dir, auth_file=authfile, digest_file=digestfile, format=fmt,
                       compress=compress, sign_by=sign_by, sigstore_key=sigstore_key,
                       sign_passphrase=passphrase(sign_by, sigstore_key, passphrase_file),
                       remove_signatures=remove_signatures)
    check(opts)
    _with_bars(ctx, quiet, lambda images: images.push(opts))


def _with_bars(ctx: typer.Context, quiet: bool, call: Callable[[Any], Any]) -> Any:
    """call(the image engine), its progress lines on stderr, and on a terminal a bar per layer
    (pull's downloads, push's uploads) as podman shows them."""
    import sys

    if quiet or not sys.stderr.isatty():
        return call(engine(ctx, _progress(quiet)))
    with render.LayerProgress() as bars:
        return call(engine(ctx, bars.line, bars.start))


def search(
    ctx: typer.Context,
    term: str = typer.Argument(..., help="What to look for: [REGISTRY/]NAME, or REGISTRY/ for everything."),
    limit: Optional[int] = typer.Option(None, "--limit", help="At most this many results per registry (25)."),
    filters: List[str] = typer.Option([], "-f", "--filter", help="stars=N, is-automated=BOOL, is-official=BOOL."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, or a Go template."),
    list_tags: bool = typer.Option(False, "--list-tags", help="List the tags of the image named."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not truncate descriptions."),
    compatible: bool = typer.Option(False, "--compatible", help="Also show the stars, official and automated "
                                                               "columns, as docker does."),
    tls_verify: Optional[bool] = typer.Option(None, "--tls-verify/--no-tls-verify",
                                              help="Require HTTPS and verify certificates."),
    authfile: Optional[str] = typer.Option(None, "--authfile", help="Credentials file (default: auth.json)."),
    creds: Optional[str] = typer.Option(None, "--creds", help="USERNAME:PASSWORD for the registry."),
    cert_dir: Optional[str] = typer.Option(None, "--cert-dir", help="Directory with ca.crt, client.cert/.key."),
) -> None:
    """Search registries for images (or, with --list-tags, an image's tags)."""
    from ..engine.search import SearchOptions

    opts = SearchOptions(term=term, limit=limit, filters=tuple(filters), list_tags=list_tags, tls_verify=tls_verify,
                         creds=creds, cert_dir=cert_dir, auth_file=authfile)
    rows = engine(ctx).search(opts)
    if not rows:
        return
    if list_tags:
        grouped: dict[str, list[str]] = {}
        for r in rows:
            grouped.setdefault(r["Name"], []).append(r["Tag"])
        render.formatted(rows, fmt, [("NAME", "Name"), ("TAG", "Tag")],
                         json_rows=[{"Name": n, "Tags": t} for n, t in grouped.items()])
        return
    json_rows = [dict(r) for r in rows]
    if not no_trunc:
        for r in rows:
            if len(r["Description"]) > 44:
                r["Description"] = r["Description"][:44] + "..."
    columns = [("NAME", "Name"), ("DESCRIPTION", "Description")]
    if compatible:
        columns += [("STARS", "Stars"), ("OFFICIAL", "Official"), ("AUTOMATED", "Automated")]
    render.formatted(rows, fmt, columns, json_rows=json_rows)


def save(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., help="Image to save (then, with -m, more images; "
                                                "without, more names for it)."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Write to this file or directory "
                                                                      "(default: stdout)."),
    fmt: str = typer.Option("docker-archive", "--format",
                            help="docker-archive, oci-archive, oci-dir or docker-dir."),
    compress: bool = typer.Option(False, "--compress", help="Gzip the layers (docker-dir)."),
    multi_image: bool = typer.Option(False, "-m", "--multi-image-archive",
                                     help="Every image named into one docker-archive."),
    uncompressed: bool = typer.Option(False, "--uncompressed",
                                      help="Keep the layers of oci-archive and oci-dir plain."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print nothing but errors."),
) -> None:
    """Save images to an archive (docker-archive, oci-archive) or a directory (oci-dir, docker-dir)."""
    import sys

    from ..engine.archive_io import TAR_FORMATS, check_save
    from ..engine.entities import SaveOptions
    from ..errors import InvalidArgument

    opts = SaveOptions(names=list(names), output=output, format=fmt, compress=compress,
                       uncompressed=uncompressed, multi_image=multi_image)
    check_save(opts)
    if output in (None, "-") and fmt in TAR_FORMATS and sys.stdout.isatty():
        raise InvalidArgument("refusing to save to a terminal. Use -o flag or redirect")
    sys.stdout.flush()  # the archive goes to fd 1 directly: nothing buffered may follow it
    engine(ctx, _progress(quiet)).save(opts)


def load(
    ctx: typer.Context,
    input_: Optional[str] = typer.Option(None, "-i", "--input", help="Read from this file or directory "
                                                                     "(default: stdin)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the loaded names."),
) -> None:
    """Load images from a docker-archive or oci-archive tar, or an OCI layout or dir: directory."""
    import sys

    from ..errors import InvalidArgument

    if input_ in (None, "-") and sys.stdin.isatty():
        raise InvalidArgument("cannot read from terminal, use command-line redirection or the --input flag")
    for loaded in engine(ctx, _progress(quiet)).load(input_):
        for name in loaded.names or ("sha256:" + loaded.image.id,):
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
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Say which credentials file was written."),
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
    used = do_login(registry, username or "", password, tls_verify=tls_verify, cert_dir=cert_dir, auth_file=authfile)
    if verbose:
        render.out(f"Used:  {used}")   # podman's two spaces
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
    human: bool = typer.Option(True, "-H", "--human/--no-human",
                               help="Times as how long ago (--human=false: as RFC 3339 times)."),
) -> None:
    """Show the history of an image."""
    import json

    from ..engine.imagestore import _parse_time
    from ..formats import go_time, rfc3339_seconds

    rows = engine(ctx).history(name)
    for r in rows:
        when = _parse_time(r["created"]) if r["created"] else None
        stamp = rfc3339_seconds(when) if when else ""
        r["CreatedAt"] = go_time(when) if when else ""
        if not human:
            r["Created"] = stamp
        r["CreatedSince"] = r["Created"]
    if fmt == "json":   # podman's: one line, ids and commands in full, the time to the second
        render.out(json.dumps([{"id": r["ID"], "created": r["created"], "CreatedBy": r["CreatedBy"], "size": r["size"],
                                "comment": r["comment"], **({"tags": r["tags"]} if r["tags"] else {}),
                                "Created": rfc3339_seconds(_parse_time(r["created"]) or 0) if r["created"] else ""}
                               for r in rows], separators=(",", ":")))
        return
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
    render.formatted(rows, fmt, [("ID", "ID"), ("CREATED", "Created"), ("CREATED BY", "CreatedBy"),
                                 ("SIZE", "Size"), ("COMMENT", "Comment")],
                     header_overrides={"CreatedBy": "CREATED BY"})


def prune(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "-a", "--all", help="Remove every image no container uses."),
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask for confirmation."),
    filters: List[str] = typer.Option([], "--filter", help="Only images that match (the keys of `images`)."),
    _external: bool = typer.Option(False, "--external",
                                   help="Also images only other tools' containers use (podpy's store has none)."),
) -> None:
    """Remove dangling images (with -a, every unused image)."""
    warning = ("WARNING! This command removes all images without at least one container associated with them."
               if all_ else "WARNING! This command removes all dangling images.")
    if not force and not render.confirm("image prune", warning):
        return
    for image_id in engine(ctx).prune(all_, list(filters)):
        render.out(image_id)


IMAGE_SORT_KEYS = ("size", "tag", "created", "id", "repository")


def images(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, help="Show only images of this repository."),
    all_: bool = typer.Option(False, "-a", "--all", help="Show all images."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the ids."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, or a Go template."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not truncate ids."),
    noheading: bool = typer.Option(False, "-n", "--noheading", help="Do not print the header."),
    filters: List[str] = typer.Option([], "-f", "--filter",
                                      help="KEY=VALUE: before, since, after, until, dangling, intermediate, "
                                           "label, label!, reference, id, readonly, containers, manifest."),
    sort: str = typer.Option("created", "--sort", help="created, id, repository, size or tag."),
    digests: bool = typer.Option(False, "--digests", help="Show the digests."),
    history: bool = typer.Option(False, "--history", help="Show the names each image had."),
) -> None:
    """List images."""
    from ..errors import InvalidArgument
    from .views import image_rows, sort_image_rows

    if sort not in IMAGE_SORT_KEYS:
        raise InvalidArgument(f'"{sort}" is not a valid field for sorting. Choose from: {", ".join(IMAGE_SORT_KEYS)}')
    found = engine(ctx).ls(name, all_, list(filters))
    if quiet:
        seen = set()
        for s in found:
            if s.image.id not in seen:
                seen.add(s.image.id)
                render.out(f"sha256:{s.image.id}" if no_trunc else s.image.short_id)
        return
    rows = sort_image_rows([row for s in found for row in image_rows(s, no_trunc)], sort)
    columns = IMAGE_COLUMNS[:2] + ([("DIGEST", "Digest")] if digests else []) + IMAGE_COLUMNS[2:] \
        + ([("HISTORY", "History")] if history else [])
    render.formatted(rows, fmt, columns, json_rows=[s.data for s in found],
                     header_overrides={"ID": "IMAGE ID", "CreatedSince": "CREATED", "ReadOnly": "R/O"},
                     noheading=noheading)


def rmi(
    ctx: typer.Context,
    names: Optional[List[str]] = typer.Argument(None, help="Images to remove."),
    force: bool = typer.Option(False, "-f", "--force", help="Also remove containers using them."),
    all_: bool = typer.Option(False, "-a", "--all", help="Remove all images."),
    ignore: bool = typer.Option(False, "-i", "--ignore", help="Pass over names no image has."),
    no_prune: bool = typer.Option(False, "--no-prune", help="Keep the unnamed images a removed one was built on."),
) -> None:
    """Remove one or more images."""
    from ..errors import NoSuchImage

    codes = set()
    for rep in engine(ctx).rm(list(names or []), force, all_, ignore, no_prune):
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
    reports = engine(ctx).inspect(list(names))
    render.inspect([r.value for r in reports if r.error is None], fmt)
    error = render.inspect_error(reports)
    if error is not None:
        raise error


def diff(
    ctx: typer.Context,
    image: str = typer.Argument(..., help="Image name or id."),
    other: Optional[str] = typer.Argument(None, help="The image to compare with (default: its parent layers)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json"),
) -> None:
    """List what an image's top layer changed (or what it has against another image)."""
    render.changes(engine(ctx).diff(image, other), fmt)


def _go_size(n: float) -> str:
    """go-units' HumanSizeWithPrecision(n, 4), as podman's tree prints sizes: `2.13MB`, `5.12kB`, `0B`."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return f"{n:.4g}{units[i]}"


def tree(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Image name or id."),
    whatrequires: bool = typer.Option(False, "--whatrequires",
                                      help="The layers and images built on the image's top layer."),
) -> None:
    """Show an image's layers as a tree (or what is built on it)."""
    found = engine(ctx).tree(name, whatrequires)

    def line(layer: Any) -> str:
        tags = f" Top Layer of: [{' '.join(layer.tags)}]" if layer.tags else ""
        return f"ID: {layer.id.split(':')[-1][:12]} Size: {_go_size(layer.size):>7}{tags}"

    # (text, children) entries: what requires a layer hangs below it when it is one, and beside it
    # when there are several (podman's drawing)
    entries: list[tuple[str, list[Any]]] = []

    def add(layer: Any, into: list[tuple[str, list[Any]]]) -> None:
        entry: tuple[str, list[Any]] = (line(layer), [])
        into.append(entry)
        for child in layer.children:
            add(child, into if len(layer.children) > 1 else entry[1])

    for layer in found.layers:
        if whatrequires:
            add(layer, entries)
        else:
            entries.append((line(layer), []))
    out = [f"Image ID: {found.id[:12]}", f"Tags:     [{' '.join(found.tags)}]",
           f"Size:     {_go_size(found.size)}", "Image Layers" if found.layers else "No Image Layers"]

    def draw(items: list[tuple[str, list[Any]]], indent: str) -> None:
        for i, (text, kids) in enumerate(items):
            last = i == len(items) - 1
            out.append(indent + ("└── " if last else "├── ") + text)
            draw(kids, indent + ("    " if last else "│   "))

    draw(entries, "")
    render.out("\n".join(out) + "\n")


TOP = {"import": (import_, {}), "images": (images, {}), "rmi": (rmi, {}), "tag": (tag, {}), "untag": (untag, {}),
       "pull": (pull, {}),
       "login": (login, {}), "logout": (logout, {}), "history": (history, {}), "push": (push, {}),
       "save": (save, {}), "load": (load, {}), "search": (search, {})}
from .build import build as _build  # noqa: E402 - `image build` is `build`

GROUP = {"build": (_build, {}), "save": (save, {}), "load": (load, {}), "import": (import_, {}), "pull": (pull, {}), "push": (push, {}), "history": (history, {}), "prune": (prune, {}), "ls": (images, {}), "list": (images, {"hidden": True}), "rm": (rmi, {}),
         "tag": (tag, {}), "untag": (untag, {}), "exists": (exists, {}), "inspect": (inspect, {}),
         "diff": (diff, {}), "tree": (tree, {})}
from .mounts import IMAGE_GROUP  # noqa: E402 - `image mount`, `image unmount`

GROUP.update(IMAGE_GROUP)
GROUP["search"] = (search, {})
from .signing import sign as _sign, trust as _trust  # noqa: E402 - `image sign`, `image trust set/show`

GROUP["sign"] = (_sign, {})
GROUP["trust"] = (_trust, {})


def scp(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="IMAGE (this store's) or CONNECTION::IMAGE."),
    destination: Optional[str] = typer.Argument(None, help="CONNECTION::[NEWNAME], or NEWNAME in this store "
                                                           "(default: this store, the same name)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print nothing but errors."),
) -> None:
    """Copy an image to or from another host's service (a `system connection`: podpy/remote/scp.py)."""
    from ..remote.scp import copy

    for name in copy(source, destination, lambda: engine(ctx)):
        if not quiet:
            render.out(f"Loaded image: {name}")


GROUP["scp"] = (scp, {})
