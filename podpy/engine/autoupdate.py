"""`auto-update`: running containers whose label asks for it, restarted on a newer image by their systemd unit.

Which containers: the running ones with an `io.containers.autoupdate` label naming a policy
other than disabled. Each names its unit with the `PODMAN_SYSTEMD_UNIT` label, which `create`
copies from its own environment (a unit made by `generate systemd` or by hand sets
`Environment=PODMAN_SYSTEMD_UNIT=%n`), as podman does.

Per container, in order:
1. is there a newer image? registry: HEAD the manifest of the name the container was created
   from (which must be fully qualified: a domain, no digest) and compare its digest
   with the local image's (a manifest list is resolved to this platform's entry first); local:
   the image the name points to in the store now is another than the container's;
2. none: "false"; --dry-run: "pending", and nothing more;
3. registry: pull the name (once per name, however many containers use it);
4. restart the unit (`systemctl [--user] restart UNIT`, which waits until the unit is started,
   and so until a Type=notify unit said READY=1, and exits non-zero when it did not);
5. a restart that failed, with --rollback (the default): the name is put back on the old image
   and the unit restarted again; "rolled back" when that start succeeds.
Failures are kept per container (its report says "failed") and reported after the table,
as podman reports them.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..errors import InvalidArgument, PodpyError
from ..state import RUNNING
from .context import Runtime

LABEL = "io.containers.autoupdate"
AUTHFILE_LABEL = "io.containers.autoupdate.authfile"
UNIT_LABEL = "PODMAN_SYSTEMD_UNIT"

DISABLED, REGISTRY, LOCAL = "disabled", "registry", "local"
# the label's values ("image" is registry's older name, kept by podman)
POLICIES = {"": DISABLED, "disabled": DISABLED, "image": REGISTRY, "registry": REGISTRY, "local": LOCAL}

# the report's Updated values
UPDATED, NOT_UPDATED, PENDING, FAILED, ROLLED_BACK = "true", "false", "pending", "failed", "rolled back"

FIELDS = ("Unit", "Container", "ContainerName", "ContainerID", "Image", "Policy", "Updated")


@dataclass(frozen=True)
class AutoUpdateOptions:
    authfile: Optional[str] = None        # --authfile (a container's authfile label comes first)
    dry_run: bool = False
    rollback: bool = True
    tls_verify: Optional[bool] = None     # None: as registries.conf says


@dataclass
class AutoUpdateReport:
    """One container's outcome, with podman's fields (row())."""

    container_id: str
    container_name: str
    image: str          # the name the container was created from
    policy: str
    unit: str
    updated: str = FAILED

    def row(self) -> dict[str, str]:
        return {"Unit": self.unit, "Container": f"{self.container_id[:12]} ({self.container_name})",
                "ContainerName": self.container_name, "ContainerID": self.container_id,
                "Image": self.image, "Policy": self.policy, "Updated": self.updated}


@dataclass(frozen=True)
class Task:
    """A container auto-update looks at."""

    container_id: str
    container_name: str
    image_id: str
    image_name: str
    policy: str
    unit: str
    authfile: Optional[str]

    def report(self) -> AutoUpdateReport:
        return AutoUpdateReport(self.container_id, self.container_name, self.image_name, self.policy, self.unit)


@dataclass
class Outcome:
    reports: list[AutoUpdateReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class RestartFailed(PodpyError):
    """systemd did not start the unit again."""


# -- which containers -------------------------------------------------------------------------------

def lookup_policy(value: str) -> str:
    """The policy a label value names; an unknown one is an error listing the known ones."""
    if value in POLICIES:
        return POLICIES[value]
    known = " ".join(f'"{k}"' for k in sorted(k for k in POLICIES if k))
    raise InvalidArgument(f'invalid auto-update policy "{value}": valid policies are [{known}]')


def check_reference(name: str) -> None:
    """The registry policy needs a name that says where to look: a domain, a tag (latest when
    none is given), no digest (podman refuses others at create)."""
    from storage import reference

    try:
        ref = reference.parse(name)
    except Exception as exc:  # noqa: BLE001
        raise InvalidArgument(f"enforcing fully-qualified docker transport reference for auto updates: {exc}") from exc
    if ref.digest:
        raise InvalidArgument(f'auto updates require fully-qualified image references without digest: "{name}"')
    if not ref.qualified:
        raise InvalidArgument(f'short name: auto updates require fully-qualified image reference: "{name}"')


def check_create(labels: dict[str, str], image: str) -> None:
    """At create, as podman: a container with the registry policy names its image fully."""
    if POLICIES.get(labels.get(LABEL, "")) == REGISTRY:
        check_reference(image.removeprefix("docker://"))


def tasks(containers: list[Any]) -> tuple[list[Task], list[str]]:
    """The running containers with a policy, and the errors of those whose labels are wrong
    (an unknown policy, no unit). containers: records with id, name, state, image_id,
    image_name and config.labels."""
    found: list[Task] = []
    errors: list[str] = []
    for rec in containers:
        labels = rec.config.labels or {}
        if rec.state != RUNNING or LABEL not in labels:
            continue
        try:
            policy = lookup_policy(labels[LABEL])
        except InvalidArgument as exc:
            errors.append(str(exc))
            continue
        if policy == DISABLED:
            continue
        if not rec.image_name:
            errors.append(f'auto-updating container "{rec.id}": raw-image name is empty')
            continue
        unit = labels.get(UNIT_LABEL)
        if not unit:
            errors.append(f'auto-updating container "{rec.id}": no {UNIT_LABEL} label found')
            continue
        found.append(Task(rec.id, rec.name, rec.image_id, rec.image_name, policy, unit,
                          labels.get(AUTHFILE_LABEL)))
    return found, errors


# -- one container's update -------------------------------------------------------------------------

@dataclass
class Steps:
    """What an update does, one callable per step (update() decides which to call)."""

    newer: Callable[[Task], bool]           # is another image there for the task's name?
    pull: Callable[[Task], None]            # registry: fetch it
    restart: Callable[[str], None]          # restart a unit; RestartFailed when it did not start
    retag: Callable[[Task], None]           # put the name back on the task's own image


def update(task: Task, o: AutoUpdateOptions, steps: Steps, pulled: set[str]) -> tuple[AutoUpdateReport, Optional[str]]:
    """One container: its report and the error, if any. pulled: the names pulled so far in this
    run (a second container of a name already pulled is only restarted)."""
    report = task.report()
    what = "registry auto-updating" if task.policy == REGISTRY else "locally auto-updating"
    if task.policy == REGISTRY and task.image_name in pulled:
        return _restart(task, o, steps, report, already_pulled=True)
    try:
        newer = steps.newer(task)
    except PodpyError as exc:
        return report, f'{what} container "{task.container_id}": image check for "{task.image_name}" failed: {exc}'
    if not newer:
        report.updated = NOT_UPDATED
        return report, None
    if o.dry_run:
        report.updated = PENDING
        return report, None
    if task.policy == REGISTRY:
        try:
            steps.pull(task)
        except PodpyError as exc:
            return report, (f'{what} container "{task.container_id}": image update for "{task.image_name}" '
                            f"failed: {exc}")
        pulled.add(task.image_name)
    return _restart(task, o, steps, report)


def _restart(task: Task, o: AutoUpdateOptions, steps: Steps, report: AutoUpdateReport,
             already_pulled: bool = False) -> tuple[AutoUpdateReport, Optional[str]]:
    try:
        steps.restart(task.unit)
    except RestartFailed as exc:
        failure = f'auto-updating container "{task.container_id}": {exc}'
        if not o.rollback or already_pulled:
            # a second container of a name: the first one's rollback (if any) is the name's
            return report, failure
        try:
            steps.retag(task)
        except PodpyError as exc2:
            return report, f"{failure}; falling back to previous image: {exc2}"
        try:
            steps.restart(task.unit)
        except RestartFailed as exc2:
            return report, f"{failure}; restarting unit with old image during fallback: {exc2}"
        report.updated = ROLLED_BACK
        return report, None
    report.updated = UPDATED
    return report, None


def run(containers: list[Any], o: AutoUpdateOptions, steps: Steps) -> Outcome:
    """Every container with a policy, one after another, registry ones first for each image
    (podman's order: by image, registry then local)."""
    found, errors = tasks(containers)
    outcome = Outcome(errors=errors)
    if errors:
        return outcome   # labels to fix first: podman updates nothing then
    pulled: set[str] = set()
    by_image: dict[str, list[Task]] = {}
    for t in found:
        by_image.setdefault(t.image_id, []).append(t)
    for group in by_image.values():
        for t in sorted(group, key=lambda t: t.policy != REGISTRY):
            report, error = update(t, o, steps, pulled)
            outcome.reports.append(report)
            if error:
                outcome.errors.append(error)
    return outcome


# -- the steps against the store, the registry and systemd -----------------------------------------

def auto_update(rt: Runtime, o: AutoUpdateOptions, report: Callable[[str], None]) -> Outcome:
    """`auto-update` over this store's containers."""
    from .reconcile import reconcile

    if o.authfile and not os.path.exists(o.authfile):   # podman 5's check (4.3.1 goes on without the file)
        raise InvalidArgument(f"checking authfile: stat {o.authfile}: no such file or directory")
    reconcile(rt)
    containers = rt.state.all()
    steps = Steps(newer=lambda t: _newer(rt, t, o), pull=lambda t: _pull(rt, t, o, report),
                  restart=lambda unit: restart_unit(unit, rt.cfg.rootless), retag=lambda t: _retag(rt, t))
    outcome = run(containers, o, steps)
    if outcome.reports:
        from ..events import emit

        emit(rt.cfg.runroot, "system", "auto-update", "")
    return outcome


def _authfile(t: Task, o: AutoUpdateOptions) -> Optional[str]:
    return t.authfile or o.authfile


def _newer(rt: Runtime, t: Task, o: AutoUpdateOptions) -> bool:
    from storage import images as img

    image = img.by_id(rt.db.conn, t.image_id)
    if image is None:
        raise PodpyError(f'container image ID "{t.image_id}" not found in local storage')
    if t.policy == LOCAL:
        from .imagestore import lookup

        return lookup(rt, t.image_name).id != image.id
    return registry_differs(rt, t.image_name, {d for d in (image.digest,) if d}, _authfile(t, o), o.tls_verify)


def registry_differs(rt: Runtime, name: str, known: set[str], authfile: Optional[str],
                     tls_verify: Optional[bool]) -> bool:
    """Whether the registry's manifest for name is another than the digests known here: one
    HEAD request, and a GET of a manifest list's entry for this platform when the tag names a list."""
    from storage import reference
    from storage.transports.manifest import INDEX_TYPES
    from storage.transports.registry import RegistryError

    from ..errors import translate
    from ..registry.conf import load
    from .pull import PullOptions, _client, endpoints, platform_of

    check_reference(name)
    ref = reference.parse(name)
    popts = PullOptions(name=name, tls_verify=tls_verify, auth_file=authfile)
    eps = endpoints(ref, load(rt.cfg.config_dir))
    for i, ep in enumerate(eps):
        try:
            with _client(ep, popts) as client:
                digest, media_type = client.manifest_digest(ep.repository, ref.tag or "latest")
                if digest is not None and digest in known:
                    return False
                if digest is not None and media_type and media_type not in INDEX_TYPES:
                    return True
                manifest = client.resolve(ep.repository, ref.tag or "latest", *platform_of(None, None, None, None))
                return manifest.digest not in known and manifest.index_digest not in known
        except RegistryError as exc:
            if i == len(eps) - 1:
                raise translate(exc) from exc
    raise AssertionError("unreachable")


def _pull(rt: Runtime, t: Task, o: AutoUpdateOptions, report: Callable[[str], None]) -> None:
    from .pull import PullOptions, platform_of, pull

    pull(rt, PullOptions(name=t.image_name, tls_verify=o.tls_verify, auth_file=_authfile(t, o)), report,
         platform_of(None, None, None, None))


def _retag(rt: Runtime, t: Task) -> None:
    from storage import reference

    from ..events import emit

    name = reference.normalize_local(t.image_name)
    rt.store.tag(t.image_id, name)
    emit(rt.cfg.runroot, "image", "tag", t.image_id, name)


def restart_unit(unit: str, rootless: bool) -> None:
    """`systemctl [--user] restart UNIT`, which returns once the unit's start job is done:
    non-zero (RestartFailed, with systemctl's last line) when the unit did not start."""
    argv = ["systemctl"] + (["--user"] if rootless else []) + ["restart", unit]
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    except FileNotFoundError:
        raise RestartFailed(f'restarting systemd unit "{unit}" failed: systemctl is not installed') from None
    if proc.returncode != 0:
        said = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        raise RestartFailed(f'restarting systemd unit "{unit}" failed: systemctl exited {proc.returncode}'
                            + (f": {said[-1].strip()}" if said else ""))
