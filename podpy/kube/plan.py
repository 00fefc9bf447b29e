"""`kube play`'s plan: what the checked documents make (pods, their containers and volumes,
the claims' volumes), and what `kube play`'s flags add to every pod; made by play.py and
containers.py, carried out by apply.py."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from ..engine.podoptions import PodCreateOptions
    from ..engine.runoptions import CreateOptions

POD_LABEL = "io.podpy.kube.pod"
RESTART = {"Always": "always", "OnFailure": "on-failure", "Never": "no"}
MAX_ANNOTATION = 63   # the longest annotation value podman 4.3.1 takes (its reading of Kubernetes' limit)
PULL = {"Always": "always", "IfNotPresent": "missing", "Never": "never"}
SECCOMP_PROFILE_ROOT = "/var/lib/kubelet/seccomp"   # podman's default --seccomp-profile-root
SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER = "container.seccomp.security.alpha.kubernetes.io/"
HOST_PATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice",
                   "BlockDevice")


class PlayOptions:
    """What `kube play`'s flags add to every pod: --network, --publish, --log-driver,
    --log-opt, --userns, --ip, --mac-address."""

    def __init__(self, network: Optional[list[str]] = None, publish: Optional[list[str]] = None,
                 log_driver: Optional[str] = None, log_opts: Optional[list[str]] = None,
                 userns: Optional[str] = None, ip: Optional[str] = None, mac_address: Optional[str] = None,
                 no_hosts: bool = False, annotations: Optional[list[str]] = None,
                 seccomp_profile_root: str = SECCOMP_PROFILE_ROOT, authfile: Optional[str] = None,
                 cert_dir: Optional[str] = None, creds: Optional[str] = None,
                 tls_verify: Optional[bool] = None) -> None:
        self.network = list(network or [])
        self.publish = list(publish or [])
        self.log_driver, self.log_opts = log_driver, list(log_opts or [])
        self.userns, self.ip, self.mac_address = userns, ip, mac_address
        self.no_hosts = no_hosts                    # no /etc/hosts in the pods' containers
        self.annotations = list(annotations or [])  # K=V, on every container
        self.seccomp_profile_root = seccomp_profile_root   # where `localhost/PROFILE` annotations look
        # the pulls of the containers' images
        self.authfile, self.cert_dir, self.creds, self.tls_verify = authfile, cert_dir, creds, tls_verify


class PodPlan:
    """One pod to make: its options, its init containers (run in order, to completion) and
    containers, the volumes of its own (name -> files to write, None for an empty one), the
    host paths to make first (path, "dir" or "file"), the subPath directories to make."""

    def __init__(self, name: str, create: PodCreateOptions) -> None:
        self.name = name
        self.create = create
        self.init: list[CreateOptions] = []
        self.containers: list[CreateOptions] = []
        self.volumes: dict[str, Optional[dict[str, bytes]]] = {}
        self.host_paths: list[tuple[str, str]] = []
        self.subdirs: list[str] = []


class Plan:
    def __init__(self) -> None:
        self.claims: list[str] = []      # named volumes, in the order of the file
        self.pods: list[PodPlan] = []
