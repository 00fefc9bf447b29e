"""Kubernetes YAML <-> podpy's options, without a store: schema checks (paths of bad fields,
warnings for ignored ones), play's mapping to pod and container options, generate's
documents, and one through the other."""

from __future__ import annotations

import json
import re

import pytest

from podpy.engine.podstore import PodConfig
from podpy.errors import InvalidArgument
from podpy.kube import containers, generate, play
from podpy.kube.plan import PlayOptions
from podpy.kube.schema import check, load
from podpy.state import ContainerConfig

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  hostname: box
  hostAliases: [{ip: 10.0.0.9, hostnames: [db, cache]}]
  restartPolicy: OnFailure
  securityContext: {runAsUser: 1000}
  initContainers:
  - {name: prep, image: busybox, command: [sh, -c, "true"]}
  containers:
  - name: srv
    image: busybox
    command: [httpd]
    args: [-f, -p, "80"]
    workingDir: /srv
    env:
    - {name: A, value: "1"}
    - name: B
      valueFrom: {configMapKeyRef: {name: cm, key: b}}
    - name: S
      valueFrom: {secretKeyRef: {name: sec, key: pw}}
    - name: N
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    envFrom:
    - {configMapRef: {name: cm}, prefix: CM_}
    ports: [{containerPort: 80, hostPort: 8080}, {containerPort: 53, hostPort: 5353, protocol: UDP}]
    resources: {limits: {memory: 64Mi, cpu: 500m}}
    securityContext:
      capabilities: {add: [NET_ADMIN], drop: [CAP_CHOWN]}
      runAsGroup: 100
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: host, mountPath: /h, readOnly: true}
    - {name: scratch, mountPath: /s}
    - {name: conf, mountPath: /etc/app}
    - {name: data, mountPath: /sub, subPath: part}
    livenessProbe:
      exec: {command: [cat, /tmp/ok]}
      periodSeconds: 5
      failureThreshold: 2
      initialDelaySeconds: 3
    stdin: true
    tty: true
    imagePullPolicy: Never
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: claim1}}
  - {name: host, hostPath: {path: /srv/www, type: DirectoryOrCreate}}
  - {name: scratch, emptyDir: {}}
  - {name: conf, configMap: {name: cm, items: [{key: b, path: b.conf}]}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {b: bee, c: sea}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
data: {pw: c2VjcmV0}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: claim1}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80, nodePort: 30080}]
"""


def _plan(text: str, **kw):
    docs = load(text)
    warnings = check(docs)
    return play.plan(docs, PlayOptions(**kw), lambda name: f"/vols/{name}/_data"), warnings


def test_a_pod_maps_to_pod_and_container_options():
    plan, warnings = _plan(POD)
    assert warnings == []
    assert plan.claims == ["claim1"]
    (pod,) = plan.pods
    c = pod.create
    assert (c.name, c.hostname, c.labels) == ("web", "box", ["app=web"])
    assert c.publish == ["8080:80/tcp", "5353:53/udp", "30080:80/tcp"]
    assert c.add_host == ["db:10.0.0.9", "cache:10.0.0.9"]
    (init,) = pod.init
    assert init.name == "web-prep" and init.restart == "no" and json.loads(init.entrypoint) == ["sh", "-c", "true"]
    (o,) = pod.containers
    assert o.name == "web-srv" and o.pod == "web" and o.image == "busybox"
    assert json.loads(o.entrypoint) == ["httpd"] and o.command == ["-f", "-p", "80"]
    assert o.env == ["CM_b=bee", "CM_c=sea", "A=1", "B=bee", "S=secret", "N=web"]
    assert (o.workdir, o.restart, o.pull, o.interactive, o.tty) == ("/srv", "on-failure", "never", True, True)
    assert (o.memory, o.cpus) == (str(64 << 20), "0.5")
    assert (o.cap_add, o.cap_drop, o.user) == (["CAP_NET_ADMIN"], ["CAP_CHOWN"], "1000:100")
    assert o.read_only and o.security_opts == ["no-new-privileges"]
    assert o.volumes == ["claim1:/data", "/srv/www:/h:ro", "web-scratch:/s", "web-conf:/etc/app:ro",
                         "/vols/claim1/_data/part:/sub"]
    assert pod.volumes == {"web-scratch": None, "web-conf": {"b.conf": b"bee"}}
    assert pod.host_paths == [("/srv/www", "dir")]
    assert pod.subdirs == ["/vols/claim1/_data/part"]
    assert json.loads(o.health_cmd) == ["CMD", "cat", "/tmp/ok"]
    assert (o.health_interval, o.health_retries, o.health_start_period) == ("5s", "2", "3s")


def test_a_deployment_makes_one_pod_per_replica_and_flags_reach_every_pod():
    text = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: dep}
spec:
  replicas: 3
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec:
      containers: [{name: c, image: busybox}]
"""
    plan, _ = _plan(text, publish=["9000:80"], log_driver="none", network=["slirp4netns"])
    assert [p.name for p in plan.pods] == ["dep-pod-0", "dep-pod-1", "dep-pod-2"]
    assert [p.containers[0].name for p in plan.pods] == ["dep-pod-0-c", "dep-pod-1-c", "dep-pod-2-c"]
    assert all(p.create.publish == ["9000:80"] and p.containers[0].log_driver == "none" for p in plan.pods)
    assert plan.pods[0].containers[0].restart == "always"


