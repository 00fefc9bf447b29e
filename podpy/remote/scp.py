"""`image scp`: an image copied between this store and a connection's service, or between two
connections' services, as a docker-archive (saved where it is, loaded where it goes).

    podpy image scp IMAGE CONNECTION::[NEWNAME]        this store -> the connection's service
    podpy image scp CONNECTION::IMAGE [NEWNAME]         the connection's service -> this store
    podpy image scp CONN1::IMAGE CONN2::[NEWNAME]       one service -> another

podman 4.3.1 copies over ssh (sftp and `podman load` on the host) and so needs an ssh
connection; podpy goes through the services' API, so any connection will do: unix, tcp or
ssh. A copy to another user of this host (`USER@localhost::`) needs root, which podpy does
not use.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from urllib.parse import quote

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .client import Client


def split(arg: str) -> tuple[Optional[str], str]:
    """(the connection before "::", or None for this store; the image after it, maybe "")."""
    if "::" not in arg:
        return None, arg
    host, _, image = arg.partition("::")
    if not host:
        raise InvalidArgument(f"{arg!r}: no connection before \"::\"")
    if host == "localhost" or host.endswith("@localhost"):
        raise InvalidArgument(f"{arg!r}: copying images to another user needs root (podman runs sudo or "
                              "machinectl), which podpy does not use: use save, then load as the other user")
    return host, image


def _client(name: str) -> Client:
    from .client import Client
    from .connections import find
    from .url import parse

    dest = find(name)
    client = Client(parse(dest.uri), dest.identity)
    client.ping()
    return client


def copy(source: str, destination: Optional[str], local: Callable[[], Any]) -> list[str]:
    """Copy the image; the names it was loaded under where it went. local(): this store's
    image engine (asked for only when this store is a side)."""
    src_host, src_image = split(source)
    if not src_image:
        raise InvalidArgument(f"{source!r}: no image to copy")
    if destination is None:
        if src_host is None:
            raise InvalidArgument("must specify a destination: invalid argument")
        dst_host, dst_image = None, ""
    else:
        dst_host, dst_image = split(destination)
    if src_host is None and dst_host is None:
        raise InvalidArgument("one side of image scp must be a connection (CONNECTION::IMAGE)")
    work = tempfile.mkdtemp(prefix="podpy-scp-")
    archive = os.path.join(work, "image.tar")
    try:
        if src_host is None:
            from ..engine.entities import SaveOptions

            local().save(SaveOptions(names=[src_image], output=archive, format="docker-archive"))
        else:
            _download(_client(src_host), src_image, archive)
        if dst_host is None:
            engine = local()
            names = [n for r in engine.load(archive) for n in (r.names or [f"sha256:{r.image.id}"])]
            if dst_image:
                engine.tag(names[0], [dst_image])
                names = [dst_image]
            return names
        client = _client(dst_host)
        with open(archive, "rb") as f:
            names = [str(n) for n in (client.call("POST", "/images/load", body=f, timeout=None) or {})
                     .get("Names") or []]
        if dst_image and names:
            from .objects import RemoteImageEngine

            RemoteImageEngine(client, "image scp").tag(names[0], [dst_image])
            names = [dst_image]
        return names
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _download(client: Client, image: str, path: str) -> None:
    from .base import engine_error
    from .client import ServiceError, done
    from ..errors import NoSuchImage

    try:
        resp = client.open("GET", f"/images/{quote(image, safe='')}/get", {"format": "docker-archive"},
                           timeout=None)
    except ServiceError as exc:
        raise engine_error(exc, NoSuchImage) from None
    try:
        with open(path, "wb") as f:
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                f.write(chunk)
    finally:
        done(resp)
