"""RUN as a step: the command (shell or exec form, heredocs), the environment with the
build arguments in scope, the --mount sources, and the work done in the working container."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgument
from .parser import Instruction
from .run import RUNTIME_DESTINATIONS, MountSpec, RunStep, created_paths, parse_mount, run
from .step import PROXY_ARGS, Step, StepFailed, ensure_dir

if TYPE_CHECKING:
    from .working import Working

NETWORKS = {"default": None, "none": "none", "host": "host"}


def _argv(sb: Any, ins: Instruction) -> tuple[list[str], list[tuple[str, str]]]:
    """The command, and heredoc scripts to mount at /dev/pipes/NAME (shebang scripts run directly)."""
    if not ins.heredocs:
        if ins.exec_form is not None:
            return list(ins.exec_form), []
        return [*sb.shell, ins.args], []
    if ins.exec_form is not None:
        raise InvalidArgument("a heredoc cannot be used with RUN's exec form")
    only = re.fullmatch(r"<<-?\s*(['\"]?)([^'\"\s]+)\1", ins.args.strip())
    if only and len(ins.heredocs) == 1:
        body = ins.heredocs[0].content
        if body.startswith("#!"):
            return ["/dev/pipes/" + ins.heredocs[0].name], [(ins.heredocs[0].name, body)]
        return [*sb.shell, body], []
    script = ins.args + "\n" + "".join(f"{h.content}{h.name}\n" for h in ins.heredocs)
    return [*sb.shell, script], []


def run_step(sb: Any, ins: Instruction) -> Step:
    b = sb.b
    argv, scripts = _argv(sb, ins)
    workdir = sb.workdir()
    mounts = [parse_mount(sb.expand(v), workdir) for v in ins.flag_values("mount")]
    agents = [m for m in mounts if m.type == "ssh"]
    for n, m in enumerate(agents):
        m.target = m.target or f"/run/buildkit/ssh_agent.{n}"
    for m in mounts:   # from= a --build-context: its directory, or the image it names
        name = sb.expand(m.from_).lower() if m.from_ else ""
        if name and b.plan.find(name, before=sb.stage.index) is None:
            if name in b.dir_contexts:
                m.from_, m.context = None, name
            elif name in b.image_contexts:
                m.from_ = b.image_contexts[name]
    network = b.network
    given = ins.flag("network")
    if given is not None:
        if given not in NETWORKS:
            raise InvalidArgument(f"RUN --network={given}: use default, none or host")
        network = NETWORKS[given] or b.network
    security = ins.flag("security")
    if security not in (None, "sandbox", "insecure"):
        raise InvalidArgument(f"RUN --security={security}: use sandbox or insecure")
    icfg = sb._icfg()
    env = list(icfg.get("Env") or [])
    names = {e.partition("=")[0] for e in env}
    args = [(k, v) for k, v in sb.args.items() if v is not None]
    env += [f"{k}={v}" for k, v in args if k not in names]
    env += [f"{k}={b.build_args[k]}" for k in PROXY_ARGS if k in b.build_args and k not in names
            and k not in sb.args]
    # --http-proxy (the default): this environment's proxy variables, where nothing set them
    given = {e.partition("=")[0] for e in env}
    env += [e for e in b.proxy_env if e.partition("=")[0] not in given]
    shown = " ".join(argv) if ins.exec_form is None else json.dumps(argv)
    created_by = (f"|{len(args)} {' '.join(f'{k}={v}' for k, v in args)} " if args else "") + shown
    digest = hashlib.sha256()
    digest.update(f"network={network} security={security}\n".encode())
    if b.run_settings.get("idmap"):    # --userns-uid-map & co: what RUN sees of its ids differs
        digest.update(f"idmap {json.dumps(b.run_settings['idmap'], sort_keys=True)}\n".encode())
    for name, body in scripts:
        digest.update(f"script {name}\n{body}\n".encode("utf-8", "surrogateescape"))
    for h in ins.heredocs:
        digest.update(f"heredoc {h.name}\n{h.content}\n".encode("utf-8", "surrogateescape"))
    for m in mounts:
        digest.update(json.dumps(m.__dict__, sort_keys=True).encode() + b"\n")
        if m.type == "bind":
            if m.from_:
                image_id, _layers = sb.image_layers(sb.expand(m.from_), "RUN --mount from")
                digest.update(f"from {image_id}\n".encode())
            else:
                context = b.dir_contexts[m.context] if m.context else b.context
                tops = context.sources(m.source or ".", "RUN --mount")
                digest.update(context.digest(tops).encode())
        elif m.type == "ssh" and m.id not in b.ssh and m.required:
            raise InvalidArgument(f"RUN --mount=type=ssh: the SSH agent {m.id!r} is required and was not "
                                  "given (--ssh ID[=SOCKET|KEY])")
        elif m.type == "secret" and m.id not in b.secrets and m.required:
            raise InvalidArgument(f"RUN --mount=type=secret: the secret {m.id!r} is required and was not "
                                  "given (--secret id=...,src=...)")
    user = str(icfg.get("User") or "")

    def work(w: "Working") -> list[str]:
        from storage import view

        from .binfmt import check_runnable

        # a stage of another architecture: this kernel must run its binaries (a binfmt_misc handler)
        check_runnable(sb.config)

        layer_dirs = [w.changes] if w.driver.full_tree_layers else [*w.layer_dirs, w.changes]
        if workdir != "/" and view.resolve(layer_dirs, workdir) is None:
            w.in_root(ensure_dir, workdir)
        spec_mounts, extra_env, locks = _prepare_mounts(sb, w, mounts, scripts)
        try:
            dests = [m["destination"] for m in spec_mounts + b.run_settings.get("mounts", [])
                     if not m["destination"].startswith("/dev/")]
            created = created_paths(layer_dirs, RUNTIME_DESTINATIONS + dests)
            step = RunStep(argv, env + extra_env, user, workdir, network, spec_mounts,
                           privileged=security == "insecure", quiet=b.quiet, settings=b.run_settings,
                           stdin=b.o.stdin, cgroup_parent=b.step_cgroup, hooks_dirs=b.hooks_dirs,
                           output=b.o.run_output)
            code = run(w, step, b.warn, b.stopper)
        finally:
            for fd in locks:
                os.close(fd)
        if code != 0:
            raise StepFailed(f'building at STEP "{ins.display()}": while running runtime: exit status {code}', code)
        return created

    return Step(created_by, digest.hexdigest(), work=work)


def _prepare_mounts(sb: Any, w: "Working", mounts: list[MountSpec],
                    scripts: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], list[str], list[int]]:
    """The OCI mounts for the step, environment variables from secrets, and held lock fds."""
    b = sb.b
    out: list[dict[str, Any]] = []
    env: list[str] = []
    locks: list[int] = []
    for i, (name, body) in enumerate(scripts):
        path = os.path.join(w.cdir, f"heredoc-{i}")
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(body)
        os.chmod(path, 0o755)
        out.append(_bind(path, "/dev/pipes/" + name, True))
    for i, m in enumerate(mounts):
        if m.type == "tmpfs":
            opts = ["nosuid", "nodev"] + ([f"size={m.size}"] if m.size else [])
            out.append({"destination": m.target, "type": "tmpfs", "source": "tmpfs", "options": opts})
        elif m.type == "cache":
            path = _cache_dir(sb, m)
            if m.sharing == "locked":
                fd = os.open(path + ".lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
                locks.append(fd)
            out.append(_bind(path, m.target, bool(m.readonly)))
        elif m.type == "ssh":
            sock = b.ssh.socket(m.id or "default")
            if sock is None:
                continue    # not required: the step runs without it
            out.append(_bind(sock, m.target, False))
            if not any(e.startswith("SSH_AUTH_SOCK=") for e in env):
                env.append(f"SSH_AUTH_SOCK={m.target}")
        elif m.type == "secret":
            secret = b.secrets.get(m.id or "")
            if secret is None:
                continue    # not required: the step runs without it
            data = secret.read()
            if m.env:
                env.append(f"{m.env}={data.decode('utf-8', 'surrogateescape')}")
            if m.target:
                path = os.path.join(w.cdir, f"secret-{i}")
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.chmod(path, m.mode if m.mode is not None else 0o400)
                if m.uid or m.gid:
                    b.rt.store.in_userns(os.lchown, path, m.uid, m.gid)
                out.append(_bind(path, m.target, True))
        else:
            out.append(_bind(_bind_source(sb, w, m, i), m.target, m.readonly is not False))
    return out, env, locks


def _bind(source: str, dest: str, readonly: bool) -> dict[str, Any]:
    return {"destination": dest, "type": "bind", "source": source,
            "options": ["rbind", "ro" if readonly else "rw", "rprivate"]}


def _make_cache_dir(path: str, uid: int, gid: int, mode: int) -> None:
    tmp = path + ".new"
    shutil.rmtree(tmp, ignore_errors=True)
    os.mkdir(tmp)
    os.chmod(tmp, mode)
    os.lchown(tmp, uid, gid)
    try:
        os.rename(tmp, path)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)   # another build made it first


def _cache_dir(sb: Any, m: MountSpec) -> str:
    """A cache mount's directory, kept in the store between builds (keyed by its id, or target)."""
    base = os.path.join(sb.b.rt.cfg.root, "buildcache")
    os.makedirs(base, mode=0o700, exist_ok=True)
    key = hashlib.sha256((m.id or m.target).encode()).hexdigest()[:32]
    path = os.path.join(base, key)
    if not os.path.isdir(path):
        sb.b.rt.store.in_userns(_make_cache_dir, path, m.uid, m.gid, m.mode if m.mode is not None else 0o755)
    return path