def test_strict_refuses_what_would_be_ignored():
    docs = load("kind: ConfigMap\nmetadata: {name: a}\n---\nkind: Job\n")
    assert check(docs) == ["document 2: kind Job ignored: not supported"]
    with pytest.raises(InvalidArgument, match=r"^document 2: kind Job ignored: not supported \(--strict\)$"):
        check(docs, strict=True)


def test_ignored_fields_are_named_by_their_path():
    text = """
apiVersion: v1
kind: Pod
metadata: {name: p, creationTimestamp: null}
spec:
  containers:
  - name: c
    image: busybox
    lifecycle: {postStart: {exec: {command: ["true"]}}}
    readinessProbe: {exec: {command: ["true"]}}
    securityContext: {fsGroup: 2000, seLinuxOptions: {level: "s0:c1,c2"}}
  securityContext: {fsGroup: 2000, seLinuxOptions: {level: "s0:c1,c2"}}
  nodeSelector: {disk: ssd}
status: {}
"""
    docs = load(text)
    assert check(docs) == ["spec.containers[0].lifecycle ignored: not supported",
                           "spec.containers[0].readinessProbe ignored: not supported",
                           "spec.nodeSelector ignored: not supported"]


@pytest.mark.parametrize("text, message", [
    ("kind: Pod\nspec: {containers: [{name: c, image: busybox, ports: [{containerPort: eighty}]}]}",
     "document 1: spec.containers[0].ports[0].containerPort: expected an integer, not a string"),
    ("kind: Pod\nspec: {containers: {name: c}}", "document 1: spec.containers: expected a list, not a mapping"),
    ("kind: Pod\nspec: {containers: [{name: c, image: busybox, env: [{name: A, value: 1}]}]}",
     "document 1: spec.containers[0].env[0].value: expected a string, not an integer"),
    ("kind: ConfigMap\ndata: {a: 1}", "document 1: data.a: expected a string, not an integer"),
])
def test_a_wrong_type_is_one_line_with_its_path(text, message):
    with pytest.raises(InvalidArgument) as info:
        check(load(text))
    assert str(info.value) == message


