"""Reading Kubernetes YAML: the documents of a file, each checked against the fields podpy
knows, before anything is made.

`load(text)` parses with PyYAML's safe loader and returns the documents; `check(docs)` walks
each one against the tables below and returns one warning per field podpy does not act on
(`spec.containers[0].lifecycle ignored: not supported`). A value of the wrong type, a
document that is not a mapping or has no kind, or YAML that does not parse is an
InvalidArgument naming the document (counted from 1) and the field's path: one line, exit
125, and the caller has made nothing yet.

A table maps a field to its type: STR, INT, BOOL, INTSTR (a port by number or name), QTY (a
quantity: a number or a string such as 64Mi), STRMAP (string to string), LIST of a type,
a nested table, or QUIET: a field read and deliberately not acted on because it describes
nothing a pod on one host does differently (status, timestamps, a Deployment's selector and
strategy, a claim's size): no warning for those. Null stands for an absent field, as in
Kubernetes.
"""

from __future__ import annotations

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STR, INT, BOOL, INTSTR, QTY, STRMAP, QUIET = "string", "integer", "boolean", "intstr", "quantity", "strmap", "quiet"


class LIST:
    def __init__(self, item: Any) -> None:
        self.item = item


META = {"name": STR, "namespace": STR, "labels": STRMAP, "annotations": STRMAP, "creationTimestamp": QUIET,
        "uid": QUIET, "resourceVersion": QUIET, "generation": QUIET}
KEYREF = {"name": STR, "key": STR, "optional": BOOL}
ENV = {"name": STR, "value": STR,
       "valueFrom": {"configMapKeyRef": KEYREF, "secretKeyRef": KEYREF,
                     "fieldRef": {"fieldPath": STR, "apiVersion": QUIET}}}
ENV_FROM = {"prefix": STR, "configMapRef": {"name": STR, "optional": BOOL},
            "secretRef": {"name": STR, "optional": BOOL}}
PORT = {"containerPort": INT, "hostPort": INT, "protocol": STR, "name": STR, "hostIP": STR}
MOUNT = {"name": STR, "mountPath": STR, "subPath": STR, "readOnly": BOOL}
PROBE = {"exec": {"command": LIST(STR)},
         "httpGet": {"path": STR, "port": INTSTR, "host": STR, "scheme": STR},
         "tcpSocket": {"port": INTSTR, "host": STR},
         "initialDelaySeconds": INT, "periodSeconds": INT, "timeoutSeconds": INT, "failureThreshold": INT,
         "successThreshold": QUIET}
# read and not acted on, without a word, as podman 4.3.1 says none: SELinux labels (no SELinux
# here, so podman's labels change nothing either) and fsGroup (not a container's field at all;
# a pod's volumes here belong to the user who runs podpy)
UNSAID = {"seLinuxOptions": QUIET, "fsGroup": QUIET}
SECURITY = {"capabilities": {"add": LIST(STR), "drop": LIST(STR)}, "runAsUser": INT, "runAsGroup": INT,
            "readOnlyRootFilesystem": BOOL, "privileged": BOOL, "allowPrivilegeEscalation": BOOL, **UNSAID}
CONTAINER = {
    "name": STR, "image": STR, "command": LIST(STR), "args": LIST(STR), "workingDir": STR,
    "env": LIST(ENV), "envFrom": LIST(ENV_FROM), "ports": LIST(PORT), "volumeMounts": LIST(MOUNT),
    "resources": {"limits": {"memory": QTY, "cpu": QTY}}, "securityContext": SECURITY,
    "stdin": BOOL, "tty": BOOL, "livenessProbe": PROBE, "imagePullPolicy": STR,
    "terminationMessagePath": QUIET, "terminationMessagePolicy": QUIET,
}
ITEMS = LIST({"key": STR, "path": STR, "mode": INT})
VOLUME = {
    "name": STR, "hostPath": {"path": STR, "type": STR}, "emptyDir": {"medium": STR, "sizeLimit": QTY},
    "persistentVolumeClaim": {"claimName": STR, "readOnly": BOOL},
    "configMap": {"name": STR, "items": ITEMS, "optional": BOOL, "defaultMode": INT},
    "secret": {"secretName": STR, "items": ITEMS, "optional": BOOL, "defaultMode": INT},
}
POD_SPEC = {
    "containers": LIST(CONTAINER), "initContainers": LIST(CONTAINER), "volumes": LIST(VOLUME),
    "restartPolicy": STR, "hostNetwork": BOOL, "hostname": STR,
    "hostAliases": LIST({"ip": STR, "hostnames": LIST(STR)}),
    "securityContext": {"runAsUser": INT, "runAsGroup": INT, **UNSAID},
    "automountServiceAccountToken": QUIET, "enableServiceLinks": QUIET, "dnsPolicy": QUIET,
    "terminationGracePeriodSeconds": INT, "schedulerName": QUIET,
}
TEMPLATE = {"metadata": META, "spec": POD_SPEC}
KINDS: dict[str, dict[str, Any]] = {
    "Pod": {"metadata": META, "spec": POD_SPEC},
    "Deployment": {"metadata": META, "spec": {"replicas": INT, "selector": QUIET, "template": TEMPLATE,
                                              "strategy": QUIET, "revisionHistoryLimit": QUIET}},
    "DaemonSet": {"metadata": META, "spec": {"selector": QUIET, "template": TEMPLATE, "updateStrategy": QUIET}},
    "PersistentVolumeClaim": {"metadata": META, "spec": {"accessModes": QUIET, "resources": QUIET,
                                                         "storageClassName": QUIET, "volumeMode": QUIET}},
    "ConfigMap": {"metadata": META, "data": STRMAP, "binaryData": STRMAP, "immutable": QUIET},
    "Secret": {"metadata": META, "data": STRMAP, "stringData": STRMAP, "type": QUIET, "immutable": QUIET},
    "Service": {"metadata": META, "spec": {
        "ports": LIST({"name": STR, "port": INT, "targetPort": INTSTR, "nodePort": INT, "protocol": STR}),
        "selector": STRMAP, "type": QUIET, "clusterIP": QUIET, "sessionAffinity": QUIET}},
}
for _table in KINDS.values():
    _table.update(apiVersion=STR, kind=STR, status=QUIET)


