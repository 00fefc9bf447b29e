"""podpy: a rootless, daemonless, podman-style container tool."""

__version__ = "0.1.0"
