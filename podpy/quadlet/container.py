"""A .container file -> a Type=notify service that runs the container detached under the
service's cgroup (`podpy run --name=systemd-%N --cidfile=%t/%N.cid --replace --rm
--cgroups=split --sdnotify=conmon -d ...`), and the pieces .pod, .kube, .build and .volume
files share with it (networks, volumes, user namespaces, published ports, logging)."""

from __future__ import annotations

import os

from .common import Conversion, Fatal, UnitInfo, container_name, extension

AUTO_UPDATE_LABEL = "io.containers.autoupdate"
RM = "/bin/rm"


def is_port_range(text: str) -> bool:
    """80, 8000-8010, 53/udp (what --expose takes)."""
    ports, _, proto = text.partition("/")
    first, dash, last = ports.partition("-")
    return (proto in ("", "udp", "tcp") and (proto != "" or "/" not in text) and first.isdigit()
            and (not dash or last.isdigit()))

# key -> flag, for keys taken once (the last value)
_STRINGS = (("Timezone", "--tz"), ("PidsLimit", "--pids-limit"), ("ShmSize", "--shm-size"),
            ("Entrypoint", "--entrypoint"), ("WorkingDir", "--workdir"), ("IP", "--ip"), ("IP6", "--ip6"),
            ("HostName", "--hostname"), ("StopSignal", "--stop-signal"), ("StopTimeout", "--stop-timeout"),
            ("Pull", "--pull"), ("Memory", "--memory"), ("Retry", "--retry"), ("RetryDelay", "--retry-delay"))
# key -> flag, once per value
_ALL_STRINGS = (("NetworkAlias", "--network-alias"), ("Ulimit", "--ulimit"), ("DNS", "--dns"),
                ("DNSOption", "--dns-option"), ("DNSSearch", "--dns-search"), ("GroupAdd", "--group-add"),
                ("AddHost", "--add-host"), ("Tmpfs", "--tmpfs"))
_BOOLS = (("RunInit", "--init"), ("EnvironmentHost", "--env-host"), ("ReadOnlyTmpfs", "--read-only-tmpfs"))
_HEALTH = (("HealthCmd", "cmd"), ("HealthInterval", "interval"), ("HealthOnFailure", "on-failure"),
           ("HealthLogDestination", "log-destination"), ("HealthMaxLogCount", "max-log-count"),
           ("HealthMaxLogSize", "max-log-size"), ("HealthRetries", "retries"), ("HealthStartPeriod", "start-period"),
           ("HealthTimeout", "timeout"), ("HealthStartupCmd", "startup-cmd"),
           ("HealthStartupInterval", "startup-interval"), ("HealthStartupRetries", "startup-retries"),
           ("HealthStartupSuccess", "startup-success"), ("HealthStartupTimeout", "startup-timeout"))


def fully_qualified(image: str) -> bool:
    """A name with its registry (quay.io/x, localhost/x, host:5000/x) or an image id, as
    podman's generator tells them (without the reference parser, which a generator need not load)."""
    if image.startswith("sha256:") or (len(image) == 64 and all(ch in "0123456789abcdef" for ch in image)):
        return True
    domain, slash, _rest = image.partition("/")
    return bool(slash) and ("." in domain or ":" in domain or domain == "localhost")


def add_strings(c: Conversion, argv: list[str], table) -> None:  # type: ignore[no-untyped-def]
    for key, flag in table:
        value = c.unit.lookup(c.section, key)
        if value:
            argv += [flag, value]


def add_all_strings(c: Conversion, argv: list[str], table) -> None:  # type: ignore[no-untyped-def]
    for key, flag in table:
        for value in c.unit.lookup_all(c.section, key):
            argv += [flag, value]


def add_bools(c: Conversion, argv: list[str], table) -> None:  # type: ignore[no-untyped-def]
    for key, flag in table:
        value = c.unit.lookup_bool(c.section, key)
        if value is not None:
            argv.append(flag if value else f"{flag}=false")


def add_key_values(c: Conversion, argv: list[str], table) -> None:  # type: ignore[no-untyped-def]
    for key, flag in table:
        pairs = c.unit.lookup_key_values(c.section, key)
        for k in sorted(pairs):
            argv += [flag, f"{k}={pairs[k]}"]


