"""The keys each Quadlet section takes (podman-systemd.unit(5) of podman 5.4), the service
name suffix of each file type, and the order files are converted in (what others refer to
first: images, then volumes and networks, builds, containers and kubes, pods last because
their containers add themselves to them)."""

from __future__ import annotations

_HEALTH = ("HealthCmd HealthInterval HealthLogDestination HealthMaxLogCount HealthMaxLogSize HealthOnFailure "
           "HealthRetries HealthStartPeriod HealthStartupCmd HealthStartupInterval HealthStartupRetries "
           "HealthStartupSuccess HealthStartupTimeout HealthTimeout")
_REMAP = "RemapGid RemapUid RemapUidSize RemapUsers"     # older spellings of UserNS=, still read

CONTAINER = frozenset(f"""
AddCapability AddDevice AddHost Annotation AutoUpdate CgroupsMode ContainerName ContainersConfModule DNS
DNSOption DNSSearch DropCapability Entrypoint Environment EnvironmentFile EnvironmentHost Exec ExposeHostPort
GIDMap GlobalArgs Group GroupAdd {_HEALTH} HostName IP IP6 Image Label LogDriver LogOpt Mask Memory Mount
Network NetworkAlias NoNewPrivileges Notify PidsLimit Pod PodmanArgs PublishPort Pull ReadOnly ReadOnlyTmpfs
ReloadCmd ReloadSignal {_REMAP} Retry RetryDelay Rootfs RunInit SeccompProfile Secret SecurityLabelDisable
SecurityLabelFileType SecurityLabelLevel SecurityLabelNested SecurityLabelType ServiceName ShmSize StartWithPod
StopSignal StopTimeout SubGIDMap SubUIDMap Sysctl Timezone Tmpfs UIDMap Ulimit Unmask User UserNS VolatileTmp
Volume WorkingDir
""".split())

VOLUME = frozenset("""
ContainersConfModule Copy Device Driver GlobalArgs Group Image Label Options PodmanArgs ServiceName Type User
VolumeName
""".split())

NETWORK = frozenset("""
ContainersConfModule DisableDNS DNS Driver Gateway GlobalArgs IPAMDriver IPRange IPv6 InterfaceName Internal
Label NetworkDeleteOnStop NetworkName Options PodmanArgs ServiceName Subnet
""".split())

KUBE = frozenset(f"""
AutoUpdate ConfigMap ContainersConfModule ExitCodePropagation GlobalArgs KubeDownForce LogDriver LogOpt Network
PodmanArgs PublishPort {_REMAP} ServiceName SetWorkingDirectory UserNS Yaml
""".split())

IMAGE = frozenset("""
AllTags Arch AuthFile CertDir ContainersConfModule Creds DecryptionKey GlobalArgs Image ImageTag OS PodmanArgs
Retry RetryDelay ServiceName TLSVerify Variant
""".split())

BUILD = frozenset("""
Annotation Arch AuthFile ContainersConfModule DNS DNSOption DNSSearch Environment File ForceRM GlobalArgs
GroupAdd ImageTag Label Network PodmanArgs Pull Retry RetryDelay Secret ServiceName SetWorkingDirectory Target
TLSVerify Variant Volume
""".split())

POD = frozenset(f"""
AddHost ContainersConfModule DNS DNSOption DNSSearch ExitPolicy GIDMap GlobalArgs HostName IP IP6 Label
Network NetworkAlias PodName PodmanArgs PublishPort {_REMAP} ServiceName ShmSize SubGIDMap SubUIDMap UIDMap
UserNS Volume
""".split())

QUADLET = frozenset({"DefaultDependencies"})

# file extension -> (its section, the keys of that section, the service name's suffix, conversion order)
TYPES: dict[str, tuple[str, frozenset[str], str, int]] = {
    ".image": ("Image", IMAGE, "-image", 1),
    ".volume": ("Volume", VOLUME, "-volume", 2),
    ".network": ("Network", NETWORK, "-network", 2),
    ".build": ("Build", BUILD, "-build", 3),
    ".container": ("Container", CONTAINER, "", 4),
    ".kube": ("Kube", KUBE, "", 4),
    ".pod": ("Pod", POD, "-pod", 5),
}

# the sections a Quadlet file may have besides its own (X-... sections are the user's, passed through)
PASSED_THROUGH = ("Unit", "Service", "Install")

# [Unit] keys whose values may name Quadlet files (translated to their services)
UNIT_DEPENDENCY_KEYS = ("After", "Before", "BindsTo", "Conflicts", "OnFailure", "OnSuccess", "PartOf",
                        "PropagatesReloadTo", "PropagatesStopTo", "ReloadPropagatedFrom", "Requires", "Requisite",
                        "StopPropagatedFrom", "Upholds", "Wants")

USER_WAIT_NETWORK = "podpy-user-wait-network-online.service"
