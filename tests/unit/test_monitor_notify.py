"""The monitor's side of systemd's notify protocol (podpy/monitor/notify.py), on real sockets."""

from __future__ import annotations


def test_monitor_passes_notify_messages_with_its_own_pid(tmp_path) -> None:
    """What a container sends to its socket, passed on to the manager's with the monitor as
    MAINPID."""
    import os
    import socket

    from podpy.monitor.notify import notify_socket, tell

    manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    manager.bind(str(tmp_path / "manager"))
    deep = tmp_path / ("d" * 60) / ("e" * 60)      # longer than a socket address may be
    deep.mkdir(parents=True)
    own = notify_socket(str(deep / "notify.sock"))
    assert oct(os.stat(deep / "notify.sock").st_mode & 0o777) == "0o777"
    sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    fd = os.open(deep, os.O_PATH)
    try:
        sender.sendto(b"READY=1\nSTATUS=up", f"/proc/self/fd/{fd}/notify.sock")
    finally:
        os.close(fd)
    lines = own.recv(4096).split(b"\n")
    tell(str(tmp_path / "manager"), 4242, lines)
    assert manager.recv(4096) == b"MAINPID=4242\nREADY=1\nSTATUS=up\n"
    tell("", 1, [b"READY=1"])     # no manager: nothing sent, no error
    for s in (manager, own, sender):
        s.close()
