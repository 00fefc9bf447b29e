"""The .volume, .network, .image and .build files (oneshot services that make the resource
once) and the .pod and .kube files (services that run a pod, a Kubernetes YAML)."""

from __future__ import annotations

import os

from .common import Conversion, Fatal
from .container import (add_all_strings, add_bools, add_key_values, add_logging, add_networks, add_publish,
                        add_strings, add_user_mappings, add_volumes, image_source, kill_mode, service_type)



def is_url(text: str) -> bool:
    """What podman takes for a URL here: http(s)://, git:// or github.com/..."""
    return text.startswith(("http://", "https://", "git://")) or (text.startswith("github.com/") and len(text) > 11)


def convert_volume(c: Conversion) -> None:
    u, sec = c.unit, "Volume"
    name = c.info.resource_name
    argv = c.base_command() + ["volume", "create", "--ignore"]
    driver = u.lookup(sec, "Driver")
    if driver is not None:
        argv += ["--driver", driver]
    opts: list[str] = []
    if driver == "image":
        image = u.value(sec, "Image")
        if not image:
            raise Fatal(f"Image= is required with Driver=image in [Volume] of {u.filename}")
        opts.append("image=" + image_source(c, image))
        argv += ["--opt", ",".join(opts)]
    else:
        for key, what in (("User", "uid"), ("Group", "gid")):
            if u.has(sec, key):
                opts.append(f"{what}={u.lookup_uint(sec, key) or 0}")
        copy = u.lookup_bool(sec, "Copy")
        if copy is not None:
            argv += ["--opt", "copy" if copy else "nocopy"]
        device = u.value(sec, "Device")
        if device:
            argv += ["--opt", f"device={device}"]
        kind = u.value(sec, "Type")
        if kind:
            if not device:
                c.key_problem("Type", "Type= needs Device=")
            else:
                argv += ["--opt", f"type={kind}"]
                if kind == "bind":
                    c.service.add("Unit", "RequiresMountsFor", device)
        options = u.value(sec, "Options")
        if options:
            if not device:
                c.key_problem("Options", "Options= needs Device=")
            else:
                opts.append(options)
        if opts:
            argv += ["--opt", "o=" + ",".join(opts)]
    add_key_values(c, argv, (("Label", "--label"),))
    argv += u.lookup_all_words(sec, "PodmanArgs")
    argv.append(name)
    c.service.add_command("Service", "ExecStart", argv)
    c.oneshot(remain=True)


def convert_network(c: Conversion) -> None:
    u, sec = c.unit, "Network"
    name = c.info.resource_name
    if u.lookup_bool(sec, "NetworkDeleteOnStop"):
        c.service.add_command("Service", "ExecStopPost", c.base_command() + ["network", "rm", name])
    argv = c.base_command() + ["network", "create", "--ignore"]
    add_bools(c, argv, (("DisableDNS", "--disable-dns"), ("Internal", "--internal"), ("IPv6", "--ipv6")))
    add_strings(c, argv, (("Driver", "--driver"), ("IPAMDriver", "--ipam-driver"),
                          ("InterfaceName", "--interface-name")))
    add_all_strings(c, argv, (("DNS", "--dns"),))
    subnets, gateways, ranges = (u.lookup_all(sec, k) for k in ("Subnet", "Gateway", "IPRange"))
    if subnets:
        if len(gateways) > len(subnets):
            c.key_problem("Gateway", "more Gateway= than Subnet= lines")
        if len(ranges) > len(subnets):
            c.key_problem("IPRange", "more IPRange= than Subnet= lines")
        for i, subnet in enumerate(subnets):
            argv += ["--subnet", subnet]
            if i < len(gateways):
                argv += ["--gateway", gateways[i]]
            if i < len(ranges):
                argv += ["--ip-range", ranges[i]]
    elif gateways or ranges:
        c.key_problem("Gateway" if gateways else "IPRange", "needs Subnet=")
    add_key_values(c, argv, (("Options", "--opt"), ("Label", "--label")))
    argv += u.lookup_all_words(sec, "PodmanArgs")
    argv.append(name)
    c.service.add_command("Service", "ExecStart", argv)
    c.oneshot(remain=True)


