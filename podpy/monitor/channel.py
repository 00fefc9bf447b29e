"""The monitor's socket: its name in the runtime directory and the message channel to it.

Both ends are the same user's podpy (the socket lives in the user's private runtime
directory). Messages are marshalled dicts: marshal is built in, json is not, and the
monitor imports as little as it can. A launch request carries a whole runtime spec's
path and the listening sockets of the published ports, hence the larger limits.
"""

from __future__ import annotations

import marshal

from rootless import sync

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

SOCKET, LOCK = "monitor.sock", "monitor.lock"
_MAX_MESSAGE = 1 << 20
_MAX_FDS = 250           # a launch request carries the listening sockets of its published ports


class Channel(sync.Channel):
    """rootless.sync's channel with marshalled dicts: marshal is built in, json is not. Both
    ends are the same user's podpy (the socket lives in the user's private runtime
    directory); a launch request carries a whole runtime spec, hence the larger limit."""

    max_message = _MAX_MESSAGE
    max_fds = _MAX_FDS

    def encode(self, fields: dict[str, Any]) -> bytes:
        return marshal.dumps(fields)

    def decode(self, data: bytes) -> Optional[dict[str, Any]]:
        try:
            msg = marshal.loads(data)
        except (ValueError, EOFError, TypeError):
            return None
        return msg if isinstance(msg, dict) else None
