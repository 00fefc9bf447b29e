"""registries.conf, read from podman's places so a podman user's set-up just works.

Files, later ones overriding earlier ones key by key (as containers/image does):
    /etc/containers/registries.conf, /etc/containers/registries.conf.d/*.conf,
    $XDG_CONFIG_HOME/containers/registries.conf (replaces the system file when present),
    $XDG_CONFIG_HOME/containers/registries.conf.d/*.conf,
    and podpy's own $XDG_CONFIG_HOME/podpy/registries.conf last.
Understood: `unqualified-search-registries`, `[aliases]` (short-name aliases) and
`[[registry]]` tables with `prefix`/`location`, `insecure`, `blocked` and
`[[registry.mirror]]` entries (`location`, `insecure`).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from typing import Any, Optional

from .errors import InvalidArgument


@dataclass(frozen=True)
class Mirror:
    location: str
    insecure: bool = False


@dataclass(frozen=True)
class Registry:
    prefix: str            # what names it applies to: "host[:port][/path]"
    location: str          # where to fetch them from instead (same as prefix by default)
    insecure: bool = False
    blocked: bool = False
    mirrors: tuple[Mirror, ...] = ()


@dataclass
class RegistriesConf:
    search: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    registries: list[Registry] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def find(self, name: str) -> Optional[Registry]:
        """The [[registry]] whose prefix matches `name` (host/repo) most specifically."""
        best: Optional[Registry] = None
        for reg in self.registries:
            p = reg.prefix
            if name == p or name.startswith(p + "/") or name.startswith(p + ":") or name.startswith(p + "@"):
                if best is None or len(p) > len(best.prefix):
                    best = reg
        return best


def _files(config_dir: str) -> list[str]:
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    user = os.path.join(xdg, "containers", "registries.conf")
    out = [user] if os.getuid() != 0 and os.path.exists(user) else ["/etc/containers/registries.conf"]
    out += sorted(glob.glob("/etc/containers/registries.conf.d/*.conf"))
    if os.getuid() != 0:
        out += sorted(glob.glob(os.path.join(xdg, "containers", "registries.conf.d", "*.conf")))
    out.append(os.path.join(config_dir, "registries.conf"))
    return [f for f in out if os.path.isfile(f)]


def load(config_dir: str, default_search: list[str]) -> RegistriesConf:
    import tomllib

    conf = RegistriesConf(search=list(default_search))
    by_prefix: dict[str, Registry] = {}
    for path in _files(config_dir):
        try:
            with open(path, "rb") as f:
                data: dict[str, Any] = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidArgument(f"{path}: {exc}") from exc
        conf.files.append(path)
        if isinstance(data.get("unqualified-search-registries"), list):
            conf.search = [str(r) for r in data["unqualified-search-registries"]]
        if isinstance(data.get("aliases"), dict):
            conf.aliases.update({str(k): str(v) for k, v in data["aliases"].items()})
        for entry in data.get("registry", []) or []:
            reg = _registry(entry, path)
            by_prefix[reg.prefix] = reg
    conf.registries = list(by_prefix.values())
    return conf


def _registry(entry: dict[str, Any], path: str) -> Registry:
    location = str(entry.get("location") or "")
    prefix = str(entry.get("prefix") or location)
    if not prefix:
        raise InvalidArgument(f"{path}: a [[registry]] needs a location or a prefix")
    mirrors = tuple(Mirror(str(m["location"]), bool(m.get("insecure", False)))
                    for m in entry.get("mirror", []) or [] if m.get("location"))
    return Registry(prefix=prefix, location=location or prefix, insecure=bool(entry.get("insecure", False)),
                    blocked=bool(entry.get("blocked", False)), mirrors=mirrors)
