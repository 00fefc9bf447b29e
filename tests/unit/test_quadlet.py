"""The Quadlet generator on directories of unit files: each key's translation for every file
type, the services' shape, dependencies between files, drop-ins, templates, and the
problems (unknown keys, bad values, missing keys and files, cycles) that make a unit fail
at start with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from podpy.quadlet.generator import generate
from podpy.quadlet.unitfile import UnitFile, split_words

PODPY = "/usr/bin/podpy"

# what a file of each type needs besides the key under test
BASE = {
    "container": "Image=localhost/bbx\n",
    "volume": "",
    "network": "",
    "pod": "",
    "kube": "Yaml=/srv/app.yaml\n",
    "image": "Image=quay.io/x/y:1\n",
    "build": "ImageTag=localhost/built\nFile=/srv/Containerfile\n",
}
COMMAND = {"container": "ExecStart", "volume": "ExecStart", "network": "ExecStart", "pod": "ExecStartPre",
           "kube": "ExecStart", "image": "ExecStart", "build": "ExecStart"}


def run(tmp_path: Path, files: dict[str, str], user: bool = True):  # type: ignore[no-untyped-def]
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return generate([str(tmp_path)], user, [PODPY])


def service(result, name: str) -> UnitFile:  # type: ignore[no-untyped-def]
    return UnitFile.parse(result.units[name], name)


def argv(unit: UnitFile, key: str = "ExecStart") -> list[str]:
    values = unit.lookup_all("Service", key)
    assert values, f"no {key}= in {unit.filename}"
    return split_words(values[-1])


def contains(seq: list[str], part: list[str]) -> bool:
    return any(seq[i:i + len(part)] == part for i in range(len(seq) - len(part) + 1))


# (type, key lines, the words expected in the type's podpy command, in this order)
TRANSLATIONS = [
    ("container", "AddCapability=NET_ADMIN SYS_TIME", ["--cap-add", "net_admin", "--cap-add", "sys_time"]),
    ("container", "AddDevice=/dev/null:/dev/x", ["--device", "/dev/null:/dev/x"]),
    ("container", "AddDevice=-/dev/does-not-exist", ["localhost/bbx"]),
    ("container", "AddHost=db:10.0.0.2", ["--add-host", "db:10.0.0.2"]),
    ("container", "Annotation=a=1 b=2", ["--annotation", "a=1", "--annotation", "b=2"]),
    ("container", "AutoUpdate=registry", ["--label", "io.containers.autoupdate=registry"]),
    ("container", "CgroupsMode=no-conmon", ["--cgroups=no-conmon"]),
    ("container", "ContainerName=web1", ["run", "--name=web1"]),
    ("container", "ContainersConfModule=/etc/m.conf", [PODPY, "--module=/etc/m.conf", "run"]),
    ("container", "DNS=1.1.1.1\nDNSOption=ndots:2\nDNSSearch=example.com",
     ["--dns", "1.1.1.1", "--dns-option", "ndots:2", "--dns-search", "example.com"]),
    ("container", "DropCapability=ALL", ["--cap-drop", "all"]),
    ("container", "Entrypoint=/bin/sh", ["--entrypoint", "/bin/sh"]),
    ("container", 'Environment=A=1 "B=two words"', ["--env", "A=1", "--env", "B=two words"]),
    ("container", "EnvironmentFile=env.list", ["--env-file", "{dir}/env.list"]),
    ("container", "EnvironmentHost=yes", ["--env-host"]),
    ("container", "Exec=sh -c 'echo hi'", ["localhost/bbx", "sh", "-c", "echo hi"]),
    ("container", "ExposeHostPort=8000-8010/udp", ["--expose", "8000-8010/udp"]),
    ("container", "GIDMap=0:1:100", ["--gidmap", "0:1:100"]),
    ("container", "GlobalArgs=--log-level=debug", [PODPY, "--log-level=debug", "run"]),
    ("container", "User=1000\nGroup=100", ["--user", "1000:100"]),
    ("container", "GroupAdd=keep-groups", ["--group-add", "keep-groups"]),
    ("container", "HealthCmd=true\nHealthInterval=5s\nHealthOnFailure=kill\nHealthRetries=2\nHealthStartPeriod=1s\n"
                  "HealthTimeout=3s",
     ["--health-cmd", "true", "--health-interval", "5s", "--health-on-failure", "kill", "--health-retries", "2",
      "--health-start-period", "1s", "--health-timeout", "3s"]),
    ("container", "HealthLogDestination=/tmp/h\nHealthMaxLogCount=3\nHealthMaxLogSize=100",
     ["--health-log-destination", "/tmp/h", "--health-max-log-count", "3", "--health-max-log-size", "100"]),
    ("container", "HealthStartupCmd=true\nHealthStartupInterval=1s\nHealthStartupRetries=3\n"
                  "HealthStartupSuccess=2\nHealthStartupTimeout=9s",
     ["--health-startup-cmd", "true", "--health-startup-interval", "1s", "--health-startup-retries", "3",
      "--health-startup-success", "2", "--health-startup-timeout", "9s"]),
    ("container", "HostName=box", ["--hostname", "box"]),
    ("container", "IP=10.88.0.5\nIP6=fd00::5", ["--ip", "10.88.0.5", "--ip6", "fd00::5"]),
    ("container", "Label=app=web", ["--label", "app=web"]),
    ("container", "LogDriver=k8s-file\nLogOpt=max-size=1m", ["--log-driver", "k8s-file", "--log-opt", "max-size=1m"]),
    ("container", "Mask=/proc/kcore", ["--security-opt", "mask=/proc/kcore"]),
    ("container", "Memory=64m", ["--memory", "64m"]),
    ("container", "Mount=type=tmpfs,destination=/run/x", ["--mount", "type=tmpfs,destination=/run/x"]),
    ("container", "Mount=type=bind,source=./data,destination=/d", ["--mount", "type=bind,source={dir}/data,destination=/d"]),
    ("container", "Network=host", ["--network", "host"]),
    ("container", "NetworkAlias=web", ["--network-alias", "web"]),
    ("container", "NoNewPrivileges=true", ["--security-opt=no-new-privileges"]),
    ("container", "Notify=true", ["--sdnotify=container", "-d"]),
    ("container", "Notify=healthy", ["--sdnotify=healthy", "-d"]),
    ("container", "PidsLimit=100", ["--pids-limit", "100"]),
    ("container", "PodmanArgs=--tty --init", ["--tty", "--init", "localhost/bbx"]),
    ("container", "PublishPort=8080:80", ["--publish", "8080:80"]),
    ("container", "Pull=never", ["--pull", "never"]),
    ("container", "ReadOnly=true\nReadOnlyTmpfs=false", ["--read-only-tmpfs=false"]),
    ("container", "ReadOnly=yes", ["--read-only"]),
    ("container", "ReloadSignal=SIGHUP", []),
    ("container", "RemapUsers=keep-id\nRemapUid=1000", ["--userns", "keep-id:uid=1000"]),
    ("container", "Retry=3\nRetryDelay=2s", ["--retry", "3", "--retry-delay", "2s"]),
    ("container", "RunInit=yes", ["--init"]),
    ("container", "SeccompProfile=/etc/s.json", ["--security-opt", "seccomp=/etc/s.json"]),
    ("container", "Secret=token,type=env", ["--secret", "token,type=env"]),
    ("container", "SecurityLabelDisable=true\nSecurityLabelNested=true\nSecurityLabelType=t\n"
                  "SecurityLabelFileType=f\nSecurityLabelLevel=s0",
     ["--security-opt", "label=disable", "--security-opt", "label=nested", "--security-opt", "label=type:t",
      "--security-opt", "label=filetype:f", "--security-opt", "label=level:s0"]),
    ("container", "ShmSize=128m", ["--shm-size", "128m"]),
    ("container", "StopSignal=SIGINT\nStopTimeout=5", ["--stop-signal", "SIGINT", "--stop-timeout", "5"]),
    ("container", "SubUIDMap=alice\nSubGIDMap=alice", ["--subuidname", "alice", "--subgidname", "alice"]),
    ("container", "Sysctl=net.ipv4.ip_forward=1", ["--sysctl", "net.ipv4.ip_forward=1"]),
    ("container", "Timezone=UTC", ["--tz", "UTC"]),
    ("container", "Tmpfs=/scratch", ["--tmpfs", "/scratch"]),
    ("container", "UIDMap=0:1:100", ["--uidmap", "0:1:100"]),
    ("container", "Ulimit=nofile=1024:2048", ["--ulimit", "nofile=1024:2048"]),
    ("container", "Unmask=ALL", ["--security-opt", "unmask=ALL"]),
    ("container", "UserNS=keep-id", ["--userns", "keep-id"]),
    ("container", "VolatileTmp=true", ["--tmpfs", "/tmp:rw,size=512M,mode=1777"]),
    ("container", "Volume=/srv/data:/data:ro", ["-v", "/srv/data:/data:ro"]),
    ("container", "Volume=/anon", ["-v", "/anon"]),
    ("container", "WorkingDir=/app", ["--workdir", "/app"]),
    ("container", "Rootfs=/srv/root\nImage=", ["--rootfs", "/srv/root"]),
    ("volume", "Copy=false", ["--opt", "nocopy"]),
    ("volume", "Device=/dev/sdb1\nType=ext4\nOptions=noatime", ["--opt", "device=/dev/sdb1", "--opt", "type=ext4",
                                                                 "--opt", "o=noatime"]),
    ("volume", "Driver=local", ["--driver", "local"]),
    ("volume", "User=1000\nGroup=100", ["--opt", "o=uid=1000,gid=100"]),
    ("volume", "Driver=image\nImage=localhost/bbx", ["--driver", "image", "--opt", "image=localhost/bbx"]),
    ("volume", "Label=a=b", ["--label", "a=b"]),
    ("volume", "VolumeName=shared", ["shared"]),
    ("volume", "PodmanArgs=--ignore", ["--ignore", "--ignore", "systemd-t"]),
    ("network", "DisableDNS=true\nInternal=true\nIPv6=true", ["--disable-dns", "--internal", "--ipv6"]),
    ("network", "DNS=9.9.9.9", ["--dns", "9.9.9.9"]),
    ("network", "Driver=bridge\nIPAMDriver=host-local\nInterfaceName=br9",
     ["--driver", "bridge", "--ipam-driver", "host-local", "--interface-name", "br9"]),
    ("network", "Subnet=10.9.0.0/24\nGateway=10.9.0.1\nIPRange=10.9.0.128/25\nSubnet=10.10.0.0/24",
     ["--subnet", "10.9.0.0/24", "--gateway", "10.9.0.1", "--ip-range", "10.9.0.128/25", "--subnet", "10.10.0.0/24"]),
    ("network", "Options=mtu=1400\nLabel=a=b", ["--opt", "mtu=1400", "--label", "a=b"]),
    ("network", "NetworkName=appnet", ["network", "create", "--ignore", "appnet"]),
    ("pod", "AddHost=db:10.0.0.2\nDNS=1.1.1.1\nDNSOption=ndots:1\nDNSSearch=x.org\nHostName=podhost",
     ["--dns", "1.1.1.1", "--dns-option", "ndots:1", "--dns-search", "x.org", "--add-host", "db:10.0.0.2",
      "--hostname", "podhost"]),
    ("pod", "ExitPolicy=continue", ["--exit-policy", "continue"]),
    ("pod", "IP=10.88.0.9\nIP6=fd00::9\nShmSize=1g", ["--ip", "10.88.0.9", "--ip6", "fd00::9", "--shm-size", "1g"]),
    ("pod", "Label=tier=web\nPublishPort=80:80\nNetworkAlias=w\nNetwork=host",
     ["--publish", "80:80", "--label", "tier=web", "--network", "host", "--network-alias", "w"]),
    ("pod", "PodName=mypod", ["--infra-name", "mypod-infra", "--name", "mypod"]),
    ("pod", "UIDMap=0:1:10\nGIDMap=0:1:10\nSubUIDMap=a\nSubGIDMap=a",
     ["--uidmap", "0:1:10", "--gidmap", "0:1:10", "--subuidname", "a", "--subgidname", "a"]),
    ("pod", "UserNS=auto", ["--userns", "auto"]),
    ("pod", "Volume=/srv:/srv", ["-v", "/srv:/srv"]),
    ("pod", "PodmanArgs=--share=net", ["--share=net"]),
    ("kube", "AutoUpdate=registry\nAutoUpdate=web/local", ["--annotation=io.containers.autoupdate=registry",
                                                            "--annotation=io.containers.autoupdate/web=local"]),
    ("kube", "ConfigMap=cm.yaml", ["--configmap", "{dir}/cm.yaml"]),
    ("kube", "ExitCodePropagation=all", ["--service-exit-code-propagation=all"]),
    ("kube", "LogDriver=journald\nLogOpt=tag=x", ["--log-driver", "journald", "--log-opt", "tag=x"]),
    ("kube", "Network=host\nPublishPort=8080:80", ["--network", "host", "--publish", "8080:80"]),
    ("kube", "UserNS=auto", ["--userns", "auto"]),
    ("kube", "RemapUsers=auto\nRemapUidSize=500", ["--userns", "auto:size=500"]),
    ("kube", "PodmanArgs=--no-hosts", ["--no-hosts", "/srv/app.yaml"]),
    ("kube", "GlobalArgs=--root=/x", [PODPY, "--root=/x", "kube", "play"]),
    ("image", "AllTags=true\nTLSVerify=false", ["--all-tags", "--tls-verify=false"]),
    ("image", "Arch=arm64\nOS=linux\nVariant=v8", ["--arch", "arm64", "--os", "linux", "--variant", "v8"]),
    ("image", "AuthFile=/a.json\nCertDir=/certs\nCreds=u:p\nDecryptionKey=/k.pem",
     ["--authfile", "/a.json", "--cert-dir", "/certs", "--creds", "u:p", "--decryption-key", "/k.pem"]),
    ("image", "Retry=5\nRetryDelay=1s", ["--retry", "5", "--retry-delay", "1s", "quay.io/x/y:1"]),
    ("image", "ImageTag=quay.io/x/y:stable", ["image", "pull", "quay.io/x/y:1"]),
    ("image", "PodmanArgs=--quiet", ["--quiet", "quay.io/x/y:1"]),
    ("build", "Annotation=a=1\nLabel=l=1\nEnvironment=E=1",
     ["--env", "E=1", "--label", "l=1", "--annotation", "a=1"]),
    ("build", "Arch=amd64\nAuthFile=/a.json\nTarget=final\nVariant=v2",
     ["--arch", "amd64", "--authfile", "/a.json", "--target", "final", "--variant", "v2"]),
    ("build", "DNS=1.1.1.1\nDNSOption=ndots:0\nDNSSearch=s.org\nGroupAdd=wheel",
     ["--dns", "1.1.1.1", "--dns-option", "ndots:0", "--dns-search", "s.org", "--group-add", "wheel"]),
    ("build", "ForceRM=false\nTLSVerify=true", ["--tls-verify", "--force-rm=false"]),
    ("build", "Network=host\nSecret=id=s,src=/s\nVolume=/c:/c", ["--network", "host", "--secret", "id=s,src=/s",
                                                                  "-v", "/c:/c"]),
    ("build", "Pull=never", ["build", "--pull=never"]),
    ("build", "Retry=2\nRetryDelay=3s", ["--retry", "2", "--retry-delay", "3s"]),
    ("build", "SetWorkingDirectory=/ctx", ["--file", "/srv/Containerfile", "/ctx"]),
    ("build", "SetWorkingDirectory=https://github.com/x/y.git", ["https://github.com/x/y.git"]),
]


@pytest.mark.parametrize("kind, lines, expected", TRANSLATIONS,
                         ids=[f"{k}:{v.splitlines()[0]}" for k, v, _ in TRANSLATIONS])
def test_each_key_translates_to_its_flag(tmp_path, kind, lines, expected):
    result = run(tmp_path, {f"t.{kind}": f"[{kind.capitalize()}]\n{BASE[kind]}{lines}\n"})
    assert not result.problems, result.problems
    [name] = result.units
    words = argv(service(result, name), COMMAND[kind])
    expected = [w.replace("{dir}", str(tmp_path)) for w in expected]
    assert contains(words, expected), f"{expected} not in {words}"


def test_every_key_of_every_section_is_in_the_table():
    """The table above exercises every key the generator accepts (the deprecated older keys
    by RemapUsers=)."""
    from podpy.quadlet.keys import TYPES

    tested = {(kind, line.split("=", 1)[0]) for kind, lines, _ in TRANSLATIONS for line in lines.splitlines()}
    tested |= {(k, key) for k in BASE for key in ("ServiceName",)}
    tested |= {("container", k) for k in ("Pod", "StartWithPod", "ReloadCmd", "RemapGid")}
    tested |= {("kube", k) for k in ("Yaml", "KubeDownForce", "SetWorkingDirectory", "ContainersConfModule",
                                     "RemapUid", "RemapGid", "RemapUsers")}
    tested |= {(k, key) for k in BASE for key in BASE[k].replace("\n", " ").split() for key in [key.split("=")[0]]}
    tested |= {(k, key) for k in ("volume", "network", "pod", "image", "build")
               for key in ("ContainersConfModule", "GlobalArgs", "PodmanArgs")}
    tested |= {("network", "NetworkDeleteOnStop"), ("volume", "Image"), ("volume", "Type"), ("volume", "Options"),
               ("pod", "RemapUid"), ("pod", "RemapGid"), ("pod", "RemapUidSize"), ("pod", "RemapUsers"),
               ("container", "RemapUidSize"), ("build", "File"), ("build", "ImageTag")}
    missing = {(ext[1:], key) for ext, (_s, keys, _x, _o) in TYPES.items() for key in keys} - tested
    assert not missing, sorted(missing)


def test_container_service_has_quadlets_shape(tmp_path):
    result = run(tmp_path, {"web.container": "[Unit]\nDescription=web\n[Container]\nImage=localhost/bbx\n"
                                             "Exec=httpd -f\n[Install]\nWantedBy=default.target\n"})
    unit = service(result, "web.service")
    assert argv(unit)[:9] == [PODPY, "run", "--name=systemd-%N", "--cidfile=%t/%N.cid", "--replace", "--rm",
                              "--cgroups=split", "--sdnotify=conmon", "-d"]
    assert argv(unit)[-3:] == ["localhost/bbx", "httpd", "-f"]
    assert argv(unit, "ExecStop") == [PODPY, "rm", "-v", "-f", "-i", "--cidfile=%t/%N.cid"]
    assert unit.lookup_all("Service", "ExecStopPost") == [f"-{PODPY} rm -v -f -i --cidfile=%t/%N.cid",
                                                          "/bin/rm -f %t/%N.cid"]
    assert unit.lookup_all("Service", "ExecStartPre") == ["/bin/rm -f %t/%N.cid"]
    for key, value in (("Type", "notify"), ("NotifyAccess", "all"), ("KillMode", "mixed"), ("Delegate", "yes"),
                       ("SyslogIdentifier", "%N"), ("Environment", "PODMAN_SYSTEMD_UNIT=%n")):
        assert unit.lookup("Service", key) == value, key
    assert unit.lookup_all("Unit", "Wants")[0] == "podpy-user-wait-network-online.service"
    assert unit.lookup("Unit", "SourcePath") == str(tmp_path / "web.container")
    assert unit.lookup("Unit", "RequiresMountsFor") == "%t/podpy"
    assert unit.lookup("Unit", "Description") == "web"
    assert unit.lookup("X-Container", "Image") == "localhost/bbx" and not unit.has_section("Container")
    assert result.symlinks == [("default.target.wants/web.service", "../web.service")]
    assert result.units["web.service"].startswith("#\n# Automatically generated by podpy quadlet")


def test_system_units_wait_for_network_online_target_and_may_opt_out(tmp_path):
    result = run(tmp_path, {"a.container": "[Container]\nImage=x/y\n",
                            "b.container": "[Container]\nImage=x/y\n[Quadlet]\nDefaultDependencies=false\n"},
                 user=False)
    assert service(result, "a.service").lookup_all("Unit", "After")[0] == "network-online.target"
    assert "network-online.target" not in result.units["b.service"]
    assert service(result, "b.service").lookup("X-Quadlet", "DefaultDependencies") == "false"


def test_oneshot_services_of_resources(tmp_path):
    result = run(tmp_path, {"n.network": "[Network]\nNetworkDeleteOnStop=true\n", "v.volume": "[Volume]\n",
                            "i.image": "[Image]\nImage=quay.io/a/b\n",
                            "b.build": "[Build]\nImageTag=localhost/b\nFile=Containerfile\nSetWorkingDirectory=unit\n",
                            "p.pod": "[Pod]\n", "k.kube": "[Kube]\nYaml=k.yaml\nKubeDownForce=true\n"})
    assert set(result.units) == {"n-network.service", "v-volume.service", "i-image.service", "b-build.service",
                                 "p-pod.service", "k.service"}
    for name in ("n-network.service", "v-volume.service", "i-image.service"):
        unit = service(result, name)
        assert (unit.lookup("Service", "Type"), unit.lookup("Service", "RemainAfterExit")) == ("oneshot", "yes")
    assert argv(service(result, "n-network.service"), "ExecStopPost") == [PODPY, "network", "rm", "systemd-n"]
    build = service(result, "b-build.service")
    assert build.lookup("Service", "RemainAfterExit") is None
    assert build.lookup("Service", "WorkingDirectory") == str(tmp_path)
    assert argv(build)[-3:] == ["--file", "Containerfile", str(tmp_path)]
    pod = service(result, "p-pod.service")
    assert argv(pod) == [PODPY, "pod", "start", "systemd-p"]
    assert argv(pod, "ExecStop") == [PODPY, "pod", "stop", "--ignore", "--time=10", "systemd-p"]
    assert argv(pod, "ExecStopPost") == [PODPY, "pod", "rm", "--ignore", "--force", "systemd-p"]
    assert argv(pod, "ExecStartPre")[:6] == [PODPY, "pod", "create", "--infra-conmon-pidfile=%t/%N.pid",
                                             "--replace", "--exit-policy"]
    assert (pod.lookup("Service", "Type"), pod.lookup("Service", "PIDFile")) == ("forking", "%t/%N.pid")
    kube = service(result, "k.service")
    assert argv(kube)[:5] == [PODPY, "kube", "play", "--replace", "--service-container=true"]
    assert argv(kube, "ExecStopPost") == [PODPY, "kube", "down", "--force", str(tmp_path / "k.yaml")]
    assert (kube.lookup("Service", "Type"), kube.lookup("Service", "KillMode")) == ("notify", "mixed")


def test_dependencies_resolve_to_services_and_resource_names(tmp_path):
    result = run(tmp_path, {
        "web.container": "[Unit]\nAfter=db.container\n[Container]\nImage=app.image\nNetwork=net.network:ip=10.0.0.5\n"
                         "Volume=data.volume:/data\nMount=type=volume,source=data.volume,destination=/m\n"
                         "Pod=p.pod\n",
        "side.container": "[Container]\nImage=built.build\nNetwork=web.container\nPod=p.pod\nStartWithPod=false\n",
        "db.container": "[Container]\nImage=x/db\nContainerName=database\n",
        "net.network": "[Network]\nNetworkName=appnet\n", "data.volume": "[Volume]\n",
        "app.image": "[Image]\nImage=quay.io/a/app:1\n", "built.build": "[Build]\nImageTag=localhost/b\nFile=/C\n",
        "p.pod": "[Pod]\nServiceName=thepod\n"})
    assert not result.problems, result.problems
    web = service(result, "web.service")
    words = argv(web)
    for part in (["--network", "appnet:ip=10.0.0.5"], ["-v", "systemd-data:/data"],
                 ["--mount", "type=volume,source=systemd-data,destination=/m"], ["--pod", "systemd-p"]):
        assert contains(words, part), part
    assert words[-1] == "quay.io/a/app:1"
    assert web.lookup_all("Unit", "Requires") == ["app-image.service", "net-network.service", "data-volume.service",
                                                  "data-volume.service"]
    assert "db.service" in web.lookup_all("Unit", "After") and "thepod.service" in web.lookup_all("Unit", "After")
    assert web.lookup("Unit", "BindsTo") == "thepod.service"
    side = service(result, "side.service")
    assert contains(argv(side), ["--network", "container:systemd-web"]) and argv(side)[-1] == "localhost/b"
    pod = service(result, "thepod.service")
    assert pod.lookup_all("Unit", "Wants")[1:] == ["web.service"]   # not side: StartWithPod=false


def test_templates_and_instances(tmp_path):
    (tmp_path / "w@.container").write_text("[Container]\nImage=x/y\nExec=echo %i\n[Install]\nWantedBy=default.target\n"
                                           "DefaultInstance=one\n")
    (tmp_path / "w@two.container").symlink_to("w@.container")
    (tmp_path / "w@.container.d").mkdir()
    (tmp_path / "w@.container.d" / "env.conf").write_text("[Container]\nEnvironment=T=1\n")
    result = run(tmp_path, {})
    assert set(result.units) == {"w@.service", "w@two.service"}
    assert contains(argv(service(result, "w@two.service")), ["--name=systemd-%p_%i"])
    assert contains(argv(service(result, "w@two.service")), ["--env", "T=1"])
    assert ("default.target.wants/w@one.service", "../w@.service") in result.symlinks
    assert ("default.target.wants/w@two.service", "../w@two.service") in result.symlinks


def test_dropins_merge_in_name_order_with_the_most_specific_winning(tmp_path):
    files = {"web-app.container": "[Container]\nImage=x/y\nMemory=1g\n",
             "container.d/10-all.conf": "[Container]\nLabel=all=1\nMemory=2g\n",
             "web-.container.d/20-prefix.conf": "[Container]\nLabel=prefix=1\n",
             "web-app.container.d/30-own.conf": "[Container]\nMemory=3g\n[Service]\nRestart=always\n",
             "web-app.container.d/10-all.conf": "[Container]\nLabel=own=1\n",
             "web-app.container.d/ignored.txt": "[Container]\nMemory=9g\n"}
    result = run(tmp_path, files)
    unit = service(result, "web-app.service")
    words = argv(unit)
    assert contains(words, ["--memory", "3g"]) and "9g" not in words
    assert contains(words, ["--label", "own=1", "--label", "prefix=1"]) and "all=1" not in " ".join(words)
    assert unit.lookup("Service", "Restart") == "always"


def test_dirs_search_order_and_quadlet_unit_dirs(tmp_path, monkeypatch):
    from podpy.quadlet.generator import unit_dirs

    config = tmp_path / "cfg"
    (config / "podpy" / "systemd" / "sub").mkdir(parents=True)
    (config / "podpy" / "systemd" / "sub" / "x.d").mkdir()
    env = {"XDG_CONFIG_HOME": str(config), "HOME": str(tmp_path)}
    dirs = unit_dirs(True, env, uid=1234)
    assert dirs[:2] == [str(config / "podpy/systemd"), str(config / "podpy/systemd/sub")]
    assert dirs[2:] == ["/etc/podpy/systemd/users/1234", "/etc/podpy/systemd/users"]
    assert unit_dirs(False, {}) == ["/etc/podpy/systemd", "/usr/share/podpy/systemd"]
    assert unit_dirs(True, {"QUADLET_UNIT_DIRS": f"{tmp_path}/a:{tmp_path}/b"}) == [f"{tmp_path}/a", f"{tmp_path}/b"]
    with pytest.raises(ValueError, match="not an absolute path"):
        unit_dirs(True, {"QUADLET_UNIT_DIRS": "relative/dir"})
    # the first directory's file hides the same name in a later one
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "s.container").write_text("[Container]\nImage=first/image\n")
    (tmp_path / "b" / "s.container").write_text("[Container]\nImage=second/image\n")
    result = generate([str(tmp_path / "a"), str(tmp_path / "b")], True, [PODPY])
    assert argv(service(result, "s.service"))[-1] == "first/image"


PROBLEMS = [
    ({"web.container": "[Container]\nImage=x/y\n\n\n\n\nMemroy=64m\n"},
     "unknown key Memroy= in [Container] of web.container, line 7 (did you mean Memory=?)"),
    ({"web.container": "[Container]\nImage=x/y\n[Contaner]\nFoo=1\n"}, "unknown section [Contaner] in web.container"),
    ({"web.container": "[Container]\nImage=x/y\nReadOnly=maybe\n"},
     "ReadOnly=maybe: 'maybe' is not a boolean (yes/no, true/false, on/off, 1/0) in [Container] of web.container, "
     "line 3"),
    ({"web.container": "[Container]\nExec=true\n"}, "neither Image= nor Rootfs= is set in [Container] of web.container"),
    ({"web.container": "[Container]\nImage=x/y\nNetwork=missing.network\n"},
     "Network=missing.network: missing.network is not a Quadlet file found in the unit directories"),
    ({"web.container": "[Container]\nImage=x/y\nVolume=gone.volume:/d\n"}, "gone.volume is not a Quadlet file"),
    ({"web.container": "[Container]\nImage=x/y\nGroup=100\n"}, "Group=100: Group= is set without User="),
    ({"web.container": "[Container]\nImage=x/y\nExposeHostPort=http\n"}, "ExposeHostPort=http: not a port"),
    ({"web.container": "[Container]\nImage=x/y\n[Service]\nKillMode=process\n"}, "KillMode=process: only mixed"),
    ({"web.container": "[Container]\nImage=x/y\n[Service]\nType=simple\n"}, "Type=simple"),
    ({"web.container": "[Container]\nImage=x/y\nEnvironment=NOEQUALS\n"}, "'NOEQUALS' is not KEY=VALUE"),
    ({"web.container": "Image=x/y\n"}, "Image= is outside any [Section]"),
    ({"web.container": "[Container]\nImage=x/y\njust words\n"}, "web.container, line 3: not a key=value line"),
    ({"web.container": "[Container]\nImage=x/y\n", "web.container.d/a.conf": "[Container\n"},
     "web.container.d/a.conf, line 1: invalid section header"),
    ({"k.kube": "[Kube]\n"}, "Yaml= is not set in [Kube] of k.kube"),
    ({"i.image": "[Image]\nTLSVerify=1\n"}, "Image= is not set in [Image] of i.image"),
    ({"b.build": "[Build]\nFile=/C\n"}, "ImageTag= is not set in [Build] of b.build"),
    ({"n.network": "[Network]\nGateway=10.0.0.1\n"}, "Gateway=10.0.0.1: needs Subnet="),
    ({"v.volume": "[Volume]\nType=ext4\n"}, "Type=ext4: Type= needs Device="),
    ({"web.container": "[Container]\nImage=x/y\nPod=notapod\n"}, "Pod=notapod: not a .pod file"),
    ({"web.container": "[Unit]\nWants=nothere.container\n[Container]\nImage=x/y\n"},
     "nothere.container is not a Quadlet file found in the unit directories in [Unit] of web.container, line 2"),
    ({"a.container": "[Container]\nImage=x/y\nNetwork=b.container\n",
      "b.container": "[Container]\nImage=x/y\nNetwork=a.container\n"},
     "dependency cycle: a.container -> b.container -> a.container"),
]


@pytest.mark.parametrize("files, message", PROBLEMS, ids=[m[:40] for _f, m in PROBLEMS])
def test_a_problem_still_makes_a_unit_that_fails_at_start_saying_why(tmp_path, files, message):
    result = run(tmp_path, files)
    problems = [p for ps in result.problems.values() for p in ps]
    assert any(message in p for p in problems), problems
    first = sorted(files)[0]
    unit = service(result, next(n for n in result.units if n.startswith(first.split(".")[0])))
    pre = unit.lookup_all("Service", "ExecStartPre")
    assert any(message in split_words(line)[1] for line in pre[:-1] if split_words(line)[0] == "/bin/echo"), pre
    assert "/bin/false" in pre
    assert unit.lookup_all("Service", "ExecStart"), "a unit that cannot start still has an ExecStart="


def test_a_file_that_does_not_parse_has_that_one_problem(tmp_path):
    result = run(tmp_path, {"web.container": "[Container]\nImage=x/y\nbroken\n"})
    assert result.problems == {"web.container": ["web.container, line 3: not a key=value line: 'broken'"]}


def test_problem_text_is_literal_to_systemd(tmp_path):
    result = run(tmp_path, {"w.container": "[Container]\nImage=x/y\nMem%ory$=1\n"})
    line = service(result, "w.service").lookup_all("Service", "ExecStartPre")[0]
    assert "Mem%%ory$$=" in line


def test_words_and_booleans():
    assert split_words(r'''a "b c" 'd e' f\ g "h\"i"''') == ["a", "b c", "d e", "f g", 'h"i']
    unit = UnitFile.parse("[S]\nA=yes\nB=Off\nL=1\nL=\nL=2\nL=3\nC=x \\\n  y\n", "t.container")
    assert (unit.lookup_bool("S", "A"), unit.lookup_bool("S", "B")) == (True, False)
    assert unit.lookup_all("S", "L") == ["2", "3"]
    assert unit.lookup("S", "C") == "x y"


def test_subdirectories_and_other_users_directories(tmp_path):
    from podpy.quadlet.generator import _with_subdirs

    users = tmp_path / "users"
    for d in ("1000", "1001", "shared/deeper", "web.container.d"):
        (users / d).mkdir(parents=True)
    found = _with_subdirs(str(users), skip=lambda top, name: top == str(users) and name.isdigit())
    assert found == [str(users), str(users / "shared"), str(users / "shared/deeper")]


def test_short_image_names_are_a_warning_not_a_problem(tmp_path):
    result = run(tmp_path, {"a.container": "[Container]\nImage=busybox\n",
                            "b.container": "[Container]\nImage=localhost/busybox\n",
                            "c.container": "[Container]\nImage=quay.io:443/x/y:1\n"})
    assert not result.problems
    assert result.warnings == ["a.container names the image 'busybox', which is not a fully qualified name: "
                               "which registry it comes from depends on registries.conf"]
