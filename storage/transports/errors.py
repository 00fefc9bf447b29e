"""Errors of the registry transport, and the helpers that keep their messages on one line.

    StorageError (storage.errors)
    └── RegistryError            a registry could not be used: unreachable, refused, or unusable answers
        ├── ManifestUnknownError no manifest (or repository) by that name
        ├── UnauthorizedError    credentials missing, refused, or not enough
        ├── DigestMismatchError  content did not match its digest or announced size
        └── TransientError       a failure worth repeating (connection, 5xx, 429), given up on
"""

from __future__ import annotations

import json

from storage.errors import StorageError

__all__ = ["DigestMismatchError", "ManifestUnknownError", "RegistryError", "TransientError", "UnauthorizedError",
           "error_body", "one_line", "printable"]


class RegistryError(StorageError):
    """A registry could not be used: unreachable, refused, or sent something unusable."""


class ManifestUnknownError(RegistryError):
    """The registry has no manifest (or repository) by that name."""


class UnauthorizedError(RegistryError):
    """The registry wants credentials we lack, or refuses the ones we have."""


class DigestMismatchError(RegistryError):
    """Content did not match its digest or announced size."""


class TransientError(RegistryError):
    """A request failed in a way worth repeating (connection error, 5xx, 429) and was given up on.

    Uploads catch it to start over from their beginning, since repeating one
    request of an upload session the registry may have dropped seldom helps.
    """


def one_line(e: BaseException) -> str:
    """An exception's text on one line (its class name when it has none)."""
    return " ".join(str(e).split()) or type(e).__name__


def printable(text: str) -> str:
    """Text with control characters escaped, so a bad name cannot break a one-line message."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def error_body(body: bytes) -> tuple[str, str]:
    """(code, message on one line) of a distribution-spec error body ({"errors": [...]}), or empty strings."""
    try:
        first = json.loads(body)["errors"][0]
        code, text = str(first.get("code") or ""), str(first.get("message") or first.get("code") or "")
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return "", ""
    return code, " ".join(text.split())[:200]