def convert_image(c: Conversion) -> None:
    u, sec = c.unit, "Image"
    image = u.value(sec, "Image")
    if not image:
        raise Fatal(f"Image= is not set in [Image] of {u.filename}")
    argv = c.base_command() + ["image", "pull"]
    add_strings(c, argv, (("Arch", "--arch"), ("AuthFile", "--authfile"), ("CertDir", "--cert-dir"),
                          ("Creds", "--creds"), ("DecryptionKey", "--decryption-key"), ("OS", "--os"),
                          ("Variant", "--variant"), ("Retry", "--retry"), ("RetryDelay", "--retry-delay")))
    add_bools(c, argv, (("AllTags", "--all-tags"), ("TLSVerify", "--tls-verify")))
    argv += u.lookup_all_words(sec, "PodmanArgs")
    argv.append(image)
    c.service.add_command("Service", "ExecStart", argv)
    c.oneshot(remain=True)


def convert_build(c: Conversion) -> None:
    u, sec = c.unit, "Build"
    if not c.info.resource_name:
        raise Fatal(f"ImageTag= is not set in [Build] of {u.filename}")
    argv = c.base_command() + ["build"]
    pull = u.value(sec, "Pull")
    if pull:
        argv.append(f"--pull={pull}")
    add_strings(c, argv, (("Arch", "--arch"), ("AuthFile", "--authfile"), ("Target", "--target"),
                          ("Variant", "--variant"), ("Retry", "--retry"), ("RetryDelay", "--retry-delay")))
    add_bools(c, argv, (("TLSVerify", "--tls-verify"), ("ForceRM", "--force-rm")))
    add_all_strings(c, argv, (("DNS", "--dns"), ("DNSOption", "--dns-option"), ("DNSSearch", "--dns-search"),
                              ("GroupAdd", "--group-add"), ("ImageTag", "--tag")))
    add_key_values(c, argv, (("Environment", "--env"), ("Label", "--label"), ("Annotation", "--annotation")))
    add_networks(c, argv)
    for value in u.lookup_all_words(sec, "Secret"):
        argv += ["--secret", value]
    add_volumes(c, argv)
    context = working_directory(c)
    workdir = c.service.value("Service", "WorkingDirectory")
    path = u.value(sec, "File")
    if not workdir and not path and not context:
        raise Fatal(f"neither SetWorkingDirectory= nor File= is set in [Build] of {u.filename}")
    if path:
        argv += ["--file", path]
    argv += u.lookup_all_words(sec, "PodmanArgs")
    if context:
        argv.append(context)
    elif not os.path.isabs(path) and not is_url(path):
        if not workdir:
            raise Fatal(f"File={path} is relative: it needs SetWorkingDirectory= in [Build] of {u.filename}")
        argv.append(workdir)
    c.service.add_command("Service", "ExecStart", argv)
    c.oneshot(remain=False)


def working_directory(c: Conversion) -> str:
    """SetWorkingDirectory=: yaml (.kube), file (.build), unit, or (.build) a context path or
    URL, which is returned. The service's WorkingDirectory= is set unless the file sets one."""
    value = c.unit.value(c.section, "SetWorkingDirectory")
    if not value:
        return ""
    relative_to, context = "", ""
    word = value.lower()
    if word == "yaml":
        if c.section != "Kube":
            c.key_problem("SetWorkingDirectory", "yaml is for .kube files")
            return ""
        relative_to = c.unit.value(c.section, "Yaml")
    elif word == "file":
        if c.section != "Build":
            c.key_problem("SetWorkingDirectory", "file is for .build files")
            return ""
        relative_to = c.unit.value(c.section, "File")
        if not relative_to:
            raise Fatal(f"SetWorkingDirectory=file needs File= in [Build] of {c.unit.filename}")
    elif word == "unit":
        relative_to = c.unit.path
    else:
        if c.section != "Build":
            c.key_problem("SetWorkingDirectory", "expected yaml or unit")
            return ""
        context = value
        if not os.path.isabs(context):
            relative_to = c.unit.path
    if relative_to and not is_url(context):
        if c.unit.value("Service", "WorkingDirectory"):
            return ""
        c.service.add("Service", "WorkingDirectory", os.path.dirname(c.absolute(relative_to)))
    return context


