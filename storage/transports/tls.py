"""TLS settings per registry host: certs.d directories (extra CAs, a client certificate) and cached contexts."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    import ssl

__all__ = ["cert_dir_for", "default_cert_roots", "ssl_context"]


def default_cert_roots() -> list[Path]:
    """Where per-registry certificate directories are looked for, in order."""
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return [Path(config, "containers", "certs.d"), Path("/etc/containers/certs.d"), Path("/etc/docker/certs.d")]


def cert_dir_for(netloc: str, cert_dir: Optional[str]) -> Optional[str]:
    """The directory with CA and client certificates for host[:port] netloc, if any.

    With cert_dir given, its <netloc>/ subdirectory is used when present,
    else cert_dir itself (podman's --cert-dir names the directory directly).
    """
    if cert_dir is not None:
        sub = Path(cert_dir, netloc)
        return str(sub) if sub.is_dir() else (cert_dir if Path(cert_dir).is_dir() else None)
    for root in default_cert_roots():
        sub = root / netloc
        if sub.is_dir():
            return str(sub)
    return None


def ssl_context(verify: bool, cert_path: Optional[str]) -> ssl.SSLContext:
    """A client TLS context, shared while the certificate files stay the same.

    cert_path: a certs.d directory whose *.crt files are extra CAs and whose
    *.cert/*.key pair is the client certificate.  Raises OSError,
    ssl.SSLError or ValueError when those files are unusable.
    """
    # Building a context reads the system CA bundle, so it is cached; the
    # files' names, sizes and times are in the key so that edits are seen.
    files: tuple[tuple[str, int, int], ...] = ()
    if cert_path is not None:
        stats = ((p, p.stat()) for p in sorted(Path(cert_path).iterdir()) if p.suffix in (".crt", ".cert", ".key"))
        files = tuple((str(p), st.st_size, st.st_mtime_ns) for p, st in stats)
    return _ssl_context(verify, cert_path, files)


@functools.lru_cache(maxsize=32)
def _ssl_context(verify: bool, cert_path: Optional[str], files: tuple[tuple[str, int, int], ...]) -> ssl.SSLContext:
    import ssl

    ctx = ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    entries = [Path(name) for name, _, _ in files]
    for ca in (p for p in entries if p.suffix == ".crt"):
        ctx.load_verify_locations(cafile=str(ca))
    certs = [p for p in entries if p.suffix == ".cert"]
    if certs:
        key = certs[0].with_suffix(".key")
        if not key.exists():
            raise ValueError(f"client certificate {certs[0]} has no matching key {key.name}")
        # Only one client certificate can be offered; the first pair wins.
        ctx.load_cert_chain(str(certs[0]), str(key))
    return ctx
