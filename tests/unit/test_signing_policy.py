"""The trust policy (podpy/registry/policy.py): parsing as containers/image parses it, the scope
that applies to an image, signedIdentity matching, and the verdicts with their words."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from podpy.registry import policy as pol
from podpy.registry.policy import Identity, ImageRejected, PolicyError, Verified, SignatureRejected
from storage import reference

MANIFEST = b'{"schemaVersion":2}'
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()


def parse(doc: object) -> pol.Policy:
    return pol.parse(json.dumps(doc).encode(), "p.json")


def ref(name: str) -> reference.Reference:
    """name as a pull resolves it: qualified, latest when no tag or digest is given."""
    r = pol.normalized(name)
    return r if r.tag or r.digest else r.with_default_tag()


SIGNED = {"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k.gpg"}


# ------------------------------------------------------------------ parse --


@pytest.mark.parametrize("doc, words", [
    ({}, "Default policy is missing"),
    ({"default": []}, "List of verification policy requirements must not be empty"),
    ({"default": [{"type": "foo"}]}, 'Unknown policy requirement type "foo"'),
    ({"default": [{"type": "reject", "x": 1}]}, 'Unknown key "x"'),
    ({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/a", "keyData": "eA=="}]},
     "Exactly one of keyPath, keyPaths and keyData must be specified, more than one present"),
    ({"default": [{"type": "signedBy", "keyType": "GPGKeys"}]},
     "Exactly one of keyPath, keyPaths and keyData must be specified, none of them present"),
    ({"default": [{"type": "signedBy", "keyType": "X509", "keyPath": "/a"}]}, 'Unrecognized keyType value "X509"'),
    ({"default": [{"type": "signedBy", "keyPath": "/a"}]}, 'invalid keyType ""'),
    ({"default": [{**SIGNED, "signedIdentity": {"type": "bogus"}}]}, 'Unknown policy reference match type "bogus"'),
    ({"default": [{**SIGNED, "signedIdentity": {"type": "exactReference"}}]},
     'Key "dockerReference" missing in a JSON object'),
    ({"default": [{**SIGNED, "signedIdentity": {"type": "exactReference", "dockerReference": "busybox"}}]},
     "dockerReference busybox contains neither a tag nor digest"),
    ({"default": [{"type": "insecureAcceptAnything"}], "transports": {"docker": {"a": []}}},
     "List of verification policy requirements must not be empty"),
])
def test_invalid_policies_are_refused_in_containers_image_words(doc: object, words: str) -> None:
    with pytest.raises(PolicyError) as exc:
        parse(doc)
    assert str(exc.value) == f'invalid policy in "p.json": {words}'


def test_invalid_json_names_the_file() -> None:
    with pytest.raises(PolicyError, match='^invalid policy in "p.json": invalid JSON'):
        pol.parse(b"xx", "p.json")


def test_a_missing_policy_file_is_named(tmp_path) -> None:
    with pytest.raises(PolicyError, match=f"^open {tmp_path}/none.json: no such file or directory$"):
        pol.load(str(tmp_path / "none.json"))


def test_signed_by_key_sources_and_identity_default() -> None:
    data = base64.b64encode(b"KEY").decode()
    p = parse({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": data}],
               "transports": {"docker": {"a.io": [{"type": "signedBy", "keyType": "GPGKeys",
                                                   "keyPaths": ["/1", "/2"]}]}}})
    assert p.default[0].key_data == b"KEY" and p.default[0].identity == Identity("matchRepoDigestOrExact")
    assert p.transports["docker"]["a.io"][0].key_paths == ("/1", "/2")


# ------------------------------------------------------------------ scopes --


def test_scopes_most_specific_first() -> None:
    assert pol.scope_candidates(ref("quay.io/ns/app:1")) == [
        "quay.io/ns/app:1", "quay.io/ns/app", "quay.io/ns", "quay.io", "*.io"]
    assert pol.scope_candidates(ref("busybox")) == [
        "docker.io/library/busybox:latest", "docker.io/library/busybox", "docker.io/library", "docker.io", "*.io"]
    digest = "sha256:" + "a" * 64
    assert pol.scope_candidates(ref(f"127.0.0.1:5000/x@{digest}")) == [
        f"127.0.0.1:5000/x@{digest}", "127.0.0.1:5000/x", "127.0.0.1:5000"]


def test_the_most_specific_scope_wins() -> None:
    reject, accept = [{"type": "reject"}], [{"type": "insecureAcceptAnything"}]
    p = parse({"default": reject, "transports": {"docker": {
        "r.io": accept, "r.io/ns": reject, "r.io/ns/app": accept, "r.io/ns/app:bad": reject,
        "*.example.com": reject, "": accept}}})
    kinds = {name: p.for_docker(ref(name))[0].type for name in (
        "r.io/other:1", "r.io/ns/x:1", "r.io/ns/app:1", "r.io/ns/app:bad", "a.b.example.com/x:1", "other.io/x")}
    assert kinds == {"r.io/other:1": "insecureAcceptAnything", "r.io/ns/x:1": "reject",
                     "r.io/ns/app:1": "insecureAcceptAnything", "r.io/ns/app:bad": "reject",
                     "a.b.example.com/x:1": "reject", "other.io/x": "insecureAcceptAnything"}


def test_without_a_transport_scope_the_default_applies() -> None:
    p = parse({"default": [{"type": "reject"}], "transports": {"docker": {"r.io": [{"type": "insecureAcceptAnything"}]}}})
    assert p.for_docker(ref("q.io/x:1"))[0].type == "reject"


# ---------------------------------------------------------------- identity --


@pytest.mark.parametrize("identity, image, signed, ok", [
    (Identity("matchRepoDigestOrExact"), "r.io/a:1", "r.io/a:1", True),
    (Identity("matchRepoDigestOrExact"), "r.io/a:1", "r.io/a:2", False),
    (Identity("matchRepoDigestOrExact"), "r.io/a@sha256:" + "1" * 64, "r.io/a:whatever", True),
    (Identity("matchRepoDigestOrExact"), "r.io/a@sha256:" + "1" * 64, "r.io/b:1", False),
    (Identity("matchRepoDigestOrExact"), "busybox", "docker.io/library/busybox:latest", True),
    (Identity("matchExact"), "r.io/a:1", "r.io/a:1", True),
    (Identity("matchExact"), "r.io/a@sha256:" + "1" * 64, "r.io/a:1", False),
    (Identity("matchRepository"), "r.io/a:1", "r.io/a:2", True),
    (Identity("matchRepository"), "r.io/a:1", "r.io/b:1", False),
    (Identity("exactReference", docker_reference="s.io/x:9"), "r.io/a:1", "s.io/x:9", True),
    (Identity("exactReference", docker_reference="s.io/x:9"), "s.io/x:9", "s.io/x:8", False),
    (Identity("exactRepository", docker_repository="s.io/x"), "r.io/a:1", "s.io/x:anything", True),
    (Identity("exactRepository", docker_repository="s.io/x"), "r.io/a:1", "s.io/y:1", False),
    (Identity("remapIdentity", prefix="mirror.io/m", signed_prefix="r.io/ns"), "mirror.io/m/app:1",
     "r.io/ns/app:1", True),
    (Identity("remapIdentity", prefix="mirror.io/m", signed_prefix="r.io/ns"), "mirror.io/mx/app:1",
     "r.io/ns/app:1", False),
    (Identity("remapIdentity", prefix="mirror.io/m", signed_prefix="r.io/ns"), "other.io/app:1",
     "other.io/app:1", True),
])
def test_signed_identity(identity: Identity, image: str, signed: str, ok: bool) -> None:
    assert pol.identity_matches(identity, ref(image), signed) is ok


# ----------------------------------------------------------------- verdicts --


def verifier(claims: dict[bytes, object]):
    """A stand-in for gpgv, mapping signature bytes to claims or a rejection (the real checker is
    tested in test_signing_gpg.py)."""
    def verify(sig: bytes, _req: pol.Requirement) -> Verified:
        found = claims[sig]
        if isinstance(found, str):
            raise SignatureRejected(found)
        assert isinstance(found, Verified)
        return found
    return verify


def check(doc: object, name: str, sigs: list[bytes], claims: dict[bytes, object]) -> None:
    pol.check(parse(doc), ref(name), MANIFEST, lambda: sigs, verifier(claims))


def test_reject_names_the_image_as_podman_does() -> None:
    with pytest.raises(ImageRejected) as exc:
        check({"default": [{"type": "reject"}]}, "busybox", [], {})
    assert str(exc.value) == "Source image rejected: Running image docker://busybox:latest is rejected by policy."
    with pytest.raises(ImageRejected, match=r"docker://127.0.0.1:5000/a/b:1 is rejected"):
        check({"default": [{"type": "reject"}]}, "127.0.0.1:5000/a/b:1", [], {})


def test_accept_anything_reads_no_signatures() -> None:
    def boom() -> list[bytes]:
        raise AssertionError("signatures read")
    pol.check(parse({"default": [{"type": "insecureAcceptAnything"}]}), ref("x.io/a:1"), MANIFEST, boom,
              verifier({}))


def test_signed_by_verdicts() -> None:
    doc = {"default": [SIGNED]}
    good = Verified("x.io/a:1", DIGEST)
    check(doc, "x.io/a:1", [b"bad", b"good"], {b"good": good, b"bad": "Invalid GPG signature: x"})
    with pytest.raises(ImageRejected, match="^Source image rejected: A signature was required, but no signature "
                                            "exists$"):
        check(doc, "x.io/a:1", [], {})
    with pytest.raises(ImageRejected, match="^Source image rejected: Signature for identity x.io/a:1 is not "
                                            "accepted$"):
        check(doc, "x.io/a:2", [b"good"], {b"good": good})
    with pytest.raises(ImageRejected, match="^Source image rejected: Signature for digest sha256:00 does not "
                                            "match$"):
        check(doc, "x.io/a:1", [b"s"], {b"s": Verified("x.io/a:1", "sha256:00")})
    with pytest.raises(ImageRejected) as exc:
        check(doc, "x.io/a:1", [b"1", b"2"], {b"1": "Invalid GPG signature: one", b"2": "Invalid GPG signature: two"})
    assert str(exc.value) == ("Source image rejected: None of the signatures were accepted, reasons: "
                              "Invalid GPG signature: one; Invalid GPG signature: two")


def test_every_requirement_of_the_scope_must_accept() -> None:
    doc = {"default": [{"type": "insecureAcceptAnything"}, {"type": "reject"}]}
    with pytest.raises(ImageRejected, match="rejected by policy"):
        check(doc, "x.io/a:1", [], {})


def test_sigstore_signed_without_sigstore_signatures_is_refused_in_one_line() -> None:
    # simple signing signatures do not count for a sigstoreSigned requirement
    with pytest.raises(ImageRejected) as exc:
        check({"default": [{"type": "sigstoreSigned", "keyPath": "/k"}]}, "x.io/a:1", [b"1"], {})
    assert str(exc.value) == "Source image rejected: A signature was required, but no signature exists"


@pytest.mark.parametrize("doc, words", [
    ({"type": "sigstoreSigned"}, "exactly one of keyPath and keyData must be specified"),
    ({"type": "sigstoreSigned", "keyPath": "/a", "keyData": "eA=="},
     "exactly one of keyPath and keyData must be specified"),
    ({"type": "sigstoreSigned", "keyPaths": ["/a"]}, 'Unknown key "keyPaths"'),
    ({"type": "sigstoreSigned", "keyData": "!!"}, "illegal base64 data in keyData"),
])
def test_invalid_sigstore_signed_requirements(doc: object, words: str) -> None:
    with pytest.raises(PolicyError) as exc:
        parse({"default": [doc]})
    assert str(exc.value) == f'invalid policy in "p.json": {words}'


def test_sigstore_signed_parses_its_key_and_identity() -> None:
    req = parse({"default": [{"type": "sigstoreSigned", "keyData": "eA==",
                              "signedIdentity": {"type": "matchRepository"}}]}).default[0]
    assert (req.type, req.key_data, req.key_paths, req.identity.type) == ("sigstoreSigned", b"x", (), "matchRepository")
