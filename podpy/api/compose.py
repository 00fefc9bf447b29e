"""`podpy compose`: an installed compose provider run against a podpy API service of its own.

As podman 4.7's `podman compose`: the provider (PODPY_COMPOSE_PROVIDER, else docker-compose
on PATH or as a docker CLI plugin, else podman-compose) runs with DOCKER_HOST at a service
that listens, for the provider's lifetime, on a private socket in the user's runtime
directory; podman-compose, which drives a podman CLI rather than the API, is given podpy as
its podman (--podman-path: a script beside the socket that runs this podpy, with the global
flags given before `compose`).
"""

from __future__ import annotations

import os
import shutil

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

PROVIDERS = ("docker-compose", "podman-compose")
PLUGIN_DIRS = ("~/.docker/cli-plugins", "/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
               "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")
MISSING = ("no compose provider found: install docker-compose (Debian's package docker-compose) or "
           "podman-compose (pip install podman-compose), or name one with PODPY_COMPOSE_PROVIDER")


def provider(env: Optional[dict[str, str]] = None) -> str:
    """The compose provider's path (InvalidArgument naming what to install when there is none)."""
    env = os.environ if env is None else env
    given = env.get("PODPY_COMPOSE_PROVIDER")
    if given:
        found = shutil.which(given, path=env.get("PATH"))
        if found is None:
            raise InvalidArgument(f"PODPY_COMPOSE_PROVIDER={given}: no such executable")
        return found
    for name in PROVIDERS:
        found = shutil.which(name, path=env.get("PATH"))
        if found is not None:
            return found
        if name == "docker-compose":
            for d in PLUGIN_DIRS:
                path = os.path.join(os.path.expanduser(d), name)
                if os.access(path, os.X_OK):
                    return path
    raise InvalidArgument(MISSING)


def socket_path() -> str:
    """A socket of this process's own in the user's runtime directory."""
    from .service import default_socket_path

    return os.path.join(os.path.dirname(default_socket_path()), f"compose-{os.getpid()}.sock")


def podman_wrapper(path: str, podpy_command: list[str]) -> None:
    """An executable at path that runs podpy_command with its arguments (podman-compose
    takes one program as its podman)."""
    import shlex

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
    with os.fdopen(fd, "w") as f:
        f.write(f"#!/bin/sh\nexec {' '.join(shlex.quote(a) for a in podpy_command)} \"$@\"\n")


def run(args: list[str], open_runtime: Callable[[], Any], podpy_command: list[str],
        log: Callable[[str], None], warn: Callable[[str], None]) -> int:
    """Run the provider with args while a service answers on a private socket; its exit code."""
    import subprocess
    import threading

    from . import AREAS
    from .http import App
    from .routes import Router
    from .service import Service

    path = provider()
    sock = socket_path()
    os.makedirs(os.path.dirname(sock), mode=0o700, exist_ok=True)
    argv = [path]
    wrapper = None
    if os.path.basename(path) == "podman-compose":
        wrapper = sock[:-len(".sock")] + ".podpy"
        podman_wrapper(wrapper, podpy_command)
        argv += ["--podman-path", wrapper]
    argv += args
    service = Service(App(Router.build(AREAS), open_runtime, log), f"unix://{sock}", 0, warn)
    thread = threading.Thread(target=service.run, daemon=True, name="compose-api")
    thread.start()
    try:
        env = dict(os.environ, DOCKER_HOST=f"unix://{sock}")
        env.pop("DOCKER_CONTEXT", None)
        try:
            proc = subprocess.Popen(argv, env=env)
        except OSError as exc:
            raise InvalidArgument(f"running {path}: {exc.strerror}") from None
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                continue   # the provider got the terminal's ^C too: its exit code says how it ended
    finally:
        service.stop()
        thread.join(timeout=10)
        if wrapper is not None:
            try:
                os.unlink(wrapper)
            except OSError:
                pass
