"""`podpy build`: the context and the Containerfile, the stages the target needs, and the
final image with its names.

Output follows podman's: `STEP n/m: INSTRUCTION` (prefixed `[i/k] ` when several stages
run), a RUN step's own output, `--> Using cache ID` for a cached step, `--> ID` after each
step, and at the end `COMMIT NAME`, `--> ID`, `Successfully tagged NAME` and the image id
(with -q only the id). Everything is checked before the first step where it can be (the
Containerfile's syntax, the target, flags, secrets); a failing step leaves no image and no
cache entry of its own, only the steps before it.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from storage import reference
from storage.images import Image

from ..errors import InvalidArgument, NoSuchImage, PodpyError, translate
from ..engine.context import Runtime
from .cache import Cache, DigestMemo, step_key
from .context import Context, clone, is_git_url, unpack_stdin
from .parser import parse
from .stages import Plan, global_values, needed, split

FORMATS = ("oci", "docker")
PULL_POLICIES = {"always": "always", "true": "always", "missing": "missing", "false": "missing",
                 "never": "never", "newer": "newer", "ifmissing": "missing", "ifnewer": "newer"}


@dataclass
class BuildOptions:
    context: str = "."
    files: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    target: Optional[str] = None
    build_args: list[str] = field(default_factory=list)
    build_arg_files: list[str] = field(default_factory=list)
    no_cache: bool = False
    pull: str = "missing"
    layers: bool = True
    squash: bool = False
    labels: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    format: Optional[str] = None
    quiet: bool = False
    iidfile: Optional[str] = None
    network: Optional[str] = None
    jobs: int = 1
    tls_verify: Optional[bool] = None     # for the images FROM and --from pull
    creds: Optional[str] = None
    cert_dir: Optional[str] = None
    auth_file: Optional[str] = None


class Secret:
    def __init__(self, path: Optional[str] = None, value: Optional[str] = None) -> None:
        self.path = path
        self.value = value

    def read(self) -> bytes:
        if self.path is not None:
            with open(self.path, "rb") as f:
                return f.read()
        return (self.value or "").encode("utf-8", "surrogateescape")


def parse_build_args(items: list[str], files: list[str]) -> dict[str, str]:
    """--build-arg-file lines, then --build-arg KEY=VALUE (KEY alone: from the environment)."""
    out: dict[str, str] = {}
    from_files: list[str] = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as exc:
            raise InvalidArgument(f"--build-arg-file {path}: {exc.strerror}") from exc
        from_files += [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    for item in from_files + items:
        k, eq, v = item.partition("=")
        if not k:
            raise InvalidArgument(f"invalid --build-arg {item!r}: expected KEY=VALUE")
        if eq:
            out[k] = v
        elif k in os.environ:
            out[k] = os.environ[k]
    return out


def parse_secrets(items: list[str]) -> dict[str, Secret]:
    """--secret id=ID,src=FILE | id=ID,env=VARIABLE (type=file|env may say which)."""
    out: dict[str, Secret] = {}
    for item in items:
        fields = dict(p.partition("=")[::2] for p in item.split(",") if p)
        sid = fields.pop("id", "")
        src = fields.pop("src", None) or fields.pop("source", None)
        env = fields.pop("env", None)
        kind = fields.pop("type", "file" if src else "env" if env else "")
        if not sid or fields or kind not in ("file", "env", ""):
            raise InvalidArgument(f"invalid --secret {item!r}: expected id=ID,src=FILE or id=ID,env=VARIABLE")
        if kind == "env" or (not src and not kind):
            name = env or src or sid
            if name not in os.environ:
                raise InvalidArgument(f"--secret {item}: the environment has no variable {name}")
            out[sid] = Secret(value=os.environ[name])
        else:
            path = src or sid
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                raise InvalidArgument(f"--secret {item}: cannot read {path}")
            out[sid] = Secret(path=os.path.abspath(path))
    return out


def parse_network(value: Optional[str]) -> str:
    if value in (None, "", "default", "private", "bridge", "slirp4netns"):
        return "slirp4netns"
    if value in ("none", "host"):
        return value
    raise InvalidArgument(f"invalid --network {value!r}: use slirp4netns, none or host")


def builtin_args() -> dict[str, str]:
    from ..engine.imagestore import host_arch

    arch = host_arch()
    out = {}
    for who in ("TARGET", "BUILD"):
        out.update({f"{who}PLATFORM": f"linux/{arch}", f"{who}OS": "linux", f"{who}ARCH": arch,
                    f"{who}VARIANT": ""})
    return out


class Build:
    """One build's shared state: what steps of every stage read."""

    def __init__(self, rt: Runtime, o: BuildOptions, say: Callable[[str], None], warn: Callable[[str], None],
                 info: Callable[[str], None]) -> None:
        self.rt = rt
        self.o = o
        self.quiet = o.quiet
        self.say = (lambda _line: None) if o.quiet else say
        self.warn = warn
        self.info = (lambda _line: None) if o.quiet else info
        self.layers = o.layers and not o.squash
        self.no_cache = o.no_cache
        fmt = (o.format or os.environ.get("BUILDAH_FORMAT") or "oci").lower()
        if fmt not in FORMATS:
            raise InvalidArgument(f"invalid --format {o.format!r}: use oci or docker")
        self.format = fmt
        policy = PULL_POLICIES.get((o.pull or "missing").lower())
        if policy is None:
            raise InvalidArgument(f"invalid --pull {o.pull!r}: use always, missing, never or newer")
        self.pull = policy
        self.network = parse_network(o.network)
        self.build_args = parse_build_args(o.build_args, o.build_arg_files)
        self.secrets = parse_secrets(o.secrets)
        self.consumed: set[str] = set()
        self.results: dict[int, Optional[Image]] = {}
        self.pulled: dict[tuple[str, Optional[str]], Image] = {}
        self.plan: Plan
        self.context: Context
        self.globals: dict[str, str] = {}
        self.declared_globals: set[str] = set()
        self.cache: Cache
        self.scratch = ""
        self.fetched = False
        if o.jobs < 0:
            raise InvalidArgument(f"invalid --jobs {o.jobs}: a number of stages, 0 for no limit")
        self.jobs = o.jobs
        from .run import Stopper

        self.stopper = Stopper()
        import threading

        self.pull_lock = threading.Lock()
        self._names = itertools.count(1)   # scratch file names (stages may run in threads)

    # -- helpers the steps use -------------------------------------------------------
    def scratch_file(self, data: bytes) -> str:
        path = os.path.join(self.scratch, f"file-{next(self._names)}")
        with open(path, "wb") as f:
            f.write(data)
        return path

    def fetch(self, url: str) -> tuple[str, str, str, Optional[float]]:
        """ADD URL: the file fetched into the scratch directory: (path, sha256 digest, name, mtime)."""
        import urllib.error
        import urllib.parse
        import urllib.request
        from email.utils import parsedate_to_datetime

        path = os.path.join(self.scratch, f"url-{next(self._names)}")
        sha = hashlib.sha256()
        try:
            with urllib.request.urlopen(url, timeout=60) as resp, open(path, "wb") as f:  # noqa: S310
                while chunk := resp.read(1 << 20):
                    sha.update(chunk)
                    f.write(chunk)
                modified = resp.headers.get("Last-Modified")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise InvalidArgument(f"ADD {url}: {getattr(exc, 'reason', exc)}") from exc
        mtime = None
        if modified:
            try:
                mtime = parsedate_to_datetime(modified).timestamp()
            except (TypeError, ValueError):
                mtime = None
        name = os.path.basename(urllib.parse.unquote(urllib.parse.urlparse(url).path)) or "index.html"
        return path, "sha256:" + sha.hexdigest(), name, mtime

    def image_for(self, name: str, stage_index: int, platform: Optional[str], what: str = "FROM") -> Image:
        """A base image (or a --from image): from the store, pulled as --pull says."""
        with self.pull_lock:    # stages running side by side pull an image once
            return self._image_for(name, platform, what)

    def _image_for(self, name: str, platform: Optional[str], what: str) -> Image:
        from ..engine.pull import PullOptions, platform_of, pull
        from ..engine.transports import parse as transport_of
        from ..engine.transports import registry_name

        key = (name, platform)
        if key in self.pulled:
            return self.pulled[key]
        store = self.rt.store
        image = None
        t = transport_of(name)
        if t is not None and t.transport == "docker":  # docker://NAME: the registry name, as --pull says
            name, t = registry_name(t), None
        if t is not None:  # docker-archive:x.tar, oci:dir...: read from there each time
            where = platform_of(platform or None, None, None, None)
            try:
                image = pull(self.rt, PullOptions(name=name), self.info, where)
            except PodpyError as exc:
                raise NoSuchImage(f"{what} {name}: {exc}") from None
        elif self.pull not in ("always", "newer"):
            try:
                image = store.image(name, self.rt.cfg.short_names)
            except Exception:  # noqa: BLE001 - not here: pulled below, or the error says so
                image = None
            if image is not None and platform and not _platform_matches(image, platform):
                image = None
        if image is None:
            if self.pull == "never":
                raise NoSuchImage(f"{what} {name}: image not known (and --pull=never)")
            where = platform_of(platform or None, None, None, None)
            try:
                given = PullOptions(name=name, tls_verify=self.o.tls_verify, creds=self.o.creds,
                                    cert_dir=self.o.cert_dir, auth_file=self.o.auth_file)
                image = pull(self.rt, given, self.info, where)
            except PodpyError as exc:
                raise NoSuchImage(f"{what} {name}: {exc}") from None
        self.pulled[key] = image
        return image

    # -- the build -------------------------------------------------------------------------
    def run(self) -> Image:
        o = self.o
        with contextlib.ExitStack() as stack:
            self.scratch = stack.enter_context(self.rt.store.temporary("build-files")).path
            root, text, fname = self._sources(stack)
            from .ignore import load

            try:
                matcher = load(root)
            except ValueError as exc:
                raise InvalidArgument(f"the build context's ignore file: {exc}") from None
            self.cache = Cache(self.rt.db)
            self.memo = DigestMemo(self.rt.db)
            # a context unpacked or cloned for this build is new every time: nothing to remember
            self.context = Context(root, matcher, None if self.fetched else self.memo)
            self.plan = split(parse(text, fname))
            builtin = builtin_args()
            self.globals = global_values(self.plan, self.build_args, builtin)
            from .words import name_values

            for ins in self.plan.global_args:
                for n, _v in name_values(ins.args, "ARG", self.plan.file.escape):
                    self.declared_globals.add(n)
                    self.consumed.add(n)
            self.declared_globals.update(builtin)
            target, stages = needed(self.plan, o.target, self.globals)
            if self.jobs == 1 or len(stages) == 1:
                for stage in stages:
                    self._stage(stage, target)
            else:
                self._parallel(stages, target)
            image = self.results[target.index]
            assert image is not None
            self.memo.touch()
        unused = sorted(k for k in self.build_args if k not in self.consumed and k not in builtin_args()
                        and not k.upper().endswith("_PROXY"))
        if unused:
            self.warn_plain(f"[Warning] one or more build args were not consumed: [{' '.join(unused)}]")
        return image

    def _stage(self, stage: Any, target: Any) -> None:
        from .steps import StageBuilder

        count = target.index + 1
        prefix = f"[{stage.index + 1}/{count}] " if count > 1 else ""
        final = stage is target
        sb = StageBuilder(self, stage, prefix, final)
        image = sb.run()
        if final:
            image = self._finish(sb, image, prefix, self.o.tags)
        self.results[stage.index] = image

    def _parallel(self, stages: list[Any], target: Any) -> None:
        """--jobs N: a stage starts once the stages it reads are built, N at a time. The first
        failure (or Ctrl-C) stops the others' running steps; the error is the first one's."""
        import signal
        from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

        from .stages import references
        from .working import serialized

        store = self.rt.store
        store.in_userns = serialized(store.in_userns)
        interrupted: list[int] = []

        def stop(sig: int, _frame: object) -> None:
            interrupted.append(sig)
            self.stopper.stop()

        deps = {s.index: {d.index for r in references(self.plan, s, self.globals)
                          if (d := self.plan.find(r, before=s.index)) is not None} for s in stages}
        pending = list(stages)
        running: dict[Future[None], Any] = {}
        first: Optional[BaseException] = None
        pool = ThreadPoolExecutor(max_workers=self.jobs or len(stages))
        old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            while (pending and first is None and not interrupted) or running:
                if first is None and not interrupted:
                    for s in list(pending):
                        if deps[s.index] <= set(self.results) and (not self.jobs or len(running) < self.jobs):
                            pending.remove(s)
                            running[pool.submit(self._stage, s, target)] = s
                # a timeout, so that this thread runs the signal handler soon after a signal
                # that another thread received
                done, _ = wait(list(running), timeout=0.1, return_when=FIRST_COMPLETED)
                for f in done:
                    running.pop(f)
                    exc = f.exception()
                    if exc is not None and first is None:
                        first = exc
                        self.stopper.stop()
        except BaseException as exc:   # Ctrl-C in the main thread: stop the stages, wait for them
            self.stopper.stop()
            wait(list(running))
            first = exc
        finally:
            pool.shutdown(wait=True)
            for sig, handler in old.items():
                signal.signal(sig, handler)
            store.in_userns = store.in_userns.__wrapped__   # type: ignore[attr-defined]
        if interrupted:
            raise KeyboardInterrupt
        if first is not None:
            raise first

    def warn_plain(self, line: str) -> None:
        if not self.quiet:
            self.say(line)

    def _finish(self, sb: Any, image: Optional[Image], prefix: str, tags: list[str]) -> Image:
        """--label on the final image; an image for a stage that made none (scratch alone)."""
        labels = {}
        for item in self.o.labels:
            k, _, v = item.partition("=")
            if not k:
                raise InvalidArgument(f"invalid --label {item!r}: expected KEY=VALUE")
            labels[k] = v
        if labels or image is None:
            import json

            key = step_key(sb.key, "labels " + json.dumps(labels, sort_keys=True))
            hit = self.cache.get(key) if self.layers and not self.no_cache else None
            if hit is not None:
                image = hit
            else:
                config = dict(sb.config)
                icfg = dict(config.get("config") or {})
                if labels:
                    icfg["Labels"] = {**(icfg.get("Labels") or {}), **labels}
                config["config"] = icfg
                from .step import now

                config["created"] = now()
                image = self.rt.store.create_image(config, sb.layers, [])
                if self.layers:
                    self.cache.put(key, image.id)
        self.say(f"{prefix}COMMIT {tags[0] if tags else ''}".rstrip())
        self.say(f"--> {image.id[:11]}")
        return image

    def _sources(self, stack: contextlib.ExitStack[Any]) -> tuple[str, str, str]:
        """(the context directory, the Containerfile's text, its name for messages)."""
        import sys

        o = self.o
        fetched = self.fetched = False
        if o.context == "-":
            if "-" in o.files:
                raise InvalidArgument("the context and the Containerfile cannot both come from stdin")
            root = os.path.join(self.scratch, "context")
            os.mkdir(root)
            unpack_stdin(root)
            fetched = self.fetched = True
        elif is_git_url(o.context):
            root = clone(o.context, os.path.join(self.scratch, "git"))
            fetched = self.fetched = True
        elif o.context.startswith(("http://", "https://")):
            raise InvalidArgument(f"unsupported build context {o.context}: a directory, - (a tar on stdin) "
                                  "or a git repository")
        else:
            root = os.path.abspath(o.context)
            if not os.path.exists(root):
                raise InvalidArgument(f"the context directory {o.context} does not exist")
            if not os.path.isdir(root):
                raise InvalidArgument(f"the context {o.context} is not a directory")
        texts = []
        names = []
        if not o.files:
            for cand in ("Containerfile", "Dockerfile"):
                path = os.path.join(root, cand)
                if os.path.isfile(path):
                    texts.append(_read(path))
                    names.append(cand)
                    break
            else:
                raise InvalidArgument(f"no Containerfile or Dockerfile specified or found in context directory, "
                                      f"{root}: no such file or directory")
        for f in o.files:
            if f == "-":
                texts.append(sys.stdin.read())
                names.append("stdin")
                continue
            path = f
            if fetched and not os.path.isabs(f):
                path = os.path.join(root, f)
            elif not os.path.exists(f) and not os.path.isabs(f) and os.path.exists(os.path.join(root, f)):
                path = os.path.join(root, f)
            if not os.path.isfile(path):
                raise InvalidArgument(f"the Containerfile {f} does not exist (no such file or directory)")
            texts.append(_read(path))
            names.append(os.path.basename(path))
        return root, "\n".join(texts), names[0] if len(names) == 1 else "Containerfile"


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError as exc:
        raise InvalidArgument(f"reading {path}: {exc.strerror}") from exc


