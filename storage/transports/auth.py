"""Registry credentials: WWW-Authenticate challenges, token requests, and the tokens kept per scope."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import urlencode, urlsplit

from storage.transports.errors import RegistryError, UnauthorizedError

__all__ = ["Authenticator", "Challenge", "TokenGetter", "basic_authorization", "parse_challenges",
           "parse_token_response", "token_scope", "token_url"]

# RFC 9110 token characters, and a quoted-string with backslash escapes.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_SCHEME = re.compile(_TOKEN)
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))', re.DOTALL)
_TOKEN68 = re.compile(r"\s*([A-Za-z0-9._~+/-]+=*)\s*(?=,|$)")
_SEPARATORS = re.compile(r"[\s,]*")
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)


@dataclass(frozen=True)
class Challenge:
    """One authentication challenge: scheme (lower case) and its parameters (keys lower case)."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)
    token68: Optional[str] = None


def _skip(value: str, pos: int) -> int:
    m = _SEPARATORS.match(value, pos)
    return m.end() if m else pos


def parse_challenges(values: Iterable[str]) -> list[Challenge]:
    """Parse WWW-Authenticate header values; a value may hold several challenges.

    Quoted values may contain commas and escaped quotes
    (scope="repository:a/b:pull,push"); garbage is skipped rather than fatal,
    since a registry that sends a bit of it usually still sends a usable challenge.
    """
    out: list[Challenge] = []
    for value in values:
        pos = 0
        while True:
            pos = _skip(value, pos)
            if pos >= len(value):
                break
            m = _SCHEME.match(value, pos)
            if m is None:
                pos += 1  # skip one stray character
                continue
            scheme = m.group(0).lower()
            pos = m.end()
            params: dict[str, str] = {}
            token68: Optional[str] = None
            t = _TOKEN68.match(value, pos)
            if t is not None and not _PARAM.match(value, pos):
                token68, pos = t.group(1), t.end()
            while True:
                p = _PARAM.match(value, pos)
                if p is None:
                    break
                key, quoted, bare = p.group(1).lower(), p.group(2), p.group(3)
                params[key] = _UNESCAPE.sub(r"\1", quoted) if quoted is not None else bare or ""
                pos = p.end()
                after = _skip(value, pos)
                # A following "name=" continues this challenge; a bare token
                # starts the next one, so stop before it.
                if after >= len(value) or not _PARAM.match(value, after):
                    pos = after
                    break
                pos = after
            out.append(Challenge(scheme, params, token68))
    return out


def basic_authorization(credentials: tuple[str, str]) -> str:
    """The Authorization header value for HTTP Basic with (username, password)."""
    user, password = credentials
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def token_scope(repository: str, push: bool = False) -> str:
    """The token scope for pulling (and pushing, only when asked) repository; "" for none (a login check)."""
    if not repository:
        return ""
    return f"repository:{repository}:{'pull,push' if push else 'pull'}"


def token_url(challenge: Challenge, scope: str) -> Optional[str]:
    """The token endpoint URL for a Bearer challenge, or None if it names no usable realm.

    The scopes asked for are ours plus any the challenge names that ours does not cover (a
    cross-repository mount also needs pull on the source repository)."""
    realm = challenge.params.get("realm", "")
    parts = urlsplit(realm)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    scopes = [scope] if scope else []
    for extra in challenge.params.get("scope", "").split():
        if extra not in scopes and not _covered(extra, scopes):
            scopes.append(extra)
    query = [("service", challenge.params["service"])] if challenge.params.get("service") else []
    query += [("scope", s) for s in scopes]
    sep = "&" if parts.query else "?"
    return realm + sep + urlencode(query)


