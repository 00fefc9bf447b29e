"""systemd units run the way systemd would run them, for tests on a host where systemd is not PID 1.

`systemd --user` cannot run here, so a test checks a generated unit in two steps:
`verify()` hands it to `systemd-analyze verify --user` (and fails on any complaint, which
that command prints but does not turn into an exit code), and `UnitRunner` runs its
commands as the service manager would: specifiers (%n, %N, %t, %i, ...) and $VARIABLES
expanded, the unit's Environment= given (and an $INVOCATION_ID, as every service gets),
ExecStartPre/ExecStart/ExecStartPost in order,
`Type=notify` waiting for READY=1 on a NOTIFY_SOCKET the runner listens on (MAINPID
taken from the messages, as systemd does with NotifyAccess=all), ExecStop and
ExecStopPost with $MAINPID, $SERVICE_RESULT and $EXIT_STATUS, and KillMode= applied to
what is left. With a cgroup parent, the unit's processes run in a cgroup of their own
below it (as systemd gives every service one, Delegate=yes), so a test can check that
stopping the unit leaves nothing behind.
"""

from __future__ import annotations

import os
import pwd
import re
import select
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

# -- unit files ------------------------------------------------------------------------------


@dataclass
class Unit:
    """A parsed unit file: each section's (key, value) pairs in file order."""
    name: str
    sections: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def values(self, section: str, key: str) -> list[str]:
        """Every value of key, with systemd's reset rule: an empty assignment clears the list."""
        out: list[str] = []
        for k, v in self.sections.get(section, []):
            if k == key:
                out = [] if v == "" else out + [v]
        return out

    def get(self, section: str, key: str, default: Optional[str] = None) -> Optional[str]:
        found = self.values(section, key)
        return found[-1] if found else default


def parse(text: str, name: str) -> Unit:
    """Parse unit-file text: comments (# ;), [Section] headers, key=value, and lines
    continued with a trailing backslash."""
    unit = Unit(name)
    section = ""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if pending:
            if line.startswith(("#", ";")):
                continue
            line = pending + " " + line
            pending = ""
        elif not line or line.startswith(("#", ";")):
            continue
        if line.endswith("\\"):
            pending = line[:-1].rstrip()
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            unit.sections.setdefault(section, [])
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{name}: not a key=value line: {raw!r}")
        unit.sections.setdefault(section, []).append((key.strip(), value.strip()))
    if pending:
        raise ValueError(f"{name}: the file ends in a continued line")
    return unit


def load(path: os.PathLike | str, name: Optional[str] = None) -> Unit:
    path = Path(path)
    return parse(path.read_text(), name or path.name)


def verify(paths: list[os.PathLike | str], env: dict[str, str], user: bool = True) -> str:
    """Run `systemd-analyze verify` on unit files; raise AssertionError with its output when
    it exits non-zero or complains at all (an unknown key is only a message). Returns its
    output, which is empty for units systemd accepts."""
    argv = ["systemd-analyze", "verify"] + (["--user"] if user else []) + [os.fspath(p) for p in paths]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    # systemd-analyze reports units a unit refers to but it cannot find (default.target of a
    # user manager that never ran is fine; a missing dependency of ours is not)
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    if result.returncode != 0 or complaints:
        raise AssertionError(f"systemd-analyze verify rejected {[os.fspath(p) for p in paths]}:\n"
                             + "\n".join(complaints))
    return result.stdout


# -- specifiers, environment and command lines ------------------------------------------------

def _unescape_instance(value: str) -> str:
    """%I: the instance with systemd's \\xNN escapes undone and '-' as '/'."""
    value = value.replace("-", "/")
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), value)


def specifiers(unit_name: str, env: dict[str, str]) -> dict[str, str]:
    """The values of the specifiers a user unit's commands may use."""
    stem, _, suffix = unit_name.rpartition(".")
    prefix, at, instance = stem.partition("@")
    home = env.get("HOME") or pwd.getpwuid(os.getuid()).pw_dir
    runtime = env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return {
        "n": unit_name, "N": stem, "p": prefix, "P": _unescape_instance(prefix), "i": instance,
        "I": _unescape_instance(instance), "j": prefix.rsplit("-", 1)[-1], "t": runtime,
        "h": home, "U": str(os.getuid()), "u": pwd.getpwuid(os.getuid()).pw_name,
        "T": "/tmp", "V": "/var/tmp", "S": env.get("XDG_STATE_HOME") or f"{home}/.local/state",
        "C": env.get("XDG_CACHE_HOME") or f"{home}/.cache", "E": env.get("XDG_CONFIG_HOME") or f"{home}/.config",
        "%": "%",
    }


