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
from typing import Any, Callable, Optional

from storage import reference
from storage.images import Image

from ..errors import InvalidArgument, NoSuchImage, PodpyError, translate
from ..engine.context import Runtime
from .cache import Cache, DigestMemo, step_key
from .context import Context, clone, is_git_url, unpack_stdin
# the options live in options.py; BuildOptions and the parsers are imported from here too
from .options import (FORMATS, PROXY_VARS, PULL_POLICIES, BuildOptions, builtin_args, parse_build_args,
                      parse_network, parse_secrets)
from .parser import parse, preprocess
from .stages import Plan, global_values, needed, split

__all__ = ["Build", "BuildOptions", "build", "builtin_args", "parse_build_args", "parse_network", "parse_secrets"]


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
        self.layers = o.layers and not o.squash and not o.squash_all
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
        from .ssh import Agents, parse_ssh

        self.ssh = Agents(parse_ssh(o.ssh))
        # build's --hooks-dir, else the global one's, else the default directories
        self.hooks_dirs = list(o.hooks_dirs) if o.hooks_dirs else rt.cfg.hooks_dirs
        if self.hooks_dirs is not None:
            from ..engine.hooks import load

            load(self.hooks_dirs)    # checked before the first step
        self._flags(o)
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

    def _flags(self, o: BuildOptions) -> None:
        """The flags of flags.py, checked before anything is made."""
        from . import flags

        p_os, p_arch, p_variant = flags.platform(o.platforms, o.os, o.arch, o.variant)
        self.platform = "/".join(x for x in (p_os or "linux", p_arch or builtin_args()["TARGETARCH"], p_variant)
                                 if x) if (p_os or p_arch or p_variant) else None
        if o.timestamp is not None and o.timestamp < 0:
            raise InvalidArgument(f"invalid --timestamp {o.timestamp}: seconds since the epoch")
        self.final = flags.Final(env=flags.parse_env(o.env), unsetenv=list(o.unsetenv),
                                 annotations=flags.parse_pairs(o.annotations, "--annotation"),
                                 os=p_os, arch=p_arch, variant=p_variant, os_version=o.os_version,
                                 os_features=list(o.os_features), timestamp=o.timestamp,
                                 omit_history=o.omit_history)
        self.labels = flags.parse_labels(o.labels)
        self.outputs = flags.parse_outputs(o.outputs)
        self.build_contexts = flags.parse_build_contexts(o.build_contexts)
        flags.check_isolation(o.isolation)
        if o.retry < 0:
            raise InvalidArgument(f"invalid --retry {o.retry}: a number of attempts")
        from ..engine.pull import decryption_keys

        self.decryption_keys = tuple(decryption_keys(tuple(o.decryption_keys)))   # read once, before any step
        from ..formats import parse_duration

        self.retry_delay = parse_duration(o.retry_delay, "--retry-delay") if o.retry_delay else 2.0
        self.cache_ttl = parse_duration(o.cache_ttl, "--cache-ttl") if o.cache_ttl else None
        from .remote_cache import RemoteCache, cache_repo

        cache_from, cache_to = cache_repo(o.cache_from, "--cache-from"), cache_repo(o.cache_to, "--cache-to")
        self.remote = (RemoteCache(self.rt, o, cache_from, cache_to, self.cache_ttl, self.warn)
                       if cache_from or cache_to else None)
        if o.manifest:
            from storage import reference as ref

            try:
                ref.normalize_local(o.manifest)
            except Exception as exc:  # noqa: BLE001
                raise InvalidArgument(f"invalid --manifest {o.manifest!r}: {exc}") from None
        self.run_settings = flags.run_settings(self.rt, o, self.network)
        self.step_cgroup = flags.step_cgroup_parent(self.run_settings, self.warn)
        self.cache_salt = f" timestamp={o.timestamp}" if o.timestamp is not None else ""
        self.proxy_env = [f"{k}={os.environ[k]}" for k in PROXY_VARS if k in os.environ] if o.http_proxy else []

    def cached(self, key: str) -> Optional[Image]:
        """The cache's image for a step, unless older than --cache-ttl (0: no cache at all)."""
        if not self.layers or self.no_cache or self.cache_ttl == 0:
            return None
        hit = self.cache.get(key)
        if hit is not None and self.cache_ttl is not None:
            import time

            if time.time() - hit.created > self.cache_ttl:
                return None
        return hit

    def now(self) -> str:
        """The time a step records: now, or --timestamp's."""
        from .step import now

        if self.o.timestamp is not None:
            from ..formats import rfc3339_seconds

            return rfc3339_seconds(float(self.o.timestamp))
        return now()

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
                given = PullOptions(name=name, decryption_keys=self.decryption_keys)
                image = pull(self.rt, given, self.info, where)
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
                if what == "FROM":   # podman's words
                    raise NoSuchImage(f"creating build container: {name}: image not known")
                raise NoSuchImage(f"{what} {name}: image not known (and --pull=never)")
            where = platform_of(platform or None, None, None, None)
            given = PullOptions(name=name, tls_verify=self.o.tls_verify, creds=self.o.creds,
                                cert_dir=self.o.cert_dir, auth_file=self.o.auth_file,
                                signature_policy=self.o.signature_policy, decryption_keys=self.decryption_keys)
            image = self._pull(given, where, f"{what} {name}")
        if not store.hold_image(image.id):   # its layers stay until the build ends, whatever removes it
            raise NoSuchImage(f"{what} {name}: image not known (it was removed meanwhile)")
        self.pulled[key] = image
        return image

    def _pull(self, given: Any, where: Any, what: str) -> Image:
        """A pull, tried again --retry times (--retry-delay apart) when the registry could not
        be reached, with podman's warning for each failure."""
        import time

        from ..engine.pull import pull

        attempt = 0
        while True:
            try:
                return pull(self.rt, given, self.info, where)
            except PodpyError as exc:
                if attempt >= self.o.retry or not _unreachable(exc):
                    raise NoSuchImage(f"{what}: {exc}") from None
                attempt += 1
                delay = self.retry_delay
                shown = f"{delay:g}s"
                self.warn(f"Failed, retrying in {shown} ... ({attempt}/{self.o.retry}). Error: {exc}")
                time.sleep(delay)

    # -- the build -------------------------------------------------------------------------
    def run(self) -> Image:
        o = self.o
        with contextlib.ExitStack() as stack:
            self.scratch = stack.enter_context(self.rt.store.temporary("build-files")).path
            stack.callback(self.ssh.close)
            root, text, fname = self._sources(stack)
            from .ignore import load

            try:
                matcher = self._ignorefile(o.ignorefile) if o.ignorefile else load(root)
            except ValueError as exc:
                raise InvalidArgument(f"the build context's ignore file: {exc}") from None
            self.cache = Cache(self.rt.db)
            self.memo = DigestMemo(self.rt.db)
            # a context unpacked or cloned for this build is new every time: nothing to remember
            self.context = Context(root, matcher, None if self.fetched else self.memo)
            self.plan = split(parse(text, fname))
            if o.from_:    # --from: the first FROM's image, replaced
                self.plan.stages[0].base = o.from_
            self._label_steps()
            self._contexts(stack)
            builtin = builtin_args(self.platform)
            self.globals = global_values(self.plan, self.build_args, builtin)
            from .words import name_values

            for ins in self.plan.global_args:
                for n, _v in name_values(ins.args, "ARG", self.plan.file.escape):
                    self.declared_globals.add(n)
                    self.consumed.add(n)
            self.declared_globals.update(builtin)
            target, stages = needed(self.plan, o.target, self.globals)
            if not o.skip_unused_stages:   # every stage up to the target runs, used or not
                stages = [s for s in self.plan.stages if s.index <= target.index]
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

    def _label_steps(self) -> None:
        """--label: a `LABEL "KEY"="VALUE"` step per label at the end of the last stage, as
        buildah adds them (numbered with the stage's steps, each in the history)."""
        import json

        from .parser import _instruction

        last = self.plan.stages[-1]
        for k, v in self.labels.items():
            text = f"LABEL {json.dumps(k)}={json.dumps(v)}"
            ins, _ = _instruction(text, 0, 0, [], "--label", self.plan.file.escape)
            last.instructions.append(ins)

    def _ignorefile(self, path: str) -> Any:
        from .ignore import Matcher

        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                return Matcher(f.read().splitlines())   # named in no message, as in podman
        except OSError as exc:
            raise InvalidArgument(f"--ignorefile {path}: {exc.strerror}") from None

    def _contexts(self, stack: contextlib.ExitStack[Any]) -> None:
        """--build-context NAME=...: a directory becomes a context COPY --from=NAME reads; an
        image (docker-image://, container-image:// or a name) replaces FROM NAME and --from=NAME."""
        self.dir_contexts: dict[str, Context] = {}
        self.image_contexts: dict[str, str] = {}
        for name, value in self.build_contexts.items():
            for prefix in ("docker-image://", "container-image://"):
                if value.startswith(prefix):
                    self.image_contexts[name] = value[len(prefix):]
                    break
            else:
                if os.path.isdir(value):
                    self.dir_contexts[name] = Context(value, _empty_matcher(), None)
                elif os.path.exists(value):
                    raise InvalidArgument(f"--build-context {name}={value}: not a directory")
                else:
                    self.image_contexts[name] = value
        for stage in self.plan.stages:
            image = self.image_contexts.get(stage.base.lower())
            if image is not None:
                stage.base = image

    def warn_plain(self, line: str) -> None:
        if not self.quiet:
            self.say(line)

    def _finish(self, sb: Any, image: Optional[Image], prefix: str, tags: list[str]) -> Image:
        """The final image with what the flags change (--label, --env, --annotation, the
        platform, --omit-history, --squash-all: see flags.py); an image for a stage that made
        none (scratch alone)."""
        f = self.final
        squash_all = self.o.squash_all
        if f.any() or squash_all or image is None:
            from . import flags

            key = step_key(sb.key, "final " + f.key() + (" squash-all" if squash_all else ""))
            hit = self.cached(key)
            if hit is not None:
                image = hit
            else:
                config = flags.apply(sb.config, f)
                layers = list(sb.layers)
                if squash_all:
                    layers, config = self._squash_all(sb, config)
                config["created"] = self.now()
                image = self.rt.store.create_image(config, layers, [], annotations=f.annotations)
                if self.layers:
                    self.cache.put(key, image.id)
        self.say(f"{prefix}COMMIT {tags[0] if tags else ''}".rstrip())
        self.say(f"--> {image.id[:11]}")
        return image

    def _squash_all(self, sb: Any, config: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
        """--squash-all: the base image's layers and the build's as one layer, and only the
        build's own history (its last entry the one with the layer), as buildah records it."""
        from .working import squash_layers

        config["history"] = [dict(h) for h in (config.get("history") or [])[sb.base_history:]]
        for h in config["history"]:
            h["empty_layer"] = True
        if config["history"]:
            config["history"][-1].pop("empty_layer", None)
        if not config["history"]:
            config.pop("history")
        layer_id, diff_id = squash_layers(self.rt, list(sb.layers), self.o.timestamp)
        config["rootfs"] = {"type": "layers", "diff_ids": [diff_id]}
        return [layer_id], config

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
            unpack_stdin(root, os.path.join(self.scratch, "stdin"))
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
            if not os.path.exists(path):   # podman's words: the name looked for in the context
                raise InvalidArgument(f"stat {os.path.normpath(root + '/' + f)}: no such file or directory")
            if not os.path.isfile(path):
                raise InvalidArgument(f'containerfile: "{os.path.abspath(path)}" cannot be path to a directory')
            texts.append(preprocess(path, root, o.cpp_flags) if path.endswith(".in") else _read(path))
            names.append(os.path.basename(path))
        return root, "\n".join(texts), names[0] if len(names) == 1 else "Containerfile"


def _unreachable(exc: BaseException) -> bool:
    """Whether a pull failed for want of a connection (worth trying again), not an answer."""
    from ..engine.pull import unreachable

    return unreachable(exc)


def _empty_matcher() -> Any:
    from .ignore import Matcher

    return Matcher([])


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
    if o.sign_by is not None:
        if not names:
            raise InvalidArgument("--sign-by: the image needs a name to be signed as (-t NAME)")
        from ..engine.signing import check_key

        check_key(o.sign_by)
    b = Build(rt, o, say, warn, info)
    from . import output

    for out in b.outputs:
        output.check_output(out)
    output.check_manifest(rt, o.manifest)
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

    if o.sign_by is not None:   # before the names: a failed signing leaves no named, unsigned image
        from ..engine.storedsigs import sign_built

        sign_built(rt, image, names[0], o.sign_by, b.say)
    for n in names:
        rt.store.tag(image.id, n)
    emit(rt.cfg.runroot, "image", "build", image.id, names[0] if names else "")
    for n in names:
        b.say(f"Successfully tagged {n}")
    for out in b.outputs:
        output.write_output(rt, image, out)
    if o.manifest:
        output.add_to_manifest(rt, o.manifest, image)
    if o.iidfile:
        from storage.fsutil import atomic_file

        try:
            with atomic_file(o.iidfile) as f:
                f.write(f"sha256:{image.id}".encode())
        except OSError as exc:
            raise InvalidArgument(f"writing --iidfile {o.iidfile}: {exc.strerror}") from exc
    return image
