"""registries.conf, read from podman's places so a podman user's set-up just works: the one reader of it.

Files, later ones overriding earlier ones key by key (as containers/image does):
    /etc/containers/registries.conf, /etc/containers/registries.conf.d/*.conf,
    $XDG_CONFIG_HOME/containers/registries.conf (replaces the system file when present),
    $XDG_CONFIG_HOME/containers/registries.conf.d/*.conf,
    and podpy's own $XDG_CONFIG_HOME/podpy/registries.conf last;
    $CONTAINERS_REGISTRIES_CONF (a file that must exist) in place of the three main files.
Understood: `unqualified-search-registries`, `[aliases]` (short-name aliases, as in the
distributions' registries.conf.d/shortnames.conf) and `[[registry]]` tables with
`prefix`/`location`, `insecure`, `blocked` and `[[registry.mirror]]` entries
(`location`, `insecure`).

Every image lookup by short name needs the search registries and aliases, and
parsing TOML (importing tomllib alone) costs 15-25 ms, so short_names() keeps
them in a cache file in the runtime directory, keyed by the files' identity,
sizes and times: a `podpy run` of a present image reads it with marshal.
No dataclasses here for the same reason (they are slow to import).
"""

from __future__ import annotations

import os

from storage.named import NamedTuple
from storage.reference import ShortNames

from .. import tomlfile
from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

DEFAULT_SEARCH_REGISTRIES = ["docker.io", "quay.io"]
_CACHE_NAME = "registries.cache"
_CACHE_VERSION = 1


class Mirror(NamedTuple):
    """A [[registry.mirror]]: another place to fetch the registry's images from first."""

    __slots__ = ()
    location: str
    insecure: bool = False


class Registry(NamedTuple):
    """A [[registry]] table: which names it covers (prefix), where they come from, how safely."""

    __slots__ = ()
    prefix: str                    # what names it applies to: "host[:port][/path]"
    location: str                  # where to fetch them from instead (same as prefix by default)
    insecure: bool = False
    blocked: bool = False
    mirrors: tuple[Mirror, ...] = ()


class RegistriesConf:
    """Everything the files say, merged."""

    def __init__(self, search: Optional[list[str]] = None, aliases: Optional[dict[str, str]] = None,
                 registries: Optional[list[Registry]] = None, files: Optional[list[str]] = None) -> None:
        self.search: list[str] = list(search or [])
        self.aliases: dict[str, str] = dict(aliases or {})
        self.registries: list[Registry] = list(registries or [])
        self.files: list[str] = list(files or [])

    def short_names(self) -> ShortNames:
        """The plain data storage resolves short names with."""
        return ShortNames(tuple(self.search), dict(self.aliases))

    def find(self, name: str) -> Optional[Registry]:
        """The [[registry]] whose prefix matches `name` (host/repo) most specifically."""
        best: Optional[Registry] = None
        for reg in self.registries:
            p = reg.prefix
            if name == p or name.startswith(p + "/") or name.startswith(p + ":") or name.startswith(p + "@"):
                if best is None or len(p) > len(best.prefix):
                    best = reg
        return best


REGISTRIES_CONF_ENV = "CONTAINERS_REGISTRIES_CONF"


def _conf_d(directory: str) -> list[str]:
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return [os.path.join(directory, n) for n in sorted(names) if n.endswith(".conf")]


def conf_files(config_dir: str) -> list[str]:
    """The registries.conf files in force, in the order they are applied.
    $CONTAINERS_REGISTRIES_CONF names the one main file (the user's, the system's and
    podpy's own are then not read; the .conf.d directories still are), and it must exist,
    as podman's does."""
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    user = os.path.join(xdg, "containers", "registries.conf")
    given = os.environ.get(REGISTRIES_CONF_ENV)
    if given:
        try:
            os.stat(given)
        except OSError as exc:
            raise InvalidArgument(f'loading registries configuration "{given}": open {given}: '
                                  f"{(exc.strerror or str(exc)).lower()}") from None
        out = [given]
    else:
        out = [user] if os.getuid() != 0 and os.path.exists(user) else ["/etc/containers/registries.conf"]
    out += _conf_d("/etc/containers/registries.conf.d")
    if os.getuid() != 0:
        out += _conf_d(os.path.join(xdg, "containers", "registries.conf.d"))
    if not given:
        out.append(os.path.join(config_dir, "registries.conf"))
    return [f for f in out if os.path.isfile(f)]


def load(config_dir: str, default_search: Optional[list[str]] = None) -> RegistriesConf:
    """Read and merge every file; InvalidArgument names a file that cannot be read or is not valid TOML."""
    return _load(conf_files(config_dir), default_search)


def _load(files: list[str], default_search: Optional[list[str]]) -> RegistriesConf:
    conf = RegistriesConf(search=list(DEFAULT_SEARCH_REGISTRIES if default_search is None else default_search))
    by_prefix: dict[str, Registry] = {}
    for path in files:
        data = tomlfile.read(path)
        if data is None:
            continue   # removed since it was listed
        conf.files.append(path)
        search = tomlfile.strings(data, "unqualified-search-registries", path)
        if search is not None:
            conf.search = search
        conf.aliases.update({str(k): str(v) for k, v in tomlfile.table(data, "aliases", path).items()})
        for entry in tomlfile.tables(data, "registry", path):
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
                    for m in tomlfile.tables(entry, "mirror", path, "registry") if m.get("location"))
    return Registry(prefix=prefix, location=location or prefix, insecure=bool(entry.get("insecure", False)),
                    blocked=bool(entry.get("blocked", False)), mirrors=mirrors)


def short_names(config_dir: str, cache_dir: Optional[str] = None) -> ShortNames:
    """The search registries and aliases in force, from the cache in cache_dir while the files are unchanged."""
    import marshal

    files = conf_files(config_dir)
    key: list[tuple[str, int, int, int]] = []
    for path in files:
        try:
            st = os.stat(path)
        except OSError:
            continue
        key.append((path, st.st_ino, st.st_size, st.st_mtime_ns))
    stamp = (_CACHE_VERSION, tuple(key), tuple(DEFAULT_SEARCH_REGISTRIES))
    cache = os.path.join(cache_dir, _CACHE_NAME) if cache_dir else None
    if cache is not None:
        try:
            with open(cache, "rb") as f:
                kept = marshal.load(f)
            if kept[0] == stamp:
                return ShortNames(tuple(kept[1]), dict(kept[2]))
        except (OSError, EOFError, ValueError, TypeError, IndexError):
            pass  # none yet, or unreadable: read the files
    names = _load([p for p, *_ in key], None).short_names()
    if cache is not None:
        _write_cache(cache, (stamp, names.search, names.aliases))
    return names


def _write_cache(path: str, value: object) -> None:
    import marshal

    # Best effort, atomic: a reader sees the old file or the new one, and a
    # failure only costs the next command a parse of the files.
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            marshal.dump(value, f)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
