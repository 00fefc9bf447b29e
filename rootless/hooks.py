"""OCI hooks run by the runtime: the programs of a spec's `hooks` at their points of a
container's life, each given the container's state (JSON) on stdin.

podpy is its own runtime, so it runs them where runc 1.1 does:
- prestart and createRuntime (parent.py): once the container's namespaces exist and before
  its process execs, in the runtime's namespaces, as the user who runs podpy;
- createContainer (child.py, the init): once the container's mounts are made and before
  pivot_root, in the container's namespaces (so the path is found in the host's file
  system, which the init still sees), as the container's root, in the root file system's
  directory; state "creating", pid the init's own (1 in a PID namespace of its own);
- startContainer (child.py, the init): after start, just before the process execs, in the
  container (the path is found in its root file system), with the process's user,
  capabilities and working directory; state "created";
- poststart once the process has exec'd, poststop after it exited (runtime's namespaces).
A failing prestart, createRuntime or createContainer hook (an exit status other than 0, or
its timeout) stops the start (exit 126, the container stays created, as with podman); a
failing startContainer hook ends the started container with status 1, its one line on the
container's stderr (runc's init does the same); a failing poststart or poststop hook is
only reported.
"""

from __future__ import annotations

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
    import json   # only where a hook runs: `run` without hooks does without the package

    return json.dumps(out).encode()


def run(spec: dict[str, Any], stage: str, status: str, pid: int,
        warn: Optional[Callable[[str], None]] = None, cwd: Optional[str] = "/") -> None:
    """Run the spec's hooks of stage in order. warn given: failures are reported to it and the
    rest run; else the first failure raises SetupError (status 126, podman's for a failing
    runtime). cwd: the hooks' working directory (None: ours)."""
    hooks = (spec.get("hooks") or {}).get(stage) or []
    if not hooks:
        return
    data = state(spec, status, pid)
    for hook in hooks:
        why = _one(hook, data, cwd)
        if why is None:
            continue
        message = f"OCI {stage} hook {hook['path']}: {why}"
        if warn is None:
            raise SetupError(message, 126)
        warn(message)


def _one(hook: dict[str, Any], data: bytes, cwd: Optional[str] = "/") -> Optional[str]:
    import subprocess   # here: every detached start reads this module's STATE_KEY, few run hooks

    args = list(hook.get("args") or [hook["path"]])
    env = list(hook.get("env") or [])
    timeout = hook.get("timeout")
    try:
        done = subprocess.run(args, executable=hook["path"], input=data, capture_output=True,
                              env=dict(e.partition("=")[::2] for e in env), timeout=timeout or None,
                              check=False, close_fds=True, cwd=cwd)
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