def _platform_matches(image: Image, platform: str) -> bool:
    parts = platform.split("/")
    cfg = image.config
    return cfg.get("os", "linux") == parts[0] and (len(parts) < 2 or cfg.get("architecture") == parts[1])


def build(rt: Runtime, o: BuildOptions, say: Callable[[str], None], warn: Callable[[str], None],
          info: Callable[[str], None]) -> Image:
    """Build, name and return the image (see the module's docstring)."""
    try:
        names = [reference.normalize_local(t) for t in o.tags]
    except Exception as exc:  # noqa: BLE001
        raise InvalidArgument(f"invalid tag: {exc}") from exc
    b = Build(rt, o, say, warn, info)
    from ..engine.reconcile import reconcile

    reconcile(rt)
    try:
        image = b.run()
    except PodpyError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
    from ..events import emit

    for n in names:
        rt.store.tag(image.id, n)
    emit(rt.cfg.runroot, "image", "build", image.id, names[0] if names else "")
    for n in names:
        b.say(f"Successfully tagged {n}")
    if o.iidfile:
        from storage.fsutil import atomic_file

        try:
            with atomic_file(o.iidfile) as f:
                f.write(f"sha256:{image.id}".encode())
        except OSError as exc:
            raise InvalidArgument(f"writing --iidfile {o.iidfile}: {exc.strerror}") from exc
    return image
