"""`create` and `run`, the verbs that make a container (ContainerEngine's, containers.py):
pull what is missing, make the container, and for `run` start it attached or detached and
tear it down after --rm. One engine call per command: the CLI's `run` makes no other."""

from __future__ import annotations

import os
import sys

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from rootless.userns import IdMappings
    from storage.images import Image

    from ..state import ContainerRecord
    from .context import Runtime
    from .runoptions import CreateOptions


def reconcile(rt: Runtime) -> None:
    """What killed commands left, finished (reconcile.py): imported on first use, so that the
    store's and the state's modules come after a `run` has forked its container's stage 1."""
    from .reconcile import reconcile as finish

    finish(rt)


def attached_streams(values: list[str]) -> Optional[set[str]]:
    """-a/--attach STREAM (stdin, stdout, stderr; repeatable): the streams run shows; None: all."""
    if not values:
        return None
    out = set()
    for value in (v for item in values for v in item.split(",")):
        if value.lower() not in ("stdin", "stdout", "stderr"):
            raise InvalidArgument(f'invalid stream "{value}" for --attach - must be one of stdin, stdout, or '
                                  "stderr: invalid argument")
        out.add(value.lower())
    return out


def _platform_matches(config: dict[str, object], wanted: tuple[str, str, Optional[str]]) -> bool:
    """Whether an image's config is of the platform --platform asks for (its variant, when both
    say one)."""
    os_, arch, variant = wanted
    have = config.get("variant")
    return (config.get("os") == os_ and config.get("architecture") == arch
            and (not variant or not have or have == variant))


class RunVerbs:
    """ContainerEngine's create and run. The command line's `run` and `create` make this class
    itself rather than the whole ContainerEngine (whose other verbs they would load for
    nothing: some 40 KB of code at every run)."""

    def __init__(self, rt: Runtime, warn: Callable[[str], None],
                 progress: Optional[Callable[[str], None]] = None) -> None:
        self.rt = rt
        self.warn = warn          # one line for the user, not an error
        self.progress = progress  # a pull's progress lines

    def create(self, opts: CreateOptions, on_replaced: Optional[Callable[[str], None]] = None) -> ContainerRecord:
        """`create`: pull the image if the policy says so, then make the container (with
        --replace, the one of that name is removed first and its name told to on_replaced)."""
        from .create import create

        reconcile(self.rt)
        opts, image = self._pull_if_needed(opts)
        return create(self.rt, self._new_pod(opts), on_replaced=on_replaced, image=image)

    def _new_pod(self, opts: CreateOptions) -> CreateOptions:
        """`--pod new:NAME`: the pod made first (with the container's published ports, networks
        and host name, which belong to a pod), the container then made in it."""
        if not (opts.pod or "").startswith("new:"):
            return opts
        from .podoptions import PodCreateOptions
        from .pods import PodEngine
        from .runoptions import CreateOptions

        PodEngine(self.rt, self.warn).create(PodCreateOptions(
            name=opts.pod[4:], publish=list(opts.publish), network=list(opts.network), hostname=opts.hostname,
            create_command=list(opts.create_command), userns=opts.userns, uidmap=list(opts.uidmap),
            gidmap=list(opts.gidmap), subuidname=opts.subuidname, subgidname=opts.subgidname))
        opts = CreateOptions(**opts.as_dict())
        opts.pod, opts.publish, opts.network, opts.hostname = opts.pod[4:], [], [], None
        # the user namespace is the pod's, which its containers join
        opts.userns, opts.uidmap, opts.gidmap, opts.subuidname, opts.subgidname = None, [], [], None, None
        return opts

    def run(self, opts: CreateOptions, on_detached: Optional[Callable[[str], None]] = None,
            on_replaced: Optional[Callable[[str], None]] = None) -> int:
        """`run`: pull if needed, create, start (detached or attached) and, for --rm, tear down
        once it is over; with --rmi, then remove the image unless it is in use. The container's
        exit code (0 for a detached one, whose id goes to on_detached)."""
        keys = None
        if opts.detach_keys is not None or (opts.tty and not opts.detach):
            from ..options import DEFAULT_DETACH_KEYS, detach_keys

            keys = detach_keys(DEFAULT_DETACH_KEYS if opts.detach_keys is None else opts.detach_keys)
        from .. import preload
        from . import paths

        ahead = None
        mappings = None if opts.detach else self.rt.userns_mappings
        from rootless import ahead as stage1
        from rootless import early

        forked = early.take()   # the stage 1 forked at the command's start, if it was
        if mappings is not None:
            # Its stage 1 forked now (or at the command's start): it unshares and maps its user
            # namespace on the other CPU while this process creates the container (rootless/ahead.py).
            preload(paths.SHARED)
            plan = ahead_plan(opts, mappings, self.rt.cfg.runroot)
            ahead = stage1.start(forked or early.start(mappings, plan), mappings, plan)
        elif forked is not None:
            stage1.let_go(forked)
        preload(paths.CREATE if opts.detach else (*paths.CREATE, *paths.FOREGROUND))
        from .create import create
        if opts.detach and opts.cgroups not in ("split", "no-conmon"):
            from .runfiles import under_systemd

            if not under_systemd():   # the user's shared monitor (runfiles.own_monitor)
                from ..monitor.client import prestart

                prestart(self.rt.cfg.runroot)
        try:
            reconcile(self.rt)
            opts, image = self._pull_if_needed(opts)
            rec = create(self.rt, self._new_pod(opts), for_run=True, on_replaced=on_replaced, image=image)
            for line in self.rt.cfg.warnings:
                self.warn(line)
            if opts.detach:
                from .start import start_detached

                start_detached(self.rt, rec, self.warn)
                if on_detached is not None:
                    on_detached(rec.id)
                return 0
            from .foreground import start_attached

            streams = attached_streams(opts.attach)
            if streams is not None and not streams & {"stdout", "stderr"} and on_detached is not None:
                on_detached(rec.id)   # as podman: the id, when neither output is shown
            sys.stdout.flush()
            code = start_attached(self.rt, rec, self.warn, ahead, opts.sig_proxy, keys, streams)
            if rec.config.pod:
                from .pods import member_exited

                member_exited(self.rt, rec, self.warn)
        finally:
            if ahead is not None:
                ahead.discard()
        if opts.rmi:
            self._remove_image(opts.image)
        return code

    def _remove_image(self, name: str) -> None:
        """--rmi: `rmi NAME` once the container is over (its name only, when the image has
        others); an image a container still uses stays, with podman's line."""
        from .images import ImageEngine

        for report in ImageEngine(self.rt, self.warn).rm([name]):
            if report.error is not None:
                self.warn(str(report.error))

    def _pull_if_needed(self, opts: CreateOptions) -> tuple[CreateOptions, Optional[Image]]:
        """opts, its image pulled as --pull says (of the platform of --platform or
        --os/--arch/--variant, with --authfile's credentials and --tls-verify); a transport
        reference's image (docker-archive:x.tar, oci:dir...) copied in and named by what it
        became in the store. With it the image found in the store, when it was looked up
        (create looks it up otherwise)."""
        attached_streams(opts.attach)   # checked for create as for run
        if opts.platform and (opts.arch or opts.os):
            raise InvalidArgument("--platform option can not be specified with --arch or --os")
        if opts.authfile and not os.path.exists(opts.authfile):
            raise InvalidArgument(f"stat {opts.authfile}: no such file or directory")
        if opts.rootfs:
            return opts, None
        from storage.transports.refs import transport_of

        transport = transport_of(opts.image)
        if transport is not None:
            from .pull import ensure_transport_image

            name = ensure_transport_image(self.rt, opts.image, self.progress or (lambda _line: None))
            opts = type(opts)(**{**opts.as_dict(), "image": name})
            if transport != "docker":
                return opts, None
        from .retries import retry_plan

        retry_plan(opts.retry, opts.retry_delay)   # bad values stop the command even with no pull
        image, policy = opts.image, opts.pull or "missing"
        wanted = None
        if opts.platform or opts.os or opts.arch or opts.variant:
            from .pull import platform_of

            wanted = platform_of(opts.platform, opts.os, opts.arch, opts.variant)
        if policy == "never":
            return opts, None
        if policy == "missing":
            from storage.errors import StorageError

            try:
                found = self.rt.store.image(image, self.rt.cfg.short_names)
                if wanted is None or _platform_matches(found.config, wanted):
                    return opts, found
                # another platform's image: pull the one asked for, as podman does
            except StorageError:
                pass  # not here: pull it, as podman does
        from .pull import ensure_image

        ensure_image(self.rt, image, policy, self.progress or (lambda _line: None), wanted,
                     tls_verify=opts.tls_verify, auth_file=opts.authfile, creds=opts.creds, cert_dir=opts.cert_dir,
                     retry=opts.retry, retry_delay=opts.retry_delay, warn=self.warn,
                     signature_policy=opts.signature_policy)
        return opts, None


