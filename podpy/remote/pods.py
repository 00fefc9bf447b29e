"""The pod verbs over a service: the local PodEngine's method names, options and reports (so
`pod`'s commands render them unchanged), each made of libpod API calls (pods/...)."""

from __future__ import annotations

import os

from ..engine.entities import Report
from ..errors import InvalidArgument, NoSuchPod
from .base import Remote, _each, _q, engine_error, exists
from .client import ServiceError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterator, Optional

    from ..engine.podoptions import PodCreateOptions


class Made:
    """The pod a service made: its id, as the local engine's record has it."""

    def __init__(self, pod_id: str) -> None:
        self.id = pod_id


class RemotePodEngine(Remote):
    """`pod` over a service."""

    def _call(self, method: str, name: str, verb: str = "", query: Optional[dict[str, Any]] = None) -> Any:
        try:
            return self.client.call(method, f"/pods/{_q(name)}" + (f"/{verb}" if verb else ""), query)
        except ServiceError as exc:
            raise engine_error(exc, NoSuchPod) from None

    def create(self, o: PodCreateOptions) -> Made:
        from ..engine.podmanspec import pod_spec_generator

        body = pod_spec_generator(o)
        if o.replace and o.name and self.exists(o.name):
            self._call("DELETE", o.name, query={"force": True})
        try:
            made = self.client.call("POST", "/pods/create", body=body)
        except ServiceError as exc:
            raise engine_error(exc, NoSuchPod) from None
        pod_id = str((made or {}).get("Id") or "")
        if o.pod_id_file:
            from storage.fsutil import atomic_file

            with atomic_file(o.pod_id_file) as f:
                f.write(pod_id.encode())
        return Made(pod_id)

    def exists(self, name: str) -> bool:
        return exists(self.client, "pods", name)

    def _names(self, names: list[str], all_: bool, latest: bool) -> list[str]:
        if all_ or latest:
            if names:
                raise InvalidArgument("--all, --latest and pods given cannot be used together")
            pods = self.ps()
            return [p["Id"] for p in (pods[:1] if latest else pods)]
        if not names:
            raise InvalidArgument("you must provide at least one name or id")
        return names

    def _verb(self, verb: str, names: list[str], all_: bool, latest: bool,
              query: Optional[dict[str, Any]] = None, ignore: bool = False) -> list[Report]:
        """POST /pods/NAME/VERB for each pod: its id, or its error (304, nothing to do: its id too)."""
        def one(name: str) -> str:
            answer = self._call("POST", name, verb, query)
            if isinstance(answer, dict) and answer.get("Id"):
                return str(answer["Id"])
            return str(self._call("GET", name, "json")["Id"])
        reports = _each(self._names(names, all_, latest), one, NoSuchPod)
        return [r for r in reports if not (ignore and isinstance(r.error, NoSuchPod))]

    def start(self, names: list[str], all_: bool = False, latest: bool = False) -> list[Report]:
        return self._verb("start", names, all_, latest)

    def stop(self, names: list[str], timeout: Optional[int], all_: bool = False, latest: bool = False,
             ignore: bool = False) -> list[Report]:
        return self._verb("stop", names, all_, latest, {"timeout": timeout} if timeout is not None else None, ignore)

    def restart(self, names: list[str], timeout: Optional[int] = None, all_: bool = False,
                latest: bool = False) -> list[Report]:
        return self._verb("restart", names, all_, latest)

    def kill(self, names: list[str], sig: int, all_: bool = False, latest: bool = False) -> list[Report]:
        return self._verb("kill", names, all_, latest, {"signal": int(sig)})

    def pause(self, names: list[str], all_: bool = False, latest: bool = False) -> list[Report]:
        return self._verb("pause", names, all_, latest)

    def unpause(self, names: list[str], all_: bool = False, latest: bool = False) -> list[Report]:
        return self._verb("unpause", names, all_, latest)

    def rm(self, names: list[str], force: bool = False, all_: bool = False, ignore: bool = False,
           timeout: Optional[int] = None, latest: bool = False) -> list[Report]:
        query: dict[str, Any] = {"force": force}
        if timeout is not None:
            query["timeout"] = timeout

        def one(name: str) -> str:
            answer = self._call("DELETE", name, query=query)
            return str((answer or {}).get("Id") or name)
        reports = _each(self._names(names, all_, latest), one, NoSuchPod)
        return [r for r in reports if not (ignore and isinstance(r.error, NoSuchPod))]

    def prune(self) -> list[Report]:
        from ..errors import PodpyError

        out = []
        for entry in self.client.call("POST", "/pods/prune") or []:
            err = entry.get("Err")
            out.append(Report(entry["Id"], entry["Id"], PodpyError(str(err)) if err else None))
        return out

    def ps(self, filters: Optional[list[str]] = None) -> list[dict[str, Any]]:
        """The service's list, as the local engine's: Created in seconds."""
        import json

        from ..formats import parse_rfc3339

        by_key: dict[str, list[str]] = {}
        for f in filters or []:
            key, eq, value = f.partition("=")
            if not eq:
                raise InvalidArgument(f"invalid filter {f!r}: it must be KEY=VALUE")
            by_key.setdefault(key, []).append(value)
        try:
            found = self.client.call("GET", "/pods/json", {"filters": json.dumps(by_key)} if by_key else None)
        except ServiceError as exc:
            raise engine_error(exc, NoSuchPod) from None
        out = []
        for p in found or []:
            created = p.get("Created")
            out.append(dict(p, Created=created if isinstance(created, (int, float))
                            else parse_rfc3339(str(created)) or 0.0,
                            Labels=p.get("Labels") or {}, Networks=p.get("Networks") or [],
                            Containers=p.get("Containers") or []))
        return sorted(out, key=lambda p: -p["Created"])

    def inspect(self, names: list[str], latest: bool = False) -> list[Report]:
        return _each(self._names(names, False, latest), lambda n: self._call("GET", n, "json"), NoSuchPod)

    def top(self, name: str, descriptors: list[str], latest: bool = False) -> list[list[str]]:
        if latest:
            found = self.ps()
            if not found:
                raise InvalidArgument("no pods to show")
            name = found[0]["Id"]
        answer = self._call("GET", name, "top", {"ps_args": ",".join(descriptors)} if descriptors else None)
        return [list(answer.get("Titles") or [])] + [list(row) for row in answer.get("Processes") or []]

    def stats_rows(self, names: list[str], all_: bool = False, latest: bool = False, interval: int = 5,
                   stream: bool = True) -> Iterator[list[dict[str, str]]]:
        """The service's readings (podman's PodStatsReport rows), one list per interval."""
        import time

        if (all_ or latest) and names:
            raise InvalidArgument("--all, --latest and arguments cannot be used together")
        if latest:
            found = self.ps()
            if not found:
                raise NoSuchPod("no pods to get stats of")
            names = [found[0]["Id"]]
        query: dict[str, Any] = {"all": all_ or not names}
        if names:
            query["namesOrIDs"] = list(names)

        def rounds() -> Iterator[list[dict[str, str]]]:
            while True:
                try:
                    yield list(self.client.call("GET", "/pods/stats", query) or [])
                except ServiceError as exc:
                    raise engine_error(exc, NoSuchPod) from None
                if not stream:
                    return
                time.sleep(interval)
        return rounds()