class Document:
    """One document of a file: its number (from 1), its kind and its content."""

    __slots__ = ("number", "kind", "body", "label", "source")

    def __init__(self, number: int, kind: str, body: dict[str, Any], label: str, source: str = "") -> None:
        self.number, self.kind, self.body, self.label = number, kind, body, label
        self.source = source

    def fail(self, path: str, problem: str) -> InvalidArgument:
        """The error about a field: always with the document's number (a warning has it only
        in a file of several documents)."""
        return InvalidArgument(f"{self.source}document {self.number}: {path}: {problem}")


def load(text: str, source: str = "") -> list[Document]:
    """The documents of a YAML stream (empty ones skipped), each a mapping with a kind."""
    import yaml

    where = f"{source}: " if source else ""
    docs: list[Any] = []
    try:
        for body in yaml.safe_load_all(text):
            docs.append(body)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidArgument(f"{where}document {len(docs) + 1}: invalid YAML{at}: {problem}") from None
    many = sum(d is not None for d in docs) > 1
    out = []
    for n, body in enumerate(docs, 1):
        if body is None:
            continue
        label = f"{where}document {n}: " if many or where else ""
        if not isinstance(body, dict):
            raise InvalidArgument(f"{where}document {n}: expected a mapping with apiVersion and kind, "
                                  f"not {_name(body)}")
        kind = body.get("kind")
        if not isinstance(kind, str) or not kind:
            raise InvalidArgument(f"{where}document {n}: kind: missing or not a string")
        out.append(Document(n, kind, body, label, where))
    if not out:
        raise InvalidArgument(f"{where}no documents found")
    return out


def check(docs: list[Document], strict: bool = False) -> list[str]:
    """Check every document's types; the warnings for the fields and kinds podpy ignores
    (with strict, the first of them is the error instead)."""
    found: list[tuple[Document, str]] = []
    for doc in docs:
        table = KINDS.get(doc.kind)
        if table is None:
            found.append((doc, f"kind {doc.kind}"))
            continue
        _walk(doc, doc.body, table, "", found)
    if strict and found:
        doc, what = found[0]
        raise InvalidArgument(f"{doc.source}document {doc.number}: {what} ignored: not supported (--strict)")
    return [f"{doc.label}{what} ignored: not supported" for doc, what in found]


def _walk(doc: Document, value: Any, spec: Any, path: str, warnings: list[tuple[Document, str]]) -> None:
    if value is None or spec == QUIET:
        return
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise doc.fail(path or "document", f"expected a mapping, not {_name(value)}")
        for key, sub in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in spec:
                warnings.append((doc, where))
                continue
            _walk(doc, sub, spec[key], where, warnings)
        return
    if isinstance(spec, LIST):
        if not isinstance(value, list):
            raise doc.fail(path, f"expected a list, not {_name(value)}")
        for i, item in enumerate(value):
            _walk(doc, item, spec.item, f"{path}[{i}]", warnings)
        return
    ok = {
        STR: lambda v: isinstance(v, str),
        INT: lambda v: isinstance(v, int) and not isinstance(v, bool),
        BOOL: lambda v: isinstance(v, bool),
        INTSTR: lambda v: isinstance(v, (int, str)) and not isinstance(v, bool),
        QTY: lambda v: isinstance(v, (int, float, str)) and not isinstance(v, bool),
        STRMAP: lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str)
                                                      for k, x in v.items()),
    }[spec](value)
    if not ok:
        want = {STRMAP: "a mapping of strings to strings", INTSTR: "an integer or a string",
                QTY: "a quantity such as 64Mi", INT: "an integer", BOOL: "a boolean", STR: "a string"}[spec]
        if spec == STRMAP and isinstance(value, dict):
            bad = next(k for k, x in value.items() if not (isinstance(k, str) and isinstance(x, str)))
            raise doc.fail(f"{path}.{bad}", f"expected a string, not {_name(value[bad])}")
        raise doc.fail(path, f"expected {want}, not {_name(value)}")


def _name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a mapping"}.get(type(value), type(value).__name__)
