"""`image trust set` and `image trust show`: policy.json edited and described as podman 4.3.1 does.

set: the requirements for one scope ("default", or a registry/repository of the docker
transport) are replaced by one of accept, reject, signedBy (one GPGKeys requirement per public
key file) or sigstoreSigned; the rest of the file is kept, each requirement as it was written,
and the file is written the way podman writes it (4-space indents, transports and scopes in
sorted order, no final newline), atomically. show: one row per requirement, with the e-mail
addresses (or names) of the keys' user ids and the lookaside URL registries.d gives the scope.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import InvalidArgument, PodpyError

TYPES = ("accept", "reject", "signedBy", "sigstoreSigned")
DESCRIPTION = {"insecureAcceptAnything": "accept", "signedBy": "signed", "sigstoreSigned": "sigstoreSigned",
               "reject": "reject"}


@dataclass(frozen=True)
class TrustRow:
    """One requirement of the policy, as `image trust show` lists it."""

    transport: str
    name: str
    repo_name: str
    type: str
    gpg_id: str = ""
    sigstore: str = ""

    def as_json(self) -> dict[str, str]:
        out = {"transport": self.transport, "name": self.name, "repo_name": self.repo_name}
        if self.sigstore:
            out["sigstore"] = self.sigstore
        out["type"] = self.type
        if self.gpg_id:
            out["gpg_id"] = self.gpg_id
        return out


# ------------------------------------------------------------------- set --


def check_scope(scope: str) -> None:
    """podman's check of trust set's REGISTRY: a host[:port] with an optional path."""
    authority = re.split(r"[/?#]", scope, maxsplit=1)[0]
    host = authority.rpartition("@")[2]
    _, colon, port = host.rpartition(":") if ":" in host else ("", "", "")
    if colon and port and not port.isdigit():
        raise InvalidArgument(f'invalid image uri: {scope}: parse "http://{scope}": invalid port ":{port}" after host')
    if not re.fullmatch(r"[a-zA-Z0-9\-_.]+/?:?[0-9]*[a-z0-9\-/:]*", host):
        raise InvalidArgument(f"invalid image uri: {scope}")


def set_trust(policy_path: str, scope: str, kind: str, pubkeys: list[str]) -> None:
    """Replace scope's requirements in the policy file (made when missing and scope is "default")."""
    if kind not in TYPES:
        raise InvalidArgument(f"invalid choice: {kind} (choose from 'accept', 'reject', 'signedBy', 'sigstoreSigned')")
    check_scope(scope)
    req_type = "insecureAcceptAnything" if kind == "accept" else kind
    if req_type in ("insecureAcceptAnything", "reject"):
        if pubkeys:
            raise InvalidArgument(f"{len(pubkeys)} public keys unexpectedly provided for trust type {kind}")
        new: list[dict[str, Any]] = [{"type": req_type}]
    elif req_type == "signedBy":
        if not pubkeys:
            raise InvalidArgument("at least one public key must be defined for type 'signedBy'")
        new = [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": k} for k in pubkeys]
    else:
        if not pubkeys:
            raise InvalidArgument("at least one public key must be defined for type 'sigstoreSigned'")
        new = [{"type": "sigstoreSigned", "keyPath": k} for k in pubkeys]
    doc: dict[str, Any] = {}
    if os.path.exists(policy_path):
        try:
            with open(policy_path, "rb") as f:
                loaded = json.loads(f.read())
            if not isinstance(loaded, dict):
                raise ValueError("not an object")
        except (OSError, ValueError):
            raise PodpyError("could not read trust policies") from None
        doc = loaded
    default = doc.get("default")
    transports = doc.get("transports") if isinstance(doc.get("transports"), dict) else {}
    if scope == "default":
        default = new
    else:
        if not default:
            raise PodpyError("default trust policy must be set")
        for name in sorted(transports):
            if isinstance(transports[name], dict) and scope in transports[name]:
                transports[name][scope] = new
                break
        else:
            transports.setdefault("docker", {})
            if transports["docker"] is None:
                transports["docker"] = {}
            transports["docker"][scope] = new
    out: dict[str, Any] = {"default": default}
    if transports:
        out["transports"] = {t: (dict(sorted(s.items())) if isinstance(s, dict) else s)
                             for t, s in sorted(transports.items())}
    _write(policy_path, go_json(out))


def go_json(value: Any, indent: int = 4) -> str:
    """JSON as Go's json.MarshalIndent(v, "", "    ") writes it (HTML characters escaped)."""
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _write(path: str, text: str) -> None:
    """The file replaced at once: a temporary file beside it, fsync'd, renamed over it."""
    from storage.fsutil import atomic_file

    try:
        with atomic_file(path, 0o644) as f:
            f.write(text.encode("utf-8"))
    except OSError as exc:
        raise PodpyError(f"setting trust policy: {exc.strerror or exc}: {path}") from exc


# ------------------------------------------------------------------ show --


def raw_policy(policy_path: str) -> bytes:
    try:
        with open(policy_path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise PodpyError(f"open {policy_path}: {(exc.strerror or str(exc)).lower()}") from exc


def describe(policy_path: str, registries_d: Optional[str] = None) -> list[TrustRow]:
    """The rows of `image trust show`: the default's requirements, then each transport's
    scopes in sorted order (the docker transport shown as "repository")."""
    from .signatures import SignatureError, load_registries_d

    raw = raw_policy(policy_path)
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError("expected a JSON object")
    except ValueError as exc:
        raise PodpyError("could not show trust policies: could not read trust policies: could not parse trust "
                         f"policies from {policy_path}: {exc}") from None
    try:
        lookaside = load_registries_d(registries_d)
    except SignatureError as exc:
        raise PodpyError(f"could not show trust policies: {exc}") from None
    rows: list[TrustRow] = []
    default = doc.get("default") or []
    if default:
        rows += _rows(default, "all", "* (default)", "default", lookaside, "")
    transports = doc.get("transports") or {}
    for transport in sorted(transports):
        scopes = transports[transport] or {}
        shown = "repository" if transport == "docker" else transport
        for scope in sorted(scopes):
            rows += _rows(scopes[scope] or [], shown, scope, scope, lookaside, scope)
    return rows


def _rows(reqs: list[Any], transport: str, name: str, repo: str, lookaside: Any, scope: str) -> list[TrustRow]:
    ns = lookaside.namespace(scope)
    store = ns.lookaside if ns is not None else ""
    out = []
    for req in reqs:
        req = req if isinstance(req, dict) else {}
        kind = str(req.get("type", ""))
        ids = ""
        if kind == "signedBy":
            uids: list[str] = []
            if req.get("keyPath"):
                uids += key_uids(str(req["keyPath"]))
            for path in req.get("keyPaths") or []:
                uids += key_uids(str(path))
            if req.get("keyData"):
                uids += _key_data_uids(str(req["keyData"]))
            ids = ", ".join(uids)
        elif kind == "sigstoreSigned":
            ids = "N/A"
        out.append(TrustRow(transport, name, repo, DESCRIPTION.get(kind, ""), ids, store))
    return out


def key_uids(path: str) -> list[str]:
    """The user ids of the keys in a public key file: the e-mail address where there is one."""
    import tempfile

    try:
        with tempfile.TemporaryDirectory(prefix="podpy-gpg-") as home:   # the user's keyring untouched
            proc = subprocess.run(["gpg", "--homedir", home, "--batch", "--no-tty", "--with-colons", "--show-keys",
                                   "--", path], capture_output=True, timeout=60)
    except FileNotFoundError:
        return []
    if proc.returncode != 0:
        return []
    out = []
    for line in proc.stdout.decode(errors="replace").splitlines():
        if line.startswith(("uid:", "pub:")):
            fields = line.split(":")
            uid = fields[9] if len(fields) > 9 else ""
            if not uid:
                continue
            if "<" in uid:
                inner = uid[uid.index("<") + 1:]
                if ">" in inner:
                    uid = inner[:inner.index(">")]
            out.append(uid)
    return out


def _key_data_uids(data: str) -> list[str]:
    import base64
    import binascii
    import tempfile

    try:
        decoded = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return []
    with tempfile.NamedTemporaryFile(prefix="podpy-key-") as f:
        f.write(decoded)
        f.flush()
        return key_uids(f.name)
