"""A container's stage 1 started ahead of its spec.

A foreground `run` knows early that it will start a container in a new user namespace
with the user's default id mappings, long before it has created the container and built
its spec. Forking stage 1 at that point lets the child load libc, unshare the user
namespace and have its id maps written (by a helper of its own, newuidmap/newgidmap)
on the second CPU while the host side creates the container; `parent.launch` then hands
it the spec through a pipe and carries on as for a stage 1 forked there.

The earliest point is before the command line is parsed (`early.fork`, from podpy's
`main` when the words look like a foreground `run`): the child is then forked from an
interpreter that has imported next to nothing. Both processes pay a copy of every page of
the other's memory they write while both live (copy-on-write: some 4 us a page here), so
a fork from the small interpreter of the start costs the host side far less than one from
the command that has parsed its command line and loaded the engine. The mappings, not
known yet then, follow as the pipe's first frame (`start`); a guess that turns out wrong
(a detached run, --preserve-fds, a remote engine) lets the child go (`let_go`).

Every such stage 1 is forked by early.py (`start`, with nothing imported for it) and adopted
here (`Ahead`). The child loads libc, forks its
map-writing helper, unshares, and only then imports the rest of stage 1 (stage1.py, with
the init's child.py: the mount and seccomp code) while the helper runs newuidmap and newgidmap.

The pipe to the child carries frames (a 4-byte length, then the payload): the mappings
first when the child was forked before they were known, optionally the container's root
file system next (`prepare`), which the child mounts in a mount namespace of its own
while the host side builds the spec, and after it the mount points of the spec's /etc files
(`mount_points`), then the job itself (`hand`). End of file before the job: not wanted.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn, Optional

    from .sync import Channel
    from .userns import IdMappings


class Ahead:
    """A stage 1 waiting for its spec: `fits(spec)` says whether it can run it, `hand(...)`
    gives it the spec, `discard()` lets it go (it exits without doing anything). `give(...)`
    hands it the spec when it fits, before the caller has the rest of the launch ready: the
    channel waits in `handed` for parent.launch (or parent.abandon) to take it."""

    __slots__ = ("pid", "host", "mappings", "namespaces", "handed", "_spec_w", "_rooted")

    def __init__(self, forked: tuple[int, Any, int, bool], mappings: Optional[IdMappings] = None,
                 plan: Optional[dict[str, Any]] = None) -> None:
        """The stage 1 that early.start forked (its pid, our end of its channel, the write end of
        its pipe, whether it was given its mappings); mappings and plan: those it was given,
        else `send_mappings` gives them. plan: what stage 1 makes once its maps are written,
        as the container is expected to have it: "namespaces", the kinds (uts, ipc, network)
        it has new (a spec that has them otherwise does not fit), and "mounts", for
        stage1.mount_ahead."""
        from .sync import Channel

        pid, sock, self._spec_w, _given = forked
        self.pid: int = pid
        self.host: Optional[Channel] = Channel(sock)
        self.handed: Optional[Channel] = None
        self._rooted = False   # its root file system sent (prepare)
        self.mappings = mappings
        self.namespaces = tuple(plan.get("namespaces", ())) if plan else ()

    def send_mappings(self, mappings: IdMappings, plan: Optional[dict[str, Any]] = None) -> None:
        """The mappings of a stage 1 forked before they were known: its user namespace gets
        them; and what to make once they are written (the plan, as __init__'s)."""
        assert self.mappings is None and self.host is not None, "this stage 1 has its mappings"
        self.mappings = mappings
        self.namespaces = tuple(plan.get("namespaces", ())) if plan else ()
        try:
            _write_frame(self._spec_w, _encode({**mappings.to_spec(), "plan": plan}))
        except BrokenPipeError:
            pass  # stage 1 failed: its error is on the channel

    def fits(self, spec: dict[str, Any]) -> bool:
        """Whether spec asks for a new user namespace with the mappings this one has, and for
        new namespaces of the kinds it made ahead."""
        from .userns import IdMappings

        linux = spec.get("linux", {})
        users = [ns for ns in linux.get("namespaces", []) if ns["type"] == "user"]
        if len(users) != 1 or users[0].get("path"):
            return False
        new = {ns["type"] for ns in linux.get("namespaces", []) if not ns.get("path")}
        if not new.issuperset(self.namespaces):
            return False
        want = IdMappings.from_spec(linux)
        return (want.uids, want.gids) == (self.mappings.uids, self.mappings.gids)

    def prepare(self, rootfs: dict[str, Any]) -> None:
        """Have stage 1 mount the container's root file system (storage's rootfsMount) now,
        ahead of its spec; a fuse-overlayfs root waits for the spec (its server is a process
        to account for)."""
        if self.host is None or rootfs.get("type") not in ("overlay", "bind"):
            return
        try:
            _write_frame(self._spec_w, _encode({"rootfs": rootfs}))
            self._rooted = True
        except BrokenPipeError:
            pass  # stage 1 failed: its error is on the channel

    def mount_points(self, points: tuple[str, ...]) -> None:
        """Have stage 1 make these mount points (empty files: destinations of the spec's file
        binds, in the container) in the root file system it mounted (prepare), while the spec is
        built: the first one under /etc copies the image's /etc up, which the init would do on
        the way to the container's exec. A point the spec then binds nothing onto would stay
        as an empty file: the caller names only those it will bind."""
        if self.host is None or not self._rooted or not points:
            return
        try:
            _write_frame(self._spec_w, _encode({"points": list(points)}))
        except BrokenPipeError:
            pass  # stage 1 failed: its error is on the channel

    def hand(self, spec: dict[str, Any], after_exit: Optional[tuple[str, str, tuple[Any, ...]]],
             detach: bool, cgroup: Optional[str] = None) -> Channel:
        """Give stage 1 its spec (after_exit: the call it makes once the init exits, as
        parent.LaunchOptions has it; cgroup: the container's cgroup directory, where it forks
        the init if it can); the channel to it from now on."""
        host = self.host
        assert host is not None, "this stage 1 was handed its spec already"
        data = _encode({"spec": spec, "after_exit": after_exit, "detach": detach, "cgroup": cgroup})
        fd, self._spec_w, self.host = self._spec_w, -1, None
        try:
            _write_frame(fd, data)
        except BrokenPipeError:
            pass  # stage 1 failed before reading: its error is on the channel
        finally:
            os.close(fd)
        return host

    def give(self, spec: dict[str, Any], after_exit: Optional[tuple[str, str, tuple[Any, ...]]],
             cgroup: Optional[str] = None) -> bool:
        """Hand stage 1 a foreground container's spec now, if it fits (else discard it): it
        mounts the root file system and forks the init (into cgroup, the container's cgroup
        directory, if it can) while the caller makes the log, then launches (parent.launch
        takes the channel from `handed`)."""
        if not self.fits(spec):
            self.discard()
            return False
        self.handed = self.hand(spec, after_exit, False, cgroup)
        return True

    def discard(self) -> None:
        """Let stage 1 go unused: at the end of the pipe it exits; reap it."""
        if self.host is None:
            return
        self.host.close()
        self.host = None
        os.close(self._spec_w)
        self._spec_w = -1
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


# -- the child's side ------------------------------------------------------------------------

def forked_stage1(inside: Any, spec_fd: int, host_fd: int, parent: int, mappings: Optional[IdMappings],
                  plan: Optional[dict[str, Any]]) -> NoReturn:
    """Stage 1 as early.start forks it (its channel's socket, the pipe, the host side's
    socket's descriptor, the host side's pid, and the mappings and plan when they were known)."""
    from .sync import Channel

    _stage1(Channel(inside), spec_fd, [host_fd], parent, mappings, plan)


def _stage1(chan: Channel, spec_fd: int, host_side_fds: list[int], parent: int,
            mappings: Optional[IdMappings], plan: Optional[dict[str, Any]]) -> NoReturn:
    """Unshare the user namespace and have its maps written (mappings None: they come as the
    pipe's first frame, with the plan), take root's ids and a mount namespace of our own there,
    make what the plan says, then read the job from spec_fd (end of file: not wanted, exit
    quietly) and run it as stage1.stage1 would. Never returns."""
    from .errors import EXIT_SETUP_FAILED

    code = EXIT_SETUP_FAILED
    try:
        for fd in host_side_fds:
            os.close(fd)
        from . import syscalls

        sc = syscalls.default()
        sc.set_pdeathsig(_SIGKILL)
        if os.getppid() != parent:
            os._exit(0)   # the host side is gone already
        maps = _MapWriter()
        try:
            sc.unshare(syscalls.CLONE_NEWUSER)
        except BaseException:
            maps.cancel()
            raise
        if mappings is None:
            from . import stage1  # imported while the host side parses its command line

            data = _read_frame(spec_fd)
            if data is None:
                maps.cancel()
                os._exit(0)
            maps.go(data)
            plan = _decode(data).get("plan")
        else:
            maps.go(_encode(mappings.to_spec()))
            from . import stage1  # the rest of stage 1, imported while the maps are written

        stage1.detach_from_caller(sc)
        maps.wait()
        plan = plan or {}
        made = stage1.make_namespaces(sc, plan.get("namespaces", ()))
        stage1.enter_own_root(sc)
        ready = stage1.mount_ahead(sc, plan.get("mounts"), made)
        prepared = None
        while True:   # the root file system and its mount points may come before the job
            data = _read_frame(spec_fd)
            if data is None:
                os._exit(0)   # not wanted (after all: what was mounted goes with our mount namespace)
            job = _decode(data)
            if "rootfs" in job and prepared is None:
                prepared = job["rootfs"]
                stage1.prepare_root(sc, prepared)
            elif "points" in job and prepared is not None:
                stage1.make_mount_points(prepared["target"], job["points"])
            else:
                break
        os.close(spec_fd)
        code = stage1.run_stage1(job["spec"], chan, job["after_exit"], job["detach"], sc, in_userns=True,
                                cgroup=job.get("cgroup"), prepared=prepared, made=made, rooted=True,
                                ready=ready)
    except BaseException as exc:  # noqa: BLE001 - reported to the host side
        chan.report(exc)
    os._exit(code)


_SIGKILL = 9


class _MapWriter:
    """A helper forked before the unshare, so still outside the new user namespace, that
    writes its maps (newuidmap/newgidmap) once told the namespace exists and which maps."""

    def __init__(self) -> None:
        go_r, self._go = os.pipe()
        self._done, done_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self._go)
            os.close(self._done)
            self._helper(go_r, done_w)
        os.close(go_r)
        os.close(done_w)

    @staticmethod
    def _helper(go: int, done: int) -> NoReturn:
        status = 1
        try:
            from .errors import IdMapError
            from .userns import IdMappings, write_maps

            data = _read_all(go)   # the mappings (an encoded spec's), or nothing: cancelled
            if data:
                try:
                    # one helper at a time: beside the host side's work, not ahead of it
                    write_maps(os.getppid(), IdMappings.from_spec(_decode(data)), together=False)
                    os.write(done, b"ok")
                except IdMapError as exc:
                    os.write(done, str(exc).encode(errors="replace")[:4000])
            status = 0
        finally:
            os._exit(status)

    def go(self, mappings: bytes) -> None:
        """The namespace exists: write these mappings (as `_encode` has a spec's) to it."""
        try:
            _write_frame_all(self._go, mappings)
        finally:
            os.close(self._go)
            self._go = -1

    def cancel(self) -> None:
        if self._go >= 0:
            os.close(self._go)
            self._go = -1
        self.wait(check=False)

    def wait(self, check: bool = True) -> None:
        """Wait for the helper; raise its IdMapError when the maps could not be written."""
        from .errors import IdMapError

        result = _read_all(self._done) if self._done >= 0 else b""
        self._done = -1
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        if check and result != b"ok":
            raise IdMapError(result.decode(errors="replace") or "the id maps could not be written")