def expand_specifiers(text: str, values: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            raise ValueError(f"unknown specifier %{m.group(1)} in {text!r}")
        return values[m.group(1)]
    return re.sub(r"%(.)", one, text)


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "s": " ", "a": "\a", "b": "\b",
            "f": "\f", "r": "\r", "v": "\v"}


def split_words(text: str) -> list[tuple[str, bool]]:
    """Split a command line or an Environment= value as systemd does: whitespace between
    words, "..." and '...' quoting, C escapes. Each word comes with whether it was quoted
    (a quoted $VAR is not split further)."""
    words: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        word, quoted = [], False
        while i < n and not text[i].isspace():
            c = text[i]
            if c in "\"'":
                quoted = True
                end = i + 1
                while end < n and text[end] != c:
                    if text[end] == "\\" and end + 1 < n:
                        word.append(_ESCAPES.get(text[end + 1], text[end + 1]))
                        end += 2
                        continue
                    word.append(text[end])
                    end += 1
                if end >= n:
                    raise ValueError(f"unbalanced quotes in {text!r}")
                i = end + 1
            elif c == "\\" and i + 1 < n:
                word.append(_ESCAPES.get(text[i + 1], text[i + 1]))
                i += 2
            else:
                word.append(c)
                i += 1
        words.append(("".join(word), quoted))
    return words


def command_line(value: str, variables: dict[str, str], spec: dict[str, str]) -> tuple[str, list[str]]:
    """An Exec*= value -> (its prefix characters such as '-', argv), with specifiers and
    environment variables expanded as systemd does ($VAR splits on whitespace, ${VAR} does not,
    $$ is a $)."""
    value = expand_specifiers(value, spec)
    prefix = ""
    while value and value[0] in "-@:+!":
        prefix += value[0]
        value = value[1:]
    argv: list[str] = []
    for word, _quoted in split_words(value):
        if ":" in prefix:
            argv.append(word)
            continue
        word = word.replace("$$", "\0")      # $$ is a literal $
        whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if whole:
            argv += variables.get(whole.group(1), "").split()
            continue
        word = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: variables.get(m.group(1), ""), word)
        argv.append(word.replace("\0", "$"))
    if "@" in prefix:      # the first word is the executable, the second argv[0]: keep argv
        argv = [argv[0]] + argv[2:]
    return prefix, argv


def unit_environment(unit: Unit, spec: dict[str, str]) -> dict[str, str]:
    """The variables a unit's Environment= and EnvironmentFile= lines set."""
    out: dict[str, str] = {}
    for value in unit.values("Service", "EnvironmentFile"):
        optional = value.startswith("-")
        path = expand_specifiers(value.lstrip("-"), spec)
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            if optional:
                continue
            raise
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith(("#", ";")) and "=" in line:
                k, _, v = line.partition("=")
                out[k.strip()] = v.strip().strip('"').strip("'")
    for value in unit.values("Service", "Environment"):
        for word, _ in split_words(expand_specifiers(value, spec)):
            k, sep, v = word.partition("=")
            if sep:
                out[k] = v
    return out


# -- readiness notifications --------------------------------------------------------------------

