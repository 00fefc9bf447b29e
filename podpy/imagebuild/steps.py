"""One stage, step by step: each instruction becomes a Step (what it records in the history,
the digest of what it reads, and either a change to the image's configuration or work in a
working container), which is looked up in the layer cache, or done and committed.

With --layers (the default) every step commits an intermediate image, which the cache
points at. With --layers=false or --squash the stage's steps share one working container,
committed once at the end as one layer, and nothing is cached.
"""

from __future__ import annotations

import copy
import json
import posixpath
from typing import TYPE_CHECKING, Any, Optional

from ..config import DEFAULT_PATH
from ..errors import InvalidArgument, PodpyError, translate
from .cache import step_key
from .parser import Instruction
from .run import Stopped
from .step import Step, StepFailed, nop
from .words import ExpansionError, expand, expand_words, name_values

if TYPE_CHECKING:
    from storage.images import Image

    from .stages import Stage
    from .working import Working

DOCKER_ONLY = {"Healthcheck": "HEALTHCHECK", "OnBuild": "ONBUILD", "Shell": "SHELL"}
class StageBuilder:
    def __init__(self, build: Any, stage: "Stage", prefix: str, final: bool) -> None:
        self.b = build
        self.stage = stage
        self.prefix = prefix
        self.final = final
        self.escape = build.plan.file.escape
        self.args: dict[str, Optional[str]] = {}
        self.shell = ["/bin/sh", "-c"]
        self.image: Optional[Image] = None
        self.layers: list[str] = []
        self.config: dict[str, Any] = {}
        self.key = ""
        self.cmd_set = False
        self.working: Optional[Working] = None
        self.working_stage: Any = None
        self.created: list[str] = []
        self.last_layer_entry: Optional[dict[str, Any]] = None
        self.base_history = 0

    # -- the stage ---------------------------------------------------------------
    def run(self) -> Optional["Image"]:
        b = self.b
        triggers = self._start()
        total = 1 + len(self.stage.instructions)
        # the base image's ONBUILD triggers run first, as steps without a number of their own
        steps = [(None, t) for t in triggers] + list(enumerate(self.stage.instructions, start=2))
        try:
            for n, ins in steps:
                if b.stopper.stopped:
                    raise Stopped("stopped")
                if n is None:
                    self.b.say(f"{self.prefix}ONBUILD: {ins.original}")
                else:
                    self.b.say(f"{self.prefix}STEP {n}/{total}: {ins.original}")
                self._step(ins, last=n == total and self.final)
            if not b.layers:
                self._commit_stage()
        finally:
            if self.working_stage is not None:
                self.working_stage.__exit__(None, None, None)
        return self.image

    def _start(self) -> list[Instruction]:
        """FROM: the base image (pulled when needed), a stage built before, or scratch."""
        b = self.b
        ins = self.stage.from_ins
        b.say(f"{self.prefix}STEP 1/{1 + len(self.stage.instructions)}: {ins.original}")
        from .stages import base_of

        base = base_of(b.plan, self.stage, b.globals)
        platform = ins.flag("platform") or b.platform
        if platform:
            try:
                platform = expand(platform, b.globals, self.escape)
            except ExpansionError as exc:
                raise InvalidArgument(f"FROM --platform: {exc}") from None
        earlier = b.plan.find(base, before=self.stage.index) if not base.isdigit() else None
        if earlier is not None and earlier.index not in b.results:
            raise InvalidArgument(f"FROM {base}: stage {base!r} has not been built")
        image: Optional[Image] = b.results.get(earlier.index) if earlier is not None else None
        if image is None and (base.lower() == "scratch" or earlier is not None):
            from ..engine.imagestore import host_arch

            self.config = {"architecture": b.final.arch or host_arch(), "os": b.final.os or "linux", "config": {},
                           "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
            self.key = step_key("scratch", b.format + b.cache_salt)
        else:
            if image is None:
                image = b.image_for(base, self.stage.index, platform)
            self.image = image
            self.layers = list(image.layers)
            self.config = copy.deepcopy(image.config)
            self.key = step_key("from " + image.id, b.format + b.cache_salt)
        for k in ("container_config", "container", "docker_version"):
            self.config.pop(k, None)
        icfg = self.config.setdefault("config", {})
        if not any(e.startswith("PATH=") for e in icfg.get("Env") or []):
            icfg["Env"] = [f"PATH={DEFAULT_PATH}", *(icfg.get("Env") or [])]
        if icfg.get("Shell"):
            self.shell = list(icfg["Shell"])
        triggers = []
        from .parser import ParseError, _instruction

        for i, text in enumerate(icfg.pop("OnBuild", None) or []):
            try:
                trig, _ = _instruction(str(text), 0, 0, [], f"ONBUILD trigger {i + 1} of {base}", self.escape)
            except ParseError as exc:
                raise InvalidArgument(str(exc)) from None
            triggers.append(trig)
        if b.format == "oci":
            for key in DOCKER_ONLY:
                icfg.pop(key, None)
        self.config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
        self.config.setdefault("history", [])
        self.base_history = len(self.config["history"])
        return triggers

    def _step(self, ins: Instruction, last: bool) -> None:
        b = self.b
        try:
            step = getattr(self, "_" + ins.keyword.lower())(ins)
        except ExpansionError as exc:
            raise StepFailed(f'building at STEP "{ins.display()}": {exc}') from None
        except PodpyError as exc:
            if isinstance(exc, StepFailed):
                raise
            raise StepFailed(f'building at STEP "{ins.display()}": {exc}', exc.exit_code) from None
        key = step_key(self.key, step.created_by, step.digest)
        if b.layers and not b.no_cache:
            hit = b.cached(key)
            if hit is None and step.work is not None and b.remote is not None:
                hit = b.remote.get(key)      # --cache-from: the registry's image for this step
                if hit is not None:
                    b.cache.put(key, hit.id)
            elif hit is not None and step.work is not None and b.remote is not None:
                b.remote.put(key, hit)       # --cache-to gets what the local cache had
            if hit is not None:
                b.say(f"--> Using cache {hit.id}")
                self.image = hit
                self.layers = list(hit.layers)
                self.config = copy.deepcopy(hit.config)
                self.key = key
                if not last:
                    b.say(f"--> {hit.id[:11]}")
                return
        entry: dict[str, Any] = {"created": b.now(), "created_by": step.created_by}
        if step.author:
            entry["author"] = step.author
        try:
            if step.change is not None:
                step.change(self.config.setdefault("config", {}))
                entry["empty_layer"] = True
            if step.work is not None:
                self._work(step, entry)
            elif step.change is None:
                entry["empty_layer"] = True
        except PodpyError as exc:
            if isinstance(exc, StepFailed):
                raise
            raise StepFailed(f'building at STEP "{ins.display()}": {exc}', exc.exit_code) from None
        except (KeyboardInterrupt, SystemExit, Stopped):
            raise
        except Exception as exc:  # noqa: BLE001
            from storage.errors import no_space

            err = translate(no_space(exc, f"writing the step's files into {b.rt.store.root}") or exc)
            raise StepFailed(f'building at STEP "{ins.display()}": {err}', err.exit_code) from None
        self.config["history"].append(entry)
        self.key = key
        if b.layers:
            self._commit_image()
            b.cache.put(key, self.image.id)   # type: ignore[union-attr]
            if step.work is not None and b.remote is not None:
                b.remote.put(key, self.image)
            if not last:
                b.say(f"--> {self.image.id[:11]}")   # type: ignore[union-attr]

    def _work(self, step: Step, entry: dict[str, Any]) -> None:
        from .working import Working

        b = self.b
        if b.layers:
            with b.rt.store.temporary("build") as stage:
                work = Working(b.rt, self.layers, stage.path, b.o.timestamp)
                created = step.work(work)    # type: ignore[misc]
                layer_id, diff_id, _size = work.commit(created)
            self.layers.append(layer_id)
            self.config["rootfs"]["diff_ids"].append(diff_id)
            return
        if self.working is None:
            self.working_stage = b.rt.store.temporary("build")
            stage = self.working_stage.__enter__()
            self.working = Working(b.rt, self.layers, stage.path, b.o.timestamp)
        self.created += step.work(self.working)
        entry["empty_layer"] = True
        self.last_layer_entry = entry

    def _commit_image(self) -> None:
        self.config["created"] = self.b.now()
        self.image = self.b.rt.store.create_image(self.config, self.layers, [])

    def _commit_stage(self) -> None:
        """--layers=false: the stage's one working container becomes one layer."""
        if self.working is not None and self.working.touched:
            layer_id, diff_id, _size = self.working.commit(self.created)
            self.layers.append(layer_id)
            self.config["rootfs"]["diff_ids"].append(diff_id)
            if self.last_layer_entry is not None:
                self.last_layer_entry.pop("empty_layer", None)
        if self.image is None or self.working is not None or self.stage.instructions:
            self._commit_image()

    # -- values --------------------------------------------------------------------
    def env_map(self) -> dict[str, str]:
        """What instructions expand with: the ARGs in scope, then the ENV (which wins)."""
        values = {k: v for k, v in self.args.items() if v is not None}
        for e in self.config.get("config", {}).get("Env") or []:
            k, _, v = e.partition("=")
            values[k] = v
        return values

    def expand(self, text: str) -> str:
        return expand(text, self.env_map(), self.escape)

    def words(self, text: str) -> list[str]:
        return expand_words(text, self.env_map(), self.escape)

    def _icfg(self) -> dict[str, Any]:
        return self.config.setdefault("config", {})

    def _docker_only(self, key: str) -> bool:
        """True when the format keeps this field; with oci, podman's warning and False."""
        if self.b.format == "docker":
            return True
        self.b.warn(f"{DOCKER_ONLY[key]} is not supported for OCI image format and will be ignored. "
                    "Must use `docker` format")
        return False

    # -- metadata instructions -------------------------------------------------------
    def _arg(self, ins: Instruction) -> Step:
        b = self.b
        names = []
        for name, raw in name_values(ins.args, "ARG", self.escape):
            if name in b.build_args:
                value: Optional[str] = b.build_args[name]
                b.consumed.add(name)
            elif raw is not None:
                value = self.expand(raw)
            elif name in b.declared_globals:
                value = b.globals.get(name)
            else:
                value = None
            self.args.pop(name, None)
            self.args[name] = value
            names.append(name)
        return Step(nop("ARG " + " ".join(names)))

    def _env(self, ins: Instruction) -> Step:
        env = self.env_map()
        pairs = [(k, expand(v or "", env, self.escape)) for k, v in name_values(ins.args, "ENV", self.escape)]

        def change(icfg: dict[str, Any]) -> None:
            # a variable set again keeps its place in the list, as buildah keeps it
            current = list(icfg.get("Env") or [])
            for k, v in pairs:
                at = next((i for i, e in enumerate(current) if e.partition("=")[0] == k), None)
                if at is None:
                    current.append(f"{k}={v}")
                else:
                    current[at] = f"{k}={v}"
            icfg["Env"] = current

        return Step(nop("ENV " + " ".join(f"{k}={v}" for k, v in pairs)), change=change)

    def _label(self, ins: Instruction) -> Step:
        env = self.env_map()
        pairs = [(expand(k, env, self.escape), expand(v or "", env, self.escape))
                 for k, v in name_values(ins.args, "LABEL", self.escape)]

        def change(icfg: dict[str, Any]) -> None:
            labels = dict(icfg.get("Labels") or {})
            labels.update(pairs)
            icfg["Labels"] = labels

        return Step(nop("LABEL " + " ".join(f"{json.dumps(k)}={json.dumps(v)}" for k, v in pairs)), change=change)

    def _maintainer(self, ins: Instruction) -> Step:
        text = self.expand(ins.args)

        def change(_icfg: dict[str, Any]) -> None:
            self.config["author"] = text

        return Step(nop("MAINTAINER " + text), change=change, author=text)

    def _expose(self, ins: Instruction) -> Step:
        ports: list[str] = []
        for word in self.words(ins.args):
            number, _, proto = word.partition("/")
            proto = (proto or "tcp").lower()
            lo, dash, hi = number.partition("-")
            if proto not in ("tcp", "udp", "sctp") or not lo.isdigit() or (dash and not hi.isdigit()):
                raise InvalidArgument(f"invalid port {word!r}: expected PORT[-PORT][/tcp|udp|sctp]")
            first, end = int(lo), int(hi) if dash else int(lo)
            if not 0 < first <= end <= 65535:
                raise InvalidArgument(f"invalid port {word!r}: ports are 1-65535")
            ports += [f"{p}/{proto}" for p in range(first, end + 1)]

        def change(icfg: dict[str, Any]) -> None:
            exposed = dict(icfg.get("ExposedPorts") or {})
            exposed.update({p: {} for p in ports})
            icfg["ExposedPorts"] = exposed

        return Step(nop("EXPOSE " + " ".join(ports)), change=change)

    def _volume(self, ins: Instruction) -> Step:
        paths = [self.expand(p) for p in ins.exec_form] if ins.exec_form is not None else self.words(ins.args)
        if not paths or any(not p.strip() for p in paths):
            raise InvalidArgument("VOLUME specified can not be an empty string")

        def change(icfg: dict[str, Any]) -> None:
            vols = dict(icfg.get("Volumes") or {})
            vols.update({p: {} for p in paths})
            icfg["Volumes"] = vols

        return Step(nop("VOLUME " + json.dumps(paths)), change=change)

    def _user(self, ins: Instruction) -> Step:
        user = self.expand(ins.args)
        if not user:
            raise InvalidArgument("USER names no user")

        def change(icfg: dict[str, Any]) -> None:
            icfg["User"] = user

        return Step(nop("USER " + user), change=change)

    def _workdir(self, ins: Instruction) -> Step:
        path = self.expand(ins.args)
        if not path:
            raise InvalidArgument("WORKDIR names no directory")
        current = self._icfg().get("WorkingDir") or "/"
        path = posixpath.normpath(posixpath.join(current, path))
        if path.startswith("//"):
            path = path[1:]

        def change(icfg: dict[str, Any]) -> None:
            icfg["WorkingDir"] = path

        return Step(nop("WORKDIR " + path), change=change)

    def _command(self, ins: Instruction) -> list[str]:
        if ins.exec_form is not None:
            return list(ins.exec_form)
        return [*self.shell, ins.args] if ins.args else []

    def _cmd(self, ins: Instruction) -> Step:
        cmd = self._command(ins)
        self.cmd_set = True

        def change(icfg: dict[str, Any]) -> None:
            icfg["Cmd"] = cmd

        return Step(nop("CMD " + json.dumps(cmd)), change=change)

    def _entrypoint(self, ins: Instruction) -> Step:
        entry = self._command(ins)
        reset_cmd = not self.cmd_set

        def change(icfg: dict[str, Any]) -> None:
            icfg["Entrypoint"] = entry
            if reset_cmd:
                icfg.pop("Cmd", None)   # a CMD inherited from the base image does not go with a new ENTRYPOINT

        return Step(nop("ENTRYPOINT " + json.dumps(entry)), change=change)

    def _shell(self, ins: Instruction) -> Step:
        shell = list(ins.exec_form or [])
        if not shell:
            raise InvalidArgument("SHELL requires at least one argument")
        self.shell = shell
        keep = self._docker_only("Shell")

        def change(icfg: dict[str, Any]) -> None:
            if keep:
                icfg["Shell"] = shell

        return Step(nop("SHELL " + json.dumps(shell)), change=change)

    def _stopsignal(self, ins: Instruction) -> Step:
        from .. import options as opt

        value = self.expand(ins.args)
        opt.parse_signal(value)

        def change(icfg: dict[str, Any]) -> None:
            icfg["StopSignal"] = value

        return Step(nop("STOPSIGNAL " + value), change=change)

    def _healthcheck(self, ins: Instruction) -> Step:
        from ..formats import parse_duration

        word, _, rest = ins.args.partition(" ")
        check: dict[str, Any]
        if word.upper() == "NONE":
            check = {"Test": ["NONE"]}
        else:
            rest = rest.strip()
            try:
                value = json.loads(rest) if rest.startswith("[") else None
            except ValueError:
                value = None
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                check = {"Test": ["CMD", *value]}
            else:
                check = {"Test": ["CMD-SHELL", rest]}
            for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                              ("start-interval", "StartInterval")):
                given = ins.flag(flag)
                if given:
                    seconds = parse_duration(given, f"HEALTHCHECK --{flag}")
                    if seconds and seconds < 0.001:
                        raise InvalidArgument(f"HEALTHCHECK --{flag} cannot be less than 1ms")
                    check[key] = int(seconds * 1e9)
            retries = ins.flag("retries")
            if retries:
                if not retries.isdigit() or int(retries) < 1:
                    raise InvalidArgument(f"HEALTHCHECK --retries {retries!r}: a number, at least 1")
                check["Retries"] = int(retries)
        keep = self._docker_only("Healthcheck")

        def change(icfg: dict[str, Any]) -> None:
            if keep:
                icfg["Healthcheck"] = check

        return Step(nop("HEALTHCHECK " + json.dumps(check, sort_keys=True)), change=change)

    def _onbuild(self, ins: Instruction) -> Step:
        trigger = ins.args.strip()
        keep = self._docker_only("OnBuild")

        def change(icfg: dict[str, Any]) -> None:
            if keep:
                icfg["OnBuild"] = list(icfg.get("OnBuild") or []) + [trigger]

        return Step(nop("ONBUILD " + trigger), change=change)

    # -- RUN, COPY, ADD ------------------------------------------------------------------
    def _run(self, ins: Instruction) -> Step:
        from .steps_run import run_step

        return run_step(self, ins)

    def _copy(self, ins: Instruction) -> Step:
        from .steps_copy import copy_step

        return copy_step(self, ins)

    def _add(self, ins: Instruction) -> Step:
        from .steps_copy import copy_step

        return copy_step(self, ins)

    # -- shared by RUN and COPY -------------------------------------------------------------
    def current_dirs(self) -> list[str]:
        """The directories holding the stage's file system so far, bottom first (for reading
        /etc/passwd and the like without mounting)."""
        store = self.b.rt.store
        w = self.working
        if w is not None and w.driver.full_tree_layers:
            return [w.changes]
        dirs = [store.layer_dir(lid) for lid in self.layers]
        return dirs + [w.changes] if w is not None else dirs

    def workdir(self) -> str:
        return self._icfg().get("WorkingDir") or "/"

    def image_layers(self, ref: str, what: str) -> tuple[str, list[str]]:
        """(image id, layers) of a stage (by name or index) or image that --from names."""
        b = self.b
        stage = b.plan.find(ref, before=self.stage.index)
        if stage is not None:
            image = b.results.get(stage.index)
            if image is None:
                if stage.index in b.results:   # built, from scratch, with nothing in it
                    return "scratch", []
                raise InvalidArgument(f"{what}: stage {ref!r} has not been built")
            return image.id, list(image.layers)
        if ref.isdigit():
            raise InvalidArgument(f"{what}: no stage {ref} before this one")
        image = b.image_for(ref, self.stage.index, None, what=what)
        return image.id, list(image.layers)