def _encode(job: dict[str, Any]) -> bytes:
    """The job for stage 1's pipe: marshal's format (built in, and what a spec is made of:
    dicts, lists, strings, numbers), else pickle's for a value marshal does not take (importing
    pickle costs each side some 0.5 ms)."""
    import marshal

    try:
        return b"m" + marshal.dumps(job)
    except ValueError:
        import pickle

        return b"p" + pickle.dumps(job, protocol=5)


def _decode(data: bytes) -> dict[str, Any]:
    if data[:1] == b"m":
        import marshal

        return marshal.loads(data[1:])
    import pickle

    return pickle.loads(data[1:])


def _read_all(fd: int) -> bytes:
    """Everything until end of file; fd is closed."""
    chunks = []
    try:
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def _write_frame(fd: int, data: bytes) -> None:
    _write_frame_all(fd, len(data).to_bytes(4, "little") + data)


def _write_frame_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exactly(fd: int, n: int) -> Optional[bytes]:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int) -> Optional[bytes]:
    """The next frame's payload; None at end of file (a frame cut short counts as that)."""
    head = _read_exactly(fd, 4)
    if head is None:
        return None
    return _read_exactly(fd, int.from_bytes(head, "little"))


# -- the host side's entry ------------------------------------------------------------------

def start(forked: Optional[tuple[int, Any, int, bool]], mappings: IdMappings,
          plan: Optional[dict[str, Any]] = None) -> Optional[Ahead]:
    """The stage 1 that early.start forked (None: none could be, and None), for a new user
    namespace with these mappings, which makes what the plan says ahead (Ahead's): sent them
    now when it was forked before they were known."""
    if forked is None:
        return None
    if forked[3]:
        return Ahead(forked, mappings, plan)
    ahead = Ahead(forked)
    ahead.send_mappings(mappings, plan)
    return ahead


def let_go(forked: tuple[int, Any, int, bool]) -> None:
    """Let a stage 1 that early.start forked go unused: the command is not a foreground run
    after all."""
    Ahead(forked).discard()
