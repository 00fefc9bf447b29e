"""PodEngine: pods, as podman has them: containers that share namespaces through an infra
container, made, started, stopped and removed together.

The infra container is an ordinary container of the pod (`config.pod_infra`) running the
pause image (`localhost/podpy-pause:VERSION`, made here from the host's catatonit, no
registry needed). It holds what the pod shares: its network (with the pod's published
ports, networks, DNS and hosts entries), IPC and UTS namespaces, and PID and cgroup ones
when --share asks. A member joins them as `--network/--ipc/--uts container:INFRA` would
(engine/create.py), so starting a member starts the infra first, and removing the infra
first removes its members, by the rules every container that shares namespaces follows.
"""

from __future__ import annotations

import os
import time

from ..errors import InvalidArgument, InvalidState, NoSuchContainer, NoSuchPod, PodpyError
from ..formats import GoStruct
from .context import Runtime
from .entities import Report, each
from .podoptions import CGROUP_LISTS, CGROUP_SCALARS, EXIT_POLICIES, PodCreateOptions
from .podpause import pause_image
from .podstore import PodConfig, PodRecord, PodStore, members, parse_share, status
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterator, Optional

    from ..state import ContainerRecord

class PodEngine:
    """`pod` and its verbs; one report per pod for the verbs that take several."""

    def __init__(self, rt: Runtime, warn: Callable[[str], None]) -> None:
        self.rt = rt
        self.warn = warn
        self.pods = PodStore(rt.db, rt.cfg.namespace or "")

    # -- create --------------------------------------------------------------------------

    def create(self, o: PodCreateOptions) -> PodRecord:
        """`pod create`: the pod's row, then its infra container (created, not started);
        undone if the infra cannot be made."""
        from ..options import check_name, parse_labels

        reconcile(self.rt)
        name = check_name(o.name) if o.name else None
        share = parse_share(o.share, o.infra)
        if o.exit_policy not in EXIT_POLICIES:
            raise InvalidArgument(f'running pod create option: invalid pod exit policy: "{o.exit_policy}"')
        if not o.infra:
            for flag, given in (("--publish", o.publish), ("--network", o.network), ("--hostname", o.hostname),
                                ("--add-host", o.add_host), ("--dns", o.dns), ("--infra-image", o.infra_image),
                                ("--infra-command", o.infra_command), ("--infra-name", o.infra_name),
                                ("--infra-conmon-pidfile", o.infra_conmon_pidfile)):
                if given:
                    raise InvalidArgument(f"{flag} needs an infra container: it cannot be used with --infra=false")
        if o.infra_conmon_pidfile:   # named as given, before anything is made
            from .runfiles import check_pidfile

            check_pidfile(o.infra_conmon_pidfile, "--infra-conmon-pidfile")
        if o.hostname and "uts" not in share:
            raise InvalidArgument("--hostname: the pod does not share a UTS namespace")
        if o.no_hosts and o.add_host:
            raise InvalidArgument("--no-hosts and --add-host cannot be set together")
        if not o.infra:
            for flag, given in (("--no-hosts", o.no_hosts), ("--shm-size", o.shm_size), ("--sysctl", o.sysctls),
                                ("--uts", o.uts), ("--pid", o.pid), ("--security-opt", o.security_opts),
                                ("--volumes-from", o.volumes_from), ("--device", o.devices),
                                ("--uidmap", o.uidmap), ("--gidmap", o.gidmap), ("--subuidname", o.subuidname),
                                ("--subgidname", o.subgidname)):
                if given:
                    raise InvalidArgument(f"{flag} needs an infra container: it cannot be used with --infra=false")
        from . import podcgroup
        from .runfiles import under_systemd

        if o.infra and not under_systemd():
            from ..monitor.client import prestart

            # A pod is made to be started: the user's monitor starts up meanwhile (it leaves in
            # a second if nothing is started), not on the path of the first `run -d --pod`.
            prestart(self.rt.cfg.runroot)
        if o.cgroup_parent is not None and (not o.cgroup_parent or ".." in o.cgroup_parent.split("/")):
            raise InvalidArgument(f"invalid --cgroup-parent {o.cgroup_parent!r}: a path in the cgroup2 tree")
        limits, resources = podcgroup.decide(o)
        cgroup_dir, _why = podcgroup.place(o.cgroup_parent or "")
        cgroup_opts = {k: getattr(o, k) for k in (*CGROUP_SCALARS, *CGROUP_LISTS) if getattr(o, k)}
        labels = parse_labels(list(o.labels))
        for path in o.label_files:
            labels.update(_label_file(path))
        if o.replace and name:
            try:
                old = self.pods.lookup(name)
            except NoSuchPod:
                old = None
            if old is not None:
                self._remove(old, force=True, timeout=None)
        pod_id = os.urandom(32).hex()
        if not name:
            from .create import random_name

            name = random_name()
        infra_command = None
        if o.infra_command:
            import json

            text = o.infra_command.strip()
            infra_command = json.loads(text) if text.startswith("[") else text.split()
        cfg = PodConfig(labels=labels, share=share, infra=o.infra, infra_image=o.infra_image or self._conf_infra_image(o.infra),
                        namespace=self.rt.cfg.namespace or "",
                        infra_command=infra_command or [], infra_name=o.infra_name or "",
                        hostname=o.hostname or "", exit_policy=o.exit_policy, create_command=list(o.create_command),
                        share_parent=o.share_parent, ports=list(o.publish), networks=list(o.network),
                        dns={"servers": list(o.dns), "search": list(o.dns_search), "options": list(o.dns_option)},
                        add_hosts=list(o.add_host), userns=o.userns or "", volumes=list(o.volumes),
                        no_hosts=o.no_hosts, shm_size=o.shm_size or "", devices=list(o.devices),
                        volumes_from=list(o.volumes_from), uidmap=list(o.uidmap), gidmap=list(o.gidmap),
                        subuidname=o.subuidname or "", subgidname=o.subgidname or "",
                        security_opts=list(o.security_opts), sysctls=list(o.sysctls),
                        cgroup_parent=o.cgroup_parent or "", cgroup_dir=cgroup_dir, limits=limits,
                        resources=resources, cgroup_opts=cgroup_opts)
        rec = PodRecord(id=pod_id, name=name, created=time.time(), config=cfg, infra_id=None)
        self.pods.insert(rec)
        try:
            if o.infra:
                infra = self._create_infra(rec, o)
                rec.infra_id = infra.id
                self.pods.set_infra(pod_id, infra.id)
        except BaseException:
            self._remove(rec, force=True, timeout=None)
            raise
        if o.pod_id_file:
            from storage.fsutil import atomic_file

            with atomic_file(o.pod_id_file) as f:
                f.write(pod_id.encode())
        self._event(rec, "create")
        return rec

    def _conf_infra_image(self, infra: bool) -> str:
        """containers.conf's [engine] infra_image: the infra image when --infra-image is not given."""
        return self.rt.cfg.container_defaults.infra_image if infra else ""

    def _create_infra(self, pod: PodRecord, o: PodCreateOptions) -> ContainerRecord:
        from .create import create
        from .runoptions import CreateOptions

        cfg = pod.config
        image = cfg.infra_image or pause_image(self.rt)
        if cfg.infra_image:
            try:
                self.rt.store.image(image, self.rt.cfg.short_names)
            except Exception:  # noqa: BLE001 - not here: pulled, as run pulls
                from .pull import ensure_image

                ensure_image(self.rt, image, "missing", lambda _line: None)
        copts = CreateOptions(
            image=image, name=cfg.infra_name or f"{pod.id[:12]}-infra",
            network=list(o.network), publish=list(o.publish), add_hosts=list(o.add_host),
            # podman's: the pod's name, in a UTS namespace of the pod's own
            hostname=(o.hostname or pod.name) if "uts" in cfg.share and o.uts in (None, "private") else None,
            dns=list(o.dns), dns_search=list(o.dns_search), dns_options=list(o.dns_option), userns=o.userns,
            volumes=list(o.volumes), network_aliases=list(o.network_alias), ip=o.ip, ip6=o.ip6,
            mac_address=o.mac_address,
            create_command=list(cfg.create_command), no_hosts=o.no_hosts, shm_size=o.shm_size,
            sysctls=list(o.sysctls), uts=o.uts, pid=o.pid, security_opts=list(o.security_opts),
            volumes_from=list(o.volumes_from), devices=list(o.devices), uidmap=list(o.uidmap),
            gidmap=list(o.gidmap), subuidname=o.subuidname, subgidname=o.subgidname,
            conmon_pidfile=o.infra_conmon_pidfile, sdnotify="ignore")   # the pause process tells systemd nothing
        if cfg.infra_command:   # podman's: the infra command is the entrypoint, with no Cmd
            import json

            copts.entrypoint = json.dumps(list(cfg.infra_command))
        return create(self.rt, copts, pod=pod, infra=True)

    # -- lookups ------------------------------------------------------------------------

    def _members(self, pod: PodRecord) -> list[ContainerRecord]:
        return members(self.rt.state.all(), pod.id)

    def _pods(self, names: list[str], all_: bool, latest: bool = False) -> list[str]:
        if all_ or latest:
            if names:
                raise InvalidArgument("--all, --latest and pods given cannot be used together")
            pods = self.pods.all()
            return [p.id for p in (pods[:1] if latest else pods)]
        if not names:
            raise InvalidArgument("you must provide at least one name or id")
        return names

    def exists(self, name: str) -> bool:
        try:
            self.pods.lookup(name)
            return True
        except NoSuchPod:
            return False

    # -- start, stop and the other running verbs -----------------------------------------

    def start(self, names: list[str], all_: bool = False, latest: bool = False) -> list[Report]:
        """`pod start`: the infra container first, then the init containers, each to completion
        (podinit.py), then the others (each one a failure of its own)."""
        from . import podinit, podservice
        from .start import start_detached

        reconcile(self.rt)

        def one(name: str) -> str:
            pod = self.pods.lookup(name)
            podservice.start_with(self.rt, pod, self.warn)
            infra, init, rest = podinit.split(self._members(pod))
            failed: list[str] = []
            for group in (infra, rest):
                if group is rest and init:
                    if failed:
                        break
                    podinit.run(self.rt, init, self.warn)
                for rec in group:
                    current = self.rt.state.get(rec.id)
                    if current is None or current.state in ("running", "paused"):
                        continue
                    try:
                        start_detached(self.rt, current, self.warn)
                    except PodpyError as exc:
                        failed.append(f"starting container {rec.id}: {exc}")
            if failed:
                raise InvalidState("; ".join(failed))
            self._event(pod, "start")
            return pod.id
        return each(self._pods(names, all_, latest), one)

    def stop(self, names: list[str], timeout: Optional[int], all_: bool = False, latest: bool = False,
             ignore: bool = False) -> list[Report]:
        """`pod stop`: the members, then the infra container."""
        from . import podservice
        from .lifecycle import check_timeout, stop

        check_timeout(timeout)
        reconcile(self.rt)

        def one(name: str) -> str:
            pod = self.pods.lookup(name)
            for rec in self._stop_order(pod):
                if rec.state in ("running", "paused"):
                    try:
                        stop(self.rt, rec.id, timeout, self.warn)
                    except (NoSuchContainer, InvalidState):
                        pass   # gone or stopped meanwhile
            podservice.stop_with(self.rt, pod, self.warn)
            self._event(pod, "stop")
            return pod.id
        return self._each_pod(names, all_, latest, one, ignore)

    def restart(self, names: list[str], timeout: Optional[int] = None, all_: bool = False,
                latest: bool = False) -> list[Report]:
        stopped = {r.name: r for r in self.stop(names, timeout, all_, latest)}
        ids = [r.value for r in stopped.values() if r.error is None and r.value]
        started = self.start(ids) if ids else []   # `--all` with no pods: nothing to do, as in podman
        out = [r for r in stopped.values() if r.error is not None]
        return out + started

    def kill(self, names: list[str], sig: int, all_: bool = False, latest: bool = False) -> list[Report]:
        from .lifecycle import kill

        def one(name: str) -> str:
            pod = self.pods.lookup(name)
            running = [r for r in self._stop_order(pod) if r.state in ("running", "paused")]
            if not running:
                raise InvalidState(f"pod {pod.id} has no running containers: container state improper")
            for rec in running:
                try:
                    kill(self.rt, rec.id, sig)
                except (NoSuchContainer, InvalidState):
                    pass
            self._event(pod, "kill")
            return pod.id
        return self._each_pod(names, all_, latest, one)

    def pause(self, names: list[str], all_: bool = False, latest: bool = False) -> list[Report]:
        from .lifecycle import pause

        def one(name: str) -> str:
            pod = self.pods.lookup(name)
            for rec in self._stop_order(pod):
                if rec.state == "running":
                    pause(self.rt, rec.id)
            self._event(pod, "pause")
            return pod.id
        return self._each_pod(names, all_, latest, one)

    def unpause(self, names: list[str], all_: bool = False, latest: bool = False) -> list[Report]:
        from .lifecycle import unpause

        def one(name: str) -> str:
            pod = self.pods.lookup(name)
            for rec in reversed(self._stop_order(pod)):
                if rec.state == "paused":
                    unpause(self.rt, rec.id)
            self._event(pod, "unpause")
            return pod.id
        return self._each_pod(names, all_, latest, one)

    def _stop_order(self, pod: PodRecord) -> list[ContainerRecord]:
        """Members newest first, the infra container last (what joins is stopped before what it joins)."""
        recs = self._members(pod)
        return ([r for r in reversed(recs) if not r.config.pod_infra]
                + [r for r in recs if r.config.pod_infra])

    def _each_pod(self, names: list[str], all_: bool, latest: bool, one: Callable[[str], str],
                  ignore: bool = False) -> list[Report]:
        reports = each(self._pods(names, all_, latest), one)
        if ignore:
            reports = [r for r in reports if not isinstance(r.error, NoSuchPod)]
        return reports

    # -- remove --------------------------------------------------------------------------

    def rm(self, names: list[str], force: bool = False, all_: bool = False, ignore: bool = False,
           timeout: Optional[int] = None, latest: bool = False) -> list[Report]:
        """`pod rm`: the pod's containers (members first, the infra container last) and the pod;
        running ones only with force."""
        from .lifecycle import check_timeout

        check_timeout(timeout)
        reconcile(self.rt)

        def one(name: str) -> str:
            pod = self.pods.lookup(name)
            self._remove(pod, force, timeout)
            return pod.id
        return self._each_pod(names, all_, latest, one, ignore)

    def _remove(self, pod: PodRecord, force: bool, timeout: Optional[int]) -> None:
        from .removal import remove_pod

        remove_pod(self.rt, pod, force, timeout, self.warn)

    def prune(self) -> list[Report]:
        """`pod prune`: every pod none of whose containers runs."""
        reconcile(self.rt)
        out = []
        for pod in self.pods.all():
            if any(r.state in ("running", "paused") for r in self._members(pod)):
                continue
            try:
                self._remove(pod, False, None)
                out.append(Report(pod.id, pod.id))
            except PodpyError as exc:
                out.append(Report(pod.id, None, exc))
        return out

    # -- reading -------------------------------------------------------------------------

    def ps(self, filters: Optional[list[str]] = None) -> list[dict[str, Any]]:
        """`pod ps`: one entry per pod, newest first, with podman's fields; only those the
        filters (podfilter.py's KEY=VALUE words) match."""
        from . import podfilter

        podfilter.parse(list(filters or []))
        reconcile(self.rt)
        all_ctrs = self.rt.state.all()
        found = [self._summary(pod, members(all_ctrs, pod.id)) for pod in self.pods.all()]
        return podfilter.select(found, list(filters or [])) if filters else found

    def top(self, name: str, descriptors: list[str], latest: bool = False) -> list[list[str]]:
        """`pod top`: the processes of the pod's running containers, one header row first
        (ps(1)'s descriptors, as `top` takes them)."""
        from .podstats import pod_top

        return pod_top(self.rt, self.inspect([name] if name else [], latest), descriptors)

    def _summary(self, pod: PodRecord, recs: list[ContainerRecord]) -> dict[str, Any]:
        from .container import state_word

        return {
            "Id": pod.id, "Name": pod.name, "Created": pod.created, "Status": _status(recs),
            "InfraId": pod.infra_id or "", "Labels": dict(pod.config.labels), "Networks": self._networks(pod, recs),
            "Containers": [{"Id": r.id, "Names": r.name, "Status": state_word(r)} for r in recs],
            "Cgroup": pod.config.cgroup_parent, "Namespace": "",
        }

    def _networks(self, pod: PodRecord, recs: list[ContainerRecord]) -> list[str]:
        infra = next((r for r in recs if r.config.pod_infra), None)
        if infra is None:
            return []
        if infra.config.networks:
            return sorted(infra.config.networks)
        return [] if infra.config.network in ("none", "host") else [infra.config.network.partition(":")[0]]

    def clone(self, name: str, clone_member: Callable[[str, str, str], Any], new_name: Optional[str] = None,
              changes: Optional[dict[str, Any]] = None, start: bool = False, destroy: bool = False) -> PodRecord:
        """`pod clone`: a new pod with the pod's configuration (and the changes), each of its
        containers cloned into it by clone_member(CONTAINER-ID, NEW-NAME, POD-ID) (the front
        end's ContainerEngine.clone); with destroy the original goes after (its containers
        killed), with start the clone is started. A member that cannot be cloned takes the new
        pod away again."""
        from .clone import clone_name
        from .podclone import clone_create_options, pod_clone_name

        reconcile(self.rt)
        pod = self.pods.lookup(name)
        recs = sorted(self._members(pod), key=lambda r: r.created)
        infra = next((r for r in recs if r.config.pod_infra), None)
        infra_name = clone_name(self.rt, infra.name) if infra is not None else ""
        o = PodCreateOptions(**clone_create_options(
            self.rt, pod, infra_name, new_name or pod_clone_name(self.rt, self.pods, pod.name), dict(changes or {})))
        made = self.create(o)
        try:
            for rec in recs:
                if not rec.config.pod_infra:
                    clone_member(rec.id, clone_name(self.rt, rec.name), made.id)
        except BaseException:
            self._remove(made, force=True, timeout=None)
            raise
        if destroy:
            self._remove(pod, force=True, timeout=0)
        if start:
            for report in self.start([made.id]):
                if report.error is not None:
                    raise report.error
        return made

    def stats(self, names: list[str], all_: bool = False, latest: bool = False, interval: int = 5,
              stream: bool = True) -> Iterator[list[tuple[PodRecord, dict[str, Any]]]]:
        """`pod stats`: (pod, ContainerStats) of each running container of the pods (every pod
        without names), one list per interval, only one without stream (podstats.py)."""
        from .podstats import pod_stats

        return pod_stats(self.rt, self.pods, names, all_, latest, interval, stream)

    def stats_rows(self, names: list[str], all_: bool = False, latest: bool = False, interval: int = 5,
                   stream: bool = True) -> Iterator[list[dict[str, str]]]:
        """stats() as podman's PodStatsReport rows (podstats.stats_row), what the API answers."""
        from .podstats import stats_row

        for readings in self.stats(names, all_, latest, interval, stream):
            yield [stats_row(pod.id, st) for pod, st in readings]

    def inspect(self, names: list[str], latest: bool = False) -> list[Report]:
        def one(name: str) -> dict[str, Any]:
            return self._inspect(self.pods.lookup(name))
        reports = each(self._pods(names, False, latest), one)
        return reports

    def _inspect(self, pod: PodRecord) -> dict[str, Any]:
        from ..formats import rfc3339
        from .container import state_word

        from .podcgroup import relative

        recs = self._members(pod)
        infra = next((r for r in recs if r.config.pod_infra), None)
        cfg = pod.config
        cgroup_parent, cgroup_path = relative(pod)
        doc: dict[str, Any] = {
            "Id": pod.id, "Name": pod.name, "Created": rfc3339(pod.created), "CreateCommand": cfg.create_command,
            "ExitPolicy": cfg.exit_policy, "State": _status(recs), "Hostname": cfg.hostname,
            "Labels": dict(cfg.labels) or None, "CreateCgroup": bool(cfg.cgroup_dir),
            "CgroupParent": cgroup_parent, "CgroupPath": cgroup_path, "CreateInfra": cfg.infra,
            "InfraContainerID": pod.infra_id or "",
        }
        if infra is not None:
            ic = infra.config
            bindings: dict[str, list[dict[str, str]]] = {}
            for p in ic.ports:
                key = f"{p['container_port']}/{p['protocol']}"
                bindings.setdefault(key, []).append(GoStruct(HostIp=p.get("host_ip") or "",
                                                             HostPort=str(p["host_port"])))
            doc["InfraConfig"] = {
                "PortBindings": bindings, "HostNetwork": ic.network == "host", "StaticIP": "", "StaticMAC": "",
                "NoManageResolvConf": False, "DNSServer": cfg.dns.get("servers") or None,
                "DNSSearch": cfg.dns.get("search") or None, "DNSOption": cfg.dns.get("options") or None,
                "NoManageHosts": cfg.no_hosts, "HostAdd": list(cfg.add_hosts) or None,
                "Networks": self._networks(pod, recs), "NetworkOptions": None,
                **{k: v for k, v in cfg.resources.items() if k in ("cpu_period", "cpu_quota", "cpuset_cpus")},
                "pid_ns": "private", "userns": cfg.userns or "host", "uts_ns": "private",
            }
        doc["SharedNamespaces"] = list(cfg.share)
        doc["NumContainers"] = len(recs)
        doc["Containers"] = [{"Id": r.id, "Name": r.name, "State": state_word(r)}
                             for r in sorted(recs, key=lambda r: r.id)]
        doc.update(cfg.resources)
        return doc

    def _event(self, pod: PodRecord, status_: str) -> None:
        from .. import events

        try:
            events.emit(self.rt.cfg.runroot, "pod", status_, pod.id, pod.name)
        except Exception:  # noqa: BLE001 - an event log that cannot be written loses no pod
            pass