def add_networks(c: Conversion, argv: list[str]) -> None:
    """Network=: a .network file's network (the service required and after), a .container
    file's container's network namespace, or a podpy network mode as it is."""
    for value in c.unit.lookup_all(c.section, "Network"):
        name, colon, options = value.partition(":")
        if extension(name) in (".network", ".container"):
            info = c.referenced(name, "Network")
            if not info.resource_name:
                raise Fatal(f"Network={value}: the name of what {name} makes depends on systemd's specifiers "
                            f"in [{c.section}] of {c.unit.filename}")
            c.require(info)
            if name.endswith(".container"):
                if colon:
                    raise Fatal(f"Network={value}: options cannot be given when joining another container's "
                                f"network in [{c.section}] of {c.unit.filename}")
                value = f"container:{info.resource_name}"
            else:
                value = info.resource_name + (f":{options}" if colon else "")
        argv += ["--network", value]


def storage_source(c: Conversion, source: str, images: bool) -> str:
    """A volume's or mount's source: a path (required mounted), a .volume (or .image) file's
    resource (its service required and after), or a named volume."""
    if source.startswith("."):
        source = c.absolute(source)
    if source.startswith("/"):
        c.service.add("Unit", "RequiresMountsFor", source)
    elif source.endswith(".volume") or (images and source.endswith(".image")):
        info = c.referenced(source, "Mount" if images else "Volume")
        c.require(info)
        source = info.resource_name
    return source


def add_volumes(c: Conversion, argv: list[str]) -> None:
    for value in c.unit.lookup_all(c.section, "Volume"):
        parts = value.split(":", 2)
        source, dest = (parts[0], parts[1]) if len(parts) >= 2 else ("", parts[0])
        options = ":" + parts[2] if len(parts) == 3 else ""
        if source:
            source = storage_source(c, source, images=False)
            argv += ["-v", f"{source}:{dest}{options}"]
        else:
            argv += ["-v", dest]


def add_user_mappings(c: Conversion, argv: list[str], manual: bool) -> None:
    """UserNS=, UIDMap=, GIDMap=, SubUIDMap=, SubGIDMap=, or the older RemapUsers= keys."""
    u = c.unit
    defined = False
    userns = u.lookup(c.section, "UserNS")
    if userns:
        argv += ["--userns", userns]
        defined = True
    for key, flag in (("UIDMap", "--uidmap"), ("GIDMap", "--gidmap")):
        for value in u.lookup_all_words(c.section, key):
            argv += [flag, value]
            defined = True
    for key, flag in (("SubUIDMap", "--subuidname"), ("SubGIDMap", "--subgidname")):
        value = u.lookup(c.section, key)
        if value:
            argv += [flag, value]
            defined = True
    remap = u.lookup(c.section, "RemapUsers") or ""
    uids, gids = u.lookup_all_words(c.section, "RemapUid"), u.lookup_all_words(c.section, "RemapGid")
    if defined:
        if remap or uids or gids:
            c.problem("the older Remap keys are set along with UserNS=/UIDMap=/GIDMap=")
        return
    if remap == "":
        if uids or gids:
            c.problem(f"{'RemapUid' if uids else 'RemapGid'}= is set without RemapUsers=")
    elif remap == "manual":
        if not manual:
            c.key_problem("RemapUsers", "manual is not supported here")
        for value in uids:
            argv += ["--uidmap", value]
        for value in gids:
            argv += ["--gidmap", value]
    elif remap == "auto":
        opts = [f"uidmapping={m}" for m in uids] + [f"gidmapping={m}" for m in gids]
        size = u.lookup_uint(c.section, "RemapUidSize")
        if size:
            opts.append(f"size={size}")
        argv += ["--userns", "auto" + (":" + ",".join(opts) if opts else "")]
    elif remap == "keep-id":
        if len(uids) > 1 or len(gids) > 1:
            c.key_problem("RemapUsers", "keep-id takes one RemapUid= and one RemapGid= at most")
        opts = [f"uid={uids[0]}"] if uids else []
        opts += [f"gid={gids[0]}"] if gids else []
        argv += ["--userns", "keep-id" + (":" + ",".join(opts) if opts else "")]
    else:
        c.key_problem("RemapUsers", "expected manual, auto or keep-id")


def add_publish(c: Conversion, argv: list[str]) -> None:
    for value in c.unit.lookup_all(c.section, "PublishPort"):
        argv += ["--publish", value.strip()]


def add_logging(c: Conversion, argv: list[str]) -> None:
    driver = c.unit.lookup(c.section, "LogDriver")
    if driver is not None:
        argv += ["--log-driver", driver]
    for value in c.unit.lookup_all_words(c.section, "LogOpt"):
        argv += ["--log-opt", value]


def image_source(c: Conversion, image: str, key: str = "Image") -> str:
    """Image=: an .image or .build file's image (its service required and after), or a name."""
    if image.endswith((".image", ".build")):
        info = c.referenced(image, key)
        c.require(info)
        return info.resource_name
    return image


