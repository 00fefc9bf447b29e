"""`login` and `logout`: check credentials against a registry and keep them in auth.json.

The file is podman's ($REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json),
written atomically (temporary file, fsync, rename) with mode 0600, so a killed
login never leaves a half-written file and other entries are never lost.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any, Optional

from ..errors import InvalidArgument, PodpyError, translate


def default_auth_file() -> str:
    if os.environ.get("REGISTRY_AUTH_FILE"):
        return os.environ["REGISTRY_AUTH_FILE"]
    run = os.environ.get("XDG_RUNTIME_DIR")
    if run and os.path.isdir(run):
        return os.path.join(run, "containers", "auth.json")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(xdg, "containers", "auth.json")


def registry_key(value: str) -> str:
    """`https://Reg.example:5000/` -> `reg.example:5000` (a repository path is kept)."""
    key = value.strip()
    for scheme in ("https://", "http://"):
        if key.startswith(scheme):
            key = key[len(scheme):]
    key = key.rstrip("/")
    if not key or " " in key:
        raise InvalidArgument(f"invalid registry {value!r}")
    host, sep, path = key.partition("/")
    return host.lower() + sep + path


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {"auths": {}}
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"cannot read auth file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidArgument(f"auth file {path} is not a JSON object")
    data.setdefault("auths", {})
    return data


def _write(path: str, data: dict[str, Any]) -> None:
    from storage.fsutil import atomic_file

    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    with atomic_file(path, 0o600) as f:
        f.write((json.dumps(data, indent="\t") + "\n").encode())   # podman's layout


def login(registry: str, user: str, password: str, *, tls_verify: Optional[bool], cert_dir: Optional[str],
          auth_file: Optional[str]) -> str:
    """Check the credentials against the registry, then store them; returns the auth file."""
    from storage.transports.registry import RegistryClient, RegistryOptions

    from ..config import load as load_config
    from ..registry.conf import load

    if not user:
        raise InvalidArgument("a username is needed (-u/--username)")
    key = registry_key(registry)
    host = key.split("/", 1)[0]
    entry = load(load_config().config_dir, []).find(key)
    insecure = bool(entry and entry.insecure) or tls_verify is False
    options = RegistryOptions(insecure=insecure, tls_verify=tls_verify is not False and not insecure,
                              cert_dir=cert_dir, credentials=(user, password))
    from storage.transports.errors import UnauthorizedError

    try:
        with RegistryClient(host, options) as client:
            client.check_login()
    except UnauthorizedError:
        raise InvalidArgument(f'logging into "{key}": invalid username/password') from None
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
    path = auth_file or default_auth_file()
    data = _read(path)
    data["auths"][key] = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    _write(path, data)
    return path


def logout(registry: Optional[str], all_: bool, auth_file: Optional[str]) -> list[str]:
    """Remove stored credentials; returns the registries removed."""
    path = auth_file or default_auth_file()
    data = _read(path)
    auths: dict[str, Any] = data["auths"]
    if all_:
        removed = list(auths)
        auths.clear()
    else:
        if not registry:
            raise InvalidArgument("`podpy logout` needs a registry, or --all")
        key = registry_key(registry)
        if key not in auths:
            raise PodpyError(f"not logged into {key}")
        del auths[key]
        removed = [key]
    if removed or os.path.exists(path):
        _write(path, data)
    return removed


def stored_user(registry: str, auth_file: Optional[str]) -> Optional[str]:
    """--get-login: the user name stored for registry."""
    entry = _read(auth_file or default_auth_file())["auths"].get(registry_key(registry))
    if not entry or not entry.get("auth"):
        return None
    return base64.b64decode(entry["auth"]).decode(errors="replace").partition(":")[0]