def _label_file(path: str) -> dict[str, str]:
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise InvalidArgument(f"reading label file {path}: {exc.strerror}") from None
    out = {}
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            out[k] = v
    return out


def _status(recs: list[ContainerRecord]) -> str:
    """A pod's status, as podman's: init containers that have done their work do not count."""
    return status([r.state for r in recs if not r.config.init_ctr or r.state in ("running", "paused")])


def member_exited(rt: Runtime, rec: ContainerRecord, warn: Callable[[str], None]) -> None:
    """After a member of a pod has exited: with `--exit-policy stop`, the pod's infra container
    stops once no other member runs (podman's policy); with `continue` it keeps running. Once
    the pod has stopped, so does a service container of its play's (podservice.py)."""
    from .podservice import stop_with

    if not rec.config.pod or rec.config.init_ctr:
        return   # an init container's exit is its pod's start going on
    pod = PodStore(rt.db).get(rec.config.pod)
    if pod is not None and rec.config.pod_infra:
        stop_with(rt, pod, warn)
        return
    if pod is None or pod.config.exit_policy != "stop" or not pod.infra_id:
        return
    recs = members(rt.state.all(), pod.id)
    if any(r.state in ("running", "paused") for r in recs if not r.config.pod_infra and r.id != rec.id):
        return
    infra = rt.state.get(pod.infra_id)
    if infra is not None and infra.state in ("running", "paused"):
        from .lifecycle import stop

        try:
            stop(rt, infra.id, None, warn)
        except (NoSuchContainer, InvalidState):
            pass
    stop_with(rt, pod, warn)