def ahead_plan(opts: CreateOptions, mappings: IdMappings, runroot: str) -> dict[str, Any]:
    """What the stage 1 of a foreground run makes before its spec comes (rootless/ahead.py):
    the namespaces its container gets new (new_namespaces) and, in them, the kernel file
    systems of the container's /dev and its /sys as the spec has them when the options change
    none of them (rootless.rootfs.default_mounts, as the spec builder calls it), on a scratch
    directory of the runtime's; the init uses them where the spec's mounts are those."""
    from rootless import rootfs

    from .kernelopts import DEFAULT_SHM

    mounts = rootfs.default_mounts(rootfs.tty_gid_mapped(mappings.gids), True, True, "private", DEFAULT_SHM)
    dev = [m for m in mounts if m["destination"] == "/dev" or m["destination"].startswith("/dev/")]
    sysfs = [m for m in mounts if m["destination"] == "/sys"]
    return {"namespaces": list(new_namespaces(opts)),
            "mounts": {"scratch": os.path.join(runroot, "ahead"), "groups": [dev, sysfs]}}


def new_namespaces(opts: CreateOptions) -> tuple[str, ...]:
    """Of the UTS, IPC and network namespaces, the ones a container of these options gets new
    (none in a pod; not those of --uts, --ipc or --network host, container:NAME or ns:PATH),
    for its stage 1 to make ahead: a spec that has them otherwise does not fit that stage 1
    (rootless/ahead.py), which then goes unused."""
    if opts.pod:
        return ()

    def new(mode: Optional[str]) -> bool:
        return not mode or mode != "host" and not mode.startswith(("container:", "ns:"))

    kinds = tuple(kind for kind, mode in (("uts", opts.uts), ("ipc", opts.ipc)) if new(mode))
    return (*kinds, "network") if all(new(mode) for mode in opts.network) else kinds