def _covered(scope: str, held: list[str]) -> bool:
    """Whether a scope (type:name:actions) is within one of held."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    for h in held:
        hkind, _, hrest = h.partition(":")
        hname, _, hactions = hrest.rpartition(":")
        if (hkind, hname) == (kind, name) and set(actions.split(",")) <= set(hactions.split(",")):
            return True
    return False


def parse_token_response(body: bytes) -> Optional[str]:
    """The bearer token in a token endpoint's JSON answer ("token", or OAuth2's "access_token")."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(doc, dict):
        return None
    for key in ("token", "access_token"):
        value = doc.get(key)
        if isinstance(value, str) and value:
            # A header-splitting token would be an attack, not a credential.
            return value if not any(c in value for c in "\r\n\0") else None
    return None


TokenGetter = Callable[[str, dict[str, str]], tuple[int, bytes, str]]
"""GET url with headers -> (status, body, "host answered <status> <reason>" for messages)."""


class Authenticator:
    """One client's credentials and what the registry made of them: bearer tokens per scope, or Basic.

    Tokens are kept for the client's lifetime, so a pull asks for one token
    however many blobs it fetches.
    """

    def __init__(self, credentials: Optional[tuple[str, str]]) -> None:
        self._credentials = credentials
        self._tokens: dict[str, str] = {}  # scope -> bearer token
        self._basic = False  # the registry asked for Basic credentials

    def header(self, repository: str, push: bool) -> Optional[str]:
        """The Authorization value to send to the registry for repository, if any is known yet."""
        if self._basic and self._credentials is not None:
            return basic_authorization(self._credentials)
        token = self._tokens.get(token_scope(repository, push))
        if token is None and not push:
            token = self._tokens.get(token_scope(repository, True))  # a push token can pull too
        return f"Bearer {token}" if token else None

    def copy(self) -> Authenticator:
        """An independent copy holding the same tokens (for a client in another thread or process)."""
        other = Authenticator(self._credentials)
        other._tokens, other._basic = dict(self._tokens), self._basic
        return other

    def forget(self, scope: str) -> None:
        """Drop scope's token (it was refused: expired, or too narrow)."""
        self._tokens.pop(scope, None)

    def answer(self, challenge_headers: list[str], sent: Optional[str], repository: str, push: bool, label: str,
               get: TokenGetter) -> str:
        """The Authorization value to retry with after a 401 to `sent`; a Bearer token is fetched with get and kept.

        Raises UnauthorizedError when credentials are missing or refused.
        """
        if sent is not None and sent.startswith("Basic "):
            raise UnauthorizedError(f"{label}: unauthorized: authentication required (credentials rejected)")
        scope = token_scope(repository, push)
        self.forget(scope)  # a kept token may have expired: it gets one fresh replacement
        challenges = parse_challenges(challenge_headers)
        for challenge in challenges:
            if challenge.scheme != "bearer":
                continue
            url = token_url(challenge, scope)
            if url is None:
                raise RegistryError(f"{label}: the registry's token challenge names no usable realm")
            headers = {"Accept": "application/json"}
            if self._credentials is not None:
                headers["Authorization"] = basic_authorization(self._credentials)
            status, body, answered = get(url, headers)
            if status == 401:
                rejected = " (credentials rejected)" if self._credentials else ""
                raise UnauthorizedError(f"{label}: unauthorized: authentication required{rejected}")
            if status == 403:
                raise UnauthorizedError(f"{label}: access denied")
            if status != 200:
                raise RegistryError(f"{label}: token server {answered}")
            token = parse_token_response(body)
            if token is None:
                raise RegistryError(f"{label}: the token server sent no token")
            self._tokens[scope] = token
            return f"Bearer {token}"
        if any(c.scheme == "basic" for c in challenges):
            if self._credentials is None:
                raise UnauthorizedError(f"{label}: unauthorized: authentication required")
            self._basic = True
            return basic_authorization(self._credentials)
        schemes = ", ".join(sorted({c.scheme for c in challenges}))
        detail = f" (unsupported authentication scheme {schemes})" if schemes else ""
        raise UnauthorizedError(f"{label}: unauthorized: authentication required{detail}")