def test_document_numbers_and_bad_yaml():
    with pytest.raises(InvalidArgument) as info:
        check(load("kind: ConfigMap\nmetadata: {name: a}\n---\nkind: Pod\nspec: 3\n"))
    assert str(info.value) == "document 2: spec: expected a mapping, not an integer"
    with pytest.raises(InvalidArgument) as info:
        load("kind: Pod\n---\nkind: [unclosed\n")
    assert str(info.value).startswith("document 2: invalid YAML at line 4")
    with pytest.raises(InvalidArgument, match="document 1: kind: missing"):
        load("apiVersion: v1\n")
    with pytest.raises(InvalidArgument, match="no documents"):
        load("---\n")


def test_missing_references_fail_before_anything_is_made():
    text = """
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: busybox
    env: [{name: X, valueFrom: {configMapKeyRef: {name: nope, key: k}}}]
"""
    with pytest.raises(InvalidArgument, match=r"spec.containers\[0\].env\[0\].valueFrom.configMapKeyRef: "
                                              "no ConfigMap named 'nope'"):
        _plan(text)
    optional = text.replace("key: k}", "key: k, optional: true}")
    plan, _ = _plan(optional)
    assert plan.pods[0].containers[0].env == []


def test_quantities():
    assert containers.quantity_bytes("64Mi") == 64 << 20
    assert containers.quantity_bytes("1G") == 10**9
    assert containers.quantity_bytes(1024) == 1024
    assert containers.quantity_bytes("129e6") == 129000000
    assert containers.quantity_cpus("250m") == 0.25 and containers.quantity_cpus(2) == 2.0


def _config(**kw) -> ContainerConfig:
    base = dict(command=["-f", "-p", "80"], entrypoint=["httpd"], env=["PATH=/usr/local/sbin:/usr/local/bin:"
                "/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "container=podman", "A=1", "HOME=/root",
                "HOSTNAME=x"])
    base.update(kw)
    return ContainerConfig(**base)


