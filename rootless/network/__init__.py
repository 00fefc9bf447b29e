"""Userspace networking for a container's network namespace (slirp4netns, pasta)."""
