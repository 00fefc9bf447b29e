"""The monitor's socket: its name in the runtime directory and the message channel to it.

Both ends are the same user's podpy (the socket lives in the user's private runtime
directory), speaking rootless.sync's marshalled dicts. A launch request carries a whole
runtime spec's path and the listening sockets of the published ports, hence the larger
limits.
"""

from __future__ import annotations

from rootless import sync

SOCKET, LOCK = "monitor.sock", "monitor.lock"
_MAX_MESSAGE = 1 << 20
_MAX_FDS = 250           # a launch request carries the listening sockets of its published ports


class Channel(sync.Channel):
    """rootless.sync's channel with the monitor's larger limits."""

    max_message = _MAX_MESSAGE
    max_fds = _MAX_FDS
