"""Pods' command line as podman 4.3.1 has it: `--all` with no pods, `pod rm --force` of a missing
pod, `pod create NAME`, `--pod new:NAME --hostname`, an infra container removed with its pod
(`rm --depend`, `rm --all`), a pod's ports in `ps`, `--infra-command` as the entrypoint, a kube
pod's exit policy and podman's words for refused pod options."""

from __future__ import annotations

import re
import time

import pytest


@pytest.fixture
def p(podpy, busybox):
    yield podpy
    podpy("pod", "rm", "-a", "-f", "-t", "0", check=False)
    podpy("rm", "-a", "-f", check=False)


@pytest.mark.parametrize("verb", [["rm", "-a"], ["rm", "-f", "-t", "0", "-a"], ["restart", "-a"], ["stop", "-a"],
                                  ["start", "-a"], ["kill", "-a"], ["pause", "-a"], ["unpause", "-a"]])
def test_all_with_no_pods_does_nothing(p, verb):
    res = p("pod", *verb, check=False)
    assert (res.returncode, res.stdout, res.stderr) == (0, "", "")


def test_pod_rm_force_passes_over_a_missing_pod(p):
    res = p("pod", "rm", "--force", "bogus", check=False)
    assert (res.returncode, res.stdout, res.stderr) == (0, "", "")
    res = p("pod", "rm", "bogus", check=False)
    assert res.returncode == 1 and res.stderr == "Error: no pod with name or ID bogus found: no such pod\n"


def test_pod_create_takes_the_name_as_an_argument(p):
    p("pod", "create", "--share", "ipc", "--network", "private", "test")
    old = p("pod", "inspect", "--format", "{{.Id}}", "test").stdout
    p("pod", "create", "--replace", "test")
    assert p("pod", "inspect", "--format", "{{.Id}}", "test").stdout != old
    res = p("pod", "create", "--name", "foo", "bar", check=False)
    assert res.returncode == 125 and res.stderr == "Error: cannot specify --name and NAME at the same time\n"
    assert p("pod", "ps", "--format", "{{.Name}}").stdout == "test\n"


def test_a_new_pod_takes_the_containers_hostname(p):
    assert p("run", "--rm", "--pod", "new:hp", "--hostname", "foobar", "busybox", "hostname").stdout == "foobar\n"
    assert p("pod", "inspect", "--format", "{{.Hostname}}", "hp").stdout.strip() == "foobar"
    res = p("run", "--rm", "--pod", "hp", "--hostname", "other", "busybox", "hostname", check=False)
    assert res.returncode == 125 and "cannot set hostname when joining the pod UTS namespace" in res.stderr


def test_rm_depend_and_rm_all_remove_an_infra_container_with_its_pod(p):
    member = p("create", "--pod", "new:dp", "busybox", "true").stdout.strip()
    infra = p("pod", "inspect", "--format", "{{.InfraContainerID}}", "dp").stdout.strip()
    res = p("rm", "-f", infra, check=False)
    assert res.returncode == 125 and res.stderr.endswith("and cannot be removed without removing the pod\n")
    assert sorted(p("rm", "--depend", infra).stdout.split()) == sorted([infra, member])
    assert p("pod", "ps", "-q").stdout == "" and p("ps", "-aq").stdout == ""
    one = p("create", "--pod", "new:dp", "busybox", "true").stdout.strip()
    two = p("create", "--pod", "dp", "busybox", "true").stdout.strip()
    alone = p("create", "busybox", "true").stdout.strip()
    infra = p("pod", "inspect", "--format", "{{.InfraContainerID}}", "dp").stdout.strip()
    assert sorted(p("rm", "--force", "--all").stdout.split()) == sorted([infra, one, two, alone])
    assert p("pod", "ps", "-q").stdout == "" and p("ps", "-aq").stdout == ""


def test_ps_shows_the_pods_ports_on_its_containers(p):
    p("pod", "create", "--name", "pp", "--publish", "6234:5234")
    p("create", "--pod", "pp", "--name", "pm", "busybox", "true")
    out = p("ps", "-a", "--format", "{{.Names}} {{.Ports}}").stdout
    assert re.fullmatch(r"[0-9a-f]{12}-infra 0\.0\.0\.0:6234->5234/tcp\npm 0\.0\.0\.0:6234->5234/tcp\n", out)


def test_infra_command_is_the_infra_containers_entrypoint(p):
    p("pod", "create", "--name", "ic", "--infra-command", "/x")
    infra = p("pod", "inspect", "--format", "{{.InfraContainerID}}", "ic").stdout.strip()
    assert p("inspect", "--format", "{{.Config.Entrypoint}} {{.Path}}", infra).stdout == "/x /x\n"
    assert p("inspect", "--format", "{{json .Config.Cmd}}", infra).stdout.strip() in ("null", "[]")


def test_a_kube_pod_stops_with_its_containers(p, tmp_path):
    yaml = tmp_path / "pod.yaml"
    yaml.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: kp\nspec:\n  restartPolicy: Never\n"
                    "  containers:\n  - name: c1\n    image: busybox\n    command: [/bin/sh, -c, exit 0]\n")
    p("play", "kube", yaml)
    assert p("pod", "inspect", "--format", "{{.ExitPolicy}}", "kp").stdout.strip() == "stop"
    for _ in range(100):
        status = p("pod", "ps", "--format", "{{.Status}}").stdout.strip()
        if status == "Exited":
            break
        time.sleep(0.1)
    assert status == "Exited"


def test_refused_pod_options_in_podmans_words(p):
    res = p("pod", "create", "--exit-policy", "invalid", check=False)
    assert res.returncode == 125 and res.stderr == \
        'Error: running pod create option: invalid pod exit policy: "invalid"\n'
    p("create", "--name", "taken", "busybox", "true")
    res = p("pod", "create", "--infra-name", "taken", check=False)
    assert res.returncode == 125 and re.match(r'Error: .*: the container name "taken" is already in use', res.stderr)
    assert p("pod", "ps", "-q").stdout == ""
