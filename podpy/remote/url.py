"""Service URLs: parsing them, and choosing the one a remote command talks to.

    unix:///PATH                       a local socket (unix:/PATH too)
    tcp://HOST:PORT                    plain TCP (no authentication nor TLS)
    ssh://[USER@]HOST[:PORT]/PATH      a socket on another host, forwarded by OpenSSH's client

Which one (podman's order): --url; --connection NAME; $CONTAINER_HOST; $CONTAINER_CONNECTION;
the default connection (`system connection default`); the user's own local podpy socket.
The ssh identity: --identity, else $CONTAINER_SSHKEY, else the connection's.
"""

from __future__ import annotations

import os

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping, Optional


class Target:
    """A parsed service URL: scheme (unix, tcp or ssh), path (the socket's), host, port, user."""

    __slots__ = ("scheme", "path", "host", "port", "user")

    def __init__(self, scheme: str, path: str = "", host: str = "", port: int = 0, user: str = "") -> None:
        self.scheme, self.path, self.host, self.port, self.user = scheme, path, host, port, user

    def uri(self) -> str:
        """The URL as podman writes it (ssh's port always given)."""
        if self.scheme == "unix":
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.scheme == "tcp":
            return f"tcp://{host}:{self.port}"
        return f"ssh://{self.user + '@' if self.user else ''}{host}:{self.port}{self.path}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Target) and all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __repr__(self) -> str:
        return f"Target({self.uri()!r})"


def _host_port(text: str, uri: str, default_port: Optional[int]) -> tuple[str, int]:
    if text.startswith("["):   # [v6]:port
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            host, port_text = text, ""
    if not host:
        raise InvalidArgument(f"invalid URL {uri!r}: no host")
    if not port_text:
        if default_port is None:
            raise InvalidArgument(f"invalid URL {uri!r}: expected tcp://HOST:PORT")
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InvalidArgument(f"invalid URL {uri!r}: invalid port {port_text!r}")
    return host, int(port_text)


def parse(uri: str) -> Target:
    """A service URL, checked; a one-line InvalidArgument naming what is wrong."""
    from urllib.parse import unquote

    if uri.startswith("unix://") or uri.startswith("unix:/"):
        path = uri[len("unix://"):] if uri.startswith("unix://") else uri[len("unix:"):]
        if not path.startswith("/"):
            raise InvalidArgument(f"invalid URL {uri!r}: a unix socket needs an absolute path (unix:///PATH)")
        return Target("unix", path=unquote(path))
    if uri.startswith("tcp://"):
        rest = uri[len("tcp://"):].rstrip("/")
        if "/" in rest:
            raise InvalidArgument(f"invalid URL {uri!r}: expected tcp://HOST:PORT")
        host, port = _host_port(rest, uri, None)
        return Target("tcp", host=host, port=port)
    if uri.startswith("ssh://"):
        rest = uri[len("ssh://"):]
        authority, slash, path = rest.partition("/")
        user, at, hostport = authority.rpartition("@")
        host, port = _host_port(hostport if at else authority, uri, 22)
        return Target("ssh", path=unquote(slash + path) if path else "", host=host, port=port,
                      user=unquote(user) if at else "")
    scheme = uri.partition("://")[0] if "://" in uri else ""
    if scheme:
        raise InvalidArgument(f"invalid URL {uri!r}: {scheme!r} is not a supported scheme (unix, tcp or ssh)")
    raise InvalidArgument(f"invalid URL {uri!r}: expected unix:///PATH, tcp://HOST:PORT or "
                          "ssh://[USER@]HOST[:PORT]/PATH")


def local_socket() -> str:
    """The user's own service socket (`podpy system service`'s default)."""
    from ..config import service_socket

    return service_socket()


def is_remote(remote: bool, url: Optional[str], connection: Optional[str],
              env: Optional[Mapping[str, str]] = None) -> bool:
    """Whether a command line talks to a service: --remote, --url, --connection, or
    $CONTAINER_HOST / $CONTAINER_CONNECTION set (podman's rule)."""
    env = os.environ if env is None else env
    return bool(remote or url or connection or "CONTAINER_HOST" in env or "CONTAINER_CONNECTION" in env)


def resolve(url: Optional[str], connection: Optional[str], identity: Optional[str],
            env: Optional[Mapping[str, str]] = None, conf: Optional[str] = None) -> tuple[Target, str]:
    """(the service to talk to, the ssh identity file or "")."""
    from .connections import find, load

    env = os.environ if env is None else env
    key = identity or env.get("CONTAINER_SSHKEY") or ""
    if url:
        return parse(url), key
    name = connection
    if not name and env.get("CONTAINER_HOST"):
        return parse(env["CONTAINER_HOST"]), key
    name = name or env.get("CONTAINER_CONNECTION") or ""
    if not name:
        name = load(conf)[0]
    if name:
        dest = find(name, conf)
        return parse(dest.uri), identity or dest.identity or env.get("CONTAINER_SSHKEY") or ""
    return Target("unix", path=local_socket()), key


def ssh_command(target: Target, identity: str, local: str, remote_path: Optional[str] = None) -> list[str]:
    """OpenSSH's client forwarding the local socket `local` to the service socket on the host
    (-N: no command; the forward is refused at once if it cannot be made)."""
    argv = ["ssh", "-N", "-o", "ExitOnForwardFailure=yes", "-o", "StreamLocalBindUnlink=yes",
            "-o", "ServerAliveInterval=30"]
    if identity:
        argv += ["-i", identity, "-o", "IdentitiesOnly=yes"]
    argv += ["-p", str(target.port), "-L", f"{local}:{remote_path or target.path}"]
    argv += ["--", f"{target.user}@{target.host}" if target.user else target.host]
    return argv


def ssh_probe_command(target: Target, identity: str, program: str = "podpy") -> list[str]:
    """ssh running `PROGRAM info` on the host for the path of its service socket (what `system
    connection add` asks when the URL names no path)."""
    argv = ["ssh", "-o", "BatchMode=yes"]
    if identity:
        argv += ["-i", identity, "-o", "IdentitiesOnly=yes"]
    argv += ["-p", str(target.port), "--", f"{target.user}@{target.host}" if target.user else target.host,
             program, "info", "--format", "'{{.Host.RemoteSocket.Path}}'"]
    return argv