def kill_mode(c: Conversion) -> None:
    """Only mixed and control-group stop a container's processes well; mixed by default."""
    mode = c.service.lookup("Service", "KillMode")
    if mode is None:
        c.service.set("Service", "KillMode", "mixed")
    elif mode not in ("mixed", "control-group"):
        c.problem(f"KillMode={mode}: only mixed or control-group stop a container well", 
                  c.unit.lookup_line("Service", "KillMode"))


def service_type(c: Conversion) -> str:
    kind = c.service.lookup("Service", "Type")
    if kind is not None and kind not in ("notify", "oneshot"):
        c.problem(f"Type={kind}: a container's service is Type=notify (or oneshot)",
                  c.unit.lookup_line("Service", "Type"))
    return kind or "notify"


def convert_container(c: Conversion) -> None:
    u, sec, svc = c.unit, "Container", c.service
    image, rootfs = u.value(sec, "Image"), u.value(sec, "Rootfs")
    if not image and not rootfs:
        raise Fatal(f"neither Image= nor Rootfs= is set in [Container] of {u.filename}")
    if image and rootfs:
        raise Fatal(f"Image= and Rootfs= cannot both be set in [Container] of {u.filename}")
    if image:
        if not image.endswith((".image", ".build")) and not fully_qualified(image):
            c.warnings.append(f"{u.filename} names the image {image!r}, which is not a fully qualified name: "
                              "which registry it comes from depends on registries.conf")
        image = image_source(c, image)
    name = container_name(u)
    svc.add("Service", "Environment", "PODMAN_SYSTEMD_UNIT=%n")
    kill_mode(c)
    # ExecStop removes the container; ExecStopPost again in case the monitor was killed (then
    # systemd skips ExecStop), ignoring failure
    stop = c.base_command() + ["rm", "-v", "-f", "-i", "--cidfile=%t/%N.cid"]
    svc.add_command("Service", "ExecStop", stop)
    svc.add_command("Service", "ExecStopPost", ["-" + stop[0], *stop[1:]])
    # podpy keeps a cid file when its container goes, as podman 4.3 does (4.4 removes it), and
    # `run --cidfile` refuses one that exists: the unit clears it, as `generate systemd`'s do
    svc.add("Service", "ExecStopPost", f"{RM} -f %t/%N.cid")
    svc.add("Service", "ExecStartPre", f"{RM} -f %t/%N.cid")
    reload_command(c, name)

    argv = c.base_command() + ["run", f"--name={name}", "--cidfile=%t/%N.cid", "--replace", "--rm"]
    add_logging(c, argv)
    svc.add("Service", "Delegate", "yes")
    cgroups = u.lookup(sec, "CgroupsMode")
    argv.append(f"--cgroups={cgroups}" if cgroups else "--cgroups=split")
    add_strings(c, argv, _STRINGS)
    add_all_strings(c, argv, _ALL_STRINGS)
    add_bools(c, argv, _BOOLS)
    add_networks(c, argv)
    if service_type(c) != "oneshot":
        notify = u.value(sec, "Notify")
        if notify.lower() == "healthy":
            argv.append("--sdnotify=healthy")
        elif notify and u.lookup_bool(sec, "Notify"):
            argv.append("--sdnotify=container")
        else:
            argv.append("--sdnotify=conmon")
        svc.set("Service", "Type", "notify")
        svc.set("Service", "NotifyAccess", "all")
        argv.append("-d")
    if not u.has("Service", "SyslogIdentifier"):
        svc.set("Service", "SyslogIdentifier", "%N")
    if u.lookup_bool(sec, "NoNewPrivileges"):
        argv.append("--security-opt=no-new-privileges")
    if u.lookup_bool(sec, "SecurityLabelDisable"):
        argv += ["--security-opt", "label=disable"]
    if u.lookup_bool(sec, "SecurityLabelNested"):
        argv += ["--security-opt", "label=nested"]
    for key, what in (("SecurityLabelType", "type"), ("SecurityLabelFileType", "filetype"),
                      ("SecurityLabelLevel", "level")):
        value = u.lookup(sec, key)
        if value:
            argv += ["--security-opt", f"label={what}:{value}"]
    for device in u.lookup_all_words(sec, "AddDevice"):
        if device.startswith("-"):      # optional: only when the host has it
            device = device[1:]
            if not os.path.exists(device.split(":")[0]):
                continue
        argv += ["--device", device]
    seccomp = u.lookup(sec, "SeccompProfile")
    if seccomp is not None:
        argv += ["--security-opt", f"seccomp={seccomp}"]
    for cap in u.lookup_all_words(sec, "DropCapability"):
        argv += ["--cap-drop", cap.lower()]
    for cap in u.lookup_all_words(sec, "AddCapability"):
        argv += ["--cap-add", cap.lower()]
    for value in u.lookup_all_words(sec, "Sysctl"):
        argv += ["--sysctl", value]
    read_only = u.lookup_bool(sec, "ReadOnly")
    if read_only is not None:
        argv.append("--read-only" if read_only else "--read-only=false")
    if u.lookup_bool(sec, "VolatileTmp") and not read_only:
        argv += ["--tmpfs", "/tmp:rw,size=512M,mode=1777"]
    user, group = u.value(sec, "User"), u.value(sec, "Group")
    if group and not user:
        c.key_problem("Group", "Group= is set without User=")
    elif user:
        argv += ["--user", f"{user}:{group}" if group else user]
    add_user_mappings(c, argv, manual=True)
    add_volumes(c, argv)
    update = u.lookup(sec, "AutoUpdate")
    if update:
        if update not in ("registry", "local"):
            c.key_problem("AutoUpdate", "expected registry or local")
        argv += ["--label", f"{AUTO_UPDATE_LABEL}={update}"]
    for port in u.lookup_all(sec, "ExposeHostPort"):
        port = port.strip()
        if not is_port_range(port):
            c.problem(f"ExposeHostPort={port}: not a port or a range of ports (such as 80, 8000-8010/udp)",
                      u.lookup_line(sec, "ExposeHostPort"))
            continue
        argv += ["--expose", port]
    add_publish(c, argv)
    add_key_values(c, argv, (("Environment", "--env"), ("Label", "--label"), ("Annotation", "--annotation")))
    for value in u.lookup_all_words(sec, "Mask"):
        argv += ["--security-opt", f"mask={value}"]
    for value in u.lookup_all_words(sec, "Unmask"):
        argv += ["--security-opt", f"unmask={value}"]
    for value in u.lookup_all_words(sec, "EnvironmentFile"):
        argv += ["--env-file", c.absolute(value)]
    for value in u.lookup_all_words(sec, "Secret"):
        argv += ["--secret", value]
    for value in u.lookup_all_words(sec, "Mount"):
        argv += ["--mount", mount_source(c, value)]
    for key, what in _HEALTH:
        value = u.lookup(sec, key)
        if value:
            argv += [f"--health-{what}", value]
    add_pod(c, argv)
    argv += u.lookup_all_words(sec, "PodmanArgs")
    argv += [image] if image else ["--rootfs", rootfs]
    argv += u.lookup_last_words(sec, "Exec") or []
    svc.add_command("Service", "ExecStart", argv)


