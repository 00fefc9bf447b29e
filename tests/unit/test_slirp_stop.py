"""Ending slirp4netns: a foreground run does not wait for it to exit (its tap device's removal
waits out the kernel's RCU grace periods), unless it holds host ports (its API socket's
forwarding), which must be free once the container is over. A stand-in process takes its
place: one that takes its time to exit after SIGTERM."""

from __future__ import annotations

import os
import time

from rootless.network import slirp

SLOW_EXIT = "trap 'sleep 0.5; exit 0' TERM; while :; do sleep 0.05; done"


def _spawn() -> tuple[int, int]:
    r, w = os.pipe()
    pid = os.posix_spawn("/bin/sh", ["sh", "-c", SLOW_EXIT], dict(os.environ))
    os.close(r)
    time.sleep(0.2)   # the trap is set
    return pid, w


def test_stop_leaves_the_exit_to_it_and_reaps_it_later():
    pid, w = _spawn()
    started = time.monotonic()
    slirp.Slirp(pid, w).stop()
    assert time.monotonic() - started < 0.3
    assert pid in slirp._leaving
    deadline = time.monotonic() + 5
    while pid in slirp._leaving and time.monotonic() < deadline:
        time.sleep(0.05)
        slirp.reap_left()
    assert pid not in slirp._leaving
    assert not os.path.exists(f"/proc/{pid}")


def test_stop_waits_for_one_that_holds_host_ports():
    pid, w = _spawn()
    started = time.monotonic()
    slirp.Slirp(pid, w, holds_ports=True).stop()
    assert time.monotonic() - started >= 0.4
    assert pid not in slirp._leaving
    assert not os.path.exists(f"/proc/{pid}")


def test_the_api_socket_means_host_ports():
    assert slirp.forwards_ports(slirp.SlirpOptions()) is False
    assert slirp.forwards_ports(slirp.SlirpOptions(extra=("--enable-sandbox",))) is False
    assert slirp.forwards_ports(slirp.SlirpOptions(extra=("--api-socket=/run/x.sock",))) is True
    assert slirp.forwards_ports(slirp.SlirpOptions(extra=("--api-socket", "/run/x.sock"))) is True
