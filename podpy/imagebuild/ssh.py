"""`build --ssh default|ID[=SOCKET|KEY[,KEY...]]`: the SSH agents that RUN --mount=type=ssh binds.

An ID names an agent: `default` alone is this environment's ($SSH_AUTH_SOCK); a path that
is a socket is that agent; key files are loaded into an agent of the build's own
(`ssh-agent`, stopped when the build ends), as buildah does, so a key reaches RUN steps
without its file ever being in the container. A key with a passphrase cannot be loaded
(nothing asks for it): an error, before the first step. The agent's socket is bound at the
mount's target (default /run/buildkit/ssh_agent.N) and SSH_AUTH_SOCK names it; neither is
in a layer, the history or the cache key.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import time
from typing import Optional

from ..errors import InvalidArgument

__all__ = ["Agents", "parse_ssh"]


def parse_ssh(items: list[str]) -> dict[str, list[str]]:
    """--ssh values -> {ID: [paths]} (no path: the environment's agent)."""
    out: dict[str, list[str]] = {}
    for item in items:
        sid, eq, rest = item.partition("=")
        sid = sid.strip()
        paths = [p for p in rest.split(",") if p] if eq else []
        if not sid or (eq and not paths):
            raise InvalidArgument(f"invalid --ssh {item!r}: expected default or ID[=SOCKET|KEY[,KEY...]]")
        if not paths and not os.environ.get("SSH_AUTH_SOCK"):
            raise InvalidArgument(f"--ssh {sid}: SSH_AUTH_SOCK is not set (start ssh-agent, or give "
                                  f"{sid}=SOCKET or {sid}=KEYFILE)")
        for p in paths:
            try:
                st = os.stat(p)
            except OSError as exc:
                raise InvalidArgument(f"--ssh {sid}: {p}: {exc.strerror}") from None
            if stat.S_ISSOCK(st.st_mode) and len(paths) > 1:
                raise InvalidArgument(f"--ssh {sid}: give one agent socket, or key files")
            if not stat.S_ISSOCK(st.st_mode) and not os.access(p, os.R_OK):
                raise InvalidArgument(f"--ssh {sid}: cannot read {p}")
        out[sid] = [os.path.abspath(p) for p in paths]
    return out


class Agents:
    """The build's agents by ID, started at the first step that binds one and stopped by close()."""

    def __init__(self, sources: dict[str, list[str]]) -> None:
        self.sources = sources
        self.sockets: dict[str, str] = {}
        self.procs: list[subprocess.Popen[bytes]] = []
        self.tmp: Optional[str] = None

    def __contains__(self, sid: str) -> bool:
        return sid in self.sources

    def socket(self, sid: str) -> Optional[str]:
        """The socket of agent sid (None: no --ssh gave it)."""
        if sid not in self.sources:
            return None
        if sid not in self.sockets:
            paths = self.sources[sid]
            if not paths:
                self.sockets[sid] = os.environ["SSH_AUTH_SOCK"]
            elif stat.S_ISSOCK(os.stat(paths[0]).st_mode):
                self.sockets[sid] = paths[0]
            else:
                self.sockets[sid] = self._own_agent(sid, paths)
        return self.sockets[sid]

    def _own_agent(self, sid: str, keys: list[str]) -> str:
        agent, add = shutil.which("ssh-agent"), shutil.which("ssh-add")
        if agent is None or add is None:
            raise InvalidArgument(f"--ssh {sid}={','.join(keys)}: key files need ssh-agent and ssh-add "
                                  "(openssh-client), which are not installed")
        if self.tmp is None:
            # a short path: a socket's name has room for 107 bytes
            self.tmp = tempfile.mkdtemp(prefix="podpy-ssh-")
        path = os.path.join(self.tmp, f"agent.{len(self.procs)}")
        proc = subprocess.Popen([agent, "-D", "-a", path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        self.procs.append(proc)
        deadline = time.monotonic() + 10
        # listening, not only bound: the socket's file appears a moment before the agent
        # listens on it, and an ssh-add in between fails
        while not _listening(path):
            if proc.poll() is not None or time.monotonic() > deadline:
                why = (proc.stderr.read() if proc.stderr else b"").decode(errors="replace").strip()
                raise InvalidArgument(f"--ssh {sid}: ssh-agent did not start: {why or 'no socket'}")
            time.sleep(0.01)
        env = {k: v for k, v in os.environ.items() if k not in ("SSH_ASKPASS", "DISPLAY")}
        env["SSH_AUTH_SOCK"] = path
        env["SSH_ASKPASS_REQUIRE"] = "never"
        done = subprocess.run([add, "-q", *keys], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              check=False, timeout=30)
        if done.returncode != 0:
            why = done.stderr.decode(errors="replace").strip().splitlines()
            raise InvalidArgument(f"--ssh {sid}: loading {','.join(keys)}: "
                                  f"{why[-1] if why else 'ssh-add failed'} (a key with a passphrase cannot "
                                  "be used)")
        return path

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr:
                proc.stderr.close()
        self.procs.clear()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


def _listening(path: str) -> bool:
    """Whether a process accepts connections on the unix socket at path."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(path)
        except OSError:
            return False
    return True