def reload_command(c: Conversion, name: str) -> None:
    signal = c.unit.value(c.section, "ReloadSignal")
    command = c.unit.lookup_last_words(c.section, "ReloadCmd")
    if signal and command:
        c.problem("ReloadCmd= and ReloadSignal= cannot both be set")
        return
    if command:
        c.service.add_command("Service", "ExecReload", c.base_command() + ["exec", name, *command])
    elif signal:
        c.service.add_command("Service", "ExecReload", c.base_command() + ["kill", "--signal", signal, name])


def mount_source(c: Conversion, value: str) -> str:
    """Mount=: the source of a volume, bind, glob or image mount resolved like Volume='s."""
    import csv
    import io

    fields = next(csv.reader([value]))
    kind = ""
    rest = []
    for f in fields:
        k, _, v = f.partition("=")
        if k == "type" and not kind:
            kind = v
        else:
            rest.append(f)
    if not kind:
        raise Fatal(f"Mount={value}: type= is missing in [Container] of {c.unit.filename}")
    if kind not in ("volume", "bind", "glob", "image"):
        return value
    for i, f in enumerate(rest):
        k, eq, v = f.partition("=")
        if k in ("source", "src"):
            if not eq:
                raise Fatal(f"Mount={value}: source has no value in [Container] of {c.unit.filename}")
            rest[i] = "source=" + storage_source(c, v, images=True)
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([f"type={kind}", *rest])
    return out.getvalue()


def add_pod(c: Conversion, argv: list[str]) -> None:
    pod = c.unit.value(c.section, "Pod")
    if not pod:
        return
    if not pod.endswith(".pod"):
        raise Fatal(f"Pod={pod}: not a .pod file (a Quadlet container joins a Quadlet pod) in [Container] of "
                    f"{c.unit.filename}")
    info: UnitInfo = c.referenced(pod, "Pod")
    argv += ["--pod", info.resource_name]
    c.require(info, "BindsTo")
    if c.unit.lookup_bool(c.section, "StartWithPod") is not False:
        info.containers_to_start.append(c.service.filename)
