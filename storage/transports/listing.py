"""What a registry lists: its repositories (`/v2/_catalog`) and a repository's tags (`/v2/NAME/tags/list`).

Both answers come in pages: a `Link: <...>; rel="next"` header names the next one. Pages are
followed until the answer ends, or enough names were read, or a bound on pages is reached (a
registry that sends the same page forever must not keep the client).
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional
from urllib.parse import urlencode, urljoin

from storage.transports._api import check_repository
from storage.transports._http import Request, Session, unexpected, url_target
from storage.transports.errors import RegistryError, printable

__all__ = ["catalog", "tags"]

_PAGE = 1000
_MAX_PAGES = 100
_NEXT = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')


def _pages(session: Session, path: str, repository: str, key: str, label: str,
           enough: Optional[int]) -> list[str]:
    names: list[str] = []
    for _ in range(_MAX_PAGES):
        reply = session.fetch(Request("GET", path, {"Accept": "application/json"}, label), repository)
        if reply.status == 404:
            detail = "the registry does not list its repositories" if key == "repositories" else \
                "repository not known to registry"
            raise RegistryError(f"{label}: {detail}")
        if reply.status != 200:
            raise RegistryError(f"{label}: {unexpected(reply)}")
        try:
            doc: Any = json.loads(reply.body)
            page = doc.get(key) or []
        except (ValueError, AttributeError):
            raise RegistryError(f"{label}: the registry's answer is not the JSON expected") from None
        if not isinstance(page, list) or not all(isinstance(n, str) for n in page):
            raise RegistryError(f"{label}: the registry's answer is not the JSON expected")
        names.extend(page)
        link = _NEXT.search(reply.header("Link") or "")
        if not link or not page or (enough is not None and len(names) >= enough):
            break
        target = url_target(urljoin(reply.url, link.group(1)))
        if target is None or not target[1].startswith("/v2/") or not target[1].isprintable():
            break
        path = target[1]
    return names


def catalog(session: Session, enough: Optional[int] = None) -> list[str]:
    """The registry's repositories (at least `enough` when it has them, all when None)."""
    label = printable(f"listing the repositories of {session.registry}")
    return _pages(session, "/v2/_catalog?" + urlencode({"n": _PAGE}), "", "repositories", label, enough)


def tags(session: Session, repository: str) -> list[str]:
    """The tags of repository."""
    label = printable(f"listing the tags of {session.registry}/{repository}")
    repo = check_repository(repository, label)
    return _pages(session, f"/v2/{repo}/tags/list", repo, "tags", label, None)
