"""What a request says of its registry: X-Registry-Auth's credentials, and whether the
registry is one Docker's daemon speaks to without TLS verification (a loopback address).
Credentials are never logged nor put in a message."""

from __future__ import annotations

from .errors import BadParameter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from .http import Request


def credentials(req: Request) -> Optional[str]:
    """X-Registry-Auth as podpy's "user:password" (None when absent or empty)."""
    import base64
    import json

    raw = (req.headers.get("x-registry-auth") or "").strip()
    if not raw:
        return None
    try:
        doc = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, TypeError):
        raise BadParameter("invalid X-Registry-Auth header: expected base64-encoded JSON") from None
    if not isinstance(doc, dict):
        return None
    user, password = doc.get("username") or "", doc.get("password") or ""
    if not user and not password:
        return None
    if not isinstance(user, str) or not isinstance(password, str):
        raise BadParameter("invalid X-Registry-Auth header: username and password are strings")
    return f"{user}:{password}"


def tls_verify(name: str) -> Optional[bool]:
    """False for a registry on a loopback address (Docker's default insecure registries);
    None (registries.conf decides) otherwise."""
    import ipaddress

    host = name.split("/", 1)[0] if "/" in name else ""
    if not host or ("." not in host and ":" not in host and host != "localhost"):
        return None
    hostname = host[1:host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
    if hostname == "localhost":
        return False
    try:
        return False if ipaddress.ip_address(hostname).is_loopback else None
    except ValueError:
        return None
