"""COPY and ADD as steps: the sources (context paths and globs, heredocs, another stage or
image with --from, for ADD a local archive to unpack or a URL to fetch), the digest the
cache keys them on, and the copy done in the working container (copy.py)."""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
from typing import TYPE_CHECKING, Any, Optional

from ..errors import InvalidArgument
from .context import Top, is_git_url
from .copy import CopyJob, copy_into, is_archive
from .ignore import Matcher
from .parser import Instruction
from .step import Step, nop
from .words import split_raw

if TYPE_CHECKING:
    from .working import Working

_HEREDOC_WORD = re.compile(r"^\d*<<-?(['\"]?)([^'\"]+)\1$")


def copy_step(sb: Any, ins: Instruction) -> Step:
    b = sb.b
    kw = ins.keyword
    raw = list(ins.exec_form) if ins.exec_form is not None else split_raw(ins.args, sb.escape)
    if ins.exec_form is not None:
        words = [sb.expand(w) for w in raw]
    else:
        words = [w if _HEREDOC_WORD.match(w) else sb.expand(w) for w in raw]
    if len(words) < 2:
        raise InvalidArgument(f"{kw} requires at least two arguments, a source and a destination")
    srcs, dest = words[:-1], words[-1]
    if not dest:
        raise InvalidArgument(f"{kw}: the destination is empty")
    dest_dir = dest.endswith("/") or posixpath.basename(dest) in (".", "..")
    dest_abs = posixpath.normpath(posixpath.join(sb.workdir(), dest))
    if dest_abs.startswith("//"):
        dest_abs = dest_abs[1:]
    if ins.flag("parents") is not None:
        raise InvalidArgument(f"{kw} --parents is not supported")
    chmod = _chmod(ins.flag("chmod"), kw)
    uid = gid = None
    chown = ins.flag("chown")
    if chown:
        uid, gid = _chown(sb, sb.expand(chown), kw)
    excludes = [sb.expand(e) for e in ins.flag_values("exclude")]
    exclude = Matcher(excludes) if excludes else None
    from_ = sb.expand(ins.flag("from") or "") if kw == "COPY" else ""
    context = b.context
    if from_ and b.plan.find(from_, before=sb.stage.index) is None:
        if from_.lower() in b.dir_contexts:   # --build-context NAME=DIR: read as the context is
            context, from_ = b.dir_contexts[from_.lower()], ""
        elif from_.lower() in b.image_contexts:
            from_ = b.image_contexts[from_.lower()]
    checksum = ins.flag("checksum")
    if checksum is not None and kw == "ADD":
        checksum = sb.expand(checksum)
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", checksum):
            raise InvalidArgument(f"ADD --checksum={checksum}: expected sha256:<64 hex digits>")
    digest = hashlib.sha256()
    tops: list[Top] = []
    view_sources: list[str] = []
    image_layers: list[str] = []
    heredocs = {h.name: h for h in ins.heredocs}
    urls = []
    for src in srcs:
        m = _HEREDOC_WORD.match(src)
        if m and m.group(2) in heredocs:
            h = heredocs[m.group(2)]
            content = sb.expand(h.content) if h.expand else h.content
            path = b.scratch_file(content.encode("utf-8", "surrogateescape"))
            tops.append(Top(path, h.name, False, mode=0o644))
            digest.update(f"heredoc {h.name}\n{content}\n".encode("utf-8", "surrogateescape"))
        elif kw == "ADD" and is_git_url(src):
            raise InvalidArgument(f"ADD {src}: adding a git repository is not supported (use it as the build "
                                  "context, or RUN git clone)")
        elif src.startswith(("http://", "https://")):
            if kw != "ADD":
                raise InvalidArgument(f"source can't be a URL for {kw}")   # podman's words
            urls.append(src)
        elif from_:
            view_sources.append(src)
        else:
            found = context.sources(src, kw)
            if kw == "ADD":
                for t in found:
                    t.extract = not t.is_dir and is_archive(t.path)
            tops += found
    if checksum is not None and (len(urls) != 1 or len(srcs) != 1):
        raise InvalidArgument("ADD --checksum works with one URL source")
    for url in urls:
        path, sha, name, mtime = b.fetch(url)
        if checksum is not None and checksum != sha:
            raise InvalidArgument(f"ADD {url}: the content's digest is {sha}, not {checksum}")
        tops.append(Top(path, name, False, mode=0o600, mtime=mtime))
        digest.update(f"url {url} {sha}\n".encode())
    from_id = ""
    if from_:
        from_id, image_layers = sb.image_layers(from_, f"{kw} --from={from_}")
        digest.update(f"from {from_id} {srcs!r}\n".encode())
    context_tops = [t for t in tops if t.ctx_rel is not None]
    if context_tops:
        digest.update(context.digest(context_tops).encode())
    digest.update(f"dest {dest_abs} {dest_dir}\n".encode())
    kind = "multi" if len(srcs) > 1 else ("dir" if any(t.is_dir for t in tops) else "file")
    flags = "".join(f"--{k}={v} " for k, v in (("chown", chown), ("chmod", ins.flag("chmod")),
                                               ("from", from_id[:12] if from_ else None)) if v)
    flags += "".join(f"--exclude={e} " for e in excludes)
    created_by = nop(f"{kw} {flags}{kind}:{digest.hexdigest()} in {dest_abs}{'/' if dest_dir else ''} ")
    job = CopyJob(kw, tops, dest_abs, dest_dir, uid, gid, chmod, context.matcher, exclude,
                  view_sources=view_sources)

    def work(w: "Working") -> list[str]:
        views = []
        if from_:
            from .working import image_view

            target = os.path.join(w.cdir, "from")
            os.makedirs(target, exist_ok=True)
            views.append(image_view(b.rt, image_layers, target))
            job.view_target = target
        w.in_root(copy_into, job, views=views)
        return []

    return Step(created_by, digest.hexdigest(), work=work)


def _chmod(value: Optional[str], kw: str) -> Optional[int]:
    if value is None:
        return None
    if not re.fullmatch(r"[0-7]{3,4}", value):
        raise InvalidArgument(f"{kw} --chmod={value}: expected an octal mode such as 755")
    return int(value, 8)


def _chown(sb: Any, value: str, kw: str) -> tuple[int, int]:
    """USER[:GROUP] by number or by the names in the image's /etc/passwd and /etc/group; a
    user alone gives its number to the group too (Docker's rule)."""
    from storage import view

    user, _, group = value.partition(":")
    if not user:
        raise InvalidArgument(f"{kw} --chown={value}: names no user")
    dirs = sb.current_dirs()

    def lookup(name: str, path: str) -> int:
        if name.isdigit():
            return int(name)
        for line in (view.read_file(dirs, path) or b"").decode("utf-8", "replace").splitlines():
            fields = line.split(":")
            if len(fields) > 2 and fields[0] == name and fields[2].isdigit():
                return int(fields[2])
        raise InvalidArgument(f"{kw} --chown={value}: no {'user' if path.endswith('passwd') else 'group'} "
                              f"{name!r} in the image's {path}")

    uid = lookup(user, "/etc/passwd")
    gid = lookup(group, "/etc/group") if group else uid
    return uid, gid
