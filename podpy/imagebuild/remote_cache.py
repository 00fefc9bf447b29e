"""The layer cache kept in a registry: `build --cache-to REPO` and `--cache-from REPO`.

As buildah does it: after a step that made a layer (RUN, COPY, ADD) is built, its
intermediate image is pushed to REPO with the step's cache key (cache.py: the chain of
the base image's id and every instruction and content digest before it) as the tag;
before such a step is built, REPO:KEY is looked for and, when there, pulled instead of
running the step. The key does not depend on the store, so a build in a fresh store (or
on another machine) finds what another pushed. An image pulled this way keeps no name of
its own: it is an intermediate image of the local cache from then on. --cache-ttl applies
to what is found (by the image's creation time). A registry that cannot be reached is a
warning, once, and the build goes on without it.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

from storage import reference

from ..errors import InvalidArgument, NoSuchImage, PodpyError

__all__ = ["RemoteCache", "cache_repo"]


def cache_repo(value: Optional[str], flag: str) -> Optional[str]:
    """A --cache-from/--cache-to value: a repository with a registry and without a tag or digest."""
    if not value:
        return None
    try:
        ref = reference.parse(value)
    except Exception as exc:  # noqa: BLE001
        raise InvalidArgument(f"invalid {flag} {value!r}: {exc}") from None
    if not ref.qualified or ref.domain == reference.LOCAL_REGISTRY:
        raise InvalidArgument(f"invalid {flag} {value!r}: name a repository of a registry "
                              "(e.g. registry.example.com/cache)")
    if ref.tag or ref.digest:
        raise InvalidArgument(f"invalid {flag} {value!r}: a repository without a tag or digest "
                              "(the steps' cache keys are the tags)")
    return ref.repository


class RemoteCache:
    def __init__(self, rt: Any, options: Any, cache_from: Optional[str], cache_to: Optional[str],
                 ttl: Optional[float], warn: Callable[[str], None]) -> None:
        self.rt = rt
        self.o = options
        self.cache_from = cache_from
        self.cache_to = cache_to
        self.ttl = ttl
        self.warn = warn
        self.warned: set[str] = set()

    def _warn_once(self, repo: str, what: str, exc: BaseException) -> None:
        if repo not in self.warned:
            self.warned.add(repo)
            self.warn(f"{what} the layer cache {repo}: {exc}")

    def get(self, key: str) -> Optional[Any]:
        """The image REPO:KEY of --cache-from, pulled into the store (None: not there, or too old)."""
        if not self.cache_from or self.cache_from in self.warned:
            return None
        from ..engine.pull import PullOptions, platform_of, pull

        name = f"{self.cache_from}:{key}"
        given = PullOptions(name=name, tls_verify=self.o.tls_verify, creds=self.o.creds,
                            cert_dir=self.o.cert_dir, auth_file=self.o.auth_file)
        try:
            image = pull(self.rt, given, lambda _line: None, platform_of(None, None, None, None))
        except NoSuchImage:
            return None
        except PodpyError as exc:
            if "manifest unknown" in str(exc) or "not found" in str(exc).lower():
                return None
            self._warn_once(self.cache_from, "reading", exc)
            return None
        for n in image.names:
            if n.startswith(self.cache_from + ":"):
                self.rt.store.untag(n)
        if self.ttl is not None and time.time() - _created(image) > self.ttl:
            return None
        return image

    def put(self, key: str, image: Any) -> None:
        """Push a step's image to --cache-to as REPO:KEY."""
        if not self.cache_to or self.cache_to in self.warned:
            return
        from ..engine.pull import _client
        from ..engine.push import target, upload_image

        try:
            dest, ep, popts = target(self.rt, f"{self.cache_to}:{key}", self.o)
            with _client(ep, popts) as client:
                upload_image(self.rt, image, client, dest.path, key, "gzip", lambda _line: None)
        except PodpyError as exc:
            self._warn_once(self.cache_to, "writing to", exc)
        except Exception as exc:  # noqa: BLE001 - the registry's own errors: the build goes on
            self._warn_once(self.cache_to, "writing to", exc)


def _created(image: Any) -> float:
    """When the step was built: its config's `created` (the store's own time is the pull's)."""
    from ..formats import parse_rfc3339

    when = parse_rfc3339(str(image.config.get("created") or ""))
    return float(image.created) if when is None else when
