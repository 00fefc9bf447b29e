"""The options of `pod create` as given (PodEngine.create in pods.py validates them), for
every front end that makes pods: the CLI, `kube play`, the API's PodSpecGenerator."""

from __future__ import annotations

from ..record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

EXIT_POLICIES = ("continue", "stop")


# the pod's own cgroup and its limits (podcgroup.py)
CGROUP_SCALARS = ("cgroup_parent", "cpus", "cpu_shares", "cpuset_cpus", "cpuset_mems", "memory", "memory_swap",
                  "blkio_weight")
CGROUP_LISTS = ("blkio_weight_device", "device_read_bps", "device_write_bps")


class PodCreateOptions(Record):
    """The options of `pod create`, as given (validated by PodEngine.create)."""

    FIELDS = {
        "name": None, "infra": True, "infra_image": None, "infra_command": None, "infra_name": None,
        "infra_conmon_pidfile": None,
        "share": None, "share_parent": True, "publish": list, "network": list, "hostname": None,
        "add_host": list, "dns": list, "dns_search": list, "dns_option": list, "labels": list,
        "label_files": list, "userns": None, "volumes": list, "exit_policy": "continue", "replace": False,
        "network_alias": list, "ip": None, "ip6": None, "mac_address": None, "pod_id_file": None,
        "create_command": list, "no_hosts": False, "shm_size": None, "sysctls": list, "uts": None, "pid": None,
        "security_opts": list, "volumes_from": list, "devices": list, "uidmap": list, "gidmap": list,
        "subuidname": None, "subgidname": None, **{k: None for k in CGROUP_SCALARS},
        **{k: list for k in CGROUP_LISTS},
    }
    __slots__ = tuple(FIELDS)
    name: Optional[str]
    infra: bool
    infra_image: Optional[str]
    infra_command: Optional[str]
    infra_name: Optional[str]
    infra_conmon_pidfile: Optional[str]
    share: Optional[str]
    share_parent: bool
    publish: list[str]
    network: list[str]
    hostname: Optional[str]
    add_host: list[str]
    dns: list[str]
    dns_search: list[str]
    dns_option: list[str]
    labels: list[str]
    label_files: list[str]
    userns: Optional[str]
    volumes: list[str]
    exit_policy: str
    replace: bool
    network_alias: list[str]
    ip: Optional[str]
    ip6: Optional[str]
    mac_address: Optional[str]
    pod_id_file: Optional[str]
    create_command: list[str]
    no_hosts: bool
    shm_size: Optional[str]
    sysctls: list[str]
    uts: Optional[str]
    pid: Optional[str]
    security_opts: list[str]
    volumes_from: list[str]
    devices: list[str]
    uidmap: list[str]
    gidmap: list[str]
    subuidname: Optional[str]
    subgidname: Optional[str]
    cgroup_parent: Optional[str]
    cpus: Optional[str]
    cpu_shares: Optional[str]
    cpuset_cpus: Optional[str]
    cpuset_mems: Optional[str]
    memory: Optional[str]
    memory_swap: Optional[str]
    blkio_weight: Optional[str]
    blkio_weight_device: list[str]
    device_read_bps: list[str]
    device_write_bps: list[str]