def test_generate_writes_names_kubernetes_takes():
    assert generate.dns_label("My_Web.Pod") == "my-web-pod"
    assert generate.dns_label("__") == "podpy"
    assert len(generate.dns_label("a" * 80)) == 63
    infra = _config(ports=[{"host_ip": "", "host_port": 30080, "container_port": 80, "protocol": "tcp"}],
                    add_hosts=[["db", "10.0.0.9"]])
    members = [
        generate.Member("My_Pod-web", "localhost/busybox:latest", _config(
            cap_add=["NET_ADMIN"], cap_drop=["CHOWN"], user="1000:100", uid=1000, gid=100, read_only=True,
            limits={"memory": str(64 << 20), "cpus": "50000 100000"}, restart="always",
            mounts=[{"destination": "/data", "type": "bind", "source": "/x/_data", "options": ["rbind", "rw"],
                     "volume": "my_vol"},
                    {"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": []}],
            healthcheck={"test": ["CMD-SHELL", "true"], "interval": 5.0, "timeout": 2.0, "start_period": 0.0,
                         "retries": 4}), {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}),
        generate.Member("side_car", "localhost/busybox:latest", _config(entrypoint=[], command=["sleep", "9"]), {}),
    ]
    docs = generate.pod_documents("My_Pod", members, infra, PodConfig(labels={"tier": "front", "bad key": "x"}),
                                  service=True)
    assert [d["kind"] for d in docs] == ["Service", "PersistentVolumeClaim", "Pod"]
    svc, pvc, pod = docs
    assert svc["spec"]["ports"] == [{"name": "tcp-80", "protocol": "TCP", "port": 80, "targetPort": 80,
                                     "nodePort": 30080}]
    assert pvc["metadata"]["name"] == "my-vol"
    stamp = pod["metadata"].pop("creationTimestamp")   # podman's: now, in UTC
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)
    assert pod["metadata"] == {"name": "my-pod", "labels": {"app": "my-pod", "tier": "front"}}
    spec = pod["spec"]
    web, side = spec["containers"]
    assert (web["name"], side["name"]) == ("web", "side-car")
    # podman's choice: another entrypoint is `command`; with none at all the command is `command`
    assert web["command"] == ["httpd"] and web["args"] == ["-f", "-p", "80"] and side["command"] == ["sleep", "9"]
    assert "args" not in side
    assert web["env"] == [{"name": "A", "value": "1"}]   # the image's PATH is the container's
    assert side["env"][0] == {"name": "PATH", "value": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    assert web["ports"] == [{"containerPort": 80, "hostPort": 30080}] and "ports" not in side
    assert web["resources"] == {"limits": {"memory": "64Mi", "cpu": "500m"}}
    assert web["securityContext"] == {"capabilities": {"add": ["CAP_NET_ADMIN"], "drop": ["CAP_CHOWN"]},
                                      "runAsUser": 1000, "runAsGroup": 100, "readOnlyRootFilesystem": True}
    assert web["volumeMounts"] == [{"name": "my-vol-pvc", "mountPath": "/data"},
                                   {"name": "tmpfs-t", "mountPath": "/t"}]
    assert web["livenessProbe"] == {"exec": {"command": ["/bin/sh", "-c", "true"]}, "periodSeconds": 5,
                                    "timeoutSeconds": 2, "failureThreshold": 4}
    assert spec["volumes"] == [{"name": "my-vol-pvc", "persistentVolumeClaim": {"claimName": "my-vol"}},
                               {"name": "tmpfs-t", "emptyDir": {"medium": "Memory"}}]
    assert spec["hostAliases"] == [{"ip": "10.0.0.9", "hostnames": ["db"]}]
    assert spec["restartPolicy"] == "Always"


def test_generated_yaml_plays_back_to_the_same_options():
    members = [generate.Member("web-srv", "localhost/busybox:latest", _config(
        env=["PATH=/bin", "A=1", "B=two words"], workdir="/srv", cap_add=["NET_ADMIN"], privileged=False,
        healthcheck={"test": ["CMD", "true"], "interval": 7.0, "timeout": 3.0, "start_period": 2.0, "retries": 2}),
        {})]
    infra = _config(ports=[{"host_ip": "", "host_port": 8080, "container_port": 80, "protocol": "tcp"}])
    text = generate.dump(generate.pod_documents("web", members, infra, PodConfig(), kind="deployment",
                                                replicas=2))
    plan, warnings = _plan(text)
    assert warnings == []
    assert [p.name for p in plan.pods] == ["web-deployment-pod-0", "web-deployment-pod-1"]
    o = plan.pods[0].containers[0]
    assert o.name == "web-deployment-pod-0-srv"
    assert json.loads(o.entrypoint) == ["httpd"] and o.command == ["-f", "-p", "80"]
    assert o.env == ["PATH=/bin", "A=1", "B=two words"] and o.workdir == "/srv" and o.cap_add == ["CAP_NET_ADMIN"]
    assert json.loads(o.health_cmd) == ["CMD", "true"]
    assert (o.health_interval, o.health_timeout, o.health_retries, o.health_start_period) == ("7s", "3s", "2", "2s")
    assert plan.pods[0].create.publish == ["8080:80/tcp"]


def test_a_secret_the_file_lacks_comes_from_podpys_secrets():
    text = """
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: busybox
    env:
    - name: RAW
      valueFrom: {secretKeyRef: {name: raw, key: raw}}
    - name: USER
      valueFrom: {secretKeyRef: {name: kubeish, key: user}}
    envFrom: [{secretRef: {name: kubeish}, prefix: K_}]
"""
    stored = {"raw": b"plain-data", "kubeish": b"kind: Secret\ndata: {user: cm9vdA==}\nstringData: {b: two}\n"}
    docs = load(text)
    check(docs)
    plan = play.plan(docs, PlayOptions(), lambda n: n, stored_secret=stored.get)
    assert plan.pods[0].containers[0].env == ["K_user=root", "K_b=two", "RAW=plain-data", "USER=root"]
    with pytest.raises(InvalidArgument, match=r"envFrom\[0\].secretRef.name: no Secret named 'kubeish'"):
        play.plan(docs, PlayOptions(), lambda n: n, stored_secret=lambda n: None)


def test_volumes_play_made_for_a_pod_are_written_as_its_empty_dirs():
    mount = {"destination": "/w", "type": "bind", "source": "/v/_data", "options": ["rbind", "rw"], "volume": "kp-work"}
    docs = generate.pod_documents("kp", [generate.Member("kp-c", "busybox", _config(mounts=[mount]), {})],
                                  own_volumes=frozenset({"kp-work"}))
    (pod,) = docs
    assert pod["spec"]["volumes"] == [{"name": "work", "emptyDir": {}}]
    assert pod["spec"]["containers"][0]["volumeMounts"] == [{"name": "work", "mountPath": "/w"}]


def test_podmans_tmpfs_host_paths_are_tmpfs_mounts_again():
    text = """
kind: Pod
metadata: {name: p}
spec:
  containers:
  - {name: c, image: busybox, volumeMounts: [{name: tmpfs-host-0, mountPath: /scratch}]}
  volumes:
  - {name: tmpfs-host-0, hostPath: {path: tmpfs, type: DirectoryOrCreate}}
"""
    plan, warnings = _plan(text)
    o = plan.pods[0].containers[0]
    assert (o.tmpfs, o.volumes, plan.pods[0].host_paths, warnings) == (["/scratch"], [], [], [])


def test_ports_without_host_port_are_published_on_the_same_port_as_podman_4_3_publishes_them():
    text = """
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: busybox
    ports: [{containerPort: 8080}, {containerPort: 81, hostPort: 28181}, {hostPort: 9000, protocol: UDP}]
"""
    plan, _ = _plan(text)
    assert plan.pods[0].create.publish == ["8080:8080/tcp", "28181:81/tcp", "9000:9000/udp"]


def test_host_network_pods_put_each_container_on_the_host_network():
    text = """
kind: Pod
metadata: {name: p}
spec:
  hostNetwork: true
  containers: [{name: c, image: busybox, ports: [{containerPort: 80, hostPort: 8080}]}]
"""
    plan, _ = _plan(text)
    pod = plan.pods[0]
    assert (pod.create.share, pod.create.network, pod.create.publish) == ("ipc,uts", [], [])
    assert pod.containers[0].network == ["host"]
    members = [generate.Member("p-c", "busybox", _config(network="host"), {})]
    (doc,) = generate.pod_documents("p", members, _config(network="slirp4netns"), PodConfig())
    assert doc["spec"]["hostNetwork"] is True


def test_a_sub_path_of_a_config_map_volume_is_its_file():
    text = """
kind: ConfigMap
metadata: {name: cm}
data: {app.conf: "x=1"}
---
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: busybox
    volumeMounts: [{name: conf, mountPath: /etc/app.conf, subPath: app.conf}]
  volumes: [{name: conf, configMap: {name: cm}}]
"""
    plan, _ = _plan(text)
    pod = plan.pods[0]
    assert pod.containers[0].volumes == ["/vols/p-conf/_data/app.conf:/etc/app.conf:ro"]
    assert pod.subdirs == [] and pod.volumes == {"p-conf": {"app.conf": b"x=1"}}


def test_annotations_longer_than_63_are_refused_in_podmans_words():
    long = "a" * 64
    with pytest.raises(InvalidArgument, match=f'^invalid annotation "test"="{long}" value length exceeds '
                                              "Kubernetetes max 63$"):
        _plan(f"kind: Pod\nmetadata: {{name: p, annotations: {{test: {long}}}}}\n"
              "spec: {containers: [{name: c, image: busybox}]}\n")
    plan, _ = _plan(f"kind: Pod\nmetadata: {{name: p, annotations: {{test: {long[1:]}}}}}\n"
                    "spec: {containers: [{name: c, image: busybox}]}\n")
    assert plan.pods[0].name == "p"
