"""`run`, `create`, `start -a` and `exec` over a service, in the order podman's client makes
its calls: pull (by the policy), create, attach (before the start: no output is lost), start,
wait; exec: create the session, start it with its output streamed, read its exit code."""

from __future__ import annotations

import json
import sys

from ..errors import InvalidArgument, NoSuchImage, PodpyError
from .client import ServiceError, done

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional


class Made:
    """The container a remote create made (the CLI prints its id)."""

    def __init__(self, cid: str, warnings: list[str]) -> None:
        self.id, self.warnings = cid, warnings


def _auth(creds: Optional[str]) -> dict[str, str]:
    """X-Registry-Auth for a pull with --creds (base64 of podman's {"username", "password"})."""
    import base64

    if not creds:
        return {}
    user, _, password = creds.partition(":")
    doc = json.dumps({"username": user, "password": password}).encode()
    return {"X-Registry-Auth": base64.urlsafe_b64encode(doc).decode()}


def pull(eng: Any, name: str, policy: str, quiet: bool, tls_verify: Optional[bool] = None,
         creds: Optional[str] = None, progress: Optional[Callable[[str], None]] = None) -> str:
    """The image's id once the service has it (pulled by policy: always, missing, never, newer)."""
    return pull_ids(eng, name, policy, quiet, tls_verify, creds, progress)[0]


def pull_ids(eng: Any, name: str, policy: str, quiet: bool, tls_verify: Optional[bool] = None,
             creds: Optional[str] = None, progress: Optional[Callable[[str], None]] = None,
             all_tags: bool = False) -> list[str]:
    """The ids of what the service pulled: the image, or with all_tags every tag's."""
    query: dict[str, Any] = {"reference": name, "policy": policy, "quiet": quiet}
    if all_tags:
        query["allTags"] = True
    if tls_verify is not None:
        query["tlsVerify"] = tls_verify
    ids: list[str] = []
    for doc in eng.client.lines("POST", "/images/pull", query, headers=_auth(creds)):
        if doc.get("error"):
            raise PodpyError(str(doc["error"]))
        if doc.get("stream") and not quiet:
            text = str(doc["stream"]).rstrip("\n")
            if progress is not None:
                progress(text)
            else:
                sys.stderr.write(text + "\n")
        if doc.get("images"):
            ids = [str(i) for i in doc["images"]]
        elif doc.get("id"):
            ids = [str(doc["id"])]
    if not ids:
        raise PodpyError(f"pulling {name}: the service gave no image")
    return ids


def create(eng: Any, opts: Any, command: str) -> Made:
    from ..engine.podmanspec import spec_generator

    spec = spec_generator(opts, command)
    policy = (opts.pull or "missing").lower()
    policy = {"true": "always", "false": "never", "ifmissing": "missing", "ifnewer": "newer"}.get(policy, policy)
    pull(eng, opts.image, policy, opts.quiet, opts.tls_verify, opts.creds)
    try:
        answer = eng.client.call("POST", "/containers/create", body=spec) or {}
    except ServiceError as exc:
        if exc.status == 404:
            raise NoSuchImage(str(exc)) from None
        raise PodpyError(str(exc)) from None
    made = Made(str(answer.get("Id") or ""), [str(w) for w in answer.get("Warnings") or []])
    for line in made.warnings:
        eng.warn(line)
    if opts.cidfile:
        with open(opts.cidfile, "x", encoding="utf-8") as f:
            f.write(made.id)
    return made


def run(eng: Any, opts: Any, on_detached: Optional[Callable[[str], None]]) -> int:
    made = create(eng, opts, "run")
    if opts.detach:
        eng.client.call("POST", f"/containers/{made.id}/start")
        if on_detached is not None:
            on_detached(made.id)
        return 0
    return _foreground(eng, made.id, opts.interactive, opts.remove, opts.tty, opts.detach_keys)


def attached(eng: Any, name: str, interactive: bool) -> int:
    """`start -a`: the container's output here until it exits; its exit code."""
    from .base import _q

    doc = eng.client.call("GET", f"/containers/{_q(name)}/json")
    return _foreground(eng, str(doc["Id"]), interactive, False, bool((doc.get("Config") or {}).get("Tty")))


