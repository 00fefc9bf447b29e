"""The build context: where it comes from (a directory, a tar on stdin, a git repository),
which of its files a COPY or ADD source names, and the content digest of those files.

The digest is what the layer cache keys COPY and ADD on: names, types, modes, link
targets, hard links and file contents, never times or owners (a COPY from the context gives its
files to root, or to --chown, whoever owned them here). Sources stay inside the context:
`..` cannot leave it, and a symlink named as a source resolves as if the context were /.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import re
import stat
import subprocess
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from ..errors import InvalidArgument
from .ignore import Matcher

_GLOB = re.compile(r"[*?\[]")


@dataclass
class Top:
    """One source of a COPY or ADD, as found: its contents go to the destination."""

    path: str                     # the host path (or, for --from, the path in the mounted view)
    name: str                     # the name it takes inside a destination directory
    is_dir: bool
    ctx_rel: Optional[str] = None  # its path in the context, for the ignore patterns
    mode: Optional[int] = None     # a mode to give it (ADD of a URL: 0600)
    mtime: Optional[float] = None
    extract: bool = False          # ADD of a local archive: unpacked at the destination
    keep_owner: bool = False       # COPY --from keeps the source's owners


class Context:
    def __init__(self, root: str, matcher: Matcher, memo: Optional[Any] = None) -> None:
        self.root = os.path.realpath(root)
        self.matcher = matcher
        self.memo = memo   # a cache.DigestMemo, or None

    def sources(self, pattern: str, keyword: str) -> list[Top]:
        """The context's entries a source names (globs expanded); an error when none."""
        rel = posixpath.normpath(pattern).lstrip("/") or "."
        if rel == ".." or rel.startswith("../"):
            raise InvalidArgument(f"{pattern}: the path is outside the build context")
        names = self._glob(rel) if _GLOB.search(rel) else [rel]
        found = [t for t in map(self._top, names) if t is not None]
        if not found:
            if any(self._exists(n) for n in names):   # there, but every one left out: buildah's words
                using = f" using {self.matcher.source}" if self.matcher.source else ""
                raise InvalidArgument(f"no items matching glob \"{os.path.join(self.root, rel)}\" copied "
                                      f"({len(names)} filtered out{using}): no such file or directory")
            raise InvalidArgument(f"{pattern}: no such file or directory in the build context "
                                  "(or excluded by .containerignore/.dockerignore)")
        return found

    def _exists(self, rel: str) -> bool:
        from storage.inroot import resolve

        try:
            return os.path.exists(resolve(self.root, rel))
        except OSError:
            return False

    def _top(self, rel: str) -> Optional[Top]:
        """The entry a source names; None when it is not there, or left out by the ignore
        file: an excluded directory stays only when an exception names something inside it
        (Matcher.may_include_below) and that brings back at least one entry."""
        from storage.inroot import resolve

        if rel == ".":
            return Top(self.root, ".", True, "")
        try:
            host = resolve(self.root, rel)
            st = os.stat(host)
        except OSError:
            return None
        real_rel = os.path.relpath(host, self.root)
        is_dir = stat.S_ISDIR(st.st_mode)
        top = Top(host, posixpath.basename(rel), is_dir, "" if real_rel == "." else real_rel)
        if self.matcher and (self.matcher.excluded(real_rel) or self.matcher.excluded(rel)):
            if not (is_dir and self.matcher.may_include_below(real_rel, named=True)):
                return None
            if next(self.walk(top), None) is None:
                return None
        return top

    def _glob(self, rel: str) -> list[str]:
        parts = rel.split("/")
        found = [""]
        for part in parts:
            nxt = []
            for base in found:
                full = os.path.join(self.root, base) if base else self.root
                if not _GLOB.search(part):
                    cand = f"{base}/{part}" if base else part
                    if os.path.lexists(os.path.join(self.root, cand)):
                        nxt.append(cand)
                    continue
                try:
                    names = sorted(os.listdir(full))
                except OSError:
                    continue
                nxt.extend(f"{base}/{n}" if base else n for n in names if fnmatch.fnmatchcase(n, part))
            found = nxt
        return found

    def walk(self, top: Top) -> Iterator[tuple[str, str, os.stat_result]]:
        """(path below the top, host path, lstat) of each entry under a directory top, sorted,
        a directory before what it holds; ignored entries left out."""
        yield from walk_tree(top.path, top.ctx_rel, self.matcher)

    def digest(self, tops: list[Top]) -> str:
        """The content digest of the sources (see the module's docstring); with a memo, the
        files of a source whose entries' stat() is unchanged are not read again."""
        h = hashlib.sha256()
        for top in tops:
            h.update(f"top\0{top.name}\0{int(top.is_dir)}\0{int(top.extract)}\n".encode("utf-8", "surrogateescape"))
            entries = list(self.walk(top)) if top.is_dir else [("", top.path, os.stat(top.path))]
            h.update(self._tree_digest(top.path, entries).encode())
        return h.hexdigest()

    def _tree_digest(self, path: str, entries: list[tuple[str, str, os.stat_result]]) -> str:
        memo = self.memo
        signature = ""
        if memo is not None:
            sig = hashlib.sha256(os.fsencode(path) + b"\0")
            for rel, _p, st in entries:
                sig.update(b"%s\0%d %d %d %d %d %d\n" % (rel.encode("utf-8", "surrogateescape"), st.st_dev, st.st_ino,
                                                        st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
            signature = sig.hexdigest()
            known = memo.get(signature)
            if known is not None:
                return known
        h = hashlib.sha256()
        names: dict[tuple[int, int], str] = {}   # hard links: a file's later names say which it is
        for rel, p, st in entries:
            first = rel
            if st.st_nlink > 1 and stat.S_ISREG(st.st_mode):
                first = names.setdefault((st.st_dev, st.st_ino), rel)
            if first != rel:
                h.update(b"%s\0h\0%s\n" % (rel.encode("utf-8", "surrogateescape"),
                                            first.encode("utf-8", "surrogateescape")))
                continue
            h.update(_entry_digest(rel, p, st))
        digest = h.hexdigest()
        if memo is not None:
            memo.put(signature, digest, max((st.st_ctime_ns for _r, _p, st in entries), default=0))
        return digest


def walk_tree(root: str, ctx_rel: Optional[str], matcher: Optional[Matcher]) -> Iterator[tuple[str, str, os.stat_result]]:
    """(path below root, host path, lstat) of the entries under root, sorted, a directory
    before what it holds, those the ignore patterns exclude left out. An excluded directory
    that is looked into (Matcher.may_include_below) is there only as the parent of what an
    exception brings back, and then as buildah makes such a parent: mode 0755."""
    pending: list[tuple[str, str, os.stat_result]] = []   # excluded parents not yet given

    def rec(host_dir: str, rel: str, crel: Optional[str]) -> Iterator[tuple[str, str, os.stat_result]]:
        with os.scandir(host_dir) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            r = f"{rel}/{e.name}" if rel else e.name
            c = None if crel is None else (f"{crel}/{e.name}" if crel else e.name)
            st = e.stat(follow_symlinks=False)
            is_dir = stat.S_ISDIR(st.st_mode)
            if matcher and c is not None and matcher.excluded(c):
                if is_dir and matcher.may_include_below(c):
                    entry = (r, e.path, _implicit_dir(st))
                    pending.append(entry)
                    yield from rec(e.path, r, c)
                    if pending and pending[-1] is entry:   # nothing below it came back
                        pending.pop()
                continue
            yield from pending
            pending.clear()
            yield r, e.path, st
            if is_dir:
                yield from rec(e.path, r, c)

    yield from rec(root, "", ctx_rel)


def _implicit_dir(st: os.stat_result) -> os.stat_result:
    """An excluded directory's stat, as the parent of an entry brought back below it."""
    fields = list(st)
    fields[0] = stat.S_IFDIR | 0o755
    extra = {k: getattr(st, k) for k in ("st_atime", "st_mtime", "st_ctime", "st_atime_ns", "st_mtime_ns",
                                         "st_ctime_ns", "st_blksize", "st_blocks", "st_rdev")}
    return os.stat_result(fields, extra)


def _entry_digest(rel: str, path: str, st: os.stat_result) -> bytes:
    mode = stat.S_IMODE(st.st_mode)
    name = rel.encode("utf-8", "surrogateescape")
    if stat.S_ISREG(st.st_mode):
        try:
            with open(path, "rb") as f:
                content = hashlib.file_digest(f, "sha256").hexdigest()
        except OSError as exc:
            raise InvalidArgument(f"reading {path}: {exc.strerror}") from exc
        return b"%s\0f\0%o\0%s\n" % (name, mode, content.encode())
    if stat.S_ISLNK(st.st_mode):
        return b"%s\0l\0%s\n" % (name, os.fsencode(os.readlink(path)))
    if stat.S_ISDIR(st.st_mode):
        return b"%s\0d\0%o\n" % (name, mode)
    return b"%s\0o\0%o\0%d\n" % (name, mode, stat.S_IFMT(st.st_mode))


# -- where a context comes from --------------------------------------------------


def is_git_url(value: str) -> bool:
    base = value.split("#", 1)[0]
    return (value.startswith(("git://", "git@", "github.com/"))
            or (base.endswith(".git") and re.match(r"^(https?|ssh|file)://", base) is not None))


def clone(url: str, dest: str) -> str:
    """A git repository's tree at URL[#REF[:SUBDIR]], cloned into dest; the context directory."""
    import shutil

    if shutil.which("git") is None:
        raise InvalidArgument(f"the context {url} is a git repository, and git is not installed")
    base, _, fragment = url.partition("#")
    ref, _, subdir = fragment.partition(":")
    if base.startswith("github.com/"):
        base = "https://" + base
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    cmd = ["git", "clone", "-q", "--recurse-submodules"]
    is_commit = bool(re.fullmatch(r"[0-9a-f]{7,40}", ref))
    if not is_commit:
        cmd += ["--depth", "1"] + (["--branch", ref] if ref else [])
    proc = subprocess.run(cmd + ["--", base, dest], capture_output=True, text=True, env=env)
    if proc.returncode == 0 and is_commit:
        proc = subprocess.run(["git", "-C", dest, "checkout", "-q", ref], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        why = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
        raise InvalidArgument(f"cloning the context {url}: {why}")
    root = os.path.realpath(os.path.join(dest, subdir.strip("/"))) if subdir else dest
    if not root.startswith(os.path.realpath(dest)) or not os.path.isdir(root):
        raise InvalidArgument(f"the context {url}: {subdir} is not a directory of the repository")
    return root


def unpack_stdin(dest: str, spool: str) -> None:
    """A context sent on stdin, into dest: a tar (plain or compressed) unpacked there, confined
    there; anything else is taken, as buildah does, for a Containerfile and written as
    dest/Dockerfile (0600) in an otherwise empty context. stdin is read whole into spool first."""
    import shutil

    from storage.archive import ApplyOptions, apply_layer
    from storage.errors import StorageError

    try:
        with os.fdopen(os.dup(0), "rb") as stream, open(spool, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
    except OSError as exc:
        raise InvalidArgument(f"reading the context from stdin: {exc.strerror}") from exc
    try:
        with open(spool, "rb", buffering=0) as stream:
            apply_layer(stream, dest, ApplyOptions(whiteout_format="vfs", chown="none"))
        return
    except StorageError:
        pass
    # not a tar: what the tar reading left goes, the bytes become the Dockerfile
    for name in os.listdir(dest):
        path = os.path.join(dest, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    os.chmod(spool, 0o600)
    os.replace(spool, os.path.join(dest, "Dockerfile"))