def convert_kube(c: Conversion) -> None:
    u, sec, svc = c.unit, "Kube", c.service
    yaml = u.value(sec, "Yaml")
    if not yaml:
        raise Fatal(f"Yaml= is not set in [Kube] of {u.filename}")
    yaml = c.absolute(yaml)
    kill_mode(c)
    svc.add("Service", "Environment", "PODMAN_SYSTEMD_UNIT=%n")
    if service_type(c) != "oneshot":
        svc.set("Service", "Type", "notify")
        svc.set("Service", "NotifyAccess", "all")
    if not u.has("Service", "SyslogIdentifier"):
        svc.set("Service", "SyslogIdentifier", "%N")
    argv = c.base_command() + ["kube", "play", "--replace", "--service-container=true"]
    propagation = u.value(sec, "ExitCodePropagation")
    if propagation:
        argv.append(f"--service-exit-code-propagation={propagation}")
    add_logging(c, argv)
    add_user_mappings(c, argv, manual=False)
    add_networks(c, argv)
    for update in u.lookup_all_words(sec, "AutoUpdate"):
        container, slash, kind = update.partition("/")
        key = f"io.containers.autoupdate/{container}" if slash else "io.containers.autoupdate"
        argv.append(f"--annotation={key}={kind if slash else update}")
    for value in u.lookup_all_words(sec, "ConfigMap"):
        argv += ["--configmap", c.absolute(value)]
    add_publish(c, argv)
    argv += u.lookup_all_words(sec, "PodmanArgs")
    argv.append(yaml)
    svc.add_command("Service", "ExecStart", argv)
    down = c.base_command() + ["kube", "down"]
    force = u.lookup_bool(sec, "KubeDownForce")
    if force is not None:
        down.append("--force" if force else "--force=false")
    svc.add_command("Service", "ExecStopPost", down + [yaml])
    working_directory(c)


def convert_pod(c: Conversion) -> None:
    u, sec, svc = c.unit, "Pod", c.service
    name = c.info.resource_name
    for service in c.info.containers_to_start:
        svc.add("Unit", "Wants", service)
        svc.add("Unit", "Before", service)
    if not u.has("Service", "SyslogIdentifier"):
        svc.set("Service", "SyslogIdentifier", "%N")
    svc.add_command("Service", "ExecStart", c.base_command() + ["pod", "start", name])
    svc.add_command("Service", "ExecStop", c.base_command() + ["pod", "stop", "--ignore", "--time=10", name])
    svc.add_command("Service", "ExecStopPost", c.base_command() + ["pod", "rm", "--ignore", "--force", name])
    argv = c.base_command() + ["pod", "create", "--infra-conmon-pidfile=%t/%N.pid", "--replace"]
    argv += ["--exit-policy", u.lookup(sec, "ExitPolicy") or "stop"]
    add_user_mappings(c, argv, manual=True)
    add_publish(c, argv)
    add_key_values(c, argv, (("Label", "--label"),))
    add_networks(c, argv)
    add_strings(c, argv, (("IP", "--ip"), ("IP6", "--ip6"), ("ShmSize", "--shm-size")))
    add_all_strings(c, argv, (("NetworkAlias", "--network-alias"), ("DNS", "--dns"), ("DNSOption", "--dns-option"),
                              ("DNSSearch", "--dns-search"), ("AddHost", "--add-host"), ("HostName", "--hostname")))
    add_volumes(c, argv)
    argv += ["--infra-name", f"{name}-infra", "--name", name]
    argv += u.lookup_all_words(sec, "PodmanArgs")
    svc.add_command("Service", "ExecStartPre", argv)
    svc.set("Service", "Environment", "PODMAN_SYSTEMD_UNIT=%n")
    svc.set("Service", "Type", "forking")
    svc.set("Service", "Restart", "on-failure")
    svc.set("Service", "PIDFile", "%t/%N.pid")