class RemoteKubeEngine(Remote):
    """`kube play`, `kube down`, `kube generate` and `generate systemd` over a service."""

    def play(self, text: str, opts: Any, configmaps: list[str], start: bool = True, replace: bool = False,
             strict: bool = False, build: Optional[bool] = None, context_dir: Optional[str] = None,
             say: Optional[Callable[[str], None]] = None, service_container: bool = False,
             exit_propagation: str = "none") -> Any:
        import json

        from ..kube.apply import PlayReport, PodReport
        from ..kube.plan import SECCOMP_PROFILE_ROOT

        for flag, given in (("--strict", strict), ("--build", build), ("--context-dir", context_dir),
                            ("--service-container", service_container),
                            ("--service-exit-code-propagation", exit_propagation != "none"),
                            ("--seccomp-profile-root", opts.seccomp_profile_root != SECCOMP_PROFILE_ROOT)):
            if given:
                raise InvalidArgument(f"podpy {self.command} {flag}: not available with --remote")
        query: dict[str, Any] = {"start": start, "replace": replace, "nohosts": opts.no_hosts}
        for key, value in (("network", opts.network), ("publishPorts", opts.publish), ("logOptions", opts.log_opts),
                           ("configMaps", [os.path.abspath(m) for m in configmaps]),
                           ("staticIPs", [opts.ip] if opts.ip else []),
                           ("staticMACs", [opts.mac_address] if opts.mac_address else [])):
            if value:
                query[key] = list(value)
        for key, value in (("logDriver", opts.log_driver), ("userns", opts.userns), ("authfile", opts.authfile),
                           ("certdir", opts.cert_dir)):
            if value:
                query[key] = value
        if opts.tls_verify is not None:
            query["tlsVerify"] = opts.tls_verify
        if opts.creds:
            user, _, password = opts.creds.partition(":")
            query["username"], query["password"] = user, password
        if opts.annotations:
            query["annotations"] = json.dumps(dict(a.partition("=")[::2] for a in opts.annotations))
        try:
            answer = self.client.call("POST", "/play/kube", query, text.encode(),
                                      {"Content-Type": "application/x-yaml"}, timeout=None) or {}
        except ServiceError as exc:
            raise engine_error(exc, NoSuchPod) from None
        report = PlayReport()
        report.volumes = [v["Name"] for v in answer.get("Volumes") or []]
        for pod in answer.get("Pods") or []:
            report.pods.append(PodReport(pod["ID"], list(pod.get("Containers") or []),
                                         list(pod.get("InitContainers") or [])))
            errors = pod.get("ContainerErrors") or []
            if errors:   # podman's service made the pod, but a container did not start
                for line in errors:
                    self.warn(line)
                raise InvalidArgument(f"failed to start {len(errors)} containers")
        return report

    def down(self, text: str, force: bool = False) -> Any:
        from ..kube.apply import DownReport

        try:
            answer = self.client.call("DELETE", "/play/kube", {"force": True} if force else None, text.encode(),
                                      {"Content-Type": "application/x-yaml"}, timeout=None) or {}
        except ServiceError as exc:
            raise engine_error(exc, NoSuchPod) from None
        report = DownReport()
        report.stopped = [r["Id"] for r in answer.get("StopReport") or []]
        report.removed = [r["Id"] for r in answer.get("RmReport") or []]
        report.claims = [r["Id"] for r in answer.get("VolumeRmReport") or []]
        return report

    def generate(self, names: list[str], kind: str = "pod", replicas: int = 1, service: bool = False) -> str:
        query: dict[str, Any] = {"names": list(names), "service": service}
        if kind != "pod" or replicas != 1:
            query.update(type=kind, replicas=replicas)
        try:
            resp = self.client.open("GET", "/generate/kube", query)
        except ServiceError as exc:
            raise engine_error(exc, NoSuchPod) from None
        from .client import done

        try:
            return resp.read().decode()
        finally:
            done(resp)

    def systemd(self, name: str, opts: Any) -> dict[str, str]:
        """generate/NAME/systemd: the units, name -> text (the service's order)."""
        query: dict[str, Any] = {"useName": opts.name, "new": opts.new, "noHeader": opts.no_header,
                                 "containerPrefix": opts.container_prefix, "podPrefix": opts.pod_prefix,
                                 "separator": opts.separator, "templateUnitFile": opts.template}
        for key, value in (("restartPolicy", opts.restart_policy), ("restartSec", opts.restart_sec),
                           ("startTimeout", opts.start_timeout), ("stopTimeout", opts.stop_timeout)):
            if value is not None:
                query[key] = value
        for key, values in (("after", opts.after), ("wants", opts.wants), ("requires", opts.requires),
                            ("additionalEnvVariables", opts.env)):
            if values:
                query[key] = list(values)
        try:
            return dict(self.client.call("GET", f"/generate/{_q(name)}/systemd", query) or {})
        except ServiceError as exc:
            raise engine_error(exc, NoSuchPod) from None

