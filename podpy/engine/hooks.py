"""OCI hooks (oci-hooks(5)): the hook files of the hook directories, and which of them a
container's spec gets.

A hook file is JSON: `{"version": "1.0.0", "hook": {"path", "args", "env", "timeout"},
"when": {"always", "annotations", "commands", "hasBindMounts"}, "stages": [...]}`. The
directories are --hooks-dir's (repeatable; global, and build's for RUN steps), else
podman's defaults, /usr/share/containers/oci/hooks.d then /etc/containers/oci/hooks.d,
where they exist. Files are taken in the order of their names, a name in a later
directory replacing the same name in an earlier one; files not ending in .json are
skipped. A hook applies when any of its `when` conditions holds: always; an annotation
whose key and value match the patterns given; a command (the process's args[0]) matching
one of the patterns; bind mounts in the spec. Patterns are regular expressions searched
in the text, as podman's are. The matching hooks go into the spec's `hooks`, stage by
stage, for the runtime (rootless/hooks.py) to run.

podpy is its own runtime and runs every stage (rootless/hooks.py says where): the
createContainer and startContainer stages in the container's namespaces, from its init.
"""

from __future__ import annotations

import os

from storage import fastjson as json

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

DEFAULT_DIRS = ("/usr/share/containers/oci/hooks.d", "/etc/containers/oci/hooks.d")
STAGES = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
POSTSTOP_FILE = "poststop-hooks.json"


class Hook:
    """One hook file: its name (the order hooks run in), the program, and when it applies.
    (A plain class, not a dataclass: this module is on the path of every container start.)"""

    __slots__ = ("name", "path", "args", "env", "timeout", "stages", "always", "annotations", "commands",
                 "has_bind_mounts")

    def __init__(self, name: str, path: str, args: list[str], env: list[str], timeout: Optional[int],
                 stages: list[str], always: bool = False, annotations: Optional[dict[str, str]] = None,
                 commands: Optional[list[str]] = None, has_bind_mounts: bool = False) -> None:
        self.name, self.path, self.args, self.env, self.timeout = name, path, args, env, timeout
        self.stages, self.always, self.has_bind_mounts = stages, always, has_bind_mounts
        self.annotations = annotations or {}
        self.commands = commands or []

    def matches(self, annotations: dict[str, str], command: str, has_bind_mounts: bool) -> bool:
        import re

        if self.always or (self.has_bind_mounts and has_bind_mounts):
            return True
        for key_re, value_re in self.annotations.items():
            if any(re.search(key_re, k) and re.search(value_re, v) for k, v in annotations.items()):
                return True
        return any(re.search(c, command) for c in self.commands)

    def entry(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "args": list(self.args) or [self.path]}
        if self.env:
            out["env"] = list(self.env)
        if self.timeout:
            out["timeout"] = self.timeout
        return out


