"""`search`: the images a registry has whose names contain a term, or (`--list-tags`) one image's tags.

A term with a registry in it (`registry.example.com/app`, or `registry.example.com/` for all
of it) asks that registry; any other term asks each of registries.conf's
unqualified-search-registries in turn, each one's results limited on its own (podman's rule).
Registries are asked through the distribution API's catalog (`/v2/_catalog`), whose names are
kept when they contain the term (the part after the registry, case as given); the catalog
knows no descriptions, stars or official marks, so those are empty, 0 and unset, as podman
shows them for such registries. A registry that fails is an error when every one failed, and
otherwise a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..errors import InvalidArgument, PodpyError, translate
from .context import Runtime

DEFAULT_LIMIT = 25


@dataclass(frozen=True)
class SearchOptions:
    term: str
    limit: Optional[int] = None             # per registry; default 25
    filters: tuple[str, ...] = ()           # stars=N, is-automated=BOOL, is-official=BOOL
    list_tags: bool = False
    tls_verify: Optional[bool] = None
    creds: Optional[str] = None
    cert_dir: Optional[str] = None
    auth_file: Optional[str] = None


@dataclass
class SearchFilter:
    stars: int = 0
    automated: Optional[bool] = None
    official: Optional[bool] = None

    def keeps(self, row: dict[str, Any]) -> bool:
        return (row["Stars"] >= self.stars
                and (self.automated is None or (row["Automated"] == "[OK]") == self.automated)
                and (self.official is None or (row["Official"] == "[OK]") == self.official))


@dataclass
class _Where:
    registry: str
    path: str                    # the term's part after the registry
    rows: list[dict[str, Any]] = field(default_factory=list)


def parse_filters(items: tuple[str, ...]) -> SearchFilter:
    out = SearchFilter()
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or key not in ("stars", "is-automated", "is-official"):
            raise InvalidArgument(f"invalid filter type \"{item}\"")
        if key == "stars":
            try:
                out.stars = int(value)
            except ValueError:
                raise InvalidArgument(f"incorrect value type for stars filter: \"{value}\" is not a number") from None
            continue
        if value.lower() not in ("true", "false"):
            raise InvalidArgument(f"invalid filter value for {key}: \"{value}\" (use true or false)")
        if key == "is-automated":
            out.automated = value.lower() == "true"
        else:
            out.official = value.lower() == "true"
    return out


def _targets(rt: Runtime, term: str) -> list[_Where]:
    """The registries to ask and the term's name part for each."""
    from ..registry.conf import load

    head, slash, rest = term.partition("/")
    if slash and ("." in head or ":" in head or head == "localhost"):
        return [_Where(head, rest)]
    registries = list(load(rt.cfg.config_dir).short_names().search)
    if not registries:
        raise InvalidArgument(f"cannot search for {term!r}: no registry in the term and no "
                              "unqualified-search-registries in registries.conf")
    return [_Where(r, term) for r in registries]


def _client(rt: Runtime, registry: str, o: SearchOptions) -> Any:
    from ..registry.conf import load
    from .pull import Endpoint, PullOptions, _client

    entry = load(rt.cfg.config_dir).find(registry + "/x")
    if entry is not None and entry.blocked:
        raise InvalidArgument(f"registry {registry} is blocked in registries.conf")
    popts = PullOptions(name=registry, tls_verify=o.tls_verify, creds=o.creds, cert_dir=o.cert_dir,
                        auth_file=o.auth_file)
    return _client(Endpoint(registry, "", bool(entry and entry.insecure), False), popts)


def _row(registry: str, name: str, tag: str = "") -> dict[str, Any]:
    return {"Index": registry, "Name": f"{registry}/{name}", "Description": "", "Stars": 0,
            "Official": "", "Automated": "", "Tag": tag}


def search(rt: Runtime, o: SearchOptions, warn: Callable[[str], None]) -> list[dict[str, Any]]:
    """The matching images, one row each (with list_tags, one row per tag of the image)."""
    from storage.transports.registry import RegistryError

    from .pull import PullOptions, given_credentials

    if not o.term:
        raise InvalidArgument("search requires a term")
    limit = DEFAULT_LIMIT if o.limit is None or o.limit == 0 else o.limit
    if limit < 0:
        raise InvalidArgument(f"invalid --limit {o.limit}: it must be a positive number")
    wanted = parse_filters(o.filters)
    given_credentials(PullOptions(name=o.term, creds=o.creds))
    if o.list_tags and o.filters:
        raise InvalidArgument("filters are not applicable to list tags result")
    targets = _targets(rt, o.term)
    errors: list[str] = []
    answered = False
    for where in targets:
        try:
            with _client(rt, where.registry, o) as client:
                where.rows = _tags(client, where) if o.list_tags else _catalog(client, where)
        except RegistryError as exc:
            errors.append(f"couldn't search registry \"{where.registry}\": {exc}")
            continue
        except PodpyError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise translate(exc) from exc
        answered = True
        if o.list_tags:
            break       # the first registry that has the image
    if not answered:
        raise PodpyError("; ".join(errors))
    if not o.list_tags:
        for e in errors:
            warn(e)
    out: list[dict[str, Any]] = []
    for where in targets:
        kept = [r for r in where.rows if o.list_tags or wanted.keeps(r)]
        out.extend(kept[:limit])
    return out


def _catalog(client: Any, where: _Where) -> list[dict[str, Any]]:
    return [_row(where.registry, repo) for repo in client.catalog() if where.path in repo]


def _tags(client: Any, where: _Where) -> list[dict[str, Any]]:
    from storage import reference

    if not where.path:
        raise InvalidArgument("--list-tags needs an image name, not only a registry")
    try:
        ref = reference.parse(f"{where.registry}/{where.path}")
    except Exception as exc:  # noqa: BLE001
        raise InvalidArgument(f"invalid image name {where.path!r} for --list-tags") from exc
    path = ref.path
    if "/" not in path and where.registry == reference.DEFAULT_REGISTRY:
        path = f"library/{path}"
    return [_row(where.registry, path, tag) for tag in client.tags(path)]
