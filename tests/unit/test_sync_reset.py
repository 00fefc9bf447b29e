"""A peer that closes with our messages unread: what it sent before is still read."""

from rootless.sync import Channel


def test_recv_reads_what_a_peer_sent_before_closing_with_unread_messages():
    host, child = Channel.pair()
    try:
        host.send("go")                       # never read by the child
        child.send("error", error={"kind": "setup", "message": "boom", "status": 126})
        child.sock.close()                    # the kernel reports ECONNRESET to host once
        msg, fds = host.recv()
        assert msg is not None and msg["type"] == "error" and msg["error"]["message"] == "boom"
        assert fds == []
        assert host.recv() == (None, [])
    finally:
        host.sock.close()