def _foreground(eng: Any, cid: str, interactive: bool, remove: bool, tty: bool = False,
                keys: Optional[str] = None) -> int:
    """Attached until the container exits (its exit code), or until the detach keys are typed
    on its terminal (0, the container left running)."""
    import threading

    from ..options import DEFAULT_DETACH_KEYS, detach_keys

    from .streams import _sock, attach, copy_in, copy_out
    from .terminal import Terminal, size as terminal_size

    def resize(rows: int, cols: int) -> None:
        eng.client.call("POST", f"/containers/{cid}/resize", {"h": rows, "w": cols})

    size = terminal_size() if tty else None
    if size:
        try:
            resize(*size)   # podpy's service gives a created container its size at the start
        except ServiceError:
            pass
    resp = attach(eng.client, cid, interactive, pump=not tty)
    detached = threading.Event()
    with Terminal(interactive, resize) if tty else _Plain():
        if tty and interactive:
            copy_in(_sock(resp), detach_keys(DEFAULT_DETACH_KEYS if keys is None else keys), detached)
        reader = threading.Thread(target=copy_out, args=(resp.fp, tty), daemon=True)
        reader.start()
        try:
            eng.client.call("POST", f"/containers/{cid}/start")
        except ServiceError as exc:
            if exc.status != 304:
                raise
        if size:
            try:
                resize(*size)   # podman's service sizes it once it runs
            except ServiceError:
                pass
        got: list[Any] = []

        def wait() -> None:
            try:
                got.append(int(eng.client.call("POST", f"/containers/{cid}/wait",
                                               {"condition": ["stopped", "exited"]}, timeout=None)))
            except BaseException as exc:  # noqa: BLE001 - raised below, in this thread
                got.append(exc)
        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        while waiter.is_alive() and not detached.is_set():
            waiter.join(0.1)
        if detached.is_set():
            done(resp)
            return 0
        reader.join(5)
    done(resp)
    if isinstance(got[0], BaseException):
        raise got[0]
    code = got[0]
    if remove:
        try:
            eng.client.call("DELETE", f"/containers/{cid}", {"force": False, "volumes": True})
        except ServiceError:
            pass   # the service's --rm got there first
    return code


class _Plain:
    """No terminal: nothing to set up."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def exec_(eng: Any, opts: Any) -> int:
    """`exec`: the command's exit code (0 at once with --detach)."""
    from .base import _q, latest_or
    from .streams import _sock, copy_in, copy_out

    if opts.env_file or opts.preserve_fds:
        raise InvalidArgument(f"podpy exec {'--env-file' if opts.env_file else '--preserve-fds'}: "
                              "not available with --remote")
    from ..engine.podmanspec import _env

    name = latest_or(eng, opts.container, opts.latest)
    body = {"AttachStdin": opts.interactive, "AttachStdout": not opts.detach, "AttachStderr": not opts.detach,
            "Tty": opts.tty, "Cmd": list(opts.command), "Detach": opts.detach, "Privileged": opts.privileged,
            "Env": [f"{k}={v}" for k, v in _env(opts.env).items()], "User": opts.user or "",
            "WorkingDir": opts.workdir or ""}
    if opts.detach_keys is not None:
        body["DetachKeys"] = opts.detach_keys
    try:
        session = eng.client.call("POST", f"/containers/{_q(name)}/exec", body=body)["Id"]
    except ServiceError as exc:
        from .base import engine_error

        raise engine_error(exc) from None
    if opts.detach:
        eng.client.call("POST", f"/exec/{session}/start", body={"Detach": True, "Tty": opts.tty})
        return 0
    sys.stdout.flush()
    from .terminal import Terminal, size as terminal_size

    rows, cols = (terminal_size() or (0, 0)) if opts.tty else (0, 0)
    resp = eng.client.open("POST", f"/exec/{session}/start", body={"Detach": False, "Tty": opts.tty,
                                                                     "h": rows, "w": cols}, timeout=None)
    with Terminal(opts.interactive, lambda r, c: eng.client.call(
            "POST", f"/exec/{session}/resize", {"h": r, "w": c})) if opts.tty else _Plain():
        if opts.interactive:
            copy_in(_sock(resp))
        copy_out(resp.fp, opts.tty)
    done(resp)
    info = eng.client.call("GET", f"/exec/{session}/json") or {}
    return int(info.get("ExitCode") or 0)
