"""--retry and --retry-delay checked, apart from pull.py: `run` checks them before it knows
whether it pulls, and importing pull.py (thread pools, dataclasses) costs about 10 ms."""

from __future__ import annotations

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def retry_plan(retry: Optional[str], delay: Optional[str]) -> tuple[int, Optional[float]]:
    """--retry and --retry-delay checked: (attempts after the first, the fixed delay or None
    for podman's back-off from 2s)."""
    from ..options import parse_duration   # formats.py's, imported only for a given delay

    count = 0
    if retry is not None:
        if not retry.strip().isdigit():
            raise InvalidArgument(f"invalid --retry {retry!r}: expected a number of attempts (0 or more)")
        count = int(retry)
    fixed = parse_duration(delay, "--retry-delay") if delay else None
    return count, fixed
