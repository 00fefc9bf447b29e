"""Published ports on the host's side: what a mapping is, and binding its host socket.

Shared by the forwarder (portfwd.py), which binds every host port before the container
starts, and by redirect.py, which binds one again when a port comes back to the forwarder.
"""

from __future__ import annotations

import _socket
import os

from ..errors import NetworkError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Mapping:
    """One published port: host_ip:host_port -> the container's port, tcp or udp."""

    __slots__ = ("host_ip", "host_port", "container_port", "protocol")

    def __init__(self, host_ip: str, host_port: int, container_port: int, protocol: str = "tcp") -> None:
        self.host_ip = host_ip
        self.host_port = host_port
        self.container_port = container_port
        self.protocol = protocol

    def as_dict(self) -> dict[str, Any]:
        return {"host_ip": self.host_ip, "host_port": self.host_port, "container_port": self.container_port,
                "protocol": self.protocol}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Mapping":
        return cls(str(d.get("host_ip") or ""), int(d["host_port"]), int(d["container_port"]),
                   str(d.get("protocol") or "tcp"))

    def where(self) -> str:
        ip = self.host_ip or "0.0.0.0"
        return f"{'[' + ip + ']' if ':' in ip else ip}:{self.host_port}/{self.protocol}"


def listen(mappings: list[Mapping]) -> list[tuple[_socket.socket, Mapping]]:
    """Bind every host port now, before the container starts: a port in use fails the start
    here, with nothing else made. A host port 0 gets a free one, written back into its
    mapping. Returns (socket, mapping) pairs; on failure closes what it bound."""
    bound: list[tuple[_socket.socket, Mapping]] = []
    try:
        for m in mappings:
            bound.append((bind(m), m))
    except BaseException:
        for sock, _ in bound:
            sock.close()
        raise
    return bound


def bind(m: Mapping) -> _socket.socket:
    """The host socket of one mapping: bound, and listening for TCP (NetworkError when the
    port cannot be had)."""
    ip = m.host_ip or "0.0.0.0"
    family = _socket.AF_INET6 if ":" in ip else _socket.AF_INET
    kind = _socket.SOCK_STREAM if m.protocol == "tcp" else _socket.SOCK_DGRAM
    sock = _socket.socket(family, kind | _socket.SOCK_CLOEXEC)
    try:
        if kind == _socket.SOCK_STREAM:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            # It, and the connections waiting in its queue, may be handed to the container's
            # server (redirect.py): they serve, never connect from the host (where the kernel
            # lets us say so; otherwise it is not handed over).
            from .bindnotify import guard

            guard(sock)
        if family == _socket.AF_INET6:
            sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 1)
        sock.bind((ip, m.host_port))
        if kind == _socket.SOCK_STREAM:
            sock.listen(512)
        m.host_port = sock.getsockname()[1]
    except OSError as exc:
        sock.close()
        why = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        raise NetworkError(f"cannot publish port {m.container_port}/{m.protocol}: listening on "
                           f"{m.where()}: {why}") from None
    return sock
