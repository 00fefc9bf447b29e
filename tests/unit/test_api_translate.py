"""The API's translations: Docker's create bodies -> podpy's CreateOptions (checked by the
same create() rules as the CLI's flags), and podpy's records -> Docker's inspect and list shapes."""

import json

import pytest

from podpy import options as opt
from podpy.api.errors import BadParameter
from podpy.api.shapes import inspect, list_entry, status_text
from podpy.api.translate import create_options, port_spec

# what docker 20.10's `docker run` sends for `-d -p 8080:80 busybox sleep 1`: every field, mostly zero
DOCKER_20_BODY = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
    "AttachStderr": False, "ExposedPorts": {"80/tcp": {}}, "Tty": False, "OpenStdin": False, "StdinOnce": False,
    "Env": [], "Cmd": ["sleep", "1"], "Image": "busybox", "Volumes": {}, "WorkingDir": "", "Entrypoint": None,
    "OnBuild": None, "Labels": {},
    "HostConfig": {
        "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": {}}, "NetworkMode": "default",
        "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": False, "VolumeDriver": "",
        "VolumesFrom": None, "CapAdd": None, "CapDrop": None, "CgroupnsMode": "", "Dns": [], "DnsOptions": [],
        "DnsSearch": [], "ExtraHosts": None, "GroupAdd": None, "IpcMode": "", "Cgroup": "", "Links": None,
        "OomScoreAdj": 0, "PidMode": "", "Privileged": False, "PublishAllPorts": False, "ReadonlyRootfs": False,
        "SecurityOpt": None, "UTSMode": "", "UsernsMode": "", "ShmSize": 0, "ConsoleSize": [0, 0],
        "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0,
        "BlkioWeightDevice": [], "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
        "CpusetCpus": "", "CpusetMems": "", "Devices": [], "DeviceCgroupRules": None, "DeviceRequests": None,
        "KernelMemory": 0, "KernelMemoryTCP": 0, "MemoryReservation": 0, "MemorySwap": 0,
        "MemorySwappiness": -1, "OomKillDisable": False, "PidsLimit": None, "Ulimits": None, "CpuCount": 0,
        "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "MaskedPaths": None, "ReadonlyPaths": None,
        "Init": None},
    "NetworkingConfig": {"EndpointsConfig": {}},
}


def test_docker_20_run_body_zero_values_are_not_given():
    o = create_options(json.loads(json.dumps(DOCKER_20_BODY)), name="web")
    assert (o.image, o.command, o.name) == ("busybox", ["sleep", "1"], "web")
    assert o.publish == ["8080:80/tcp"] and o.expose == []
    assert o.network == [] and o.restart is None and o.remove is False
    assert (o.memory, o.cpus, o.pids_limit, o.shm_size, o.memory_swappiness) == (None, None, None, None, None)
    assert o.entrypoint is None and o.log_driver is None and o.init is False
    assert o.pull == "never"   # docker's client pulls on a 404 itself


def test_host_config_becomes_the_flags_podpy_has():
    body = {"Image": "busybox", "Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hi"], "Env": ["A=1"],
            "Labels": {"k": "v"}, "User": "1000:1000", "WorkingDir": "/w", "Tty": True, "OpenStdin": True,
            "StopSignal": "SIGINT", "StopTimeout": 3, "Volumes": {"/data": {}},
            "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 2_000_000_000, "Retries": 2,
                            "Timeout": 500_000_000},
            "HostConfig": {"Binds": ["/src:/dst:ro"], "Memory": 536870912, "NanoCpus": 1_500_000_000,
                           "PidsLimit": 100, "CapAdd": ["NET_ADMIN"], "CapDrop": ["CHOWN"], "Privileged": True,
                           "SecurityOpt": ["no-new-privileges"], "Tmpfs": {"/run": "size=1m", "/t": ""},
                           "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}}, "Init": True,
                           "ExtraHosts": ["h:1.2.3.4", "g=5.6.7.8"], "Dns": ["9.9.9.9"], "AutoRemove": True,
                           "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
                           "NetworkMode": "mynet", "PublishAllPorts": True,
                           "Mounts": [{"Type": "bind", "Source": "/", "Target": "/b", "ReadOnly": True},
                                      {"Type": "tmpfs", "Target": "/tm",
                                       "TmpfsOptions": {"SizeBytes": 1024, "Mode": 0o1777}}],
                           "Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 20}]},
            "NetworkingConfig": {"EndpointsConfig": {"mynet": {"Aliases": ["web"],
                                                               "IPAMConfig": {"IPv4Address": "10.1.0.5"}}}}}
    o = create_options(body)
    assert o.entrypoint == '["/bin/sh", "-c"]' and opt.parse_entrypoint(o.entrypoint) == ["/bin/sh", "-c"]
    assert o.command == ["echo hi"] and o.env == ["A=1"] and o.labels == ["k=v"]
    assert (o.user, o.workdir, o.tty, o.interactive) == ("1000:1000", "/w", True, True)
    assert (o.stop_signal, o.stop_timeout) == ("SIGINT", "3")
    assert o.health_cmd == "true" and o.health_interval == "2s" and o.health_timeout == "500ms"
    assert o.health_retries == "2"
    assert o.volumes == ["/data", "/src:/dst:ro"]
    assert (o.memory, o.cpus, o.pids_limit) == ("536870912", "1.5", "100")
    assert o.cap_add == ["NET_ADMIN"] and o.cap_drop == ["CHOWN"] and o.privileged
    assert o.tmpfs == ["/run:size=1m", "/t"]
    assert o.log_driver == "json-file" and o.log_opts == ["max-size=1m"]
    assert o.add_hosts == ["h:1.2.3.4", "g:5.6.7.8"] and o.dns == ["9.9.9.9"]
    assert o.remove and o.restart == "on-failure:3" and o.publish_all and o.init
    assert o.network == ["mynet"] and o.network_aliases == ["web"] and o.ip == "10.1.0.5"
    assert o.mounts == ["type=bind,source=/,target=/b,readonly", "type=tmpfs,target=/tm,tmpfs-size=1024,tmpfs-mode=1777"]
    for m in o.mounts:   # what create() will make of them
        opt.parse_mount(m)
    assert o.ulimits == ["nofile=10:20"]


