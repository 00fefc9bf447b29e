"""`kube play`, `kube down`, `kube generate`, and podman 4.3.1's older spellings `play kube` and
`generate kube` (each one KubeEngine call, its report printed as podman prints it); `generate
spec` (engine/genspec.py)."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from . import render
from .app import runtime
from .fastcmds import SECCOMP_ROOT, print_down, read_yaml
from .systemd import systemd as _systemd

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def engine(ctx: typer.Context, quiet: bool = False) -> Any:
    """The kube engine over this command's store (a service's, with --remote)."""
    from ..kube.apply import KubeEngine
    from .app import remote_engine

    remote = remote_engine(ctx, "kube", render.warn)
    if remote is not None:
        return remote
    return KubeEngine(runtime(ctx), render.warn, None if quiet else render.err_line)


def play(
    ctx: typer.Context,
    file: str = typer.Argument(..., help="The YAML file, an http(s) URL, or - for stdin."),
    down: bool = typer.Option(False, "--down", help="Remove what the file made instead (as `kube down`)."),
    replace: bool = typer.Option(False, "--replace", help="Remove the file's pods first, if they exist."),
    start: bool = typer.Option(True, "--start/--no-start", help="Start the pods (--start=false: create only)."),
    network: List[str] = typer.Option([], "--network", "--net", help="Network of the pods."),
    publish: List[str] = typer.Option([], "--publish", help="Publish a port of every pod ([[IP:]HOST:]CTR)."),
    configmap: List[str] = typer.Option([], "--configmap", help="A YAML file of ConfigMaps (repeatable, "
                                                               "or comma-separated)."),
    log_driver: Optional[str] = typer.Option(None, "--log-driver", help="Log driver of the containers."),
    log_opt: List[str] = typer.Option([], "--log-opt", help="Log option of the containers."),
    userns: Optional[str] = typer.Option(None, "--userns", help="User namespace of the pods."),
    ip: Optional[str] = typer.Option(None, "--ip", help="Address of the pod on its user network."),
    mac_address: Optional[str] = typer.Option(None, "--mac-address", help="MAC address of the pod."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print no progress while pulling images."),
    strict: bool = typer.Option(False, "--strict", help="Refuse a file with fields podpy ignores."),
    authfile: Optional[str] = typer.Option(None, "--authfile", help="Credentials file for the images' pulls."),
    cert_dir: Optional[str] = typer.Option(None, "--cert-dir", help="Certificates for the images' pulls."),
    creds: Optional[str] = typer.Option(None, "--creds", help="USERNAME[:PASSWORD] for the images' pulls."),
    tls_verify: Optional[bool] = typer.Option(None, "--tls-verify/--no-tls-verify",
                                              help="Require HTTPS and verify certificates when pulling."),
    no_hosts: bool = typer.Option(False, "--no-hosts", help="No /etc/hosts in the pods' containers."),
    annotation: List[str] = typer.Option([], "--annotation", help="An annotation of every container (K=V)."),
    build: Optional[bool] = typer.Option(None, "--build/--no-build",
                                         help="Build the images that have a build directory even when they are in "
                                         "the store (--build=false: never build)."),
    context_dir: Optional[str] = typer.Option(None, "--context-dir",
                                              help="Where the images' build directories are (with --build)."),
    seccomp_profile_root: str = typer.Option(SECCOMP_ROOT, "--seccomp-profile-root",
                                             help="Where `localhost/PROFILE` seccomp annotations look."),
    service_container: bool = typer.Option(False, "--service-container/--no-service-container", hidden=True,
                                           help="Run a service container whose monitor tells systemd the play "
                                                "is ready (the units of .kube Quadlet files use it)."),
    exit_propagation: Optional[str] = typer.Option(None, "--service-exit-code-propagation", hidden=True,
                                                   help="How the service container exits: none (0), all (failed "
                                                        "when every container failed) or any (failed when one did)."),
    force: bool = typer.Option(False, "--force/--no-force", show_default=False,
                               help="With --down: remove the volumes of the file's PersistentVolumeClaims too."),
) -> None:
    """Make pods, containers and volumes from Kubernetes YAML, and start them."""
    params = {k: v for k, v in locals().items() if k != "ctx"}   # the parameters, by name
    from .app import remote_engine
    from .fastcmds import kube_play

    kube_play(lambda: runtime(ctx), params, remote_engine(ctx, "kube", render.warn))


def down(
    ctx: typer.Context,
    file: str = typer.Argument(..., help="The YAML file (or URL) `kube play` was given, or - for stdin."),
    force: bool = typer.Option(False, "--force/--no-force", show_default=False,
                               help="Remove the volumes of the file's PersistentVolumeClaims too."),
) -> None:
    """Stop and remove the pods a Kubernetes YAML file made (claims' volumes are kept unless --force)."""
    print_down(engine(ctx).down(read_yaml(file), force))


def generate(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., help="Containers, pods and volumes."),
    filename: Optional[str] = typer.Option(None, "-f", "--filename", help="Write the YAML to this file."),
    service: bool = typer.Option(False, "-s", "--service", help="Add a Service of the published ports."),
    kind: str = typer.Option("pod", "-t", "--type", help="pod (default) or deployment."),
    replicas: int = typer.Option(1, "-r", "--replicas", help="The Deployment's replicas."),
) -> None:
    """Write Kubernetes YAML for containers, pods and volumes."""
    text = engine(ctx).generate(list(names), kind.lower(), replicas, service)
    if filename:
        from ..errors import InvalidArgument

        try:
            with open(filename, "x", encoding="utf-8") as f:
                f.write(text)
        except FileExistsError:
            raise InvalidArgument(f"cannot write to {filename}: the file exists") from None
        except OSError as exc:
            raise InvalidArgument(f"cannot write to {filename}: {exc.strerror}") from None
        return
    sys.stdout.write(text)


def spec(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="{CONTAINER|POD}", help="The container or pod."),
    compact: bool = typer.Option(False, "-c", "--compact", help="Print the JSON on one line."),
    filename: Optional[str] = typer.Option(None, "-f", "--filename", help="Write the JSON to this file."),
    new_name: bool = typer.Option(True, "-n", "--name/--no-name", show_default=False,
                                  help="Give the spec a new name, NAME-clone (--name=false: the same name)."),
) -> None:
    """Print podman's SpecGenerator JSON of a container (PodSpecGenerator of a pod), which the
    libpod API's create takes."""
    import json

    from ..engine.genspec import generate_spec
    from ..errors import InvalidArgument
    from . import runargs

    doc = generate_spec(runtime(ctx), name, lambda words: runargs.parse("run", words) or {}, new_name)
    text = json.dumps(doc, separators=(",", ":")) if compact else json.dumps(doc, indent=1)
    if filename:
        try:
            with open(filename, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as exc:
            raise InvalidArgument(f"cannot write to {filename}: {exc.strerror}") from None
        render.out(filename)
        return
    render.out(text)


TOP: dict = {}
KUBE = {"play": (play, {}), "down": (down, {}), "generate": (generate, {})}
GENERATE = {"kube": (generate, {}), "systemd": (_systemd, {}), "spec": (spec, {})}
PLAY = {"kube": (play, {})}