def _bind_source(sb: Any, w: "Working", m: MountSpec, i: int) -> str:
    """A bind mount's source: a context path (bound as it is when read-only and nothing is
    ignored; otherwise a filtered copy), or a copy of a path of a stage or an image."""
    b = sb.b
    staged = os.path.join(w.cdir, f"mount-{i}")
    if m.from_:
        from .working import image_view, in_mount_ns

        _image_id, layers = sb.image_layers(sb.expand(m.from_), "RUN --mount from")
        target = os.path.join(w.cdir, f"view-{i}")
        os.mkdir(target)
        in_mount_ns(b.rt, _copy_from_view, image_view(b.rt, layers, target), m.source or "/", staged)
        return staged
    context = b.dir_contexts[m.context] if m.context else b.context
    top = context.sources(m.source or ".", "RUN --mount")[0]
    if m.readonly is not False and (not top.is_dir or not context.matcher):
        return top.path
    if not top.is_dir:
        shutil.copy2(top.path, staged)
        return staged
    os.mkdir(staged)
    for rel, src, st in context.walk(top):
        dst = os.path.join(staged, rel)
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(dst, stat.S_IMODE(st.st_mode) | 0o700)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(src), dst)
        elif stat.S_ISREG(st.st_mode):
            shutil.copy2(src, dst)
    return staged


def _copy_from_view(view: dict[str, Any], source: str, staged: str) -> None:
    from rootless import syscalls as S
    from storage.drivers.vfs import copy_tree
    from storage.fsutil import copy_file
    from storage.inroot import resolve

    from .working import mount_view

    sc = S.default()
    sc.mount(None, "/", None, S.MS_REC | S.MS_PRIVATE)
    mount_view(sc, view)
    try:
        src = resolve(view["target"], source)
    except OSError:
        src = ""  # a loop or a file on the way: nothing there to copy
    if os.path.isdir(src):
        copy_tree(src, staged)
    elif os.path.exists(src):
        copy_file(src, staged)
    else:
        raise InvalidArgument(f"RUN --mount from: {source}: no such file or directory")
