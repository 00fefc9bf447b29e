"""Names on the wire of the distribution API: repository, tag and digest checks, and their limits."""

from __future__ import annotations

import re

from storage.transports.errors import RegistryError, printable
from storage.transports.manifest import valid_digest

__all__ = ["MANIFEST_LIMIT", "blob_path", "by_digest", "check_repository", "check_tag", "reference_label"]

MANIFEST_LIMIT = 4 << 20
"""Largest manifest accepted; manifests are read into memory, so a hostile registry must not choose."""

_REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:[._/]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"\w[\w.-]{0,127}", re.ASCII)
_ALGORITHM = re.compile(r"[A-Za-z0-9+._-]+:")  # a reference starting so is a digest, not a tag


def by_digest(reference: str) -> bool:
    """Whether a manifest reference is a digest (algorithm:hex) rather than a tag."""
    return bool(_ALGORITHM.match(reference))


def reference_label(verb: str, registry: str, repository: str, reference: str) -> str:
    """"<verb> registry/repository:tag" (or @digest), printable, to start error messages."""
    sep = "@" if by_digest(reference) else ":"
    return printable(f"{verb} {registry}/{repository}{sep}{reference}")


def check_repository(repository: str, label: str) -> str:
    """repository itself, when it is a valid repository name (and so safe in a URL path)."""
    if not _REPOSITORY.fullmatch(repository):
        raise RegistryError(f"{label}: invalid repository name")
    return repository


def check_tag(tag: str, label: str) -> None:
    """Refuse a tag that is not valid (and so might not be safe in a URL path)."""
    if not _TAG.fullmatch(tag):
        raise RegistryError(f"{label}: invalid tag")


def blob_path(repository: str, digest: str, label: str) -> str:
    """/v2/<repository>/blobs/<digest>, both checked."""
    if not valid_digest(digest):
        raise RegistryError(f"{label}: only sha256 digests are supported")
    return f"/v2/{check_repository(repository, label)}/blobs/{digest}"
