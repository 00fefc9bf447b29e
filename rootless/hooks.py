"""OCI hooks run by the runtime: the programs of a spec's `hooks` at their points of a
container's life, each given the container's state (JSON) on stdin.

podpy is its own runtime, so it runs them where runc would: prestart and createRuntime
once the container's namespaces exist and before its process execs, poststart once it has
exec'd, poststop after it exited. They run in the runtime's namespaces, as the user who
runs podpy. A failing prestart or createRuntime hook (an exit status other than 0, or its
timeout) stops the start; a failing poststart or poststop hook is only reported.
"""

from __future__ import annotations

import json
import os

from .errors import SetupError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

STATE_KEY = "podpyHookState"   # the spec's record of what the state JSON holds besides pid and status


def state(spec: dict[str, Any], status: str, pid: int) -> bytes:
    """The OCI state of the container spec describes, as hooks read it."""
    base = spec.get(STATE_KEY) or {}
    out = {"ociVersion": spec.get("ociVersion", "1.0.2"), "id": base.get("id", ""), "status": status,
           "pid": pid, "bundle": base.get("bundle", ""), "annotations": dict(spec.get("annotations") or {})}
    return json.dumps(out).encode()


def run(spec: dict[str, Any], stage: str, status: str, pid: int,
        warn: Optional[Callable[[str], None]] = None) -> None:
    """Run the spec's hooks of stage in order. warn given: failures are reported to it and the
    rest run; else the first failure raises SetupError."""
    hooks = (spec.get("hooks") or {}).get(stage) or []
    if not hooks:
        return
    data = state(spec, status, pid)
    for hook in hooks:
        why = _one(hook, data)
        if why is None:
            continue
        message = f"OCI {stage} hook {hook['path']}: {why}"
        if warn is None:
            raise SetupError(message)
        warn(message)


def _one(hook: dict[str, Any], data: bytes) -> Optional[str]:
    import subprocess   # here: every detached start reads this module's STATE_KEY, few run hooks

    args = list(hook.get("args") or [hook["path"]])
    env = list(hook.get("env") or [])
    timeout = hook.get("timeout")
    try:
        done = subprocess.run(args, executable=hook["path"], input=data, capture_output=True,
                              env=dict(e.partition("=")[::2] for e in env), timeout=timeout or None,
                              check=False, close_fds=True, cwd="/")
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout} seconds"
    except OSError as exc:
        return exc.strerror or str(exc)
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        return f"exit status {done.returncode}" + (f": {err[-1]}" if err else "")
    return None


def stderr_warn(message: str) -> None:
    os.write(2, f"WARN[0000] {message}\n".encode(errors="replace"))
