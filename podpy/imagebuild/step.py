"""What every build step shares: the step's record, its failure, and small helpers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..errors import PodpyError

if TYPE_CHECKING:
    from .working import Working

PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
              "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")


class StepFailed(PodpyError):
    """A step that failed: `building at STEP "...": why`, with the step's exit code for RUN."""

    def __init__(self, message: str, exit_code: int = 125) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Step:
    created_by: str
    digest: str = ""
    change: Optional[Callable[[dict[str, Any]], None]] = None   # on the image config's `config`
    work: Optional[Callable[["Working"], list[str]]] = None     # returns mount points it made
    author: Optional[str] = None


def now() -> str:
    from ..formats import rfc3339

    return rfc3339(time.time())


def nop(text: str) -> str:
    return f"/bin/sh -c #(nop) {text}"


def ensure_dir(root: str, path: str) -> None:
    """In the working container: make a directory (WORKDIR) with its parents, owned by root."""
    from storage.inroot import make_dirs

    make_dirs(root, path)
