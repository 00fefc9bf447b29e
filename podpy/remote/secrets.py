"""The secret verbs over a service: libpod's /secrets routes, in the local SecretEngine's
method names and documents (the data goes to the service once and never comes back)."""

from __future__ import annotations

import json

from ..errors import InvalidArgument, NoSuchSecret
from .base import Remote, _each, _q
from .client import ServiceError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from ..engine.entities import Report


def _local_times(doc: dict[str, Any]) -> dict[str, Any]:
    """A document's times to the microsecond, as podpy keeps them (podman's service gives
    nanoseconds), so the CLI's renderers read both."""
    import re

    for key in ("CreatedAt", "UpdatedAt"):
        stamp = doc.get(key)
        if isinstance(stamp, str):
            m = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", stamp)
            if m:
                doc[key] = f"{m.group(1)}.{(m.group(2) or '').ljust(6, '0')[:6]}Z" if m.group(3) == "Z" else stamp
    return doc


class RemoteSecretEngine(Remote):
    def create(self, name: str, data: bytes, driver: str = "file", labels: Optional[dict[str, str]] = None,
               driver_opts: Optional[dict[str, str]] = None) -> str:
        query = {"name": name, "driver": driver, "labels": json.dumps(labels) if labels else None,
                 "driveropts": json.dumps(driver_opts) if driver_opts else None}
        try:
            made = self.client.call("POST", "/secrets/create", query, body=data,
                                    headers={"Content-Type": "application/octet-stream"})
        except ServiceError as exc:
            raise InvalidArgument(str(exc)) from None
        return str((made or {}).get("ID") or "")

    def ls(self, filters: list[str]) -> list[dict[str, Any]]:
        grouped: dict[str, list[str]] = {}
        for f in filters:
            key, _, value = f.partition("=")
            grouped.setdefault(key, []).append(value)
        try:
            docs = self.client.call("GET", "/secrets/json", {"filters": json.dumps(grouped)}) or []
        except ServiceError as exc:
            raise InvalidArgument(str(exc)) from None
        return [_local_times(d) for d in docs]

    def inspect(self, names: list[str]) -> list[Report]:
        return _each(names, lambda n: _local_times(self.client.call("GET", f"/secrets/{_q(n)}/json")), NoSuchSecret)

    def rm(self, names: list[str], all_: bool = False) -> list[Report]:
        if bool(names) == all_:
            raise InvalidArgument("`podpy secret rm` requires one argument, or the --all flag")
        if all_:
            names = [d["ID"] for d in self.ls([])]

        def one(name: str) -> str:
            ident = str(self.client.call("GET", f"/secrets/{_q(name)}/json")["ID"])
            self.client.call("DELETE", f"/secrets/{_q(name)}")
            return ident
        return _each(names, one, NoSuchSecret)