def test_healthcheck_none_and_exec_form():
    assert create_options({"Image": "x", "Healthcheck": {"Test": ["NONE"]}}).no_healthcheck
    o = create_options({"Image": "x", "Healthcheck": {"Test": ["CMD", "curl", "-f", "x"]}})
    assert json.loads(o.health_cmd) == ["curl", "-f", "x"]


def test_entrypoint_cleared_by_an_empty_string():
    assert opt.parse_entrypoint(create_options({"Image": "x", "Entrypoint": [""]}).entrypoint) == []


@pytest.mark.parametrize("body, field", [
    ({"Image": "x", "Env": "A=1"}, "Env"),
    ({"Image": "x", "Cmd": "ls"}, None),
    ({"Image": "x", "Cmd": [1, 2]}, "Cmd"),
    ({"Image": "x", "HostConfig": {"Memory": "1g"}}, "HostConfig.Memory"),
    ({"Image": "x", "HostConfig": {"Memory": True}}, "HostConfig.Memory"),
    ({"Image": "x", "HostConfig": {"Privileged": "yes"}}, "HostConfig.Privileged"),
    ({"Image": "x", "HostConfig": {"PortBindings": {"80/tcp": "8080"}}}, "PortBindings"),
    ({"Image": "x", "HostConfig": []}, "HostConfig"),
    ({"Image": "x", "Labels": {"a": 1}}, "Labels"),
    ({"Image": 5}, "Image"),
    ({}, "Image"),
    ([], "object"),
])
def test_wrong_types_are_a_400_naming_the_field(body, field):
    with pytest.raises(BadParameter) as err:
        create_options(body)
    assert err.value.status == 400
    if field:
        assert field in err.value.message


def test_links_are_parsed_in_each_form():
    from podpy.api.translate import links

    body = {"Image": "x", "HostConfig": {"Links": ["proj_db_1:db", "cache", "/web_1:/proj_run_1/web"]}}
    assert links(body) == [("proj_db_1", "db"), ("cache", "cache"), ("web_1", "web")]
    assert create_options(body).add_hosts == []   # resolved by the create route, against the store
    assert links({"Image": "x"}) == [] and links({"Image": "x", "HostConfig": {"Links": None}}) == []
    with pytest.raises(BadParameter, match="Links"):
        links({"Image": "x", "HostConfig": {"Links": "db"}})


@pytest.mark.parametrize("port, binding, spec", [
    ("80/tcp", {"HostIp": "", "HostPort": "8080"}, "8080:80/tcp"),
    ("80/udp", {"HostIp": "127.0.0.1", "HostPort": "53"}, "127.0.0.1:53:80/udp"),
    ("80", {"HostIp": "", "HostPort": ""}, "80/tcp"),
    ("80/tcp", {"HostIp": "0.0.0.0", "HostPort": ""}, "0.0.0.0::80/tcp"),
    ("80/tcp", {"HostIp": "::1", "HostPort": "9"}, "[::1]:9:80/tcp"),
])
def test_port_bindings_as_publish_values(port, binding, spec):
    from podpy.network.options import parse_publish

    assert port_spec(port, binding) == spec
    assert parse_publish(spec)   # what create() makes of it


PODMAN_DOC = {
    "Id": "a" * 64, "Created": "2026-01-01T00:00:00Z", "Path": "sleep", "Args": ["9"],
    "State": {"OciVersion": "1.0.2", "Status": "stopped", "Running": False, "Paused": False, "ExitCode": 3,
              "Pid": 0, "CgroupPath": "/x", "StartedAt": "", "FinishedAt": ""},
    "Image": "b" * 64, "Name": "web", "Mounts": [{"Type": "bind", "Source": "/a", "Destination": "/b",
                                                   "Options": ["rbind"], "RW": True}],
    "Config": {"Entrypoint": "", "Cmd": ["sleep", "9"], "CreateCommand": ["podpy"], "Labels": {}},
    "HostConfig": {"LogConfig": {"Type": "k8s-file", "Config": None, "Path": "/p"}},
    "NetworkSettings": {"IPAddress": "10.0.2.100", "Gateway": "10.0.2.2", "IPPrefixLen": 24,
                        "Ports": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}},
}