def parse(text: str, name: str) -> Hook:
    """One hook file's text -> Hook, checked as podman checks it."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"OCI hook {name}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"OCI hook {name}: not a JSON object")
    if data.get("version") != "1.0.0":
        raise InvalidArgument(f"OCI hook {name}: unknown version {data.get('version')!r} (1.0.0 is known)")
    hook, when, stages = data.get("hook"), data.get("when"), data.get("stages")
    if not isinstance(hook, dict) or not isinstance(hook.get("path"), str) or not hook["path"].startswith("/"):
        raise InvalidArgument(f"OCI hook {name}: hook.path must be an absolute path")
    if not isinstance(stages, list) or not stages:
        raise InvalidArgument(f"OCI hook {name}: stages must name at least one stage")
    for s in stages:
        if s not in STAGES:
            raise InvalidArgument(f"OCI hook {name}: unknown stage {s!r} ({', '.join(STAGES)})")
    if not isinstance(when, dict) or not any(k in when for k in ("always", "annotations", "commands",
                                                                  "hasBindMounts")):
        raise InvalidArgument(f"OCI hook {name}: when must have at least one of always, annotations, commands "
                              "and hasBindMounts")
    timeout = hook.get("timeout")
    if timeout is not None and (not isinstance(timeout, int) or timeout < 1):
        raise InvalidArgument(f"OCI hook {name}: hook.timeout must be a positive number of seconds")
    annotations = when.get("annotations") or {}
    commands = when.get("commands") or []
    import re

    try:
        for pattern in [*annotations.keys(), *annotations.values(), *commands]:
            re.compile(pattern)
    except (re.error, TypeError) as exc:
        raise InvalidArgument(f"OCI hook {name}: invalid pattern: {exc}") from None
    return Hook(name=name, path=hook["path"], args=[str(a) for a in hook.get("args") or []],
                env=[str(e) for e in hook.get("env") or []], timeout=timeout, stages=list(stages),
                always=bool(when.get("always")), annotations={str(k): str(v) for k, v in annotations.items()},
                commands=[str(c) for c in commands], has_bind_mounts=bool(when.get("hasBindMounts")))


def load(dirs: Optional[list[str]]) -> list[Hook]:
    """The hooks of dirs (None: podman's defaults that exist), in the order of their names."""
    given = dirs is not None
    by_name: dict[str, str] = {}
    for d in (dirs if given else DEFAULT_DIRS):   # type: ignore[union-attr]
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            if given:
                raise InvalidArgument(f"--hooks-dir {d}: no such directory") from None
            continue
        except OSError as exc:
            raise InvalidArgument(f"reading the OCI hooks of {d}: {exc.strerror}") from None
        for n in names:
            if n.endswith(".json"):
                by_name[n] = os.path.join(d, n)
    hooks = []
    for n in sorted(by_name):
        try:
            with open(by_name[n], encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise InvalidArgument(f"reading OCI hook {by_name[n]}: {exc.strerror}") from None
        hooks.append(parse(text, by_name[n]))
    return hooks


def for_spec(hooks: list[Hook], spec: dict[str, Any], binds: bool, warn: Optional[Callable[[str], None]] = None
             ) -> dict[str, list[dict[str, Any]]]:
    """The spec's `hooks`: the matching hooks' entries stage by stage. binds: whether the
    user gave the container volumes or mounts (podman's hasBindMounts: not the mounts every
    container gets, such as /etc/hosts). warn: kept for callers that pass one; every stage
    runs, so nothing is warned about."""
    annotations = {str(k): str(v) for k, v in (spec.get("annotations") or {}).items()}
    args = (spec.get("process") or {}).get("args") or [""]
    out: dict[str, list[dict[str, Any]]] = {}
    for h in hooks:
        if not h.matches(annotations, str(args[0]), binds):
            continue
        for s in h.stages:
            out.setdefault(s, []).append(h.entry())
    return out


def attach(spec: dict[str, Any], dirs: Optional[list[str]], cid: str, bundle: str, binds: bool,
           warn: Optional[Callable[[str], None]] = None) -> None:
    """Put the matching hooks of dirs into spec (nothing when none match)."""
    matched = for_spec(load(dirs), spec, binds, warn)
    if matched:
        from rootless.hooks import STATE_KEY

        spec["hooks"] = matched
        spec[STATE_KEY] = {"id": cid, "bundle": bundle}


def save_poststop(spec: dict[str, Any], path: str) -> None:
    """What the poststop hooks need after the container's exit (the start's spec is gone then)."""
    from rootless.hooks import STATE_KEY

    from storage.fsutil import atomic_file

    keep = {"ociVersion": spec.get("ociVersion"), "annotations": spec.get("annotations") or {},
            "hooks": {"poststop": spec["hooks"]["poststop"]}, STATE_KEY: spec.get(STATE_KEY)}
    with atomic_file(path) as f:
        f.write(json.dumps(keep).encode())


def run_poststop(path: str, warn: Callable[[str], None]) -> None:
    """The poststop hooks of a container that exited (once: the file goes first)."""
    try:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
        os.unlink(path)
    except (OSError, ValueError):
        return
    from rootless import hooks as oci_hooks

    oci_hooks.run(spec, "poststop", "stopped", 0, warn)
