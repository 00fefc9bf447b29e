"""Registry credentials from the files podman and docker keep them in.

Looked up in order: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
$XDG_CONFIG_HOME/containers/auth.json, ~/.docker/config.json. Each holds
{"auths": {"host[:port][/path]": {"auth": base64("user:password")}}}; docker's
names for Docker Hub ("https://index.docker.io/v1/") count for docker.io.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Optional

_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/")


def auth_files() -> list[str]:
    home = os.path.expanduser("~")
    files = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        files.append(os.environ["REGISTRY_AUTH_FILE"])
    if os.environ.get("XDG_RUNTIME_DIR"):
        files.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "containers", "auth.json"))
    xdg_config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    files.append(os.path.join(xdg_config, "containers", "auth.json"))
    files.append(os.path.join(home, ".docker", "config.json"))
    return files


def _keys(host: str, repository: str) -> list[str]:
    """Most specific first: host/repo/path, ..., host; with docker's spellings for Docker Hub."""
    parts = repository.split("/") if repository else []
    keys = [f"{host}/{'/'.join(parts[:i])}" for i in range(len(parts), 0, -1)] + [host]
    if host in _HUB:
        keys += list(_HUB)
    return keys + [f"https://{k}" for k in keys] + [f"http://{k}" for k in keys]


def credentials(host: str, repository: str = "", files: Optional[list[str]] = None) -> Optional[tuple[str, str]]:
    """(user, password) for host (and repository), or None; `files` replaces the usual places."""
    for path in files if files is not None else auth_files():
        try:
            with open(path, encoding="utf-8") as f:
                auths = json.load(f).get("auths") or {}
        except (OSError, ValueError, AttributeError):
            continue
        for key in _keys(host, repository):
            entry = auths.get(key)
            if not isinstance(entry, dict) or not entry.get("auth"):
                continue
            try:
                user, sep, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                continue
            if sep and user:
                return user, password
    return None