def test_inspect_in_dockers_shape():
    doc = inspect(json.loads(json.dumps(PODMAN_DOC)))
    assert doc["Name"] == "/web" and doc["Image"] == "sha256:" + "b" * 64
    assert doc["State"]["Status"] == "exited" and doc["State"]["ExitCode"] == 3
    assert "OciVersion" not in doc["State"]
    assert doc["Config"]["Entrypoint"] is None and "CreateCommand" not in doc["Config"]
    assert doc["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {}}
    assert doc["NetworkSettings"]["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}
    assert doc["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == "10.0.2.100"
    assert doc["Mounts"] == [{"Type": "bind", "Source": "/a", "Destination": "/b", "RW": True}]
    assert doc["Path"] == "sleep" and doc["Args"] == ["9"]
    # podman repeats a one-word command as its argument; Docker's Args leave it out
    one = inspect({**json.loads(json.dumps(PODMAN_DOC)), "Path": "true", "Args": ["true"]})
    assert one["Path"] == "true" and one["Args"] == []
    assert doc["State"]["Restarting"] is False and doc["State"]["Running"] is False
    # a restart of its policy pending: Docker's restarting, which counts as running
    pending = inspect(json.loads(json.dumps(PODMAN_DOC)), restarting=True)["State"]
    assert (pending["Status"], pending["Running"], pending["Restarting"], pending["ExitCode"]) == \
        ("restarting", True, True, 3)
    assert status_text("restarting", 100, 200, 3, now=202) == "Restarting (3) 2 seconds ago"


def test_restart_pending_follows_the_policy():
    from types import SimpleNamespace

    from podpy.engine.cleanup import restart_pending

    def rec(policy, state="exited", code=1, restarts=0, stopping=False, remove=False, detached=True):
        return SimpleNamespace(state=state, exit_code=code, restarts=restarts, stopping=stopping, detached=detached,
                               config=SimpleNamespace(restart=policy, remove=remove))

    assert restart_pending(rec("always")) and restart_pending(rec("unless-stopped", code=0))
    assert restart_pending(rec("on-failure:3", restarts=2)) and not restart_pending(rec("on-failure:3", restarts=3))
    assert not restart_pending(rec("on-failure", code=0)) and not restart_pending(rec("no"))
    assert not restart_pending(rec("always", stopping=True))   # stopped by a stop: not brought back
    assert not restart_pending(rec("always", state="running")) and not restart_pending(rec("always", remove=True))


def test_list_entry_and_status():
    entry = list_entry({"Id": "c" * 64, "Names": ["web"], "Image": "busybox", "ImageID": "d" * 64,
                        "Command": ["sleep", "9"], "Created": 10, "State": "running", "StartedAt": 100,
                        "ExitedAt": -1, "Ports": [{"host_ip": "", "container_port": 80, "host_port": 8080,
                                                   "range": 2, "protocol": "tcp"}], "Labels": {"a": "b"}})
    assert entry["Names"] == ["/web"] and entry["Command"] == "sleep 9" and entry["State"] == "running"
    assert entry["Ports"] == [{"PrivatePort": 80, "Type": "tcp", "IP": "0.0.0.0", "PublicPort": 8080},
                              {"PrivatePort": 81, "Type": "tcp", "IP": "0.0.0.0", "PublicPort": 8081}]
    assert status_text("running", 100, None, None, now=105) == "Up 5 seconds"
    assert status_text("paused", 100, None, None, now=105) == "Up 5 seconds (Paused)"
    assert status_text("stopped", 100, 200, 2, now=260) == "Exited (2) About a minute ago"
    assert status_text("created", None, None, None) == "Created"


def test_a_command_that_cannot_run_is_worded_as_dockers_daemon_words_it():
    """The docker CLI exits 127 on `executable file not found` or `no such file or directory`,
    126 on `permission denied`: the Docker routes' message; the libpod routes keep podpy's."""
    import errno

    from podpy.api.errors import from_engine
    from podpy.errors import translate
    from rootless.errors import ExecError

    missing = translate(ExecError("nosuchcmd", errno.ENOENT))
    err = from_engine(missing)
    assert err.status == 400
    assert err.message == 'unable to start container process: exec: "nosuchcmd": executable file not found in $PATH'
    assert "no such file or directory" in from_engine(translate(ExecError("/bin/nope", errno.ENOENT))).message
    assert from_engine(translate(ExecError("/etc", errno.EACCES))).message.endswith('exec: "/etc": permission denied')
    assert from_engine(missing, docker=False).message == str(missing)   # podpy's own words
    assert "`nosuchcmd`" in str(missing)