class NotifySocket:
    """A datagram socket in the role of systemd's $NOTIFY_SOCKET: it keeps every message
    with the pid of its sender (SO_PASSCRED)."""

    def __init__(self, path: os.PathLike | str):
        self.path = os.fspath(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.messages: list[tuple[int, dict[str, str]]] = []
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        size = socket.CMSG_SPACE(12)
        while not self._stop:
            ready, _, _ = select.select([self.sock], [], [], 0.2)
            if not ready:
                continue
            # received and kept under the lock: wait_for, which holds it, sees a message either
            # still in the socket (_pending) or kept, never in between
            with self._cond:
                data, ancillary, _flags, _addr = self.sock.recvmsg(65536, size)
                pid = 0
                for level, kind, payload in ancillary:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                        pid = int.from_bytes(payload[:4], "little")
                fields = dict(line.split("=", 1) for line in data.decode(errors="replace").splitlines()
                              if "=" in line)
                self.messages.append((pid, fields))
                self._cond.notify_all()

    def wait_for(self, key: str, value: Optional[str] = None, timeout: float = 30,
                 alive: Optional[subprocess.Popen] = None) -> Optional[dict[str, str]]:
        """The first message that sets key (to value, when given); None if none came within
        timeout or the process `alive` ended first (and no such message came)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for _pid, fields in self.messages:
                    if key in fields and (value is None or fields[key] == value):
                        return fields
                left = deadline - time.monotonic()
                if left <= 0 or (alive is not None and alive.poll() is not None and not self._pending()):
                    return None
                self._cond.wait(min(left, 0.1))

    def _pending(self) -> bool:
        ready, _, _ = select.select([self.sock], [], [], 0.05)
        return bool(ready)

    def value(self, key: str) -> Optional[str]:
        """The last value key was set to."""
        with self._cond:
            found = [fields[key] for _pid, fields in self.messages if key in fields]
        return found[-1] if found else None

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


# -- running a service ----------------------------------------------------------------------------

class UnitFailed(AssertionError):
    pass


def _seconds(value: Optional[str], default: float) -> float:
    if not value:
        return default
    if value == "infinity":
        return 3600.0
    total = 0.0
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)\s*(ms|min|s|h|)", value):
        total += float(amount) * {"ms": 0.001, "s": 1, "": 1, "min": 60, "h": 3600}[unit]
    return total


class UnitRunner:
    """Start and stop one service unit's commands as systemd would (see the module docstring).

    env is the manager's environment (HOME, PATH, XDG_RUNTIME_DIR, ...); the unit's own
    Environment= is added to it, with NOTIFY_SOCKET for Type=notify units. cgroup_parent, when
    given, is a cgroup directory the caller may write: the unit runs in a new child of it."""

    def __init__(self, unit: Unit, env: dict[str, str], workdir: os.PathLike | str,
                 cgroup_parent: Optional[str] = None):
        self.unit = unit
        self.spec = specifiers(unit.name, env)
        # systemd gives every service an invocation id (podpy finds out from it that a unit
        # runs it)
        self.env = {**env, "INVOCATION_ID": uuid.uuid4().hex, **unit_environment(unit, self.spec)}
        self.workdir = Path(workdir)
        self.type = unit.get("Service", "Type", "simple")
        self.notify: Optional[NotifySocket] = None
        self.main: Optional[subprocess.Popen] = None
        self.main_pid: Optional[int] = None
        self.exit_status: Optional[int] = None
        self.log: list[tuple[str, list[str], int]] = []     # (Exec key, argv, exit status)
        self.cgroup: Optional[str] = None
        if cgroup_parent:
            self.cgroup = os.path.join(cgroup_parent, unit.name.replace("@", "_"))
            os.makedirs(self.cgroup, exist_ok=True)

    # how one command runs

    def _popen(self, argv: list[str], extra: Optional[dict[str, str]] = None) -> subprocess.Popen:
        env = {**self.env, **(extra or {})}
        cgroup = self.cgroup

        def enter() -> None:
            os.setsid()
            if cgroup:
                with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                    f.write("0")
        with open(self.workdir / f"{self.unit.name}.out", "ab") as out:
            return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, preexec_fn=enter,
                                    cwd=self.unit.get("Service", "WorkingDirectory", "/") or "/")

    def _run(self, key: str, timeout: float, extra: Optional[dict[str, str]] = None) -> None:
        for value in self.unit.values("Service", key):
            prefix, argv = command_line(value, self.env | (extra or {}), self.spec)
            proc = self._popen(argv, extra)
            try:
                status = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise UnitFailed(f"{self.unit.name}: {key}={value} did not finish in {timeout} s\n{self.output()}")
            self.log.append((key, argv, status))
            if status != 0 and "-" not in prefix:
                raise UnitFailed(f"{self.unit.name}: {key} {argv} exited {status}\n{self.output()}")

    def output(self) -> str:
        """What the unit's commands printed (systemd would send it to the journal)."""
        path = self.workdir / f"{self.unit.name}.out"
        return path.read_text(errors="replace") if path.exists() else ""

    # the service's life

    def start(self, timeout: Optional[float] = None) -> "UnitRunner":
        """ExecStartPre, ExecStart (waiting for readiness as the unit's Type= says), then
        ExecStartPost; raise UnitFailed when systemd would consider the start failed."""
        timeout = timeout or _seconds(self.unit.get("Service", "TimeoutStartSec"), 90)
        extra: dict[str, str] = {}
        if self.type == "notify":
            self.notify = NotifySocket(self.workdir / f"{self.unit.name}.notify")
            extra["NOTIFY_SOCKET"] = self.notify.path
            self.env["NOTIFY_SOCKET"] = self.notify.path
        self._run("ExecStartPre", timeout)
        starts = self.unit.values("Service", "ExecStart")
        if len(starts) != 1 and self.type != "oneshot":
            raise UnitFailed(f"{self.unit.name}: {len(starts)} ExecStart= lines for Type={self.type}")
        if self.type == "oneshot":
            self._run("ExecStart", timeout)
        else:
            prefix, argv = command_line(starts[0], self.env, self.spec)
            self.main = self._popen(argv)
            self.main_pid = self.main.pid
            if self.type == "notify":
                assert self.notify is not None
                ready = self.notify.wait_for("READY", "1", timeout=timeout, alive=self.main)
                if ready is None:
                    status = self.main.poll()
                    raise UnitFailed(f"{self.unit.name}: no READY=1 within {timeout} s"
                                     + (f" (ExecStart exited {status})" if status is not None else "")
                                     + f"\n{self.output()}")
                mainpid = self.notify.value("MAINPID")
                if mainpid:
                    self.main_pid = int(mainpid)
            elif self.type == "forking":
                status = self.main.wait(timeout=timeout)
                if status != 0:
                    raise UnitFailed(f"{self.unit.name}: ExecStart exited {status}\n{self.output()}")
                pidfile = self.unit.get("Service", "PIDFile")
                if pidfile:
                    self.main_pid = int(Path(expand_specifiers(pidfile, self.spec)).read_text().split()[0])
            if self.type in ("notify", "simple", "exec") and self.main.poll() not in (None, 0) \
                    and self.main_pid == self.main.pid:
                raise UnitFailed(f"{self.unit.name}: ExecStart exited {self.main.returncode}\n{self.output()}")
        self._run("ExecStartPost", timeout)
        return self

    def main_alive(self) -> bool:
        if self.main_pid is None:
            return False
        if self.main is not None and self.main_pid == self.main.pid:
            return self.main.poll() is None
        try:
            os.kill(self.main_pid, 0)
        except ProcessLookupError:
            return False
        try:
            with open(f"/proc/{self.main_pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (FileNotFoundError, ProcessLookupError):
            return False   # gone between the two looks (reading the stat of a dying process gives ESRCH)

    def cgroup_pids(self) -> list[int]:
        """Every process in the unit's cgroup and its children."""
        if not self.cgroup:
            return []
        out: list[int] = []
        for dirpath, _dirs, files in os.walk(self.cgroup):
            if "cgroup.procs" in files:
                try:
                    out += [int(x) for x in Path(dirpath, "cgroup.procs").read_text().split()]
                except FileNotFoundError:
                    pass
        return out

    def stop(self, timeout: Optional[float] = None) -> list[int]:
        """ExecStop (with $MAINPID), KillMode= on what remains, then ExecStopPost; returns
        the pids that KillMode had to kill (a clean unit leaves none)."""
        timeout = timeout or _seconds(self.unit.get("Service", "TimeoutStopSec"), 90)
        variables = {"MAINPID": str(self.main_pid or "")}
        self._run("ExecStop", timeout, variables)
        killed: list[int] = []
        mode = self.unit.get("Service", "KillMode", "control-group")
        stop_signal = getattr(signal, self.unit.get("Service", "KillSignal", "SIGTERM") or "SIGTERM")
        if self.main_alive():
            assert self.main_pid is not None
            killed.append(self.main_pid)
            os.kill(self.main_pid, stop_signal)
            deadline = time.monotonic() + timeout
            while self.main_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.main_alive():
                os.kill(self.main_pid, signal.SIGKILL)
        if self.main is not None:
            try:
                self.exit_status = self.main.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.main.kill()
                self.exit_status = self.main.wait()
        if mode in ("control-group", "mixed"):
            rest = [p for p in self.cgroup_pids() if p != os.getpid()]
            for pid in rest:
                killed.append(pid)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        result = "success" if self.exit_status in (0, None, -signal.SIGTERM, 143) else "exit-code"
        self._run("ExecStopPost", timeout, {**variables, "SERVICE_RESULT": result,
                                            "EXIT_CODE": "exited", "EXIT_STATUS": str(self.exit_status or 0)})
        return killed

    def close(self) -> None:
        """Kill anything left, remove the unit's cgroup and the notify socket."""
        for pid in self.cgroup_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.main is not None and self.main.poll() is None:
            self.main.kill()
            self.main.wait()
        if self.cgroup:
            deadline = time.monotonic() + 5
            for dirpath, _dirs, _files in sorted(os.walk(self.cgroup), key=lambda t: -len(t[0])):
                while True:
                    try:
                        os.rmdir(dirpath)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        if time.monotonic() > deadline:
                            break
                        time.sleep(0.05)
        if self.notify is not None:
            self.notify.close()


def delegated_cgroup() -> Optional[str]:
    """The cgroup2 directory this process is in, when it may make children there (the
    test set-up delegates one to the test user); None otherwise."""
    mount = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split(" ", 1)[0] == "cgroup2":
                mount = left.split()[4]
                break
    if mount is None:
        return None
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                path = os.path.join(mount, line[3:].strip().lstrip("/"))
                return path if os.access(path, os.W_OK) else None
    return None
