"""`podpy --remote`: the CLI's verbs over a podpy or podman service (podman's libpod API).

    url.py          service URLs (unix, tcp, ssh) and which one a command line means
    connections.py  `system connection`'s destinations, in podpy's containers.conf
    client.py       HTTP over the socket (ssh: a socket forwarded by OpenSSH's client)
    containers.py   the container verbs; objects.py the image, volume, network, system ones
    pods.py         the pod verbs, kube play/down/generate and generate systemd
    cp.py, prune.py, manifests.py, build.py   cp, the prunes, manifest lists, build
    secrets.py      the secret verbs
    refusals.py     the one line of what a remote command line cannot do
    run.py          run, create, start -a, exec; streams.py their output (and logs)
    (engine/podmanspec.py: run's options -> podman's SpecGenerator, and a pod's)

The remote engines have the local engines' method names, options and reports, so the CLI
renders what they return unchanged; what they lack is refused in one line, exit 125:
"podpy CMD: not available with --remote". Nothing here is imported unless a command line
is remote (--remote, --url, --connection, $CONTAINER_HOST, $CONTAINER_CONNECTION).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .client import Client

KINDS = ("containers", "images", "volumes", "networks", "system", "pods", "kube", "manifests", "secrets")


def connect(url: Optional[str], connection: Optional[str], identity: Optional[str]) -> Client:
    """A client of the service this command line names, pinged (its ssh forward, if any, ends
    with the command: client.close_all(), from the CLI's guard)."""
    from .client import Client
    from .url import resolve

    target, key = resolve(url, connection, identity)
    client = Client(target, key)
    client.ping()
    return client


def engine(client: Client, kind: str, command: str, warn: Callable[[str], None] = lambda _line: None,
           progress: Optional[Callable[[str], None]] = None) -> Any:
    """The remote engine of a kind (KINDS), refusing in the words of `podpy COMMAND`."""
    from . import objects
    from .containers import RemoteContainerEngine

    if kind == "containers":
        return RemoteContainerEngine(client, command, warn)
    if kind == "images":
        return objects.RemoteImageEngine(client, command, warn, progress)
    if kind == "volumes":
        return objects.RemoteVolumeEngine(client, command, warn)
    if kind == "networks":
        return objects.RemoteNetworkEngine(client, command, warn)
    if kind in ("pods", "kube"):
        from .pods import RemoteKubeEngine, RemotePodEngine

        return (RemotePodEngine if kind == "pods" else RemoteKubeEngine)(client, command, warn)
    if kind == "secrets":
        from .secrets import RemoteSecretEngine

        return RemoteSecretEngine(client, command, warn)
    if kind == "manifests":
        from .manifests import RemoteManifestEngine

        return RemoteManifestEngine(client, command, warn, progress)
    return objects.RemoteSystemEngine(client, command, warn)
